"""``sit report``: every evidence file of a run, projected from its log in one pass.

The files are written to a fresh folder beside the target, which replaces the target
only when all of them are complete: a failure leaves the previous report (or nothing),
never half of one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from harness.errors import InputError
from harness.events import IncompleteEvidence
from harness.reports import html
from harness.reports.allure import AllureResults, result_uuid
from harness.reports.fold import RunRecord, ScenarioRecord, fold
from harness.reports.leaks import FileSearch, LeakFound, find_leaks
from harness.reports.log import Opening, RunLog
from harness.reports.personal import Masker, PersonalRules, find_personal, refuse_leaks
from harness.reports.runs import RUNNING
from harness.reports.signing import write_signature_file
from harness.reports.signoff import build_view, render_html, write_pdf
from harness.reports.summary import RunSummary, summarize
from harness.reports.workbook import Heading, Row, RunRows, write_csv, write_xlsx
from harness.secrets import recorded_secrets

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
    project: Path  # where the Allure command is installed (node_modules): nothing else is read from it
    html: bool = True  # the Allure HTML needs Node; the benchmark projects without it
    pdf: bool = True
    partner_pack: bool = False
    interrupted: bool = False  # also report a run that did not finish (every document then says so)


def reportable(log: RunLog, interrupted: bool) -> str:
    """The run's status if it may be reported: never while it runs; interrupted only when asked for."""
    state = log.state()
    if state.status == RUNNING:
        raise IncompleteEvidence(f"run {log.run_id} is still running; report it when it has finished")
    if not state.finished and not interrupted:
        raise IncompleteEvidence(f"run {log.run_id} did not finish ({state.reason}); `sit report {log.name} "
                            "--interrupted` writes its evidence, every document marked INTERRUPTED")
    return state.status


def write_report(log: RunLog, out: Path, options: ReportOptions) -> ReportPaths:
    """Project ``log`` into ``out`` (replaced as a whole); with ``partner_pack`` into ``out/partner-pack``."""
    reportable(log, options.interrupted)
    target = out / PARTNER_PACK if options.partner_pack else out
    made = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    except OSError as exc:
        raise InputError(f"{target.parent}: cannot write a report there ({exc.strerror or exc})") from None
    staging.chmod(0o755)  # mkdtemp makes it private; a report is for sharing
    try:
        personal, secrets = _project(log, ReportPaths.under(staging, options.html), options)
        _refuse_secrets(staging, secrets)
        if options.partner_pack:
            refuse_leaks(personal, staging)  # after masking, no personal value may be left in any document
        _swap_in(staging, target, keep=None if options.partner_pack else PARTNER_PACK)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in made:  # the folders made for it: nothing is left of a report not written
            with suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            raise InputError(f"{target}: cannot write the report ({exc.strerror or exc})") from None
        raise
    return ReportPaths.under(target, options.html)


def _swap_in(staging: Path, target: Path, keep: str | None) -> None:
    """``staging`` becomes ``target``; the previous report stays whole until then (and ``keep``, a
    folder of it such as the partner pack made earlier, moves over)."""
    if not target.exists():
        staging.rename(target)
        return
    backup = target.with_name(f".{target.name}.old-{os.getpid()}")
    target.rename(backup)
    try:
        staging.rename(target)
    except BaseException:
        backup.rename(target)
        raise
    if keep is not None and (backup / keep).is_dir():
        (backup / keep).rename(target / keep)
    shutil.rmtree(backup, ignore_errors=True)


def _secrets_search(opening: Opening) -> FileSearch:
    """The search for the run's secrets, given the Allure files as they are written (not read back after)."""
    facts = opening.facts
    return FileSearch(recorded_secrets(facts.get("profiles") or {}, facts.get("demo_secrets") or []))


def _refuse_secrets(staging: Path, written: FileSearch) -> None:
    """No document is written that holds a secret of the run, in any form (its events were checked when it ran)."""
    leaks = find_leaks(written.values, root=staging, written=written)
    if leaks:
        raise LeakFound(f"report withheld, nothing written: it would hold a secret, {leaks[0]}; this is a harness "
                        "defect, please report it")


def _allure_results(opening: Opening, out: Path, secrets: FileSearch, mask: Callable[[str], str] = str,
                    kinds: tuple[str, ...] | None = None) -> AllureResults:
    return AllureResults(out, {c.sit_id: c for c in opening.cases}, opening.profile("biller", "sit_link"),
                         mask=mask, kinds=kinds, watch=secrets)


def write_allure_results(log: RunLog, out: Path) -> None:
    """Only the Allure results of a run (``pytest --alluredir``), as ``write_report`` writes them.

    Added to ``out`` as allure-pytest adds its results (nothing there is removed), and only once
    they are all written and searched for the run's secrets."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=".sit-results-") as staging:
            opening = log.opening()
            secrets = _secrets_search(opening)
            allure = _allure_results(opening, Path(staging), secrets)
            run = RunRecord()
            try:
                for scenario in fold(log.events(), run):
                    allure.add(run, scenario)
            except BaseException:
                allure.abort()
                raise
            allure.close(run)
            _refuse_secrets(Path(staging), secrets)
            for written in sorted(Path(staging).iterdir()):
                os.replace(written, out / written.name)
    except OSError as exc:
        raise InputError(f"{out}: cannot write the Allure results there ({exc.strerror or exc})") from None


def _project(log: RunLog, paths: ReportPaths, options: ReportOptions) -> tuple[dict[str, str], FileSearch]:
    """Write the documents; returns the run's personal values (name -> value) for a partner pack, and the search
    for its secrets, which has seen the Allure files as they were written."""
    opening = log.opening()
    personal: dict[str, str] = {}
    if options.partner_pack:
        personal = find_personal(log.events(), PersonalRules.of(opening.profile("partner", default={}),
                                                                opening.profile("biller", default={})))
    mask: Callable[[str], str] = Masker(personal.values()) if options.partner_pack else str
    secrets = _secrets_search(opening)
    allure = _allure_results(opening, paths.allure_results, secrets, mask,
                             _PARTNER_KINDS if options.partner_pack else None)
    rows = RunRows(opening.cases, str(opening.facts.get("operator") or ""), _allure_link(log.run_id), mask)
    run = RunRecord()
    try:
        for scenario in fold(log.events(), run):  # the one pass: each scenario is written as it finishes
            allure.add(run, scenario)
            rows.add(scenario)
        # The Allure files are still being written (a helper process): the other documents are made meanwhile.
        summary = _documents(run, rows.rows(), str(opening.profile("partner", "product", default="")), paths, options,
                             mask)
    except BaseException:
        allure.abort()  # before the staging folder is removed: nothing is written into it after
        raise
    allure.close(run)
    _allure_html(run, summary, paths, options)
    return personal, secrets


def _documents(run: RunRecord, table: list[Row], product: str, paths: ReportPaths, options: ReportOptions,
               mask: Callable[[str], str]) -> RunSummary:
    """What is written once the fold is done: workbook, signatures, sign-off. Returns the run's summary."""
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
    return summary


def _allure_html(run: RunRecord, summary: RunSummary, paths: ReportPaths, options: ReportOptions) -> None:
    """The Allure report, generated from the results once they are all written (when asked for)."""
    facts = run.facts
    if paths.allure_report is not None and paths.allure_single is not None:
        name = f"SIT {facts.get('biller_name')} (BID {facts.get('bid')}): run {run.run_id}"
        if summary.banner:  # the report's title is its first page
            name = f"INTERRUPTED: {name}"
        # The evidence names the report: the same log gives the same report, bytes and all.
        report_id = f"{run.head_hash}/{PARTNER_PACK}" if options.partner_pack else run.head_hash
        html.generate(options.project, paths.allure_results, paths.allure_report, paths.allure_single, name,
                      report_id=report_id, created=datetime.fromisoformat(run.finished))


def _allure_link(run_id: str) -> Callable[[ScenarioRecord], str]:
    # Allure 3 addresses a result by the MD5 of its uuid; the single file opens from disk.
    return lambda scenario: f"allure-report.html#{hashlib.md5(result_uuid(run_id, scenario).encode()).hexdigest()}"
