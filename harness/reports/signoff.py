"""The sign-off document (playbook step 44): HTML, and the same page as PDF.

Everything on it is projected from the log and the profiles; the HTML is rendered by
one Jinja2 template and the PDF is that HTML laid out by WeasyPrint.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.reports.fold import RunRecord
from harness.reports.workbook import Row

STATUSES = ("Pass", "Fail", "Interrupted", "Not run", "N/A")
ROLES = ("SE: solution engineer", "INM: integrations manager", "PM: project manager",
         "IM: implementations manager")


@dataclass
class Section:
    name: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def in_scope(self) -> int:
        return self.total - self.counts["N/A"]


@dataclass
class SignoffView:
    """What the template shows; built from a run and its workbook rows."""

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
    events: int
    run_status: str
    head_seq: int
    head_hash: str
    signatures: list[dict[str, Any]]
    approvals: list[str]

    @property
    def criteria_met(self) -> bool:
        return all(met for _, _, met in self.criteria)


def run_facts(run: RunRecord, product: str) -> list[tuple[str, str]]:
    """The run's identity as the sign-off and the workbook's Run sheet list it."""
    f = run.facts
    period = f"{_utc(run.started)} to {_utc(run.finished)}" if run.started else ""
    rows = [
        ("Biller", f.get("biller_name", f.get("biller"))), ("BID", f.get("bid")),
        ("Test portal BID", f.get("test_portal_bid") or "none recorded"),
        ("Partner (CIS)", f.get("partner_name", f.get("partner"))), ("Product", product),
        ("Partner version", f.get("partner_version")), ("Platform adapter", f.get("platform")),
        ("Run", run.run_id), ("Period (UTC)", period), ("Executed by", f.get("operator")),
        ("Partner side",
         f"WireMock {f.get('wiremock_version')} ({f.get('stub_backend')}), stub pack {f.get('stub_pack')}"),
        ("Harness", f"sit-harness {f.get('harness_version')}, commit {f.get('git_commit') or 'unknown'}"),
        ("Faker seed", f.get("seed")),
    ]
    return [(name, "" if value is None else str(value)) for name, value in rows]


def _utc(ts: str) -> str:
    return ts[:19].replace("T", " ")


def build_view(run: RunRecord, rows: list[Row], product: str) -> SignoffView:
    sections: dict[str, Section] = {}
    totals = Section("All sections")
    for row in rows:
        sections.setdefault(row.section, Section(row.section)).counts[row.status] += 1
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
        partner_name=str(f.get("partner_name", f.get("partner", ""))), facts=run_facts(run, product),
        sections=list(sections.values()), totals=totals,
        failures=[r for r in rows if r.status in ("Fail", "Interrupted")],
        not_run=[r for r in rows if r.status == "Not run"], na=[r for r in rows if r.status == "N/A"],
        criteria=criteria, events=run.events, run_status=run.status, head_seq=run.head_seq,
        head_hash=run.head_hash, signatures=[s.data for s in run.signatures],
        approvals=[*ROLES, f"Biller: {f.get('biller_name', '')}", f"Partner / CIS: {f.get('partner_name', '')}"],
    )


_ENV = Environment(loader=PackageLoader("harness.reports", "templates"), autoescape=select_autoescape(["j2"]),
                   undefined=StrictUndefined, keep_trailing_newline=True)


def render_html(view: SignoffView) -> str:
    return _ENV.get_template("signoff.html.j2").render(v=view)


def write_pdf(html: str, path: Path) -> None:
    from weasyprint import HTML  # imported here: it takes 0.6 s and only this needs it

    HTML(string=html).write_pdf(path)
