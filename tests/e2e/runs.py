"""Helpers the end-to-end tests share: a real `sit run` in a child process and what it recorded.

Imported by the test modules as ``from runs import ...`` (pytest puts tests/e2e on sys.path).
The child process runs through ``tests.conftest.run_sit`` with a clean environment: none of the
harness's credentials (so a run uses the demo values unless a test gives its own) and none of
this pytest's PYTEST_* variables.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.events import Event, SQLiteStore, read_jsonl
from tests.conftest import PROJECT, SIT, run_sit

__all__ = [  # PROJECT and SIT are tests.conftest's, given on to the test modules
    "BILLER", "CREDENTIAL_ENVS", "PROJECT", "SIT", "Run", "clean_env", "docker_engine", "docker_unavailable",
    "explain", "finished", "in_background", "scenario_events", "sit", "sit_run", "stored_run", "wiremock_jvms",
]

BILLER = "clayton-county-water"
CREDENTIAL_ENVS = ("SIT_CAYENTA_API_USER", "SIT_CAYENTA_API_PASSWORD", "SIT_CLAYTON_SFTP_PASSWORD")


@contextmanager
def in_background(args: Sequence[str], env: Mapping[str, str], output: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`sit ARGS` in its own session, as a shell starts it, its output into ``output``; at the end, whatever
    happened, its process group is killed and waited for."""
    with output.open("wb") as out:
        proc = subprocess.Popen([*SIT, *args], cwd=PROJECT, env=env, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without credentials or PYTEST_* variables, then ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENVS and not k.startswith("PYTEST_")}
    return env | dict(extra or {})


def sit(*args: str, timeout: float = 300, program: Sequence[str] = SIT,
        extra_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`sit ARGS` (or ``program`` ARGS) in PROJECT, in the clean environment plus ``extra_env``."""
    return run_sit(*args, env=clean_env(extra_env), timeout=timeout, program=program)


def docker_unavailable() -> str:
    """Why `make test` (scripts/docker-engine.sh) could provide no engine or image here; empty if it could,
    or if these tests were not started by it."""
    return os.environ.get("SIT_DOCKER_UNAVAILABLE", "")


def docker_engine() -> Any:
    """A client of the Docker engine that answers here, or the test is skipped saying why."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # docker-py raises several kinds when no engine answers
        why = docker_unavailable() or (str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__)
        pytest.skip(f"no Docker engine answers: {why}")
    return client


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"


def scenario_events(events: list[Event], sit_id: str) -> list[Event]:
    """The events from the scenario's scenario.started to its scenario.finished."""
    out: list[Event] = []
    inside = False
    for event in events:
        if event.kind == "scenario.started":
            inside = event.data["sit_id"] == sit_id
        if inside:
            out.append(event)
        if event.kind == "scenario.finished" and inside:
            return out
    raise AssertionError(f"{sit_id} did not run")


def finished(events: list[Event], sit_id: str) -> dict[str, Any]:
    """The data of the scenario's (only) scenario.finished event."""
    (data,) = [e.data for e in events if e.kind == "scenario.finished" and e.data["sit_id"] == sit_id]
    return data


@dataclass
class Run:
    """One finished run: the process, its events, and where it wrote them."""

    result: subprocess.CompletedProcess[str]
    events: list[Event]  # from the store, or as `sit export` wrote them when ``export`` is set
    run_id: str
    store: Path
    export: Path | None = None

    @property
    def root(self) -> Path:
        """The directory holding the store (and the export)."""
        return self.store.parent

    def started(self) -> dict[str, Any]:
        (data,) = [e.data for e in self.events if e.kind == "run.started"]
        return data

    def statuses(self) -> dict[str, str]:
        return {e.data["sit_id"]: e.data["status"] for e in self.events if e.kind == "scenario.finished"}

    def kinds(self) -> dict[str, list[str]]:
        """Per SIT ID, the kinds of events from its scenario.started to its scenario.finished."""
        out: dict[str, list[str]] = {}
        current: list[str] | None = None
        for event in self.events:
            if event.kind == "scenario.started":
                current = out.setdefault(event.data["sit_id"], [])
            if current is not None:
                current.append(event.kind)
            if event.kind == "scenario.finished":
                current = None
        return out

    def finished(self, sit_id: str) -> dict[str, Any]:
        return finished(self.events, sit_id)

    def scenario(self, sit_id: str) -> list[Event]:
        return scenario_events(self.events, sit_id)

    def exchanges(self, sit_id: str | None = None) -> list[dict[str, Any]]:
        """The partner.exchange data of the whole run, or of one scenario."""
        events = self.events if sit_id is None else self.scenario(sit_id)
        return [e.data for e in events if e.kind == "partner.exchange"]


def stored_run(result: subprocess.CompletedProcess[str], store: Path) -> Run:
    """The only run in ``store``, its events read from the store."""
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
        return Run(result, list(events.events(run_id)), run_id, store)


def sit_run(store: Path, biller: str, *options: str, expect: int = 0, export: bool = False, timeout: float = 300,
            program: Sequence[str] = SIT, extra_env: Mapping[str, str] | None = None, report: bool = False) -> Run:
    """`sit run --biller BILLER --store STORE OPTIONS`, which must exit ``expect``.

    With ``export``, the run is then exported (by plain `sit`, same environment) to run.jsonl
    beside the store, and the events are read from there. With ``report``, the run writes its
    reports (beside the store) as it does by default; tests that look only at events skip them.
    """
    flags = () if report else ("--no-report",)
    result = sit("run", "--biller", biller, "--store", str(store), *flags, *options, timeout=timeout,
                 program=program, extra_env=extra_env)
    assert result.returncode == expect, explain(result)
    if not export:
        return stored_run(result, store)
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
    path = store.parent / "run.jsonl"
    exported = sit("export", run_id, "-o", str(path), "--store", str(store), timeout=60, extra_env=extra_env)
    assert exported.returncode == 0, exported.stderr
    return Run(result, list(read_jsonl(path)), run_id, store, path)


def wiremock_jvms(tmpdir: Path) -> list[int]:
    """Pids of WireMock JVMs started with a root folder under ``tmpdir`` (this test's runs only)."""
    found = []
    for proc in Path("/proc").iterdir():
        with suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace") if proc.name.isdigit() else ""
            if "wiremock-standalone" in cmdline and str(tmpdir) in cmdline:
                found.append(int(proc.name))
    return found
