"""`sit report`, `sit workbook` and `sit signoff` on a real demo run: reproducible, complete, signed."""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from harness.events import SQLiteStore
from tests.cli.test_cli import BILLER, DemoRun, assert_one_line_error
from tests.conftest import na_sit_ids, run_sit, sit_ids

REPRODUCIBLE = ("allure-results", "allure-report", "allure-report.html", "workbook.csv", "workbook.xlsx",
               "signoff.html", "signoff.pdf")


def files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def report(run: str, out: Path, *args: str, store: Path | None = None) -> Path:
    extra = ("--store", str(store)) if store else ()
    proc = run_sit("report", run, "-o", str(out), *args, *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def reported(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_id, store, _ = demo_run
    return report(run_id, tmp_path_factory.mktemp("report") / run_id, store=store)


def test_report_writes_every_projection(reported: Path) -> None:
    for name in ("allure-results", "allure-report/index.html", "allure-report.html", "workbook.xlsx",
                 "workbook.csv", "signoff.html", "signoff.pdf"):
        assert (reported / name).exists(), name
    assert len(list((reported / "allure-results").glob("*-result.json"))) == len(sit_ids())
    rows = list(csv.DictReader((reported / "workbook.csv").open(newline="")))
    assert len(rows) == len(sit_ids()) and {r["Status"] for r in rows} == {"Pass", "N/A"}


def test_report_twice_is_byte_identical_and_comes_back_from_the_log(demo_run: DemoRun, reported: Path,
                                                                     tmp_path: Path) -> None:
    run_id, store, _ = demo_run
    again = tmp_path / run_id
    shutil.copytree(reported, again)
    shutil.rmtree(again)  # deleted: everything must come back from the log alone
    report(run_id, again, store=store)
    first, second = files(reported), files(again)
    assert first.keys() == second.keys()
    for rel in first:
        if rel.parts[0] in REPRODUCIBLE:
            assert first[rel] == second[rel], rel


def report_options(page: Path) -> dict[str, Any]:
    """The ``window.allureReportOptions`` an Allure page starts its app with."""
    found = re.search(r"window\.allureReportOptions = (\{.*\})\n", page.read_text(encoding="utf-8"))
    assert found, f"{page}: no allureReportOptions"
    options: dict[str, Any] = json.loads(found[1])
    return options


def test_allure_html_takes_its_time_and_id_from_the_log_not_the_machine(demo_run: DemoRun, reported: Path) -> None:
    run_id, store, _ = demo_run
    with SQLiteStore(store) as events:
        head = events.head(run_id)
    assert head is not None and head.kind == "run.finished"
    multi, single = report_options(reported / "allure-report" / "index.html"), report_options(
        reported / "allure-report.html")
    # "Generated" is when the evidence ends, not when the report was made; one id for both pages.
    assert multi["createdAt"] == single["createdAt"] == int(datetime.fromisoformat(head.ts).timestamp() * 1000)
    assert multi["reportUuid"] == single["reportUuid"]
    # Nothing of the checkout or the machine: Allure would name the git repository and branch here.
    assert multi["ci"]["repoName"] == multi["ci"]["jobRunBranch"] == "" and multi["ci"]["type"] == "local"
    for page in (reported / "allure-report" / "index.html", reported / "allure-report.html"):
        assert "googletagmanager" not in page.read_text(encoding="utf-8"), f"{page} calls Google Analytics"


def test_report_from_an_export_equals_the_report_from_the_store(demo_run: DemoRun, reported: Path,
                                                                 tmp_path: Path) -> None:
    run_id, store, _ = demo_run
    export = tmp_path / "run.jsonl"
    assert run_sit("export", run_id, "-o", str(export), "--store", str(store)).returncode == 0
    out = report(str(export), tmp_path / "from-export", "--no-html")
    for name in ("workbook.csv", "workbook.xlsx", "signoff.html", "signoff.pdf"):
        assert (out / name).read_bytes() == (reported / name).read_bytes(), name


def test_blank_workbook_marks_na_before_any_run(tmp_path: Path) -> None:
    proc = run_sit("workbook", "--biller", BILLER, "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = {r["SIT ID"]: r for r in csv.DictReader((tmp_path / "workbook.csv").open(newline=""))}
    assert rows.keys() == sit_ids() and (tmp_path / "workbook.xlsx").stat().st_size > 5000
    assert rows["SIT-BAL-007"]["Status"] == "N/A" and "Budget billing" in rows["SIT-BAL-007"]["N/A reason"]
    assert rows["SIT-ACH-001"]["Status"] == "N/A"  # optional, not taken by this biller
    assert rows["SIT-PAY-001"]["Status"] == "" and rows["SIT-PAY-001"]["Actual result"] == ""
    assert {r["Result_Run1"] for r in rows.values()} == {""}  # the first run's column, to be filled by a run
    sheet = load_workbook(tmp_path / "workbook.xlsx").worksheets[0]
    assert sheet["A1"].value.startswith("SIT workbook: Clayton County Water Authority (BID 1368)")
    assert [c.value for c in sheet[2]][:3] == ["SIT ID", "Section", "Scenario"] and sheet.max_row == len(rows) + 2
    assert {sit_id for sit_id, r in rows.items() if r["Status"] == "N/A"} == na_sit_ids(BILLER)


def test_signoff_signs_the_head_hash_and_verify_checks_it(demo_run: DemoRun, tmp_path: Path) -> None:
    run_id, store, _ = demo_run
    signed_store = tmp_path / "events.sqlite"
    shutil.copy(store, signed_store)  # the shared demo run stays unsigned
    key = tmp_path / "se.pem"
    assert run_sit("keygen", str(key)).returncode == 0
    with SQLiteStore(signed_store) as events:
        head = events.head(run_id)
    assert head is not None
    out = tmp_path / "report"
    proc = run_sit("signoff", run_id, "--sign", str(key), "--signer", "Pat SE", "-o", str(out),
                   "--store", str(signed_store))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (out / "signoff.html").read_text()
    assert "Pat SE" in page and head.hash in page and "BEGIN PUBLIC KEY" in page
    [signature] = (out / "signatures").glob("*.sig.json")
    verified = run_sit("verify", run_id, "--signature", "--store", str(signed_store))
    assert verified.returncode == 0 and "valid" in verified.stdout, verified.stdout + verified.stderr
    shutil.rmtree(out)  # the signature is in the log, so the report brings it back
    report(run_id, out, "--no-html", store=signed_store)
    assert "Pat SE" in (out / "signoff.html").read_text() and (out / "signatures" / signature.name).exists()


def test_bad_input_is_one_line(demo_run: DemoRun, tmp_path: Path) -> None:
    run_id, store, _ = demo_run
    assert_one_line_error(run_sit("report", "20990101-000000-dead", "--store", str(store)), "no run", code=2)
    assert_one_line_error(run_sit("report", str(tmp_path / "gone.jsonl")), "gone.jsonl", code=2)
    assert_one_line_error(run_sit("signoff", run_id, "--sign", str(tmp_path / "missing.pem"), "--signer", "Pat",
                                  "--store", str(store)), "missing.pem", code=2)
    assert_one_line_error(run_sit("signoff", run_id, "--sign", str(tmp_path / "missing.pem"), "--store", str(store)),
                          "--signer", code=2)
    broken = tmp_path / "broken.sqlite"
    shutil.copy(store, broken)
    with sqlite3.connect(broken) as db:
        db.execute("DROP TRIGGER events_no_update")
        db.execute("UPDATE events SET ts = '2026-01-01T00:00:00+00:00' WHERE seq = 12")
    out = tmp_path / "never"
    assert_one_line_error(run_sit("report", run_id, "-o", str(out), "--store", str(broken)),
                          "chain broken at event 12")
    assert not out.exists()
