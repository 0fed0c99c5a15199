"""Where WireMock runs: an external server the harness does not own, a container, and the
misuse of `--stub-backend external` without a URL.

Each test runs the real `sit` command in a subprocess, against a real WireMock.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.events import Event, SQLiteStore
from harness.stubs import ProcessWireMock, WireMockAdmin

PROJECT = Path(__file__).resolve().parents[2]
BILLER = "clayton-county-water"
CARD_PAYMENT = "card_payment_posts"  # -k: only test_a_card_payment_posts_to_the_partner (SIT-PAY-001)
CREDENTIAL_ENVS = ("SIT_CAYENTA_API_USER", "SIT_CAYENTA_API_PASSWORD", "SIT_CLAYTON_SFTP_PASSWORD")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENVS and not k.startswith("PYTEST_")}
    env |= {"COLUMNS": "200", "PYTHONDONTWRITEBYTECODE": "1"}  # rich must not wrap the summary lines
    return env


def sit(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=PROJECT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"


def run_events(store: Path) -> list[Event]:
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
        return list(events.events(run_id))


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


def _finished(events: list[Event], sit_id: str) -> dict[str, Any]:
    (finished,) = [e.data for e in events if e.kind == "scenario.finished" and e.data["sit_id"] == sit_id]
    return finished


@pytest.fixture
def external_wiremock(tmp_path: Path) -> Iterator[str]:
    """A WireMock this test owns: the harness only borrows it."""
    server = ProcessWireMock(PROJECT, tmp_path / "wm-work", tmp_path / "wm.log", scrub=lambda s: s)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


def test_external_backend_uses_the_given_server_and_leaves_it_running(external_wiremock: str, tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    result = sit("run", "--biller", BILLER, "--store", str(store), "--stub-backend", "external",
                 "--wiremock-url", external_wiremock, "-k", CARD_PAYMENT)
    assert result.returncode == 0, _explain(result)

    events = run_events(store)
    (started,) = [e.data for e in events if e.kind == "run.started"]
    assert started["stub_backend"] == "external"
    assert _finished(events, "SIT-PAY-001")["status"] == "passed"
    exchanges = [e.data for e in scenario_events(events, "SIT-PAY-001") if e.kind == "partner.exchange"]
    assert [x["call"] for x in exchanges] == ["AddARItem"]

    # The server is still up (the harness must not stop a server it does not own), and its
    # journal holds exactly the requests the store recorded for the run's last scenario
    # (the harness resets the journal when a scenario opens, not when it ends).
    admin = WireMockAdmin(external_wiremock)
    try:
        assert admin.version()
        journal = admin.journal()
    finally:
        admin.close()
    assert {entry["id"] for entry in journal} == {x["journal_id"] for x in exchanges}
    (entry,) = journal
    assert entry["request"]["url"] == "/CayentaAPI/XMLRequest"
    assert "AddARItem" in entry["request"]["body"]
    # ...and no log of it was written where a process backend would have put one.
    assert not (tmp_path / "logs").exists()


@pytest.mark.docker
def test_container_backend(tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    try:
        docker.from_env().ping()
    except Exception as exc:  # docker-py raises several kinds when no engine answers
        pytest.skip(f"no Docker engine answers: {str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__}")
    store = tmp_path / "events.sqlite"
    result = sit("run", "--biller", BILLER, "--store", str(store), "--stub-backend", "container",
                 "-k", CARD_PAYMENT, timeout=600)
    assert result.returncode == 0, _explain(result)
    events = run_events(store)
    (started,) = [e.data for e in events if e.kind == "run.started"]
    assert started["stub_backend"] == "container"
    assert _finished(events, "SIT-PAY-001")["status"] == "passed"
    calls = [e.data["call"] for e in scenario_events(events, "SIT-PAY-001") if e.kind == "partner.exchange"]
    assert calls == ["AddARItem"]


def test_external_backend_without_url_is_one_line_exit_2(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    result = sit("run", "--biller", BILLER, "--store", str(store), "--stub-backend", "external", timeout=60)
    assert result.returncode == 2, _explain(result)
    assert result.stderr.splitlines() == ["sit: --stub-backend external needs --wiremock-url URL"]
    assert result.stdout == ""
    assert not store.exists()
