"""A run's lifecycle as an SE meets it: running, finished, or interrupted, and cleaned up either way.

Real `sit run` processes are started, watched through their event store (read-only), and
stopped the ways a run gets stopped: SIGTERM (a CI job cancelled), SIGHUP (the terminal
closed), Ctrl-C (SIGINT to the foreground process group), and a reader that goes away
(`sit run | head`). Each time the run must record `run.interrupted` with the reason, leave no
WireMock and no temporary folder behind, and report later when asked to.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from runs import BILLER, PROJECT, SIT, clean_env, explain, sit, wiremock_jvms

from harness.events import Event, SQLiteStore

DEADLINE_S = 120.0
POLL_S = 0.05


@dataclass
class Started:
    """A `sit run` in the background, in its own session (as a shell starts a job)."""

    proc: subprocess.Popen[bytes]
    store: Path
    tmpdir: Path  # the run's TMPDIR: its scratch folders go here
    output: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return sit(*args, "--store", str(self.store), timeout=300)

    def finished_scenarios(self) -> int:
        """Scenarios the run has committed as finished so far (read-only: never takes the write lock)."""
        if not self.store.exists():
            return 0
        try:
            with closing(sqlite3.connect(f"{self.store.as_uri()}?mode=ro", uri=True, timeout=5)) as db:
                return int(db.execute("SELECT count(*) FROM events WHERE kind = 'scenario.finished'").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0

    def wait_for(self, scenarios: int) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while self.finished_scenarios() < scenarios:
            if self.proc.poll() is not None:
                pytest.fail(f"sit run ended (exit {self.proc.returncode}) before {scenarios} scenarios finished:\n"
                            f"{self.output.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{scenarios} scenarios not finished within {DEADLINE_S:.0f} s")
            time.sleep(POLL_S)

    def events(self) -> tuple[str, list[Event]]:
        with SQLiteStore(self.store) as store:
            (run_id,) = store.run_ids()
            return run_id, list(store.events(run_id))



Start = Callable[..., Started]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Starts `sit run --biller BILLER` in the background; whatever happens, nothing outlives the test."""
    started: list[Started] = []

    def _start(*options: str, stdout: int | None = None) -> Started:
        tmpdir = tmp_path / f"tmp{len(started)}"
        tmpdir.mkdir()
        env = clean_env({"COLUMNS": "100", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(tmpdir)})
        store, output = tmp_path / "events.sqlite", tmp_path / f"sit-run-{len(started)}.out"
        args = [*SIT, "run", "--biller", BILLER, "--no-report", "--store", str(store), *options]
        with output.open("wb") as out:
            proc = subprocess.Popen(args, cwd=PROJECT, env=env, stdout=out if stdout is None else stdout,
                                    stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
        started.append(Started(proc, store, tmpdir, output))
        return started[-1]

    yield _start
    for run in started:
        with suppress(ProcessLookupError):
            os.killpg(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=30)
        for pid in wiremock_jvms(run.tmpdir):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _assert_cleaned_up(run: Started) -> None:
    assert wiremock_jvms(run.tmpdir) == [], "WireMock outlived its run"
    assert list(run.tmpdir.iterdir()) == [], "the run's temporary folders were left behind"


@pytest.mark.parametrize(("signum", "group"), [(signal.SIGTERM, False), (signal.SIGHUP, False),
                                               (signal.SIGINT, True)], ids=["SIGTERM", "SIGHUP", "Ctrl-C"])
def test_a_signal_interrupts_the_run_cleanly(start: Start, signum: signal.Signals, group: bool) -> None:
    run: Started = start()
    run.wait_for(3)
    (os.killpg if group else os.kill)(run.proc.pid, signum)
    assert run.proc.wait(timeout=60) == 128 + signum, run.output.read_text()
    run_id, events = run.events()
    assert events[-1].kind == "run.interrupted", [e.kind for e in events[-3:]]
    assert events[-1].data["reason"] == signal.Signals(signum).name
    output = run.output.read_text()
    assert "Traceback" not in output and "did not answer" not in output
    assert f"sit report {run_id} --interrupted" in output
    _assert_cleaned_up(run)
    listed = run.cli("runs")
    assert [line.split()[3] for line in listed.stdout.splitlines() if run_id in line] == ["interrupted"]
    assert run.cli("verify", run_id).returncode == 0
    reported = run.cli("report", run_id, "--interrupted", "--no-html")
    assert reported.returncode == 0, explain(reported)
    with (run.store.parent / run_id / "workbook.csv").open(encoding="utf-8", newline="") as rows:
        assert rows.readline().startswith(f"INTERRUPTED: run {run_id} did not finish ({signal.Signals(signum).name})")
        statuses = {row["Status"] for row in csv.DictReader(rows)}
    assert "Pass" in statuses and "Not run" in statuses


def test_a_closed_stdout_interrupts_the_run(start: Start) -> None:
    run: Started = start(stdout=subprocess.PIPE)
    assert run.proc.stdout is not None
    for _ in range(3):  # `sit run | head -n 3`
        assert run.proc.stdout.readline()
    run.proc.stdout.close()
    assert run.proc.wait(timeout=60) == 128 + signal.SIGPIPE
    _, events = run.events()
    assert events[-1].kind == "run.interrupted" and events[-1].data["reason"] == "stdout closed"
    assert "Traceback" not in run.output.read_text()
    _assert_cleaned_up(run)


def test_ctrl_c_while_wiremock_starts_is_an_interruption(start: Start) -> None:
    run: Started = start()
    deadline = time.monotonic() + DEADLINE_S
    while not wiremock_jvms(run.tmpdir):
        assert run.proc.poll() is None and time.monotonic() < deadline, run.output.read_text()
        time.sleep(0.01)
    os.killpg(run.proc.pid, signal.SIGINT)
    assert run.proc.wait(timeout=60) == 130
    output = run.output.read_text()
    assert "interrupted" in output and "WireMock" not in output and "Traceback" not in output, output
    _assert_cleaned_up(run)
    if run.store.exists():
        with SQLiteStore(run.store) as store:
            assert store.run_ids() == []  # nothing recorded for a run that never started


def test_a_running_run_is_listed_running_and_neither_reported_nor_signed(start: Start, tmp_path: Path) -> None:
    run: Started = start()
    run.wait_for(2)
    with SQLiteStore(run.store) as store:
        (run_id,) = store.run_ids()
    os.kill(run.proc.pid, signal.SIGSTOP)  # alive but held: it cannot finish while it is looked at
    try:
        _look_at_a_running_run(run, run_id, tmp_path)
    finally:
        os.kill(run.proc.pid, signal.SIGCONT)
    assert run.proc.wait(timeout=300) == 0, run.output.read_text()
    listed = run.cli("runs")
    assert [line.split()[3] for line in listed.stdout.splitlines() if run_id in line] == ["passed"]
    _assert_cleaned_up(run)


def _look_at_a_running_run(run: Started, run_id: str, tmp_path: Path) -> None:
    listed = run.cli("runs")
    assert [line.split()[3] for line in listed.stdout.splitlines() if run_id in line] == ["running"], explain(listed)
    reported = run.cli("report", run_id, "--interrupted", "-o", str(tmp_path / "early"))
    assert reported.returncode == 4 and "still running" in reported.stderr, explain(reported)
    assert not (tmp_path / "early").exists()
    key = tmp_path / "se.pem"
    assert sit("keygen", str(key)).returncode == 0
    signed = run.cli("signoff", run_id, "--sign", str(key), "--signer", "Pat Jones (SE)")
    assert signed.returncode == 4 and "still running" in signed.stderr, explain(signed)


def test_k_selects_a_scenario_by_its_sit_id(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    result = sit("run", "--biller", BILLER, "--store", str(store), "--no-report", "-k", "SIT-PAY-001")
    assert result.returncode == 0, explain(result)
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
        finished = [e.data["sit_id"] for e in events.events(run_id) if e.kind == "scenario.finished"]
        (started,) = [e.data for e in events.events(run_id) if e.kind == "run.started"]
    assert finished == ["SIT-PAY-001"] and started["selection"] == "SIT-PAY-001"


def test_pytest_alluredir_writes_the_projected_results(tmp_path: Path) -> None:
    store, results = tmp_path / "events.sqlite", tmp_path / "allure"
    pytest_run = sit("steps", "--biller", BILLER, "--sit-store", str(store), "--alluredir", str(results),
                     "-k", "SIT-PAY-001 or SIT-BAL-007", "-p", "no:cacheprovider", "-q",
                     program=(sys.executable, "-m", "pytest"))
    assert pytest_run.returncode == 0, explain(pytest_run)
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
    reported = sit("report", run_id, "--store", str(store), "--no-html")
    assert reported.returncode == 0, explain(reported)
    projected = tmp_path / run_id / "allure-results"
    names = sorted(p.name for p in results.iterdir())
    assert names == sorted(p.name for p in projected.iterdir()) and len(names) > 4
    for name in names:
        assert (results / name).read_bytes() == (projected / name).read_bytes(), name
    cases = {json.loads(p.read_text())["testCaseId"] for p in results.glob("*-result.json")}
    assert {"SIT-PAY-001", "SIT-BAL-007"} <= cases


def test_a_second_run_remembers_the_first_in_its_workbook_and_sign_off(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    for select in ("SIT-PAY-001 or SIT-PAY-002", "SIT-PAY-001"):
        result = sit("run", "--biller", BILLER, "--store", str(store), "-k", select, "--operator", "Pat Jones (SE)")
        assert result.returncode == 0, explain(result)
    with SQLiteStore(store) as events:
        first, second = events.run_ids()
        (started,) = [e.data for e in events.events(second) if e.kind == "run.started"]
    assert started["run_number"] == 2 and started["operator"] == "Pat Jones (SE)"
    (earlier,) = started["history"]
    assert (earlier["run_id"], earlier["number"], earlier["status"]) == (first, 1, "passed")
    assert earlier["results"] == {"SIT-PAY-001": "passed", "SIT-PAY-002": "passed"}
    with (tmp_path / second / "workbook.csv").open(encoding="utf-8", newline="") as rows:
        table = {row["SIT ID"]: row for row in csv.DictReader(rows)}
    assert (table["SIT-PAY-001"]["Result_Run1"], table["SIT-PAY-001"]["Result_Run2"]) == ("Pass", "Pass")
    assert (table["SIT-PAY-002"]["Result_Run1"], table["SIT-PAY-002"]["Result_Run2"]) == ("Pass", "Not run")
    page = (tmp_path / second / "signoff.html").read_text(encoding="utf-8")
    assert first in page and "Pat Jones (SE)" in page and "<svg" in page
