"""`pytest` with the plugin gives the same run as `sit run`.

Both entry points run every workbook scenario against a real WireMock and sFTP server; the
event logs they write must agree scenario by scenario: the same status, and the same
sequence of event kinds (what happened, in what order), each log's chain intact.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.events import Event, SQLiteStore, verify_chain
from harness.session import default_seed

PROJECT = Path(__file__).resolve().parents[2]
BILLER = "clayton-county-water"  # pyproject's sit_biller default, which plain pytest runs
CREDENTIAL_ENVS = ("SIT_CAYENTA_API_USER", "SIT_CAYENTA_API_PASSWORD", "SIT_CLAYTON_SFTP_PASSWORD")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENVS and not k.startswith("PYTEST_")}
    env |= {"COLUMNS": "200", "PYTHONDONTWRITEBYTECODE": "1"}
    return env


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    events: list[Event]

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


def _run(args: list[str], store: Path) -> Run:
    result = subprocess.run([sys.executable, *args], cwd=PROJECT, env=_env(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
        return Run(result, list(events.events(run_id)))


def _pytest(store: Path, *extra: str) -> Run:
    return _run(["-m", "pytest", "steps", "--sit-store", str(store), "-p", "no:cacheprovider", "-q", *extra], store)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("entry")


@pytest.fixture(scope="module")
def via_pytest(tmp: Path) -> Run:
    return _pytest(tmp / "a.sqlite")


@pytest.fixture(scope="module")
def via_sit(tmp: Path) -> Run:
    store = tmp / "b.sqlite"
    return _run(["-m", "harness.cli", "run", "--biller", BILLER, "--store", str(store)], store)


def test_same_scenarios_same_statuses(via_pytest: Run, via_sit: Run) -> None:
    statuses = via_sit.statuses()
    assert len(statuses) == 30
    assert set(statuses.values()) == {"passed", "na"}
    assert via_pytest.statuses() == statuses
    assert "passed" in via_pytest.result.stdout  # pytest's own terminal report, not the sit summary


def test_same_event_kinds_per_scenario(via_pytest: Run, via_sit: Run) -> None:
    by_pytest, by_sit = via_pytest.kinds(), via_sit.kinds()
    assert by_pytest.keys() == by_sit.keys()
    differ = {sit_id: (by_pytest[sit_id], kinds) for sit_id, kinds in by_sit.items() if by_pytest[sit_id] != kinds}
    assert differ == {}
    assert "partner.exchange" in by_sit["SIT-PAY-001"]  # the comparison covers real partner traffic


def test_both_runs_are_framed_and_their_chains_verify(via_pytest: Run, via_sit: Run) -> None:
    for run in (via_pytest, via_sit):
        assert run.events[0].kind == "run.started"
        assert run.events[-1].kind == "run.finished"
        assert run.events[-1].data["status"] == "passed"
        assert verify_chain(run.events) is None
    assert via_pytest.events[-1].data["counts"] == via_sit.events[-1].data["counts"]


def test_default_seed_is_the_same_stable_per_biller_seed(via_pytest: Run, via_sit: Run) -> None:
    assert via_pytest.started()["seed"] == via_sit.started()["seed"] == default_seed(BILLER)
    assert via_pytest.started()["biller"] == via_sit.started()["biller"] == BILLER


def test_seed_option_reaches_the_run(tmp: Path) -> None:
    run = _pytest(tmp / "c.sqlite", "--seed", "7", "-k", "card_payment_posts")
    assert default_seed(BILLER) != 7
    assert run.started()["seed"] == 7
    assert run.statuses() == {"SIT-PAY-001": "passed"}
