"""Projections of a hand-made log: the fold, Allure results, workbook rows, the partner pack's masking.

The log is written through the real SQLite store, so the projections read it exactly as
`sit report` does (chain check included).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from harness.cases import WORKBOOK_EVENT, biller_workbook
from harness.events import EventLogError, IncompleteEvidence, SQLiteStore
from harness.profiles import load_biller, load_partner
from harness.reports import ReportOptions, open_run, write_report
from harness.reports.allure import AllureResults
from harness.reports.fold import RunRecord, fold
from harness.reports.personal import PERSONAL, Masker, PersonalRules, find_personal
from harness.run_identity import recorded_profiles
from tests.conftest import PROJECT

RUN = "20261101-120000-abcd"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REQUEST = "XMLREQUEST=%3CRequest%3E%3CAddARItem%3E%3CParams%3E%3CACCOUNT_NO%3E1234%3C%2FACCOUNT_NO%3E%3C%2FParams%3E%3C%2FAddARItem%3E%3C%2FRequest%3E"  # noqa: E501
FACTS = {"biller": "clayton-county-water", "biller_name": "Clayton County Water Authority", "bid": 1368,
         "partner": "cayenta", "partner_name": "Cayenta Utilities", "partner_version": "7.9.2", "platform": "reference",
         "seed": 7, "stub_backend": "process", "wiremock_version": "3.13.2", "harness_version": "0.1.0",
         "git_commit": "abc", "operator": "se.jones", "test_portal_bid": None, "stub_pack": "stubs/cayenta"}
CLAYTON = load_biller(PROJECT, "clayton-county-water")


class Log:
    """Appends a run's events with deterministic timestamps, one second apart."""

    def __init__(self, path: Path) -> None:
        self.store, self.second = SQLiteStore(path), 0

    def start(self) -> None:
        """What a run records first: its facts with the profiles as loaded, then its workbook."""
        self.add("run.started", **FACTS, profiles=recorded_profiles(PROJECT, CLAYTON))
        self.add(WORKBOOK_EVENT, cases=[case.record() for case in biller_workbook(PROJECT, CLAYTON)])

    def add(self, kind: str, **data: Any) -> None:
        self.second += 1
        self.store.append(RUN, kind, data, ts=f"2026-11-01T12:{self.second // 60:02d}:{self.second % 60:02d}+00:00")

    def scenario(self, sit_id: str, name: str, feature: str = "Payment posting (data pump)") -> None:
        self.add("scenario.started", sit_id=sit_id, name=name, feature=feature,
                 feature_file="features/payment_pump.feature", line=6, tags=[sit_id, "capability:payment_posting"])

    def step(self, sit_id: str, text: str, line: int, status: str = "passed", **outcome: Any) -> None:
        self.add("step.finished", sit_id=sit_id, keyword="When", text=text, line=line, status=status, **outcome)


def exchange(matched: bool = True, customer: str = "") -> dict[str, Any]:
    body = f"<Reply><AddARItem><STATUS>0</STATUS><CUSTOMER_NAME>{customer}</CUSTOMER_NAME></AddARItem></Reply>"
    return {"call": "AddARItem", "method": "POST", "url": "/CayentaAPI/XMLRequest", "request_headers": FORM,
            "request_body": REQUEST, "status": 200, "response_headers": {"Content-Type": "application/xml"},
            "response_body": body, "matched": matched, "stub": "AddARItem ok" if matched else None, "fault": None,
            "fields": {"account": "1234"}, "journal_id": "j1", "logged_at": "2026-11-01T12:00:00+00:00"}


@pytest.fixture
def log(tmp_path: Path) -> Log:
    """A run of four scenarios: passed with evidence, failed (platform), failed on an unmatched
    request (partner), and one the process died in (no scenario.finished, no run.finished)."""
    log = Log(tmp_path / "events.sqlite")
    log.start()
    log.scenario("SIT-PAY-001", "A card payment posts to the partner")
    log.add("step.started", sit_id="SIT-PAY-001", keyword="When", text="the payer pays 45.10 by card", line=8)
    log.add("platform.tx_created", key="k1", account="1234", amount="45.10")
    log.add("partner.exchange", **exchange(customer="Leslie Landry"))
    log.add("expectation", sit_id="SIT-PAY-001", what="payment status", expected="posted", actual="posted", ok=True)
    log.step("SIT-PAY-001", "the payer pays 45.10 by card", 8)
    log.add("partner.exchange", **exchange())  # read at scenario end: belongs to the last step
    log.add("scenario.finished", sit_id="SIT-PAY-001", status="passed", duration_ms=5)
    log.scenario("SIT-PAY-002", "An ACH payment posts to the partner")
    log.add("step.started", sit_id="SIT-PAY-002", keyword="Then", text="the payment is posted", line=15)
    log.add("expectation", sit_id="SIT-PAY-002", what="payment status", expected="posted", actual="parked", ok=False)
    log.step("SIT-PAY-002", "the payment is posted", 15, "failed", error="payment status: expected posted, got parked",
             category="platform")
    log.add("scenario.finished", sit_id="SIT-PAY-002", status="failed", duration_ms=5,
            error="payment status: expected posted, got parked", category="platform")
    log.scenario("SIT-PAY-003", "A credit posts as the partner's credit transaction")
    log.add("step.started", sit_id="SIT-PAY-003", keyword="When", text="the data pump runs", line=24)
    log.add("partner.exchange", **exchange(matched=False))
    log.step("SIT-PAY-003", "the data pump runs", 24, "failed", error="no answer", category="platform")
    log.add("scenario.finished", sit_id="SIT-PAY-003", status="failed", duration_ms=5, error="no answer",
            category="platform")
    log.scenario("SIT-PAY-004", "A POSConnect payment reaches the partner as its profile says")
    log.add("step.started", sit_id="SIT-PAY-004", keyword="Given", text="the partner holds an account", line=30)
    log.step("SIT-PAY-004", "the partner holds an account", 30)
    log.store.close()
    return log


def folded(path: Path) -> tuple[RunRecord, dict[str, Any]]:
    run = RunRecord()
    scenarios = {s.sit_id: s for s in fold(open_run(RUN, path).events(), run)}
    return run, scenarios


def test_fold_attaches_evidence_to_the_step_that_caused_it(log: Log, tmp_path: Path) -> None:
    run, scenarios = folded(tmp_path / "events.sqlite")
    paid = scenarios["SIT-PAY-001"]
    assert [e.kind for e in paid.steps[0].evidence] == ["platform.tx_created", "partner.exchange", "partner.exchange"]
    assert paid.steps[0].expectations[0]["actual"] == "posted"
    assert (paid.first_seq, paid.last_seq) == (3, 10)
    assert run.status == "interrupted" and run.facts["bid"] == 1368 and run.head_seq == run.events


def test_fold_classifies_failures(log: Log, tmp_path: Path) -> None:
    _, scenarios = folded(tmp_path / "events.sqlite")
    assert (scenarios["SIT-PAY-002"].status, scenarios["SIT-PAY-002"].category) == ("failed", "platform")
    # A request no stub answered is a gap in the stub pack, not a platform defect.
    assert (scenarios["SIT-PAY-003"].status, scenarios["SIT-PAY-003"].category) == ("failed", "partner")
    died = scenarios["SIT-PAY-004"]
    assert (died.status, died.workbook_status, died.category) == ("interrupted", "Interrupted", "interrupted")


def report(tmp_path: Path, out: str = "out", **options: Any) -> Path:
    options.setdefault("html", False)
    options.setdefault("pdf", False)
    options.setdefault("interrupted", True)  # the log's process died mid-scenario
    return write_report(open_run(RUN, tmp_path / "events.sqlite"), tmp_path / out,
                        ReportOptions(project=PROJECT, **options)).root


def results(root: Path) -> dict[str, dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in (root / "allure-results").glob("*-result.json")]
    return {r["testCaseId"]: r for r in found}


def test_allure_results_carry_labels_links_statuses_and_attachments(log: Log, tmp_path: Path) -> None:
    root = report(tmp_path)
    by_id = results(root)
    paid = by_id["SIT-PAY-001"]
    labels = {(label["name"], label["value"]) for label in paid["labels"]}
    assert {("epic", "Cayenta Utilities"), ("feature", "Payment posting (data pump)"), ("bid", "1368"),
            ("story", "A card payment posts to the partner"), ("tag", "SIT-PAY-001"),
            ("as_id", "SIT-PAY-001")} <= labels
    assert "links" not in paid  # Clayton's profile sets no SIT-ID link pattern: no link, not a dead one
    assert paid["status"] == "passed" and paid["start"] < paid["stop"]
    step = paid["steps"][0]
    assert [s["name"].split(":")[0] for s in step["steps"]] == ["platform.tx_created", "payment status"]
    assert step["steps"][1]["name"].startswith("payment status: expected posted, actual posted")
    names = [a["name"] for a in step["attachments"]]
    assert names == ["AddARItem: POST -> 200", "AddARItem: POST -> 200"]
    text = (root / "allure-results" / step["attachments"][0]["source"]).read_text()
    assert "    <Request>\n      <AddARItem>" in text and "<CUSTOMER_NAME>Leslie Landry</CUSTOMER_NAME>" in text
    # Steps the scenario never reached are listed, skipped, so the reader sees the whole scenario.
    assert [s["status"] for s in paid["steps"][1:]] == ["skipped"] * (len(paid["steps"]) - 1)
    assert (by_id["SIT-PAY-002"]["status"], by_id["SIT-PAY-003"]["status"]) == ("failed", "failed")
    assert "sit-category: partner" in by_id["SIT-PAY-003"]["statusDetails"]["trace"]
    died = by_id["SIT-PAY-004"]
    assert died["status"] == "broken" and died["statusDetails"]["message"].startswith("Interrupted")


def test_sit_id_links_follow_the_billers_pattern_or_are_absent(log: Log, tmp_path: Path) -> None:
    run, scenarios = folded(tmp_path / "events.sqlite")
    out = tmp_path / "results"
    shown = {}
    for pattern in (None, "https://tracker.example/SIT/{}?view=full"):
        results = AllureResults(out, {}, pattern)
        results.add(run, scenarios["SIT-PAY-001"])
        results.close(run)  # the files are written once it is closed
        (result,) = [json.loads(p.read_text()) for p in out.glob("*-result.json")]
        shown[pattern] = result.get("links")
    assert shown == {None: None, "https://tracker.example/SIT/{}?view=full": [
        {"type": "tms", "url": "https://tracker.example/SIT/SIT-PAY-001?view=full", "name": "SIT-PAY-001"}]}


def test_na_scenario_reads_not_applicable_with_its_reason(tmp_path: Path) -> None:
    reason = "Optional for Cayenta Utilities, not taken: capability ach_reject_posting (see *Details*)."
    log = Log(tmp_path / "events.sqlite")
    log.start()
    log.scenario("SIT-BAL-007", "A budget billing account shows its monthly budget amount")
    log.add("scenario.finished", sit_id="SIT-BAL-007", status="na", reason=reason)
    log.add("run.finished", status="passed", counts={"passed": 0, "failed": 0, "na": 1})
    log.store.close()
    na = results(report(tmp_path))["SIT-BAL-007"]
    # Skipped is Allure's one status for a result that did not run; its report words it "not applicable".
    assert na["status"] == "skipped"
    assert "statusDetails" not in na  # Allure shows a status message under "Error"
    shown = r"capability ach\_reject\_posting (see \*Details\*)."  # Markdown: read as written, not in italics
    assert na["description"].startswith(f"**Not applicable** to Clayton County Water Authority: {reason.split(':')[0]}"
                                        f": {shown}\n\nWorkbook section")
    assert {"name": "N/A reason", "value": reason} in na["labels"]  # the Categories tab groups N/A by it


def test_a_steps_data_table_is_attached_as_csv_from_the_recorded_workbook(tmp_path: Path) -> None:
    """The step events hold a step's first line; its table (the expected postings) is what a reader
    checks the step against, so the result attaches it, from the case the run recorded."""
    case = next(c for c in biller_workbook(PROJECT, CLAYTON) if c.sit_id == "SIT-PAY-008")
    text, line = next((t, at) for t, at in zip(case.steps, case.step_lines, strict=True) if "\n| " in t)
    keyword, _, first = text.split("\n")[0].partition(" ")
    log = Log(tmp_path / "events.sqlite")
    log.start()
    log.scenario("SIT-PAY-008", case.name)
    log.add("step.started", sit_id="SIT-PAY-008", keyword=keyword, text=first, line=line)
    log.step("SIT-PAY-008", first, line)
    log.add("scenario.finished", sit_id="SIT-PAY-008", status="passed", duration_ms=5)
    log.add("run.finished", status="passed", counts={"passed": 1, "failed": 0, "na": 0})
    log.store.close()
    root = report(tmp_path)
    (step, *_) = results(root)["SIT-PAY-008"]["steps"]
    (table,) = [a for a in step["attachments"] if a["name"] == "Data table"]
    assert table["type"] == "text/csv"
    rows = (root / "allure-results" / table["source"]).read_text(encoding="utf-8").splitlines()
    assert rows == ["posting,amount,method", "payment,40.00,card", "payment,40.00,card"]


def test_categories_and_environment(log: Log, tmp_path: Path) -> None:
    root = report(tmp_path) / "allure-results"
    names = [c["name"] for c in json.loads((root / "categories.json").read_text())]
    assert names == ["Platform defects", "Partner or stub problems", "Harness errors", "Interrupted",
                     "Not run (a need the live partner could not meet)", "Not applicable (N/A)"]
    env = dict(line.split("=", 1) for line in (root / "environment.properties").read_text().splitlines())
    assert env["BID"] == "1368" and env["Faker.seed"] == "7" and env["WireMock.version"] == "3.13.2"
    assert env["Partner.version"] == "7.9.2" and env["Git.commit"] == "abc" and env["Run"] == RUN


def test_an_interrupted_run_is_reported_only_when_asked(log: Log, tmp_path: Path) -> None:
    with pytest.raises(IncompleteEvidence, match=r"did not finish .*--interrupted"):
        report(tmp_path, interrupted=False)
    assert not (tmp_path / "out").exists()


def test_projection_is_byte_identical(log: Log, tmp_path: Path) -> None:
    first, second = report(tmp_path, "a"), report(tmp_path, "b")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert len(files) > 8
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_workbook_rows(log: Log, tmp_path: Path) -> None:
    root = report(tmp_path)
    lines = (root / "workbook.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[0].startswith(f"INTERRUPTED: run {RUN} did not finish")  # no run.finished: the process died
    rows = {row["SIT ID"]: row for row in csv.DictReader(lines[1:])}
    assert rows["SIT-PAY-001"]["Status"] == "Pass" and rows["SIT-PAY-001"]["Actual result"] == "payment status: posted"
    assert rows["SIT-PAY-001"]["Executed by"] == "se.jones" and rows["SIT-PAY-001"]["Executed at"].endswith("UTC")
    assert rows["SIT-PAY-001"]["Evidence"] == "events 3-10"
    assert rows["SIT-PAY-001"]["Allure link"].startswith("allure-report.html#")
    assert rows["SIT-PAY-002"]["Status"] == "Fail" and "got parked" in rows["SIT-PAY-002"]["Actual result"]
    assert rows["SIT-PAY-004"]["Status"] == "Interrupted"
    assert rows["SIT-PAY-005"]["Status"] == "Not run"  # in the features, never started
    na = rows["SIT-BAL-007"]  # budget billing: not supported by Cayenta, so N/A even though never run
    assert na["Status"] == "N/A" and "Budget billing" in na["N/A reason"]
    assert rows["SIT-PAY-001"]["Expected result"].startswith("Then the partner received the payment")
    assert rows["SIT-PAY-004"]["Result_Run1"] == "Interrupted"  # this run: the only one the log knows
    sheet = load_workbook(root / "workbook.xlsx")["SIT"]
    assert sheet.freeze_panes == "B3" and sheet.auto_filter.ref == f"A2:N{len(rows) + 2}"
    colours = {sheet.cell(row=r, column=7).value: sheet.cell(row=r, column=7).fill.fgColor.rgb
               for r in range(3, sheet.max_row + 1)}
    assert colours["Pass"].endswith("C6EFCE") and colours["Fail"].endswith("FFC7CE")


def test_signoff_states_exit_criteria_and_head_hash(log: Log, tmp_path: Path) -> None:
    page = (report(tmp_path) / "signoff.html").read_text()
    with SQLiteStore(tmp_path / "events.sqlite") as store:
        head = store.head(RUN)
    assert head is not None and head.hash in page
    assert "NOT MET" in page and "Clayton County Water Authority" in page and f"sit verify {RUN}" in page
    # The process died: no approvals to sign, whatever the roles (a finished run's are in test_report_documents).
    assert f"Not for sign-off: run <code>{RUN}</code> did not finish" in page and "SE: solution engineer" not in page


def test_partner_pack_masks_personal_data(log: Log, tmp_path: Path) -> None:
    root = report(tmp_path, partner_pack=True)
    assert root == tmp_path / "out" / "partner-pack"
    texts = "".join(p.read_text() for p in root.rglob("*") if p.is_file() and p.suffix != ".xlsx")
    assert "Leslie Landry" not in texts and PERSONAL in texts
    assert "platform.tx_created" not in texts  # the platform's inner workings stay home


def test_masker_takes_values_from_bodies_and_data(log: Log, tmp_path: Path) -> None:
    rules = PersonalRules.of(load_partner(PROJECT, "cayenta").model_dump(mode="json"))
    found = find_personal(open_run(RUN, tmp_path / "events.sqlite").events(), rules)
    assert found == {"CUSTOMER_NAME in event 6 (partner.exchange)": "Leslie Landry"}  # the account is not personal
    assert Masker(found.values())("Paid by Leslie Landry for 1234.") == f"Paid by {PERSONAL} for 1234."


def test_a_tampered_log_is_not_projected(log: Log, tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "events.sqlite") as db:
        db.execute("DROP TRIGGER events_no_update")  # what an editor of the file would do first
        db.execute("UPDATE events SET data = replace(data, 'posted', 'parked') WHERE seq = 7")
    with pytest.raises(EventLogError, match="chain broken at event 7"):
        report(tmp_path)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_expectations_read_as_their_sentences(tmp_path: Path) -> None:
    """A log whose expectations carry sentences: Allure names each sub-step by its sentence, the workbook's
    actual result lists what was seen, and a failure reads "expected ...; it ...". (The ``log`` fixture's
    expectations have no sentences, as logs had before: the tests above show those by label and value.)"""
    log = Log(tmp_path / "events.sqlite")
    log.start()
    seen = "the partner received 45.10 by card for the account"
    failure = "expected the partner to receive 120.00 by ACH for the account; it received nothing"
    log.scenario("SIT-PAY-001", "A card payment posts to the partner")
    log.add("step.started", sit_id="SIT-PAY-001", keyword="Then", text="the partner received the payment", line=8)
    log.add("expectation", sit_id="SIT-PAY-001", expected=[["45.10", "CC"]], actual=[["45.10", "CC"]], ok=True,
            expected_sentence="expected the partner to receive 45.10 by card for the account", actual_sentence=seen,
            sentence=seen)
    log.step("SIT-PAY-001", "the partner received the payment", 8)
    log.add("scenario.finished", sit_id="SIT-PAY-001", status="passed", duration_ms=5)
    log.scenario("SIT-PAY-002", "An ACH payment posts to the partner")
    log.add("step.started", sit_id="SIT-PAY-002", keyword="Then", text="the partner received the payment", line=15)
    log.add("expectation", sit_id="SIT-PAY-002", expected=[["120.00", "ACH"]], actual=[], ok=False,
            expected_sentence="expected the partner to receive 120.00 by ACH for the account",
            actual_sentence="the partner received nothing for the account", sentence=failure)
    log.step("SIT-PAY-002", "the partner received the payment", 15, "failed", error=failure, category="platform")
    log.add("scenario.finished", sit_id="SIT-PAY-002", status="failed", duration_ms=5, error=failure,
            category="platform")
    log.add("run.finished", status="failed", counts={"failed": 1, "passed": 1})
    log.store.close()

    root = report(tmp_path)
    by_id = results(root)
    assert [(s["name"], s["status"]) for s in by_id["SIT-PAY-001"]["steps"][0]["steps"]] == [
        (f"{seen} (as expected)", "passed")]
    assert [(s["name"], s["status"]) for s in by_id["SIT-PAY-002"]["steps"][0]["steps"]] == [(failure, "failed")]
    rows = {row["SIT ID"]: row for row in csv.DictReader((root / "workbook.csv").open(newline=""))}
    assert rows["SIT-PAY-001"]["Actual result"] == seen
    assert rows["SIT-PAY-002"]["Actual result"] == failure
    assert failure in (root / "signoff.html").read_text()


def test_a_projection_that_fails_leaves_nothing_and_no_process(log: Log, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The Allure files are written by a helper process while the workbook is made: a failure there stops
    the helper before the staging folder is removed, so nothing is written after and nothing is left."""
    from harness.reports import report as projection

    def broken(*_: Any) -> None:
        raise RuntimeError("the workbook could not be made")

    monkeypatch.setattr(projection, "write_xlsx", broken)
    before = _children()
    with pytest.raises(RuntimeError, match="workbook"):
        report(tmp_path, "reports/out")
    assert not (tmp_path / "reports").exists()  # neither the report nor the folders made for it
    assert _children() == before


def _children() -> set[str]:
    """This process's child processes (Linux); the empty set where the system does not list them."""
    found: set[str] = set()
    for task in Path("/proc/self/task").glob("*/children"):
        found.update(task.read_text().split())
    return found
