"""Several billers in one `sit run`, in parallel on pytest-xdist workers: each biller its own run, on its own
WireMock and sFTP server, appended to one store; a summary per biller; exit 0 only if every biller passed."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from collections import Counter
from contextlib import closing
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote_plus

import psutil
import pytest
from test_run_lifecycle import Start, Started, _assert_cleaned_up, start  # noqa: F401  (start: the fixture)

from harness.events import SQLiteStore
from tests.conftest import run_sit

SELECTION = ("-k", "SIT-PAY-001 or SIT-PAY-003")  # a card payment and a credit: quick, and N/A for Caselle's credit


def _runs(store: Path) -> dict[str, list[dict[str, object]]]:
    """Each run's events as plain data, by biller."""
    with SQLiteStore(store) as events:
        by_run = {run_id: [{"kind": e.kind, "run_id": run_id, **e.data} for e in events.events(run_id)]
                  for run_id in events.run_ids()}
    return {str(run[0]["biller"]): run for run in by_run.values()}


def _wiremock_port(store: Path, run_id: str) -> str:
    """The port of the run's own WireMock, as its log (beside the store) says it."""
    log = (store.parent / "logs" / f"wiremock-{run_id}.log").read_text()
    return re.findall(r"^port: +(\d+)$", log, re.MULTILINE)[0]


def test_two_billers_run_in_parallel_each_its_own_run(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    proc = run_sit("run", "--biller", "clayton-county-water", "--biller", "newport-or", "--workers", "2",
                   *SELECTION, "--store", str(store), "--no-report")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = _runs(store)
    assert set(runs) == {"clayton-county-water", "newport-or"}
    for biller, events in runs.items():
        assert events[-1]["kind"] == "run.finished" and events[-1]["status"] == "passed", biller
        assert {e["sit_id"] for e in events if e["kind"] == "scenario.started"} == {"SIT-PAY-001", "SIT-PAY-003"}
    # Each worker owns its servers: two sFTP ports, two WireMock ports, none shared.
    sftp = {biller: events[0]["sftp"]["port"] for biller, events in runs.items()}  # type: ignore[index]
    assert len(set(sftp.values())) == 2, sftp
    wiremock = {_wiremock_port(store, str(events[0]["run_id"])) for events in runs.values()}
    assert len(wiremock) == 2, wiremock
    verified = run_sit("verify", "--all", "--store", str(store))
    assert verified.returncode == 0 and verified.stdout.count("INTACT") == 2, verified.stdout
    # Progress per biller, then a summary row per biller with its run id and status.
    out = proc.stdout
    assert re.search(r"PASS +clayton-county-water +SIT-PAY-001", out)
    assert re.search(r"N/A +newport-or +SIT-PAY-003", out)
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (
        ["clayton-county-water"], ["newport-or"]) and "PASSED" in line}
    assert rows["clayton-county-water"][2:6] == ["2", "0", "0", "PASSED"], rows
    assert rows["newport-or"][2:6] == ["1", "0", "1", "PASSED"], rows
    assert {row[1] for row in rows.values()} == _run_ids(store), rows


def _run_ids(store: Path) -> set[str]:
    with SQLiteStore(store) as events:
        return set(events.run_ids())


def test_one_failing_biller_fails_the_whole_run_and_the_other_still_passes(project_copy: Path) -> None:
    # Cayenta's stubs no longer take AddARItem: Clayton County's card payment cannot post.
    (project_copy / "stubs" / "cayenta" / "mappings" / "add-ar-item.json").unlink()
    store = project_copy / "events.sqlite"
    proc = run_sit("run", "--biller", "clayton-county-water", "--biller", "newport-or", "--workers", "2",
                   "-k", "SIT-PAY-001", "--store", str(store), "--no-report", "--project", str(project_copy))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    runs = _runs(store)
    assert {b: events[-1]["status"] for b, events in runs.items()} == {
        "clayton-county-water": "failed", "newport-or": "passed"}
    assert re.search(r"FAILED clayton-county-water SIT-PAY-001", proc.stdout), proc.stdout
    assert re.search(r"newport-or +\S+ +1 +0 +0 +PASSED", proc.stdout), proc.stdout


def test_an_unknown_biller_among_several_is_one_line_and_nothing_starts(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    proc = run_sit("run", "--biller", "clayton-county-water", "--biller", "no-such-biller", "--store", str(store))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and "no such biller 'no-such-biller'" in proc.stderr, proc.stderr
    assert proc.stdout == ""
    assert not store.exists()


def test_what_several_billers_cannot_share_is_refused_before_anything_starts(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    two = ("--biller", "clayton-county-water", "--biller", "newport-or", "--store", str(store))
    for extra, said in ((("--wiremock-port", "8089"), "--wiremock-port 8089"),
                        (("--stub-backend", "external", "--wiremock-url", "http://127.0.0.1:1"), "external"),
                        (("--workers", "0"), "--workers 0")):
        proc = run_sit("run", *two, *extra)
        assert proc.returncode == 2 and said in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    both = run_sit("run", "--all-billers", "--biller", "newport-or", "--store", str(store))
    assert both.returncode == 2 and "--all-billers" in both.stderr, both.stderr
    neither = run_sit("run", "--store", str(store))
    assert neither.returncode == 2 and "--biller SLUG" in neither.stderr, neither.stderr
    assert not store.exists()


def _finished_by_run(store: Path) -> Counter[str]:
    """Scenarios each run has committed as finished so far (read-only: never takes the write lock)."""
    if not store.exists():
        return Counter()
    try:
        with closing(sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute("SELECT run_id FROM events WHERE kind = 'scenario.finished'").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return Counter()
    return Counter(run_id for (run_id,) in rows)


def _both_going(run: Started) -> None:
    """Wait until each biller's run has finished two scenarios (the workers are at work)."""
    deadline = time.monotonic() + 120
    while len([n for n in _finished_by_run(run.store).values() if n >= 2]) < 2:
        assert run.proc.poll() is None, run.output.read_text()
        assert time.monotonic() < deadline, "both billers' runs did not get going within 120 s"
        time.sleep(0.05)


@pytest.mark.parametrize(("signum", "group"), [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_interrupts_every_workers_run_cleanly(start: Start, signum: signal.Signals,  # noqa: F811
                                                       group: bool) -> None:
    run = start("--biller", "newport-or", "--workers", "2")
    _both_going(run)
    (os.killpg if group else os.kill)(run.proc.pid, signum)
    assert run.proc.wait(timeout=60) == 128 + signum, run.output.read_text()
    runs = _runs(run.store)
    assert set(runs) == {"clayton-county-water", "newport-or"}
    for biller, events in runs.items():  # each worker closed its run: the scenario in flight, then the run
        assert events[-1]["kind"] == "run.interrupted", (biller, [e["kind"] for e in events[-3:]])
        assert events[-1]["reason"] == signal.Signals(signum).name
    output = run.output.read_text()
    assert "Traceback" not in output
    assert all(f"sit report {events[0]['run_id']} --interrupted" in output for events in runs.values())
    _assert_cleaned_up(run)  # no WireMock outlived its worker, no temporary folder left
    assert run_sit("verify", "--all", "--store", str(run.store)).stdout.count("INTACT") == 2


def test_billers_one_worker_runs_in_turn_share_its_wiremock_and_keep_their_exchanges_apart(tmp_path: Path) -> None:
    """One worker, two billers of one partner: one WireMock serves both runs in turn (reset and loaded with the pack
    for each), and each run's log holds its own partner exchanges only, within its own start and end."""
    store = tmp_path / "events.sqlite"
    proc = run_sit("run", "--biller", "clayton-county-water", "--biller", "harbor-falls-utilities", "--workers", "1",
                   *SELECTION, "--store", str(store), "--no-report")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = _runs(store)
    assert set(runs) == {"clayton-county-water", "harbor-falls-utilities"}
    ports = {_wiremock_port(store, str(events[0]["run_id"])) for events in runs.values()}
    assert len(ports) == 1, ports  # one JVM for the worker, not one per biller
    # Platform references start with the run id's last four characters: whose request an exchange is.
    marks = {biller: str(events[0]["run_id"])[-4:] for biller, events in runs.items()}
    assert len(set(marks.values())) == 2, marks
    journal: dict[str, set[str]] = {}
    for biller, events in runs.items():
        started, finished = _span(store, str(events[0]["run_id"]))
        exchanges = [e for e in events if e["kind"] == "partner.exchange"]
        assert exchanges, biller
        referenced = {found for e in exchanges for found in re.findall(r"\b([0-9a-f]{4})-[A-Z]+-\d{3}-",
                                                                       unquote_plus(str(e["request_body"])))}
        assert referenced == {marks[biller]}, (biller, referenced)
        assert all(started <= datetime.fromisoformat(str(e["logged_at"])) <= finished for e in exchanges), biller
        journal[biller] = {str(e["journal_id"]) for e in exchanges}
    assert not journal["clayton-county-water"] & journal["harbor-falls-utilities"]
    assert run_sit("verify", "--all", "--store", str(store)).stdout.count("INTACT") == 2


def _span(store: Path, run_id: str) -> tuple[datetime, datetime]:
    """When the run's first and last events were appended."""
    with SQLiteStore(store) as events:
        stamps = [datetime.fromisoformat(e.ts) for e in events.events(run_id)]
    return stamps[0], stamps[-1]


def test_a_worker_killed_outright_fails_its_billers_run_and_leaves_nothing_behind(start: Start) -> None:  # noqa: F811
    """SIGKILL to one worker (out of memory, a crash): its biller's run cannot finish and `sit run` must not exit
    0; the other biller's run goes on; the dead worker's WireMock and folders are cleaned up by the controller."""
    run = start("--biller", "newport-or", "--workers", "2")
    _both_going(run)
    workers = psutil.Process(run.proc.pid).children()
    assert len(workers) == 2, workers
    workers[0].kill()
    code = run.proc.wait(timeout=180)
    output = run.output.read_text()
    assert code not in (0, 128 + signal.SIGINT), output
    assert "its worker stopped while it ran" in output and "Traceback" not in output, output
    runs = _runs(run.store)
    finished = {biller for biller, events in runs.items() if events[-1]["kind"] == "run.finished"}
    assert len(finished) == 1, {biller: events[-1]["kind"] for biller, events in runs.items()}
    _assert_cleaned_up(run)
