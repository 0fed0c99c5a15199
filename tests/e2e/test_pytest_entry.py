"""`pytest` with the plugin gives the same run as `sit run`.

Both entry points run every workbook scenario against a real WireMock and sFTP server; the
event logs they write must agree scenario by scenario: the same status, and the same
sequence of event kinds (what happened, in what order), each log's chain intact.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from runs import BILLER, Run, explain, sit, sit_run, stored_run

from harness.events import verify_chain
from harness.run_identity import default_seed
from tests.conftest import sit_ids

PYTEST = (sys.executable, "-m", "pytest")
# BILLER is pyproject's sit_biller default, which plain pytest runs.


def _pytest(store: Path, *extra: str) -> Run:
    result = sit("steps", "--sit-store", str(store), "-p", "no:cacheprovider", "-q", *extra, program=PYTEST)
    assert result.returncode == 0, explain(result)
    return stored_run(result, store)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("entry")


@pytest.fixture(scope="module")
def via_pytest(tmp: Path) -> Run:
    return _pytest(tmp / "a.sqlite")


@pytest.fixture(scope="module")
def via_sit(tmp: Path) -> Run:
    return sit_run(tmp / "b.sqlite", BILLER)


def test_same_scenarios_same_statuses(via_pytest: Run, via_sit: Run) -> None:
    statuses = via_sit.statuses()
    assert statuses.keys() == sit_ids()
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


def test_sit_run_is_deaf_to_the_callers_pytest_options(tmp_path: Path) -> None:
    """PYTEST_ADDOPTS is for the caller's own pytest (`make test` may set it): the SIT's pytest ignores it."""
    run = sit_run(tmp_path / "events.sqlite", BILLER, "-k", "SIT-PAY-001",
                  extra_env={"PYTEST_ADDOPTS": "--collect-only tests/unit/test_lint.py"})
    assert run.statuses() == {"SIT-PAY-001": "passed"}
