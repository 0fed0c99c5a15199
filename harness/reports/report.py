"""``sit report``: every evidence file of a run, projected from its log in one pass.

The files are written to a fresh folder beside the target, which replaces the target
only when all of them are complete: a failure leaves the previous report (or nothing),
never half of one.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ProfileError
from harness.profiles import Biller, load_biller
from harness.reports import html
from harness.reports.allure import AllureResults, result_uuid
from harness.reports.cases import load_cases
from harness.reports.fold import RunRecord, ScenarioRecord, fold
from harness.reports.log import RunLog
from harness.reports.personal import Masker, collect
from harness.reports.signing import write_signature_file
from harness.reports.signoff import build_view, render_html, write_pdf
from harness.reports.summary import summarize
from harness.reports.workbook import Heading, Row, RunRows, write_csv, write_xlsx

PARTNER_PACK = "partner-pack"
# Evidence kinds the partner pack keeps: what crossed the interface, not the platform's inner workings.
_PARTNER_KINDS = ("partner.exchange", "file.transferred")


@dataclass(frozen=True)
class ReportPaths:
    root: Path
    allure_results: Path
    allure_report: Path | None
    allure_single: Path | None
    workbook_xlsx: Path
    workbook_csv: Path
    signoff_html: Path
    signoff_pdf: Path
    signatures: Path

    @classmethod
    def under(cls, root: Path, with_html: bool) -> ReportPaths:
        return cls(root=root, allure_results=root / "allure-results",
                   allure_report=root / "allure-report" if with_html else None,
                   allure_single=root / "allure-report.html" if with_html else None,
                   workbook_xlsx=root / "workbook.xlsx", workbook_csv=root / "workbook.csv",
                   signoff_html=root / "signoff.html", signoff_pdf=root / "signoff.pdf", signatures=root / "signatures")


@dataclass(frozen=True)
class ReportOptions:
    project: Path
    html: bool = True  # the Allure HTML needs Node; the benchmark projects without it
    pdf: bool = True
    partner_pack: bool = False


def write_report(log: RunLog, out: Path, options: ReportOptions) -> ReportPaths:
    """Project ``log`` into ``out`` (replaced as a whole); with ``partner_pack`` into ``out/partner-pack``."""
    target = out / PARTNER_PACK if options.partner_pack else out
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    staging.chmod(0o755)  # mkdtemp makes it private; a report is for sharing
    try:
        _project(log, ReportPaths.under(staging, options.html), options)
        if options.partner_pack is False and (out / PARTNER_PACK).is_dir():  # keep a pack made earlier
            shutil.move(out / PARTNER_PACK, staging / PARTNER_PACK)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ReportPaths.under(target, options.html)


def _biller(options: ReportOptions, slug: str) -> Biller:
    try:
        return load_biller(options.project, slug)
    except ProfileError as exc:
        raise ProfileError(f"{exc} (a report reads the run's biller profile: N/A reasons, product)") from None


def _project(log: RunLog, paths: ReportPaths, options: ReportOptions) -> None:
    facts = log.facts()
    biller = _biller(options, str(facts.get("biller", "")))
    cases = load_cases(options.project)
    mask: Callable[[str], str] = str
    if options.partner_pack:
        mask = Masker(collect(log.events(), biller.partner.evidence.personal_fields))
    allure = AllureResults(paths.allure_results, {c.sit_id: c for c in cases}, biller.profile.sit_link, mask=mask,
                           kinds=_PARTNER_KINDS if options.partner_pack else None)
    rows = RunRows(cases, biller, str(facts.get("operator", "")), _allure_link(log.run_id), mask)
    run = RunRecord()
    for scenario in fold(log.events(), run):  # the one pass: each scenario is written as it finishes
        allure.add(run, scenario)
        rows.add(scenario)
    allure.close(run)
    _documents(run, rows.rows(), biller.partner.product, paths, options, mask)


def _documents(run: RunRecord, table: list[Row], product: str, paths: ReportPaths, options: ReportOptions,
               mask: Callable[[str], str]) -> None:
    """What is written once the fold is done: workbook, signatures, sign-off, Allure HTML."""
    facts = run.facts
    summary = summarize(run, {row.sit_id: row.status for row in table}, product)  # history, banner, dates
    title = f"SIT workbook: {facts.get('biller_name')} (BID {facts.get('bid')}), run {run.run_id}"
    heading = Heading.of_run(title, summary)
    write_csv(table, paths.workbook_csv, heading)
    write_xlsx(table, paths.workbook_xlsx, heading)
    for signature in run.signatures:
        paths.signatures.mkdir(exist_ok=True)
        write_signature_file(signature, paths.signatures / f"{signature.data.get('key_id', signature.seq)}.sig.json")
    page = mask(render_html(build_view(run, table, summary)))
    paths.signoff_html.write_text(page, encoding="utf-8")
    if options.pdf:
        write_pdf(page, paths.signoff_pdf, summary)
    if paths.allure_report is not None and paths.allure_single is not None:
        name = f"SIT {facts.get('biller_name')} (BID {facts.get('bid')}): run {run.run_id}"
        if summary.banner:  # the report's title is its first page
            name = f"INTERRUPTED: {name}"
        html.generate(options.project, paths.allure_results, paths.allure_report, paths.allure_single, name)


def _allure_link(run_id: str) -> Callable[[ScenarioRecord], str]:
    # Allure 3 addresses a result by the MD5 of its uuid; the single file opens from disk.
    return lambda scenario: f"allure-report.html#{hashlib.md5(result_uuid(run_id, scenario).encode()).hexdigest()}"
