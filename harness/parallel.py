"""`sit run` with several billers: each biller its own run, the billers in parallel on pytest-xdist workers.

This process is the controller. It checks every biller before anything starts (one biller's fault is one
line, nothing recorded), picks each biller's run id and runs the workbook's pytest with ``-n WORKERS``: the
plugin parametrizes every scenario by biller and keeps each biller on one worker (``harness.biller_groups``);
a worker starts a session per biller it is given (its own WireMock, sFTP server and ports) and appends that
biller's run to the one store. Here: progress per biller, then a summary per biller read from the store by
run id, the reports of each run, and exit 0 only if every biller's run passed.

Interruptions: a signal to this process (or a closed stdout) is forwarded to the workers, which close the
scenario in flight and their runs as interrupted and stop their servers before xdist takes them down.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness import interrupts
from harness.biller_groups import biller_of
from harness.errors import EXIT_FAILED, EXIT_HARNESS, EXIT_OK, InputError
from harness.events import open_store, store_url
from harness.plugin import OUTCOME
from harness.profiles import Biller, lint_biller
from harness.run_identity import new_run_id
from harness.runner import (
    STATUS_STYLE,
    ConsoleSummary,
    check_selection,
    console_summary,
    pytest_base_args,
    write_report,
)
from harness.session import DEFAULT_STORE, RunOptions, preflight
from harness.stubs.orphans import reap as reap_orphans

__all__ = ["run_billers"]

_LABELS = {"passed": "PASS", "failed": "FAIL", "na": "N/A", "not_run": "NOT RUN"}


@dataclass
class BillerRun:
    """One biller of the run: its ``--biller`` argument, its profile, its run id, and what its worker said."""

    arg: str
    biller: Biller
    run_id: str
    total: int = 0  # its scenarios in the selection, as the workers collected them
    done: int = 0
    error: str = ""  # its session could not start on its worker: the one line, and the exit code it carries
    error_code: int = EXIT_OK

    @property
    def slug(self) -> str:
        return self.biller.profile.slug


def run_billers(options: RunOptions, billers: list[str], workers: int | None, console: Console,
                report: Callable[[str], None] | None = None) -> int:
    """Run the SIT of several billers in parallel; returns the exit code: 0 only if every biller's run passed."""
    with interrupts.handled():
        try:
            count = _workers(workers, len(billers))
            return _run(options, _plan(options, billers, console), count, console, report)
        except interrupts.Interrupted as exc:  # before pytest took it over: no worker ran anything
            console.print(f"sit: interrupted ({exc.reason}) before the runs started; nothing was recorded",
                          highlight=False)
            interrupts.told()
            return exc.exit_code


def _workers(asked: int | None, billers: int) -> int:
    if asked is not None and asked < 1:
        raise InputError(f"--workers {asked}: give 1 or more")
    return min(asked or len(os.sched_getaffinity(0)), billers)


def _plan(options: RunOptions, billers: list[str], console: Console) -> list[BillerRun]:
    """Every biller checked before anything starts, each with its run id; the store checked once."""
    _refuse_shared(options)
    loaded: list[tuple[str, Biller]] = []
    for index, arg in enumerate(billers):
        loaded.append((arg, preflight(replace(options, biller=arg), features=index == 0)))
    slugs = Counter(biller.profile.slug for _, biller in loaded)
    if twice := [slug for slug, count in slugs.items() if count > 1]:
        raise InputError(f"--biller {twice[0]}: given twice; each biller runs once")
    partners = {biller.partner.name for _, biller in loaded}
    if options.partner_mode != "stub" and len(partners) > 1:
        raise InputError(f"--partner-mode {options.partner_mode}: --partner-url is one partner's endpoint, and "
                         f"these billers have {len(partners)} partners ({', '.join(sorted(partners))}); "
                         "run one partner's billers at a time")
    url = store_url(options.store, options.project / DEFAULT_STORE)
    run_ids = _run_ids(len(loaded))
    with open_store(url, check="quick_check") as store:  # a damaged store gets no run appended to it
        if taken := [run_id for run_id in run_ids if store.head(run_id) is not None]:
            raise InputError(f"run {taken[0]} already exists in {url}; a run id is used once")
    reap_orphans(lambda line: console.print(line, markup=False, highlight=False))  # once, before any worker
    today = datetime.now(UTC).date()
    for _, biller in loaded:
        for finding in lint_biller(biller, today):
            console.print(f"warning: {biller.profile.slug}: {finding.where}: {finding.message}", style="yellow",
                          markup=False, highlight=False)
    return [BillerRun(arg, biller, run_id) for (arg, biller), run_id in zip(loaded, run_ids, strict=True)]


def _refuse_shared(options: RunOptions) -> None:
    """What one run may have but several billers at once cannot share: one WireMock, one port, one pack."""
    if options.stub_backend == "external":
        raise InputError("--stub-backend external: one running WireMock cannot serve several billers at once; "
                         "run them one at a time, or let each start its own (--stub-backend process)")
    if options.wiremock_port:
        raise InputError(f"--wiremock-port {options.wiremock_port}: each biller's WireMock takes a free port of "
                         "its own; leave the option out")
    if options.stub_pack is not None:
        raise InputError(f"--stub-pack {options.stub_pack}: a recorded pack answers for its own biller's run; "
                         "give one --biller with it")
    if options.run_id is not None:
        raise InputError("a run id is one biller's; several billers get one each")


def _run_ids(count: int) -> list[str]:
    """A new run id per biller, all different (they share their second: the random part tells them apart)."""
    ids: list[str] = []
    while len(ids) < count:
        if (run_id := new_run_id(datetime.now(UTC))) not in ids:
            ids.append(run_id)
    return ids


def _pytest_args(options: RunOptions, runs: list[BillerRun], workers: int) -> list[str]:
    url = store_url(options.store, options.project / DEFAULT_STORE)
    args = [*pytest_base_args(options), "-p", "xdist", f"-n={workers}", "--max-worker-restart=0",
            f"--sit-store={url.url}", f"--stub-backend={options.stub_backend}",
            f"--partner-mode={options.partner_mode}"]
    for run in runs:
        args += [f"--biller={run.arg}", f"--sit-run-id={run.run_id}"]
    named = {"--seed": options.seed, "--operator": options.operator, "--partner-url": options.partner_url,
             "--partner-ca": options.partner_ca}
    return args + [f"{name}={value}" for name, value in named.items() if value is not None]


def _run(options: RunOptions, runs: list[BillerRun], workers: int, console: Console,
         report: Callable[[str], None] | None) -> int:
    console.print(f"SIT of {len(runs)} billers on {workers} worker{'s' if workers > 1 else ''}", highlight=False)
    progress = _Progress(runs, console)
    errors = io.StringIO()
    # xdist gives each worker a folder under pytest's base temp: ours, removed after, so that a run leaves
    # the temporary directory as it found it (pytest's default keeps pytest-of-USER/ there).
    basetemp = Path(tempfile.mkdtemp(prefix="sit-workers-"))
    try:
        with contextlib.redirect_stderr(errors), interrupts.scenarios_running():
            os.environ.pop("PYTEST_ADDOPTS", None)  # the workbook's pytest is the harness's own (see harness.runner)
            args = [*_pytest_args(options, runs, workers), f"--basetemp={basetemp}"]
            code = pytest.main(args, plugins=[progress])
    finally:
        shutil.rmtree(basetemp, ignore_errors=True)
        # A worker killed outright (SIGKILL, out of memory) could not stop its WireMock or remove its folders.
        reap_orphans(lambda line: console.print(line, markup=False, highlight=False))
    url = store_url(options.store, options.project / DEFAULT_STORE)
    with open_store(url) as store:
        summaries = {run.run_id: console_summary(store, run.run_id) for run in runs
                     if store.head(run.run_id) is not None}
    interrupted = interrupts.exit_code()
    if not summaries and interrupted is None and not any(run.error for run in runs):
        check_selection(code, errors.getvalue(), options.select)
    for line in errors.getvalue().splitlines():
        if line.strip():
            console.print(line, markup=False, highlight=False)
    for line in progress.collect_errors:
        console.print(f"[red]collection error[/red] {escape(line)}", highlight=False)
    print_billers(console, runs, summaries)
    console.print(f"Evidence: {url} (hash-chained event log)", highlight=False)
    if interrupted is not None or code == pytest.ExitCode.INTERRUPTED:
        return _interrupted(console, [run.run_id for run in runs if run.run_id in summaries], interrupted)
    codes = [run.error_code for run in runs if run.error]
    # A biller with scenarios selected that has no run and no error (its worker died before it began) did not pass.
    codes += [EXIT_FAILED for run in runs if run.total and run.run_id not in summaries and not run.error]
    codes += [EXIT_HARNESS if summary.error else EXIT_OK if summary.status == "passed" else EXIT_FAILED
              for summary in summaries.values()]
    if report is not None:
        codes += [EXIT_HARNESS for run_id in summaries if not write_report(report, run_id, console)]
    if progress.collect_errors or code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        codes.append(EXIT_FAILED)
    return max(codes, default=EXIT_OK)


def _interrupted(console: Console, run_ids: list[str], code: int | None) -> int:
    console.print(f"Interrupted ({interrupts.reason() or 'a worker was interrupted'}): the evidence up to then is "
                  "kept. To report a run, every document marked INTERRUPTED:", highlight=False)
    for run_id in run_ids:
        console.print(f"  sit report {run_id} --interrupted", highlight=False)
    interrupts.told()
    return code if code is not None else 128 + signal.SIGINT


def _wall(summary: ConsoleSummary) -> str:
    if not (summary.started and summary.finished):
        return ""
    took = datetime.fromisoformat(summary.finished) - datetime.fromisoformat(summary.started)
    return f"{took.total_seconds():.1f}s"


def print_billers(console: Console, runs: list[BillerRun], summaries: dict[str, ConsoleSummary]) -> None:
    """A summary per biller: what failed or could not run, then one row per biller (its run, counts, status,
    wall time). The N/A reasons are in each run's reports: with dozens of billers they would drown the failures."""
    for run in runs:
        summary = summaries.get(run.run_id)
        if run.error:
            console.print(f"[red]ERROR[/red]  {run.slug}: {escape(run.error)}", highlight=False)
        if summary is None:
            continue
        for sit_id, name, error in summary.failures:
            console.print(f"[red]FAILED[/red] {run.slug} {sit_id} {escape(name)}: {escape(error)}", highlight=False)
        for sit_id, reason in summary.not_run:
            console.print(f"[cyan]NOT RUN[/cyan] {run.slug} {sit_id}: {escape(reason)}", highlight=False)
        if summary.error:
            console.print(f"[red]HARNESS ERROR[/red] {run.slug}: {escape(summary.error)}", highlight=False)
    console.print()
    # Compact, and the biller and run id never cut: a run id is what `sit report` and `sit verify` take.
    table = Table(title=f"SIT of {len(runs)} billers", box=box.SIMPLE_HEAD, title_justify="left",
                  show_edge=False, padding=(0, 1, 0, 0))
    for column, style in (("Biller", ""), ("Run", ""), ("Pass", "green"), ("Fail", "red"), ("N/A", "yellow"),
                          ("Status", ""), ("Time", "")):
        table.add_column(column, style=style, no_wrap=True,
                         justify="right" if style or column == "Time" else "left")
    for run in runs:
        summary = summaries.get(run.run_id)
        if summary is None:
            status = "error" if run.error else "not run"
            table.add_row(run.slug, "", "", "", "", f"[red]{status}[/red]" if run.error else status, "")
            continue
        counts: Counter[str] = Counter()
        for section in summary.sections.values():
            counts.update(section)
        style = STATUS_STYLE.get(summary.status, "")
        table.add_row(run.slug, run.run_id, str(counts["passed"]),
                      str(counts["failed"] + counts["interrupted"]), str(counts["na"]),
                      f"[{style}]{summary.status.upper()}[/{style}]", _wall(summary))
    console.print(table)


@dataclass
class _Progress:
    """The controller's pytest plugin: progress per biller from the workers' reports (a bar per running biller
    on a terminal, else a line per finished scenario), and the signals forwarded to the workers."""

    runs: list[BillerRun]
    console: Console
    collect_errors: list[str] = field(default_factory=list)
    _bar: Progress | None = None
    _tasks: dict[str, TaskID] = field(default_factory=dict)
    _overall: TaskID | None = None

    def __post_init__(self) -> None:
        self._by_arg = {run.arg: run for run in self.runs}
        self._width = max(len(run.slug) for run in self.runs)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid or 'collection'}: {str(report.longrepr).splitlines()[-1]}")

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if any(run.total for run in self.runs):
            return  # every worker collects the same items: the first one counts
        slugs = {run.slug: run for run in self.runs}
        for nodeid in ids:
            if (slug := biller_of(nodeid, list(slugs))) is not None:
                slugs[slug].total += 1
        if self.console.is_terminal:
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=self.console, transient=True)
            self._overall = self._bar.add_task(f"SIT of {len(self.runs)} billers", total=len(ids))
            for run in self.runs:
                self._tasks[run.arg] = self._bar.add_task(run.slug, total=run.total, visible=False)
            self._bar.start()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome: dict[str, Any] | None = next(
            (value for name, value in report.user_properties if name == OUTCOME and isinstance(value, dict)), None)
        if outcome is None:
            self._crashed(report)
            return
        if (run := self._by_arg.get(outcome["biller"])) is None:
            return
        run.done += 1
        if outcome.get("error") and not run.error:
            run.error, run.error_code = outcome["error"], int(outcome.get("exit_code") or EXIT_HARNESS)
        if self._bar is not None and self._overall is not None:
            self._bar.advance(self._overall)
            self._bar.update(self._tasks[run.arg], completed=run.done, visible=run.done < run.total)
            return
        if outcome.get("error") and run.done > 1:
            return  # a biller that could not start: said once
        label = _LABELS.get(outcome["status"], str(outcome["status"]).upper())
        text = outcome.get("error") or outcome["name"]
        self.console.print(f"{label:<7} {run.slug:<{self._width}} {outcome['sit_id'] or '':<13} {text}",
                           highlight=False, markup=False, no_wrap=True, overflow="ellipsis")

    def _crashed(self, report: pytest.TestReport) -> None:
        """A scenario that failed with no outcome of the plugin's: its worker died under it (xdist reports the
        item it was running as failed). Its biller's run is not finished: the one line says so."""
        slugs = {run.slug: run for run in self.runs}
        if not report.failed or (slug := biller_of(report.nodeid, list(slugs))) is None or slugs[slug].error:
            return
        what = str(report.longrepr).strip().splitlines()[-1:] or ["no reason given"]
        said = " ".join(what[0].split()).split(" while running ")[0][:200]  # the scenario is named on its own line
        slugs[slug].error = f"its worker stopped while it ran ({said}); its run did not finish"
        slugs[slug].error_code = EXIT_HARNESS

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        """The workers are this process's children: each is told as this process was, and closes its runs as
        interrupted and stops its servers while xdist waits for it (a closed stdout is passed on as SIGTERM)."""
        code = interrupts.exit_code()
        signum = code - 128 if code is not None and code - 128 in interrupts.SIGNALS else signal.SIGTERM
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                child.send_signal(signum)

    def pytest_sessionfinish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
