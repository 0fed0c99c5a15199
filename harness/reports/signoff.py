"""The sign-off document (playbook step 44): HTML, and the same page as PDF.

Everything on it is projected from the log; the HTML is rendered by one Jinja2 template
(the run history chart is inline SVG, drawn alike by browsers and by WeasyPrint) and the
PDF is that HTML laid out by WeasyPrint, dated and identified from the log.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from harness.reports.fold import RunRecord
from harness.reports.summary import RunResults, RunSummary
from harness.reports.workbook import Row

STATUSES = ("Pass", "Fail", "Interrupted", "Not run", "N/A")
ROLES = ("SE: solution engineer", "INM: integrations manager", "PM: project manager",
         "IM: implementations manager")
CHART_COLOURS = {"passed": "#63A33E", "failed": "#C0392B", "na": "#A6A6A6", "other": "#F4B084"}
CHART_RUNS = 12  # the history chart shows the biller's last runs; the workbook has a column for every one


@dataclass
class Section:
    name: str
    counts: Counter[str] = field(default_factory=Counter)
    rows: list[Row] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def in_scope(self) -> int:
        return self.total - self.counts["N/A"]


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    kind: str  # passed | failed | na | other
    count: int

    @property
    def colour(self) -> str:
        return CHART_COLOURS[self.kind]


@dataclass(frozen=True)
class Bar:
    run: RunResults
    x: float
    width: float
    top: float  # where the bar's label goes
    segments: list[Segment]
    current: bool


@dataclass(frozen=True)
class Chart:
    """The biller's run history as stacked columns: passed, failed, N/A (and not executed) per run."""

    bars: list[Bar]
    runs: int  # every run of the biller the log knows, this one included
    peak: int  # the y axis' top
    width: int = 640
    height: int = 176
    left: int = 34
    base: float = 136  # the x axis' y
    plot: float = 118  # the bars' full height


@dataclass
class SignoffView:
    """What the template shows; built from a run, its workbook rows and its summary."""

    run_id: str
    biller_name: str
    bid: Any
    partner_name: str
    facts: list[tuple[str, str]]
    sections: list[Section]
    totals: Section
    failures: list[Row]
    not_run: list[Row]
    na: list[Row]
    criteria: list[tuple[str, str, bool]]
    findings: list[tuple[str, str]]  # (SIT ID, what it found) the signatories must see: flagged, not failed
    events: int
    run_status: str
    head_seq: int
    head_hash: str
    signatures: list[dict[str, Any]]
    approvals: list[str]
    interrupted: str  # why and where the run did not finish; "" when it finished
    chart: Chart
    created: str  # W3C dates from the log: the PDF's CreationDate and ModDate
    modified: str
    generator: str

    @property
    def criteria_met(self) -> bool:
        return all(met for _, _, met in self.criteria)


def build_view(run: RunRecord, rows: list[Row], summary: RunSummary) -> SignoffView:
    sections: dict[str, Section] = {}
    totals = Section("All sections")
    for row in rows:
        section = sections.setdefault(row.section, Section(row.section))
        section.counts[row.status] += 1
        section.rows.append(row)
        totals.counts[row.status] += 1
    unexecuted = totals.counts["Not run"] + totals.counts["Interrupted"]
    failed = totals.counts["Fail"]
    criteria = [
        ("All in-scope cases executed", f"{totals.in_scope - unexecuted} of {totals.in_scope}", unexecuted == 0),
        ("No failures", f"{failed} failed", failed == 0),
        ("The run finished", run.status, run.status not in ("interrupted", "")),
    ]
    f = run.facts
    return SignoffView(
        run_id=run.run_id, biller_name=str(f.get("biller_name", f.get("biller", ""))), bid=f.get("bid"),
        partner_name=str(f.get("partner_name", f.get("partner", ""))), facts=summary.facts,
        sections=list(sections.values()), totals=totals,
        failures=[r for r in rows if r.status in ("Fail", "Interrupted")],
        not_run=[r for r in rows if r.status == "Not run"], na=[r for r in rows if r.status == "N/A"],
        criteria=criteria, findings=run.findings, events=run.events, run_status=run.status, head_seq=run.head_seq,
        head_hash=run.head_hash, signatures=[s.data for s in run.signatures],
        approvals=[*ROLES, f"Biller: {f.get('biller_name', '')}", f"Partner / CIS: {f.get('partner_name', '')}"],
        interrupted=summary.interruption, chart=history_chart(summary.runs),
        created=_w3c(summary.started), modified=_w3c(summary.signed),
        generator=f"sit-harness {f.get('harness_version') or ''}".strip(),
    )


def history_chart(runs: list[RunResults]) -> Chart:
    """Stacked columns for the last ``CHART_RUNS`` runs, scaled to the largest; the last column is this run."""
    shown = runs[-CHART_RUNS:]
    chart = Chart(bars=[], runs=len(runs), peak=max([run.total for run in shown] + [1]))
    slot = (chart.width - chart.left - 8) / max(len(shown), 1)
    width = min(40.0, slot * 0.6)
    for index, run in enumerate(shown):
        x = chart.left + slot * index + (slot - width) / 2
        y, segments = chart.base, []
        for kind, count in (("passed", run.passed), ("failed", run.failed), ("na", run.na), ("other", run.other)):
            if count:
                height = chart.plot * count / chart.peak
                y -= height
                segments.append(Segment(round(y, 2), round(height, 2), kind, count))
        chart.bars.append(Bar(run, round(x, 2), round(width, 2), round(y - 4, 2), segments, run is runs[-1]))
    return chart


def _w3c(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


_ENV = Environment(loader=PackageLoader("harness.reports", "templates"), autoescape=select_autoescape(["j2"]),
                   undefined=StrictUndefined, keep_trailing_newline=True)
_SIT_ID = re.compile(r"\bSIT-[A-Z]+-\d+\b")


def _unbroken_ids(text: str) -> Markup:
    """Text whose SIT IDs never break at their hyphens when a table cell wraps (SIT-<br>PAY-003)."""
    escaped = str(escape(text))
    return Markup(_SIT_ID.sub(lambda m: f'<span class="nowrap">{m.group(0)}</span>', escaped))


_ENV.filters["unbroken_ids"] = _unbroken_ids


def render_html(view: SignoffView) -> str:
    return _ENV.get_template("signoff.html.j2").render(v=view)


def write_pdf(html: str, path: Path, summary: RunSummary) -> None:
    """The page as PDF; its dates come from the page's meta tags and its /ID from the evidence head."""
    from weasyprint import HTML  # imported here: it takes 0.6 s and only this needs it

    # The /ID's first half is permanent (the evidence it documents); pydyf derives the second from the content.
    HTML(string=html).write_pdf(path, pdf_identifier=summary.head_hash[:32].encode("ascii"))
