"""`sit run`: the workbook features through pytest, with a progress bar and a summary.

The run's infrastructure is started here, before pytest, so that a bad profile or a
WireMock that cannot start is one clear line rather than thirty failed scenarios.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness import interrupts
from harness.errors import EXIT_FAILED, EXIT_HARNESS, EXIT_OK, InputError, SitError
from harness.events import EventStore, open_store
from harness.plugin import SESSION
from harness.profiles import lint_biller
from harness.reports.fold import RunRecord, fold
from harness.session import RunOptions, SitSession

STATUS_STYLE = {"passed": "green", "failed": "red", "na": "yellow", "not_run": "cyan", "interrupted": "magenta"}


class _Progress:
    """A pytest plugin that hands over the started session and shows progress: a bar on a
    terminal, one line per finished scenario in a pipe or a CI log."""

    def __init__(self, session: SitSession, console: Console) -> None:
        self._session, self._console = session, console
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), TextColumn("{task.fields[now]}"), console=console, transient=True)
        self._task: Any = None
        self.collect_errors: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[SESSION] = self._session

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid or 'collection'}: {str(report.longrepr).splitlines()[-1]}")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self._console.is_terminal:
            return
        self._bar.start()
        self._task = self._bar.add_task(f"SIT {self._session.biller.slug}", total=len(session.items), now="")

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        if self._task is not None:
            self._bar.update(self._task, now=nodeid.rsplit("::", 1)[-1].removeprefix("test_")[:50])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        if self._task is not None:
            self._bar.advance(self._task)
            return
        started = self._session.recorder.scope_events("scenario.started")
        finished = self._session.recorder.scope_events("scenario.finished")
        if started and finished:
            status = finished[-1].data["status"]
            label = {"passed": "PASS", "failed": "FAIL", "na": "N/A", "not_run": "NOT RUN"}.get(status, status.upper())
            self._console.print(f"{label:<7} {started[0].data['sit_id']:<13} {started[0].data['name']}",
                                highlight=False, markup=False, no_wrap=True, overflow="ellipsis")

    def pytest_sessionfinish(self) -> None:
        if self._task is not None:
            self._bar.stop()


# pytest's own plugins the workbook has no use for: each runs its hooks at every test (the unraisable-exception
# one collects garbage five times over at the end); measured here, ~0.3 s of the 2 s of CPU a Clayton run takes.
_UNUSED = [arg for name in ("doctest", "junitxml", "pastebin", "stepwise", "setuponly", "setupplan", "legacypath",
                            "unraisableexception", "threadexception", "debugging", "unittest", "subtests")
           for arg in ("-p", f"no:{name}")]


def pytest_base_args(options: RunOptions) -> list[str]:
    """The workbook's pytest as `sit run` runs it, before the biller. Our progress bar and summary replace
    pytest's terminal output (and its addopts). One token per option: pytest parses its early arguments
    before it knows the plugin's options, and would take a separate biller path for a test path."""
    args = [str(options.project / "steps"), "--rootdir", str(options.project), "-c",
            str(options.project / "pyproject.toml"), "-p", "no:terminal", "-p", "no:cacheprovider",
            "-p", "no:faker", "-p", "no:anyio",  # installed by dependencies; the workbook needs neither
            *_UNUSED, "-o", "addopts=--strict-markers"]
    return [*args, f"-k={options.select}"] if options.select else args


def _pytest_args(options: RunOptions) -> list[str]:
    return [*pytest_base_args(options), "-p", "no:xdist", f"--biller={options.biller}"]  # one biller: no workers


def check_selection(code: int, errors: str, select: str | None) -> None:
    """A selection pytest refused, or one that matched nothing, is the user's to fix: one line."""
    if code == pytest.ExitCode.USAGE_ERROR:
        reason = " ".join(errors.split()) or "pytest refused its arguments"
        raise InputError(f"-k {select!r}: {reason}" if select else reason)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        raise InputError(f"no scenario matches -k {select!r}" if select else "no workbook scenarios found")


def run(options: RunOptions, console: Console, report: Callable[[str], None] | None = None) -> int:
    """Run the SIT; returns the exit code: 0 only if every in-scope scenario passed.

    ``report`` projects the finished run's evidence (``sit report``); the run's result
    stands even when that fails, and ``sit report RUN`` can be retried from the log.
    """
    with interrupts.handled():
        session = SitSession(options, notify=lambda line: console.print(line, markup=False, highlight=False))
        try:
            try:
                session.start()
            except BaseException:
                session.stop()
                raise
            return _run(session, console, report)
        except interrupts.Interrupted as exc:  # before pytest took it over, or while it loaded the steps
            return _interrupted(session, console, exc.exit_code)


def _interrupted(session: SitSession, console: Console, code: int) -> int:
    """Say what an interruption left: a recorded run to report, or nothing."""
    if session.is_ready:
        console.print(f"Interrupted ({interrupts.reason()}): the evidence up to then is kept. To report it,\n"
                      f"every document marked INTERRUPTED:  sit report {session.run_id} --interrupted",
                      highlight=False)
    else:
        console.print(f"sit: interrupted ({interrupts.reason()}) before the run started; nothing was recorded",
                      highlight=False)
    interrupts.told()
    return code


def _run(session: SitSession, console: Console, report: Callable[[str], None] | None) -> int:
    progress = _Progress(session, console)
    errors = io.StringIO()
    try:
        _warn(session, console)
        with contextlib.redirect_stderr(errors), interrupts.scenarios_running():
            # The workbook's pytest is the harness's own: options meant for the caller's pytest (a test path in
            # PYTEST_ADDOPTS) would run other tests inside the SIT, or the test suite inside itself.
            os.environ.pop("PYTEST_ADDOPTS", None)
            code = pytest.main(_pytest_args(session.options), plugins=[progress])
    finally:
        session.stop()  # the plugin stops it at session end; this covers pytest failing to start
    if session.error is not None:
        raise session.error
    interrupted = interrupts.exit_code()
    if not session.is_ready:  # stopped before the first scenario: no run was recorded
        if interrupted is not None:
            return _interrupted(session, console, interrupted)
        check_selection(code, errors.getvalue(), session.options.select)
    sys.stderr.write(errors.getvalue())
    for line in progress.collect_errors:
        console.print(f"[red]collection error[/red] {line}", markup=True, highlight=False)
    with open_store(session.store) as store:
        summary = console_summary(store, session.run_id)
    print_summary(console, summary, session)
    if interrupted is not None:
        return _interrupted(session, console, interrupted)
    if report is not None and not write_report(report, session.run_id, console):
        return EXIT_HARNESS
    if summary.error:
        return EXIT_HARNESS
    if progress.collect_errors or code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return EXIT_FAILED
    return EXIT_OK if summary.status == "passed" else EXIT_FAILED


def _warn(session: SitSession, console: Console) -> None:
    """The biller's `sit lint` warnings (an old partner version, a token about to expire): shown, not fatal."""
    for finding in lint_biller(session.biller, session.today):
        console.print(f"warning: {finding.where}: {finding.message}", style="yellow", markup=False, highlight=False)


def write_report(report: Callable[[str], None], run_id: str, console: Console) -> bool:
    """Write a finished run's reports; a failure is one line saying whether a retry can mend it."""
    try:
        report(run_id)
    except SitError as exc:
        retry = "" if exc.exit_code == EXIT_HARNESS else f"; the log is intact: retry with `sit report {run_id}`"
        console.print(f"[red]report failed[/red]: {escape(str(exc))}{retry}", highlight=False)
        return False
    return True


@dataclass
class ConsoleSummary:
    status: str
    sections: dict[str, Counter[str]]
    failures: list[tuple[str, str, str]]
    not_applicable: list[tuple[str, str]]
    not_run: list[tuple[str, str]]  # what the partner could not be made to give, by SIT ID
    error: str = ""  # the run's own harness error (a secret found in its log)
    started: str = ""  # the timestamps of run.started and of the run's last event
    finished: str = ""


def console_summary(store: EventStore, run_id: str) -> ConsoleSummary:
    """The console's summary of a run: the same fold over its events as every report."""
    run = RunRecord()
    sections: defaultdict[str, Counter[str]] = defaultdict(Counter)
    failures: list[tuple[str, str, str]] = []
    not_applicable: list[tuple[str, str]] = []
    not_run: list[tuple[str, str]] = []
    for scenario in fold(store.events(run_id), run):
        sections[scenario.feature or "?"][scenario.status] += 1
        if scenario.status in ("na", "not_run"):
            (not_applicable if scenario.status == "na" else not_run).append((scenario.sit_id, scenario.reason))
        elif scenario.status != "passed":
            failures.append((scenario.sit_id, scenario.name, scenario.error or scenario.status))
    return ConsoleSummary(run.status, dict(sections), failures, not_applicable, not_run, run.error, run.started,
                          run.finished)


def print_summary(console: Console, summary: ConsoleSummary, session: SitSession) -> None:
    table = Table(title=f"SIT {session.biller.profile.name} (BID {session.biller.profile.bid}) "
                        f"with {session.biller.partner.display_name}")
    columns = [("Workbook section", ""), ("Passed", "green"), ("Failed", "red"), ("N/A", "yellow")]
    if summary.not_run:  # only a run against a live partner has any: other runs keep their narrower table
        columns.append(("Not run", "cyan"))
    for column, style in columns:
        table.add_column(column, style=style, justify="left" if not style else "right")
    for section, counts in summary.sections.items():
        cells = [counts["passed"], counts["failed"] + counts["interrupted"], counts["na"], counts["not_run"]]
        table.add_row(section, *(str(n) for n in cells[: len(columns) - 1]))
    console.print(table)
    for sit_id, name, error in summary.failures:
        console.print(f"[red]FAILED[/red] {sit_id} {escape(name)}: {escape(error)}", highlight=False)
    for sit_id, reason in summary.not_applicable:
        console.print(f"[yellow]N/A[/yellow]    {sit_id}: {escape(reason)}", highlight=False)
    for sit_id, reason in summary.not_run:
        console.print(f"[cyan]NOT RUN[/cyan] {sit_id}: {escape(reason)}", highlight=False)
    if summary.error:
        console.print(f"[red]HARNESS ERROR[/red] {escape(summary.error)}", highlight=False)
    style = STATUS_STYLE.get(summary.status, "")
    console.print(f"\nRun [bold]{session.run_id}[/bold]: [{style}]{summary.status.upper()}[/{style}]  "
                  f"(seed {session.seed})", highlight=False)
    console.print(f"Evidence: {session.store} (hash-chained event log)", highlight=False)
    console.print(f"  sit verify {session.run_id}\n  sit export {session.run_id} -o {session.run_id}.jsonl",
                  highlight=False)
