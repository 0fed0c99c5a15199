"""The log is all a report reads: a checkout changed, broken or emptied after a run changes none of its reports.

One real run of the demo biller in a copy of the project (features, profiles and stub packs
copied, so the test can change them), signed and reported. Then a feature is added, another
one broken, the biller profile edited, the stub pack deleted, and at last every profile
deleted: each time `sit report` writes the same bytes, and the signature still verifies.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest
from runs import BILLER, PROJECT, explain, sit

from harness.events import SQLiteStore
from tests.conftest import copy_project as copy_tree

COPIED = ("features", "fixtures", "stubs")  # what the tests change under a finished run


def copy_project(root: Path) -> Path:
    return copy_tree(root, COPIED)


def in_copy(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return sit(*args, "--project", str(project), timeout=300)


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class Reported:
    def __init__(self, project: Path, store: Path, run_id: str, first: Path) -> None:
        self.project, self.store, self.run_id, self.first = project, store, run_id, first

    def report_again(self, name: str) -> dict[str, bytes]:
        out = self.store.parent / name
        result = in_copy(self.project, "report", self.run_id, "--store", str(self.store), "-o", str(out))
        assert result.returncode == 0, explain(result)
        return files(out)

    def signature_valid(self) -> bool:
        result = in_copy(self.project, "verify", self.run_id, "--signature", "--store", str(self.store))
        return result.returncode == 0 and "SIGNED by key" in result.stdout


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Reported:
    tmp = tmp_path_factory.mktemp("self-contained")
    project, store = copy_project(tmp / "project"), tmp / "store" / "events.sqlite"
    ran = in_copy(project, "run", "--biller", BILLER, "--store", str(store), "--no-report")
    assert ran.returncode == 0, explain(ran)
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
    key = tmp / "se.pem"
    assert sit("keygen", str(key)).returncode == 0
    signed = in_copy(project, "signoff", run_id, "--sign", str(key), "--signer", "Pat Jones (SE)",
                     "--store", str(store), "-o", str(tmp / "store" / "first"))
    assert signed.returncode == 0, explain(signed)
    return Reported(project, store, run_id, tmp / "store" / "first")


def test_the_billers_workbook_speaks_only_of_its_own_integration(reported: Reported) -> None:
    with (reported.first / "workbook.csv").open(encoding="utf-8", newline="") as rows:
        ids = [row["SIT ID"] for row in csv.DictReader(rows) if row.get("SIT ID", "").startswith("SIT-")]
    assert ids and not [i for i in ids if i.startswith(("SIT-CSL-", "SIT-CB-"))]  # Caselle's own cases
    page = (reported.first / "signoff.html").read_text(encoding="utf-8")
    assert "SIT-CSL-001" not in page and "caselle" not in page.lower()


def test_reports_do_not_change_when_the_checkout_does(reported: Reported) -> None:
    before = files(reported.first)
    assert {"workbook.csv", "workbook.xlsx", "signoff.html", "signoff.pdf", "allure-report.html"} <= before.keys()
    features = reported.project / "features"
    new = (features / "payment_pump.feature").read_text(encoding="utf-8")
    (features / "added.feature").write_text(new.replace("@SIT-PAY-", "@SIT-NEW-"), encoding="utf-8")
    (features / "void.feature").write_text("Feature: broken\n  Scenario without steps\n    Given\n  nonsense |\n")
    biller = reported.project / "fixtures" / "billers" / f"{BILLER}.yaml"
    biller.write_text(biller.read_text().replace("Clayton County Water Authority", "Renamed Biller"))
    shutil.rmtree(reported.project / "stubs")
    assert reported.report_again("changed") == before
    shutil.rmtree(reported.project / "fixtures")
    shutil.rmtree(features)
    assert reported.report_again("emptied") == before
    assert reported.signature_valid()


def test_a_draft_biller_run_by_path_is_reported_and_reports_again_without_its_file(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    draft = tmp_path / "draft-biller.yaml"
    text = (PROJECT / "fixtures" / "billers" / f"{BILLER}.yaml").read_text()
    text = text.replace(f"slug: {BILLER}", "slug: draft-biller")
    draft.write_text(text.replace("name: Clayton County Water Authority", "name: Draft Biller"))
    store = tmp_path / "events.sqlite"
    ran = in_copy(project, "run", "--biller", str(draft), "--store", str(store), "-k", "SIT-PAY-001")
    assert ran.returncode == 0, explain(ran)
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
    first = files(tmp_path / run_id)
    assert "signoff.pdf" in first and b"Biller=Draft Biller" in first["allure-results/environment.properties"]
    draft.unlink()
    again = in_copy(project, "report", run_id, "--store", str(store), "-o", str(tmp_path / "again"))
    assert again.returncode == 0, explain(again)
    assert files(tmp_path / "again") == first


def test_a_broken_feature_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    broken = project / "features" / "void.feature"
    broken.write_text(broken.read_text().replace("  Scenario:", "  Scenari0:", 1))
    store = tmp_path / "events.sqlite"
    ran = in_copy(project, "run", "--biller", BILLER, "--store", str(store))
    assert ran.returncode == 2, explain(ran)
    (line,) = ran.stderr.splitlines()
    assert line.startswith("sit: features/void.feature:") and "Gherkin" in line, line
    assert "Run " not in ran.stdout and "Traceback" not in ran.stdout + ran.stderr
    assert not store.exists()  # no run recorded: not even a store
