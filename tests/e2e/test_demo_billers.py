"""Every demo biller passes their whole workbook through `sit run`, as an SE runs it.

Every in-scope case of the workbook ran and passed, every N/A case was reported N/A with its
reason, and nothing of another biller's workbook ran: the workbook as the features say it today,
counted from them, not from a number written here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runs import sit_run

from tests.conftest import PROJECT, na_sit_ids, sit_ids

DEMO_BILLERS = sorted(path.stem for path in (PROJECT / "fixtures" / "billers").glob("*.yaml"))


@pytest.mark.parametrize("biller", DEMO_BILLERS)
def test_the_demo_biller_passes_its_whole_workbook(biller: str, tmp_path: Path) -> None:
    run = sit_run(tmp_path / "events.sqlite", biller)
    statuses = run.statuses()
    na = na_sit_ids(biller)
    assert set(statuses) == sit_ids(biller)
    assert {sit_id for sit_id, status in statuses.items() if status != "passed"} == na
    assert all(run.finished(sit_id)["reason"] for sit_id in na)
    (finished,) = [e.data for e in run.events if e.kind == "run.finished"]
    assert finished["status"] == "passed"
