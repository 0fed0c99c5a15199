"""The registry of servers a killed run may leave behind (harness/stubs/orphans.py), with real processes.

A server here is a plain Python process standing in for the JVM; its owner is a real Python process
that registers it and is then killed with SIGKILL, exactly as a killed `sit run` leaves its JVM.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.stubs import orphans
from tests.support.processes import running

SERVER = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(600)"]
STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                  "print('ready', flush=True); time.sleep(600)"]


@pytest.fixture
def started() -> Iterator[list[psutil.Process]]:
    """Every stand-in server a test starts, killed at the end whatever happened."""
    procs: list[psutil.Process] = []
    yield procs
    for proc in procs:
        if running(proc):
            proc.kill()


def _killed_owner(folder: Path, workdir: Path, leftovers: list[Path], server: list[str],
                  started: list[psutil.Process]) -> psutil.Process:
    """Start an owner that starts ``server``, registers it, and is killed -9: the server is an orphan."""
    script = textwrap.dedent(f"""
        import subprocess, sys
        from pathlib import Path
        from harness.stubs.orphans import register_jvm
        server = subprocess.Popen({server!r}, stdout=subprocess.PIPE, text=True)
        server.stdout.readline()  # its signal handlers are set
        register_jvm(server.pid, Path({str(workdir)!r}), [Path(p) for p in {[str(p) for p in leftovers]!r}],
                     folder=Path({str(folder)!r}))
        print(server.pid, flush=True)
        sys.stdin.read()
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = owner.stdout.readline() if owner.stdout else ""
    server_proc = psutil.Process(int(line))
    started.append(server_proc)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    return server_proc


def test_a_killed_owners_server_is_stopped_and_its_folder_removed(tmp_path: Path,
                                                                  started: list[psutil.Process]) -> None:
    folder, workdir, dump = tmp_path / "registry", tmp_path / "sit-RUN-x", tmp_path / "archive.jsa.123.tmp"
    (workdir / "sftp").mkdir(parents=True)
    dump.write_bytes(b"half an archive")
    server = _killed_owner(folder, workdir, [dump], SERVER, started)
    assert running(server), "the control: the server outlived its owner"
    said: list[str] = []

    (orphan,) = orphans.reap(said.append, folder=folder)

    assert not running(server)
    assert not workdir.exists() and not dump.exists()
    assert orphan.stopped == f"WireMock pid {server.pid}"
    assert said == [f"note: cleaned up after a killed run: stopped WireMock pid {server.pid}; "
                    f"removed {workdir}, {dump}"]
    assert list(folder.iterdir()) == []
    assert orphans.reap(said.append, folder=folder) == [] and len(said) == 1, "nothing left: nothing said"


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path,
                                                                       started: list[psutil.Process]) -> None:
    server = _killed_owner(tmp_path / "registry", tmp_path / "work", [], STUBBORN, started)
    server.terminate()
    with pytest.raises(psutil.TimeoutExpired):
        server.wait(0.3)  # the control: SIGTERM alone does not stop it

    (orphan,) = orphans.reap(lambda _: None, grace=0.5, folder=tmp_path / "registry")

    assert orphan.stopped == f"WireMock pid {server.pid}"
    assert not running(server)


def test_the_server_of_a_live_owner_is_left_alone_until_released(tmp_path: Path,
                                                                   started: list[psutil.Process]) -> None:
    folder, workdir = tmp_path / "registry", tmp_path / "work"
    workdir.mkdir()
    server = subprocess.Popen(SERVER, stdout=subprocess.DEVNULL)
    started.append(psutil.Process(server.pid))
    name = orphans.register_jvm(server.pid, workdir, folder=folder)  # owned by this (live) process
    said: list[str] = []

    assert orphans.reap(said.append, folder=folder) == []

    assert server.poll() is None and workdir.is_dir() and said == []
    orphans.release(name, folder=folder)
    assert list(folder.iterdir()) == []
    server.kill()
    server.wait()


def test_a_pid_now_given_to_another_process_is_never_signalled(tmp_path: Path,
                                                                 started: list[psutil.Process]) -> None:
    folder, workdir = tmp_path / "registry", tmp_path / "work"
    workdir.mkdir()
    server = _killed_owner(folder, workdir, [], SERVER, started)
    (entry,) = folder.glob("*.json")
    data = json.loads(entry.read_text())
    data["jvm"]["started"] -= 3600  # as if the recorded JVM had ended and its pid gone to this process
    entry.write_text(json.dumps(data))

    (orphan,) = orphans.reap(lambda _: None, folder=folder)

    assert running(server), "a process whose start time differs is not the one recorded"
    assert orphan.stopped == "" and not workdir.exists() and not entry.exists()


def test_an_unreadable_entry_is_dropped(tmp_path: Path) -> None:
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "jvm-1.json").write_text("{not json")
    assert orphans.reap(lambda _: None, folder=folder) == []
    assert list(folder.iterdir()) == []
