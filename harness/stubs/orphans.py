"""WireMock servers a killed run left behind, found and stopped by the next run.

A ``kill -9`` of the Python process (``sit run``, ``pytest steps --biller``) gives it no chance
to stop its WireMock: the JVM is re-parented to PID 1 and keeps its port and memory, the
container keeps running, and the run's temporary folder stays. So every server a run starts
is written down here, one small JSON file each, in a registry per user and machine: what to
stop (the JVM's pid and start time, or the container's id), the owning Python process (pid and
start time) and the run's temporary folder; it lives in the user's cache, not in the temporary
directory, which a run leaves as it found it. A run's temporary folder is written down too, on its own:
with several billers a worker lends one WireMock to each run in turn, and a file partner's run starts
none. A clean stop deletes the file. Each run begins with
``reap``: an entry whose owner is dead is an orphan; its server is stopped, its folder
removed, its entry deleted, and one line says so.

A pid alone is never trusted: a process is the one recorded only if its start time matches too,
so a pid the system has since given to another process is never signalled.

Why the kernel is not asked to kill the JVM with its parent (``prctl(PR_SET_PDEATHSIG)`` in a
``preexec_fn``): the signal fires when the *thread* that forked exits, and the JVM is started
from a worker thread, so its life would hang on an executor's thread policy; ``preexec_fn`` is
documented as unsafe in a process with threads (the child may deadlock before ``exec``), and
the harness has several; it is Linux-only. The registry works wherever psutil and flock do.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

__all__ = ["Orphan", "reap", "register_container", "register_jvm", "release"]

GRACE = 5.0  # seconds between SIGTERM and SIGKILL (WireMock stops in ~0.4 s; a class archive dump takes ~1 s)
_SAME_START = 1.0  # seconds: start times are recomputed from boot time and clock ticks; a pid is not reused that fast


@dataclass
class Orphan:
    """What one killed run left: ``stopped`` names the server stopped (empty if it was already gone)."""

    entry: str
    stopped: str = ""
    removed: list[str] = field(default_factory=list)


def registry() -> Path:
    """The registry's folder: the user's cache, one folder per machine (a home may be shared by several)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "sit-harness" / "servers" / socket.gethostname()


def _folder(folder: Path | None) -> Path | None:
    """The registry, created private; None if it cannot be (no home) or is someone else's: then it is not used."""
    try:
        path = folder or registry()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path if path.lstat().st_uid == os.getuid() else None
    except (OSError, RuntimeError):  # RuntimeError: no home directory to find
        return None


def _write(name: str, entry: dict[str, Any], folder: Path | None) -> str:
    """Write the entry atomically (a reaper never reads half a file); returns its name for ``release``.

    Best effort: a registry that cannot be written (a full disk) costs the cleanup after a kill, not the run."""
    root = _folder(folder)
    if root is None:
        return ""
    owner = {"pid": os.getpid(), "started": psutil.Process().create_time()}
    tmp = root / f".{name}.tmp"
    try:
        tmp.write_text(json.dumps({**entry, "owner": owner}), encoding="utf-8")
        os.replace(tmp, root / name)
    except OSError:
        tmp.unlink(missing_ok=True)
        return ""
    return name


def register_jvm(pid: int, workdir: Path, leftovers: Iterable[Path] = (), folder: Path | None = None) -> str:
    """Record a WireMock JVM this process started; ``leftovers`` are files it may leave when stopped."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        return ""  # it died already: nothing to leave behind
    return _write(f"jvm-{pid}.json", {"jvm": {"pid": pid, "started": started}, "workdir": str(workdir),
                                      "leftovers": [str(p) for p in leftovers]}, folder)


def register_folder(workdir: Path, folder: Path | None = None) -> str:
    """Record a run's temporary folder, for the next run to remove should this process be killed."""
    return _write(f"folder-{workdir.name}.json", {"workdir": str(workdir), "leftovers": []}, folder)


def register_container(container_id: str, workdir: Path | None = None, folder: Path | None = None) -> str:
    """Record a WireMock container this process started."""
    return _write(f"container-{container_id[:12]}.json",
                  {"container": container_id, "workdir": str(workdir) if workdir else None, "leftovers": []}, folder)


def release(name: str, folder: Path | None = None) -> None:
    """The server was stopped cleanly: forget it."""
    root = _folder(folder)
    if name and root:
        (root / name).unlink(missing_ok=True)


def reap(say: Callable[[str], None] | None = None, grace: float = GRACE, folder: Path | None = None) -> list[Orphan]:
    """Stop what runs whose process is dead left behind; one line through ``say`` if anything was.

    By default the line goes to stdout, where `sit run` prints its other notices (lint warnings):
    stderr is kept for the one-line error a failing command ends with."""
    root = _folder(folder)
    found: list[Orphan] = []
    for path in sorted(root.glob("*.json")) if root else ():
        orphan = _reap_entry(path, grace)
        if orphan is not None:
            found.append(orphan)
    line = _summary(found)
    if line:
        (say or _stdout)(line)
    return found


def _stdout(line: str) -> None:
    print(line, flush=True)


def _summary(found: list[Orphan]) -> str:
    stopped = [o.stopped for o in found if o.stopped]
    removed = [p for o in found for p in o.removed]
    if not stopped and not removed:
        return ""
    parts = ([f"stopped {', '.join(stopped)}"] if stopped else []) + ([f"removed {', '.join(removed)}"]
                                                                        if removed else [])
    return f"note: cleaned up after a killed run: {'; '.join(parts)}"


def _reap_entry(path: Path, grace: float) -> Orphan | None:
    try:
        handle = path.open("r+", encoding="utf-8")
    except FileNotFoundError:
        return None  # released or reaped meanwhile
    with handle:
        try:  # two runs starting together: one reaps, the other passes by
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        try:
            entry = json.loads(handle.read())
            owner = entry["owner"]
        except (ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # not ours to make sense of; written atomically, so never half ours
            return None
        if not path.exists() or _process(owner) is not None:
            return None  # already reaped by the run that held the lock, or its run is alive
        orphan = Orphan(path.name, stopped=_stop(entry, grace))
        orphan.removed = [p for p in (entry.get("workdir"), *entry.get("leftovers", ())) if p and _remove(Path(p))]
        path.unlink(missing_ok=True)
        return orphan


def _process(recorded: dict[str, Any]) -> psutil.Process | None:
    """The recorded process if it still runs: same pid and start time, and not a zombie."""
    try:
        proc = psutil.Process(int(recorded["pid"]))
        if abs(proc.create_time() - float(recorded["started"])) > _SAME_START:
            return None
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc
    except (psutil.Error, KeyError, TypeError, ValueError):
        return None


def _stop(entry: dict[str, Any], grace: float) -> str:
    """Stop the entry's server; what was stopped, or "" if it was already gone."""
    if "container" in entry:
        return _stop_container(str(entry["container"]))
    if "jvm" not in entry:
        return ""  # a run's folder alone: nothing runs
    proc = _process(entry["jvm"])
    if proc is None:
        return ""
    with contextlib.suppress(psutil.Error):
        proc.terminate()
        if not _gone(proc, grace):
            proc.kill()
            _gone(proc, grace)
    return f"WireMock pid {proc.pid}"


def _gone(proc: psutil.Process, timeout: float) -> bool:
    """Wait for ``proc`` to end; a zombie has ended (its parent is now PID 1, which may never reap it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _stop_container(container_id: str) -> str:
    """Remove the container, if an engine still knows it (no engine: no container of it runs either)."""
    import docker  # only an entry of the container backend needs the Docker client

    try:
        client = docker.from_env()
    except Exception:  # docker-py raises several kinds when no engine answers
        return ""
    try:
        client.containers.get(container_id).remove(force=True)
    except Exception:  # removed already (NotFound), or the engine failing: nothing this run can do
        return ""
    finally:
        client.close()
    return f"WireMock container {container_id[:12]}"


def _remove(path: Path) -> bool:
    """Remove a folder or file of the dead run; whether there was one."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
        return True
    if path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)
        return True
    return False
