"""The demo run's reports, rendered as a reader sees them.

The Allure HTML is rendered by headless Chromium and its DOM read back; ``signoff.pdf`` is
turned into PNG pages (pdftoppm) and text (pdftotext). Both tools are Debian packages that
``make test`` installs (``scripts/system-packages.sh test``): a machine without them fails
here, saying so, instead of skipping the check.
"""

from __future__ import annotations

import csv
import functools
import http.server
import math
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import yaml

from harness.events import Event, SQLiteStore
from harness.reports import html
from tests.conftest import PROJECT, run_sit, sit_ids

BILLER_NAME = "Clayton County Water Authority"
BID = "1368"
# A scenario's status in the event log -> the status Allure shows for it.
ALLURE_STATUS = {"passed": "passed", "na": "skipped", "failed": "failed", "interrupted": "broken"}
_RENDER_TRIES = 3
_SETUP_HINT = "run `scripts/system-packages.sh test` (or `make test`, which runs it) to install it"


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed (Debian package {package}); {_SETUP_HINT}", pytrace=False)
    return path


def _run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


@dataclass(frozen=True)
class Report:
    run_id: str
    root: Path  # reports/RUN
    events: list[Event]

    def scenarios(self) -> dict[str, dict[str, Any]]:
        """Per SIT ID: its scenario.started data, with ``status`` (and ``reason``) from its scenario.finished."""
        out = {e.data["sit_id"]: dict(e.data) for e in self.events if e.kind == "scenario.started"}
        for e in self.events:
            if e.kind == "scenario.finished":
                out[e.data["sit_id"]].update(status=e.data["status"], reason=e.data.get("reason"))
        return out

    def steps(self, sit_id: str) -> list[str]:
        return [f"{e.data['keyword']} {e.data['text']}" for e in self.events
                if e.kind == "step.started" and e.data["sit_id"] == sit_id]

    def workbook(self) -> list[dict[str, str]]:
        with (self.root / "workbook.csv").open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def report(demo_run: tuple[str, Path, subprocess.CompletedProcess[str]]) -> Report:
    """The session's demo run and the report `sit run` wrote for it beside its store."""
    run_id, store, _ = demo_run
    with SQLiteStore(store) as log:
        events = list(log.events(run_id))
    root = store.parent / run_id
    for name in ("allure-report.html", "allure-report/index.html", "workbook.csv", "signoff.pdf"):
        assert (root / name).is_file(), f"{root / name}: not written by `sit run`"
    return Report(run_id, root, events)


def render(url: str, profile: Path, ready: str) -> lxml.html.HtmlElement:
    """The DOM headless Chromium builds for ``url``, without its <script>/<style> blocks.

    ``ready`` is a data-testid the loaded page shows. On a busy machine Chromium may dump the
    DOM while the app is still decoding its data (a page loader, no results): that try is
    repeated, each time with a fresh profile.
    """
    chromium = _tool("chromium", "chromium")
    markup = ""
    for attempt in range(1, _RENDER_TRIES + 1):
        proc = _run([
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile / str(attempt)}", "--window-size=1400,1000", "--virtual-time-budget=8000",
            "--dump-dom", url,
        ])
        # The single file embeds the whole report (MBs) as script data: parse only the markup.
        markup = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "", proc.stdout)
        if f'data-testid="{ready}"' in markup:
            return lxml.html.fromstring(markup)
    body = markup[markup.find("<body"):]
    pytest.fail(f"Chromium rendered no {ready!r} for {url} in {_RENDER_TRIES} tries:\n{body[:3000]}")


def by_testid(dom: lxml.html.HtmlElement, testid: str) -> list[lxml.html.HtmlElement]:
    return dom.xpath(f'//*[@data-testid="{testid}"]')


def tree_leaves(dom: lxml.html.HtmlElement) -> dict[str, str]:
    """The landing page's scenarios: leaf title -> status."""
    leaves: dict[str, str] = {}
    for leaf in by_testid(dom, "tree-leaf"):
        (title,) = leaf.xpath('.//*[@data-testid="tree-leaf-title"]')
        statuses = [el.get("data-testid").removeprefix("tree-leaf-status-")
                    for el in leaf.xpath('.//*[starts-with(@data-testid, "tree-leaf-status-")]')]
        assert len(statuses) == 1, f"{title.text_content()}: statuses {statuses}"
        leaves[" ".join(title.text_content().split())] = statuses[0]
    return leaves


def expected_leaves(report: Report) -> dict[str, str]:
    return {f"{sit_id} {s['name']}": ALLURE_STATUS[s["status"]] for sit_id, s in report.scenarios().items()}


def test_allure_single_file_lists_every_scenario_with_its_status(report: Report, tmp_path: Path) -> None:
    dom = render((report.root / "allure-report.html").as_uri(), tmp_path / "chromium", "tree-leaf")
    leaves = tree_leaves(dom)
    expected = expected_leaves(report)
    assert len(expected) == len(sit_ids()) and set(expected.values()) == {"passed", "skipped"}  # the demo biller's run
    assert leaves == expected


def test_allure_result_page_shows_the_scenario_and_its_steps(report: Report, tmp_path: Path) -> None:
    scenarios = report.scenarios()
    # The workbook's Allure link of the passed scenario with the most steps.
    row = max((r for r in report.workbook() if r["Status"] == "Pass"), key=lambda r: len(report.steps(r["SIT ID"])))
    sit_id = row["SIT ID"]
    link = re.fullmatch(r"allure-report\.html#([0-9a-f]{32})", row["Allure link"])
    assert link, f"{sit_id}: no Allure link: {row['Allure link']!r}"
    url = f"{(report.root / 'allure-report.html').as_uri()}#{link[1]}"
    dom = render(url, tmp_path / "chromium", "test-result-info-title")

    titles = [" ".join(t.text_content().split()) for t in by_testid(dom, "test-result-info-title")]
    assert titles == [f"{sit_id} {scenarios[sit_id]['name']}"]
    assert by_testid(dom, "test-result-status-passed"), f"{sit_id}: the result page shows no passed status"
    shown = [" ".join(t.text_content().split()) for t in by_testid(dom, "test-result-step-title")]
    steps = report.steps(sit_id)
    assert len(steps) >= 3
    assert [s for s in shown if s in steps] == steps, f"steps shown: {shown}"


@pytest.fixture
def served(report: Report) -> Iterator[str]:
    """The multi-file Allure report served over HTTP on a free local port: its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(report.root / "allure-report"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_allure_multi_file_report_over_http_lists_every_scenario(report: Report, served: str, tmp_path: Path) -> None:
    dom = render(f"{served}/index.html", tmp_path / "chromium", "tree-leaf")
    assert tree_leaves(dom) == expected_leaves(report)


# --- N/A, as a biller reads it --------------------------------------------------------------


def text_of(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def one(dom: lxml.html.HtmlElement, testid: str) -> str:
    (element,) = by_testid(dom, testid)
    return text_of(element)


def success_rate(dom: lxml.html.HtmlElement) -> str:
    """The percentage in the landing page's ring, as its label says it."""
    (label,) = dom.xpath('//*[@role="img"][starts-with(@aria-label, "Success rate: ")]/@aria-label')
    return str(label).removeprefix("Success rate: ")


def expected_rate(statuses: list[str]) -> str:
    """Passed among the scenarios that ran (N/A is no success and no failure), as Allure rounds it."""
    ran = [s for s in statuses if s != "na"]
    return f"{math.floor(ran.count('passed') / len(ran) * 10000) / 100:g}%"


def test_landing_page_shows_na_as_not_applicable_beside_the_rate_of_what_ran(report: Report, tmp_path: Path) -> None:
    dom = render((report.root / "allure-report.html").as_uri(), tmp_path / "chromium", "tree-leaf")
    statuses = [s["status"] for s in report.scenarios().values()]
    na = statuses.count("na")
    assert na > 0 and success_rate(dom) == expected_rate(statuses) == "100%"
    assert one(dom, "metadata-item-skipped") == f"Not applicable{na}"  # the ring's legend
    assert one(dom, "tab-skipped") == f"Not applicable {na}"  # the status filter
    assert not re.search("(?i)skipped", text_of(dom.body)), "the landing page says Skipped"


def test_negative_control_allures_own_wording_says_skipped(report: Report, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The same results through Allure with the harness's wording switched off (here only): the
    landing page then says Skipped, so the check above would see it."""
    monkeypatch.setattr(html, "_WORDING", ())
    html.generate(PROJECT, report.root / "allure-results", tmp_path / "allure-report", tmp_path / "control.html",
                  "control", report_id="control", created=datetime(2026, 1, 1, tzinfo=UTC))
    dom = render((tmp_path / "control.html").as_uri(), tmp_path / "chromium", "tree-leaf")
    assert one(dom, "tab-skipped").startswith("Skipped ")


def test_na_result_page_says_not_applicable_with_its_reason_and_no_dead_link(report: Report, tmp_path: Path) -> None:
    row = next(r for r in report.workbook() if r["Status"] == "N/A")
    sit_id, reason = row["SIT ID"], report.scenarios()[row["SIT ID"]]["reason"]
    link = re.search(r"allure-report\.html#([0-9a-f]{32})$", row["Allure link"])
    assert link and reason, row
    dom = render(f"{(report.root / 'allure-report.html').as_uri()}#{link[1]}", tmp_path / "chromium",
                 "test-result-info-title")
    assert one(dom, "test-result-status-skipped") == "Not applicable"
    assert "Category: Not applicable (N/A)" in text_of(dom.body)
    (frame,) = dom.xpath('//iframe[@data-testid="test-result-description-frame"]/@srcdoc')
    description = text_of(lxml.html.fromstring(str(frame)))
    assert f"Not applicable to {BILLER_NAME}: {' '.join(reason.split())}" in description
    # The demo biller sets no SIT-ID link pattern: no link at all, where there was a dead relative one.
    assert not [a for a in dom.xpath("//a[@href]") if sit_id in a.get("href")], "a link to the SIT ID"


# A real run with failures beside N/A: Cayenta's change-log calls swapped (as its details page lists
# them) fail SIT-CHG-001..003; the biller's profile has a SIT-ID link pattern.
SWAPPED = {"autopay": {"call": "_PostPaperLessChangeXML", "alert_code": "AUTOP"},
           "paperless": {"call": "_PostAutopayChangeXML", "alert_code": "EBILL"}}
SIT_LINK = "https://tracker.example/SIT/{}?view=full"


def _edit(path: Path, **changes: Any) -> None:
    path.write_text(yaml.safe_dump(yaml.safe_load(path.read_text(encoding="utf-8")) | changes, sort_keys=False),
                    encoding="utf-8")


@pytest.fixture(scope="module")
def failed_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    tmp = tmp_path_factory.mktemp("failed-run")
    project = tmp / "project"
    project.mkdir()
    for name in ("features", "steps", "conftest.py", "pyproject.toml", "node_modules", ".cache", "stubs"):
        if (PROJECT / name).exists():
            (project / name).symlink_to(PROJECT / name)
    shutil.copytree(PROJECT / "fixtures", project / "fixtures")
    _edit(project / "fixtures" / "partners" / "cayenta.yaml", change_log=SWAPPED)
    _edit(project / "fixtures" / "billers" / "clayton-county-water.yaml", sit_link=SIT_LINK)
    store = tmp / "events.sqlite"
    proc = run_sit("run", "--biller", "clayton-county-water", "--project", str(project), "--store", str(store),
                   "-k", "change or enrollment or (card and posts)", timeout=300)
    assert proc.returncode == 1, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    with SQLiteStore(store) as log:
        (run_id,) = log.run_ids()
        return Report(run_id, tmp / run_id, list(log.events(run_id)))


def test_rate_counts_what_ran_and_na_as_neither_success_nor_failure(failed_report: Report, tmp_path: Path) -> None:
    statuses = [s["status"] for s in failed_report.scenarios().values()]
    assert {"passed", "failed", "na"} <= set(statuses), statuses
    dom = render((failed_report.root / "allure-report.html").as_uri(), tmp_path / "chromium", "tree-leaf")
    assert success_rate(dom) == expected_rate(statuses)
    counted_as_success = sum(s in ("passed", "na") for s in statuses) / len(statuses)
    assert success_rate(dom) != f"{math.floor(counted_as_success * 10000) / 100:g}%"


def test_sit_id_links_follow_the_billers_pattern(failed_report: Report, tmp_path: Path) -> None:
    row = next(r for r in failed_report.workbook() if r["Status"] == "Fail")
    link = re.search(r"allure-report\.html#([0-9a-f]{32})$", row["Allure link"])
    assert link, row
    dom = render(f"{(failed_report.root / 'allure-report.html').as_uri()}#{link[1]}", tmp_path / "chromium",
                 "test-result-info-title")
    links = {text_of(a): a.get("href") for a in dom.xpath("//a[@href]") if row["SIT ID"] in a.get("href")}
    assert links == {row["SIT ID"]: SIT_LINK.replace("{}", row["SIT ID"])}


def test_signoff_pdf_renders_to_pages_with_the_run_facts(report: Report, tmp_path: Path) -> None:
    pdftoppm = _tool("pdftoppm", "poppler-utils")
    pdftotext = _tool("pdftotext", "poppler-utils")
    pdfinfo = _tool("pdfinfo", "poppler-utils")
    pdf = str(report.root / "signoff.pdf")

    info = re.search(r"^Pages:\s+(\d+)$", _run([pdfinfo, pdf]).stdout, re.MULTILINE)
    assert info, "pdfinfo printed no page count"
    pages = int(info[1])
    assert 1 <= pages <= 8  # the demo workbook (about 90 cases) fits in 7: more means rows that no longer fit
    _run([pdftoppm, "-r", "50", "-png", pdf, str(tmp_path / "page")])
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == pages
    for png in pngs:  # a blank A4 page at 50 dpi is ~1 KB; a page of tables is tens of KB
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000, png

    text = _run([pdftotext, "-layout", pdf, "-"]).stdout
    head = report.events[-1]
    assert head.kind == "run.finished"
    for fact in (BILLER_NAME, "BID", BID, report.run_id, "Exit criteria", "MET", head.hash, "Approvals",
                 "Partner / CIS", "Not applicable (N/A), with reasons", f"Page {pages} of {pages}",
                 "Run history of this biller", "Every case and its evidence",
                 *(row["SIT ID"] for row in report.workbook())):
        assert fact in text, f"signoff.pdf lacks {fact!r}"
    assert "INTERRUPTED" not in text  # the negative control of test_report_interrupted's first page
    assert re.search(r"\bSE\b.*solution engineer", text, re.IGNORECASE), "signoff.pdf lacks the SE approval row"
    assert not re.search(r"\bNOT MET\b", text)

    # Every N/A reason of the log, whole (table cells wrap: compare with the whitespace folded).
    flowing = " ".join(_run([pdftotext, pdf, "-"]).stdout.split())
    reasons = {s["reason"] for s in report.scenarios().values() if s["status"] == "na"}
    assert reasons
    for reason in reasons:
        assert " ".join(reason.split()) in flowing, f"signoff.pdf lacks the N/A reason {reason!r}"


def test_signoff_html_in_chromium_lists_every_case_linked_to_its_allure_result(report: Report, tmp_path: Path) -> None:
    """Each case of the workbook is a row of the rendered sign-off, linked to the Allure result the workbook names."""
    chromium = _tool("chromium", "chromium")
    proc = _run([
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,1000", "--dump-dom",
        (report.root / "signoff.html").as_uri(),
    ])
    dom = lxml.html.fromstring(proc.stdout)
    rows = {}
    for tr in dom.xpath('//table[contains(@class, "cases")]//tr[td and not(@class="section")]'):
        sit_id, _, result, evidence = (" ".join(td.text_content().split()) for td in tr.xpath("./td"))
        rows[sit_id] = (result, tr.xpath("./td[4]//a/@href"), evidence)
    workbook = report.workbook()
    assert list(rows) == [r["SIT ID"] for r in workbook]
    for row in workbook:
        result, links, evidence = rows[row["SIT ID"]]
        assert (result, links) == (row["Status"], [row["Allure link"]]), row["SIT ID"]
        assert evidence == f"Allure, {row['Evidence']}", row["SIT ID"]
        target = report.root / links[0].partition("#")[0]
        assert target.name == "allure-report.html" and target.is_file()
    (bar,) = dom.xpath("//svg/g")  # the demo store holds one run: this one
    assert " ".join(bar.xpath("./title")[0].text_content().split()).startswith(f"Run 1 ({report.run_id}): ")
