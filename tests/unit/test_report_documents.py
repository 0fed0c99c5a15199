"""The workbook and the sign-off of a hand-made run: every case with its evidence, the biller's
run history, INTERRUPTED on every first page, and the same bytes on a rebuild.

The logs are written through the real SQLite store (``Log`` of test_report_projection), so
the documents are projected exactly as `sit report` projects them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any
from zipfile import ZipFile

import lxml.html
import pytest
from openpyxl import load_workbook

from harness.cases import WORKBOOK_EVENT, biller_workbook
from harness.events import SQLiteStore
from harness.profiles import load_biller
from harness.reports import open_run
from harness.reports.fold import RunRecord, fold
from harness.reports.signoff import CHART_RUNS
from harness.reports.workbook import COLUMNS, write_blank_workbook
from harness.run_identity import recorded_profiles
from tests.conftest import PROJECT
from tests.unit.test_report_projection import CLAYTON, FACTS, RUN, Log, exchange, report

HISTORY = [  # as the lead's run.started records it: earlier finished runs of the biller, oldest first
    {"run_id": "20261020-090000-aaaa", "started": "2026-10-20T09:00:00+00:00", "status": "failed",
     "counts": {"passed": 1, "failed": 1, "na": 0}, "results": {"SIT-PAY-001": "passed", "SIT-PAY-002": "failed"}},
    {"run_id": "20261025-090000-bbbb", "started": "2026-10-25T09:00:00+00:00", "status": "passed",
     "counts": {"passed": 2, "failed": 0, "na": 1, "interrupted": 0},
     "results": {"SIT-PAY-001": "passed", "SIT-PAY-002": "passed", "SIT-BAL-007": "na"}},
]
ALLURE = re.compile(r"allure-report\.html#([0-9a-f]{32})")


def write_log(path: Path, *, interrupted: str | None = None, **facts: Any) -> Log:
    """Two scenarios (passed, failed), then either run.finished or, inside a third, run.interrupted."""
    log = Log(path)
    profiles = recorded_profiles(PROJECT, CLAYTON)
    profiles["biller"]["data"]["test_portal_bid"] = 91368
    started = FACTS | {"history": HISTORY, "operator": "Pat Jones (SE)", "profiles": profiles} | facts
    log.add("run.started", **{k: v for k, v in started.items() if v is not None})
    log.add(WORKBOOK_EVENT, cases=[case.record() for case in biller_workbook(PROJECT, CLAYTON)])
    log.scenario("SIT-PAY-001", "A card payment posts to the partner")
    log.add("step.started", sit_id="SIT-PAY-001", keyword="When", text="the payer pays 45.10 by card", line=8)
    log.add("partner.exchange", **exchange())
    log.add("expectation", sit_id="SIT-PAY-001", what="payment status", expected="posted", actual="posted", ok=True)
    log.step("SIT-PAY-001", "the payer pays 45.10 by card", 8)
    log.add("scenario.finished", sit_id="SIT-PAY-001", status="passed", duration_ms=5)
    log.scenario("SIT-PAY-002", "An ACH payment posts to the partner")
    log.add("step.started", sit_id="SIT-PAY-002", keyword="Then", text="the payment is posted", line=15)
    log.step("SIT-PAY-002", "the payment is posted", 15, "failed", error="expected posted, got parked")
    log.add("scenario.finished", sit_id="SIT-PAY-002", status="failed", duration_ms=5,
            error="expected posted, got parked", category="platform")
    if interrupted is None:
        log.add("run.finished", status="failed", counts={"failed": 1, "passed": 1})
    else:
        log.scenario("SIT-PAY-003", "A credit posts as the partner's credit transaction")
        log.add("step.started", sit_id="SIT-PAY-003", keyword="When", text="the data pump runs", line=24)
        log.add("run.interrupted", reason=interrupted, counts={"failed": 1, "passed": 1})
    log.store.close()
    return log


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    write_log(tmp_path / "events.sqlite")
    return report(tmp_path)


@pytest.fixture
def interrupted(tmp_path: Path) -> Path:
    write_log(tmp_path / "events.sqlite", interrupted="SIGTERM")
    return report(tmp_path)


def csv_lines(root: Path) -> list[list[str]]:
    with (root / "workbook.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def csv_rows(root: Path) -> dict[str, dict[str, str]]:
    lines = csv_lines(root)
    header = 0 if lines[0][0] == "SIT ID" else 1  # an interrupted run's banner comes first
    return {line[0]: dict(zip(lines[header], line, strict=True)) for line in lines[header + 1:]}


def page(root: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((root / "signoff.html").read_bytes())


def text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def fact(root: Path, name: str) -> str:
    (cell,) = page(root).xpath(f'//table[@class="facts"]//tr[th="{name}"]/td')
    return text(cell)


def last_ts(path: Path) -> datetime:
    with SQLiteStore(path) as store:
        head = store.head(RUN)
    assert head is not None
    return datetime.fromisoformat(head.ts)


# --- the workbook ---------------------------------------------------------------------------------------------


def test_workbook_keeps_a_result_column_per_run_this_run_last(finished: Path) -> None:
    header = csv_lines(finished)[0]
    assert header[:len(COLUMNS)] == [h for h, _ in COLUMNS]
    assert header[len(COLUMNS):] == ["Result_Run1", "Result_Run2", "Result_Run3"]
    rows = csv_rows(finished)
    runs = [[rows[sit_id][f"Result_Run{n}"] for n in (1, 2, 3)] for sit_id in
            ("SIT-PAY-001", "SIT-PAY-002", "SIT-BAL-007", "SIT-PAY-005")]
    assert runs == [["Pass", "Pass", "Pass"], ["Fail", "Pass", "Fail"], ["", "N/A", "N/A"], ["", "", "Not run"]]
    assert all(row["Result_Run3"] == row["Status"] for row in rows.values())  # this run is the last column

    sheet = load_workbook(finished / "workbook.xlsx").worksheets[0]
    assert [c.value for c in sheet[2]] == header and sheet.freeze_panes == "B3"
    assert sheet.auto_filter.ref == f"A2:{chr(ord('A') + len(header) - 1)}{len(rows) + 2}"
    by_id = {sheet.cell(row=r, column=1).value: r for r in range(3, sheet.max_row + 1)}
    failed = sheet.cell(row=by_id["SIT-PAY-002"], column=len(COLUMNS) + 2)  # Result_Run2: it passed then
    assert failed.value == "Pass" and failed.fill.fgColor.rgb.endswith("C6EFCE")


def test_a_first_run_has_one_result_column(tmp_path: Path) -> None:
    write_log(tmp_path / "events.sqlite", history=None)  # runs recorded before history existed: none
    root = report(tmp_path)
    assert [c for c in csv_lines(root)[0] if c.startswith("Result_")] == ["Result_Run1"]
    chart = page(root).xpath("//svg//title")
    assert [text(t) for t in chart] == [f"Run 1 ({RUN}): 1 passed, 1 failed, {_na(root)} N/A, "
                                        f"{_not_run(root)} not executed"]


def _na(root: Path) -> int:
    return sum(r["Status"] == "N/A" for r in csv_rows(root).values())


def _not_run(root: Path) -> int:
    return sum(r["Status"] == "Not run" for r in csv_rows(root).values())


def test_allure_link_is_a_column_of_its_own_and_a_real_hyperlink(finished: Path) -> None:
    rows = csv_rows(finished)
    paid = rows["SIT-PAY-001"]
    assert paid["Evidence"] == "events 3-8"
    link = ALLURE.fullmatch(paid["Allure link"])
    assert link, paid["Allure link"]
    result = json.loads(next((finished / "allure-results").glob(f"{_uuid(finished, 'SIT-PAY-001')}-result.json"))
                        .read_text())
    assert hashlib.md5(result["uuid"].encode()).hexdigest() == link[1]  # the result Allure 3 opens at that hash
    assert rows["SIT-PAY-005"]["Allure link"] == rows["SIT-PAY-005"]["Evidence"] == ""  # not run: nothing to link

    sheet = load_workbook(finished / "workbook.xlsx")["SIT"]
    column = [h for h, _ in COLUMNS].index("Allure link") + 1
    cells = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=column) for r in range(3, sheet.max_row + 1)}
    cell = cells["SIT-PAY-001"]
    assert cell.value == paid["Allure link"]
    assert (cell.hyperlink.target, cell.hyperlink.location) == ("allure-report.html", link[1])  # beside the workbook
    assert cell.font.underline == "single"
    assert cells["SIT-PAY-005"].hyperlink is None


def _uuid(root: Path, sit_id: str) -> str:
    for path in (root / "allure-results").glob("*-result.json"):
        if json.loads(path.read_text())["testCaseId"] == sit_id:
            return path.name.removesuffix("-result.json")
    raise AssertionError(f"no Allure result for {sit_id}")


def test_blank_workbook_keeps_the_layout_with_empty_result_columns(tmp_path: Path) -> None:
    biller = load_biller(PROJECT, "clayton-county-water")
    xlsx, _ = write_blank_workbook(biller_workbook(PROJECT, biller), biller, tmp_path)
    lines = csv_lines(tmp_path)
    assert lines[0] == [h for h, _ in COLUMNS] + ["Result_Run1"]
    assert {line[-1] for line in lines[1:]} == {""}
    assert "N/A" in {line[6] for line in lines[1:]}  # N/A still marked before any run
    sheet = load_workbook(xlsx).worksheets[0]
    assert sheet["A1"].value.startswith("SIT workbook: Clayton County Water Authority (BID 1368)")
    assert [c.value for c in sheet[2]] == lines[0] and sheet.freeze_panes == "B3"


# --- the sign-off ---------------------------------------------------------------------------------------------


def test_signoff_lists_every_case_with_its_evidence(finished: Path) -> None:
    rows = csv_rows(finished)
    table = page(finished).xpath('//table[contains(@class, "cases")]')[0]
    shown = {}
    for tr in table.xpath(".//tr[td and not(@class='section')]"):
        sit_id, scenario, result, evidence = tr.xpath("./td")
        links = evidence.xpath(".//a/@href")
        shown[text(sit_id)] = (text(scenario), text(result), links, text(evidence))
    assert list(shown) == list(rows)  # every case, in the workbook's order
    for sit_id, row in rows.items():
        scenario, result, links, evidence = shown[sit_id]
        assert (scenario, result) == (row["Scenario"], row["Status"]), sit_id
        assert links == ([row["Allure link"]] if row["Allure link"] else []), sit_id
        assert row["Evidence"] in evidence, sit_id
    assert shown["SIT-PAY-001"][3] == "Allure, events 3-8"
    assert shown["SIT-PAY-005"][3] == "none: not run"
    sections = [text(td) for td in table.xpath(".//tr[@class='section']/td")]
    assert sections == list(dict.fromkeys(row["Section"] for row in rows.values()))


def test_signoff_names_the_operator_and_the_recorded_test_portal_bid(finished: Path, tmp_path: Path) -> None:
    assert fact(finished, "Executed by") == "Pat Jones (SE)"
    assert fact(finished, "Test portal BID") == "91368"  # from the recorded profile: the flat fact is None
    write_log(tmp_path / "other.sqlite", operator=None, profiles=None,
              stub_pack={"path": "stubs/cayenta", "sha256": "ab" * 32})
    other = write_report_from(tmp_path / "other.sqlite", tmp_path / "other")
    assert fact(other, "Executed by") == "not named"
    assert fact(other, "Test portal BID") == "none recorded"
    assert fact(other, "Partner side").endswith("stub pack stubs/cayenta (sha256 abababababababab…)")


def write_report_from(store: Path, out: Path) -> Path:
    from harness.reports import ReportOptions, write_report

    return write_report(open_run(RUN, store), out, ReportOptions(project=PROJECT, html=False, pdf=False)).root


def test_signoff_charts_the_run_history_this_run_last(finished: Path) -> None:
    dom = page(finished)
    titles = [text(t) for t in dom.xpath("//svg//title")]
    assert titles[:2] == ["Run 1 (20261020-090000-aaaa): 1 passed, 1 failed, 0 N/A",
                          "Run 2 (20261025-090000-bbbb): 2 passed, 0 failed, 1 N/A"]
    assert titles[2].startswith(f"Run 3 ({RUN}): 1 passed, 1 failed, {_na(finished)} N/A")
    bars = dom.xpath("//svg/g")
    assert [len(g.xpath("./rect")) for g in bars] == [2, 2, 4]  # run 1 has no N/A, so no grey segment
    assert text(bars[-1].xpath("./text")[-1]) == "this run"
    heights = [float(r.get("height")) for r in bars[1].xpath("./rect")]
    assert heights[0] == pytest.approx(2 * heights[1], abs=0.02)  # 2 passed, 1 N/A: drawn to scale
    runs = [text(tr.xpath("./td")[0]) for tr in dom.xpath('//table[@class="runs"]//tr[td]')]
    assert runs == ["Run 1", "Run 2", "Run 3 (this run)"]


def test_a_long_history_charts_the_last_runs(tmp_path: Path) -> None:
    history = [HISTORY[1] | {"run_id": f"202610{n:02d}-090000-cccc"} for n in range(1, 21)]
    write_log(tmp_path / "events.sqlite", history=history)
    root = report(tmp_path)
    titles = [text(t) for t in page(root).xpath("//svg//title")]
    assert len(titles) == CHART_RUNS and titles[0].startswith("Run 10 (20261010") and titles[-1].startswith("Run 21")
    assert f"The last {CHART_RUNS} of 21 runs" in text(page(root))
    assert csv_lines(root)[0][-1] == "Result_Run21"  # the workbook keeps every run


# --- INTERRUPTED on the first page ----------------------------------------------------------------------------


def test_an_interrupted_run_says_so_first_in_every_document(interrupted: Path) -> None:
    first = csv_lines(interrupted)[0]
    assert len(first) == 1 and first[0].startswith(f"INTERRUPTED: run {RUN} did not finish (SIGTERM); ")
    assert csv_lines(interrupted)[1][0] == "SIT ID"  # the header follows
    assert csv_rows(interrupted)["SIT-PAY-003"]["Status"] == "Interrupted"

    book = load_workbook(interrupted / "workbook.xlsx")
    assert book.worksheets[0]["A1"].value == first[0]

    dom = page(interrupted)
    (banner,) = dom.xpath('//div[@class="banner"]')
    assert text(banner).startswith("INTERRUPTED Run") and "(SIGTERM)" in text(banner)
    assert "exit criteria are not met" in text(banner)
    assert banner.getprevious().tag == "div" and not banner.xpath("preceding::h2")  # above every section
    assert text(dom.xpath("//title")[0]).startswith("INTERRUPTED: ")
    assert not dom.xpath('//table[contains(@class, "approvals")]')  # a run that did not finish is never signed
    assert "NOT MET" in text(dom)


def test_a_finished_run_says_nothing_of_an_interruption(finished: Path) -> None:
    """The negative control: the same checks on a run that finished find no INTERRUPTED anywhere."""
    assert csv_lines(finished)[0][0] == "SIT ID"
    assert load_workbook(finished / "workbook.xlsx").worksheets[0]["A1"].value.startswith("SIT workbook: ")
    dom = page(finished)
    assert not dom.xpath('//div[@class="banner"]')
    roles = [text(tr.xpath("./td")[0]) for tr in dom.xpath('//table[contains(@class, "approvals")]//tr[td]')]
    assert roles == ["SE: solution engineer", "INM: integrations manager", "PM: project manager",
                     "IM: implementations manager", "Biller: Clayton County Water Authority",
                     "Partner / CIS: Cayenta Utilities"]
    for path in (finished / "workbook.csv", finished / "signoff.html"):
        assert "INTERRUPTED" not in path.read_text(encoding="utf-8"), path


def test_the_fold_ends_a_scenario_the_run_was_interrupted_in(tmp_path: Path) -> None:
    write_log(tmp_path / "events.sqlite", interrupted="SIGHUP")
    run = RunRecord()
    scenarios = {s.sit_id: s for s in fold(open_run(RUN, tmp_path / "events.sqlite").events(), run)}
    assert (run.status, run.reason, run.counts) == ("interrupted", "SIGHUP", {"failed": 1, "passed": 1})
    cut = scenarios["SIT-PAY-003"]
    assert cut.status == "interrupted" and cut.last_seq == run.head_seq - 1  # run.interrupted is not its evidence


# --- the same bytes on a rebuild ------------------------------------------------------------------------------


def test_a_rebuild_writes_the_same_bytes_for_every_document(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    write_log(store)
    first, second = report(tmp_path, "a", pdf=True), report(tmp_path, "b", pdf=True)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert {"workbook.xlsx", "signoff.pdf", "workbook.csv", "signoff.html"} <= {str(p) for p in files}
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_the_workbook_is_dated_from_the_log(finished: Path, tmp_path: Path) -> None:
    """Not the wall clock: two builds a second apart would differ (a zip entry holds 2-second times)."""
    ended = last_ts(tmp_path / "events.sqlite")
    with ZipFile(finished / "workbook.xlsx") as archive:
        stamps = {entry.date_time for entry in archive.infolist()}
        core = archive.read("docProps/core.xml").decode()
    assert stamps == {(ended.year, ended.month, ended.day, ended.hour, ended.minute, ended.second // 2 * 2)}
    stamp = ended.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f">{stamp}</dcterms:created>" in core and f">{stamp}</dcterms:modified>" in core


def test_the_pdf_is_dated_and_identified_from_the_log(tmp_path: Path) -> None:
    write_log(tmp_path / "events.sqlite")
    with SQLiteStore(tmp_path / "events.sqlite") as store:
        events = list(store.events(RUN))
    pdf = (report(tmp_path, pdf=True) / "signoff.pdf").read_bytes()
    info = b"".join(_inflated(pdf))
    for name, ts in (("CreationDate", events[0].ts), ("ModDate", events[-1].ts)):
        when = datetime.fromisoformat(ts).strftime("D:%Y%m%d%H%M%SZ").encode()
        assert b"/" + name.encode() + b" (" + when + b")" in info, name
    ident = re.search(rb"/ID \[\(([0-9a-f]{32})\) \(([0-9a-f]{32})\)\]", pdf)
    assert ident and ident[1].decode() == events[-1].hash[:32]  # permanent part: the evidence head


def _inflated(pdf: bytes) -> list[bytes]:
    """Every Flate stream of the PDF, inflated (WeasyPrint puts the /Info dictionary in an object stream)."""
    out = []
    for match in re.finditer(rb"stream\r?\n", pdf):
        try:
            out.append(zlib.decompressobj().decompress(pdf[match.end():]))
        except zlib.error:
            continue
    return out
