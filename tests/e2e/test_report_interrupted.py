"""A run killed mid-scenario still reports: what finished, what was running, what never ran.

A real `sit run` is started in its own process group; the test watches its event store
(read-only) until SIT-PAY-005 is in flight, inside the step whose partner times out
(~1 s), and SIGKILLs the group (the WireMock JVM with it). Then the committed log must
verify, and `sit report` must project it: finished scenarios as they ended, the one in
flight Interrupted, the in-scope ones never started Not run, N/A ones still N/A with
their reason; the sign-off says the exit criteria are not met and the run did not finish.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from runs import BILLER, PROJECT, SIT, clean_env, explain, sit

from harness.events import Event, SQLiteStore
from harness.stubs.orphans import reap as reap_orphans

SLOW = "SIT-PAY-005"  # its data pump step waits ~1 s for the partner's timeout: a wide window to kill in
AT_LEAST_FINISHED = 5  # scenarios finished before the kill (SIT-PAY-005 comes after 18)
DEADLINE_S = 60.0
POLL_S = 0.02
INTERRUPTED = "the run stopped while this scenario was running"


@dataclass
class Killed:
    run_id: str
    store: Path
    events: list[Event]  # what the killed run had committed

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return sit(*args, "--store", str(self.store), timeout=300)

    def statuses(self) -> dict[str, dict[str, Any]]:
        return {e.data["sit_id"]: e.data for e in self.events if e.kind == "scenario.finished"}

    def started(self) -> list[str]:
        return [e.data["sit_id"] for e in self.events if e.kind == "scenario.started"]


def _progress(store: Path) -> tuple[int, str | None, int]:
    """As committed so far: (scenarios finished, the scenario in flight or None, its steps finished).

    Read-only, so the watcher never takes the write lock the run commits under.
    """
    if not store.exists():
        return 0, None, 0
    try:
        with closing(sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute("SELECT kind, data FROM events WHERE kind IN "
                              "('scenario.started', 'scenario.finished', 'step.finished') ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # the run has not created the schema yet
        return 0, None, 0
    finished, in_flight, steps = 0, None, 0
    for kind, data in rows:
        if kind == "scenario.started":
            in_flight, steps = json.loads(data)["sit_id"], 0
        elif kind == "scenario.finished":
            finished, in_flight = finished + 1, None
        else:
            steps += 1
    return finished, in_flight, steps


def _kill_in_flight(proc: subprocess.Popen[bytes], store: Path, output: Path) -> None:
    """SIGKILL the run's process group once SLOW has finished a step and not the scenario."""
    deadline, seen = time.monotonic() + DEADLINE_S, (0, None, 0)
    while True:
        seen = finished, in_flight, steps = _progress(store)
        if finished >= AT_LEAST_FINISHED and in_flight == SLOW and steps >= 1:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return
        if proc.poll() is not None:
            pytest.fail(f"sit run ended (exit {proc.returncode}) before {SLOW} was caught in flight; last seen "
                        f"(finished, in flight, its steps) = {seen}\n{output.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{SLOW} not in flight within {DEADLINE_S:.0f} s; last seen (finished, in flight, "
                        f"its steps) = {seen}\n{output.read_text(errors='replace')[-3000:]}")
        time.sleep(POLL_S)


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Killed:
    tmp = tmp_path_factory.mktemp("interrupted")
    (tmp / "tmpdir").mkdir()  # the scratch dirs a killed run cannot clean up
    store, output = tmp / "events.sqlite", tmp / "sit-run.out"
    env = clean_env({"COLUMNS": "1000", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(tmp / "tmpdir")})
    env.pop("FORCE_COLOR", None)
    args = ["run", "--biller", BILLER, "--no-report", "--store", str(store)]
    with output.open("wb") as out:
        proc = subprocess.Popen([*SIT, *args], cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _kill_in_flight(proc, store, output)
    finally:
        with suppress(ProcessLookupError):  # a failed wait: never leave the run behind
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        reap_orphans(say=lambda _: None)  # its JVM, in a session of its own, as the next run would
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
        return Killed(run_id, store, list(events.events(run_id)))


@pytest.fixture(scope="module")
def report(killed: Killed) -> Path:
    result = killed.cli("report", killed.run_id, "--interrupted")
    assert result.returncode == 0, explain(result)
    return killed.store.parent / killed.run_id  # reports go beside the store


def test_a_killed_run_is_listed_interrupted_and_reported_only_when_asked(killed: Killed) -> None:
    listed = killed.cli("runs")
    (row,) = [line.split() for line in listed.stdout.splitlines() if killed.run_id in line]
    assert row[3] == "interrupted", listed.stdout  # its process is gone: not "running"
    refused = killed.cli("report", killed.run_id, "-o", str(killed.store.parent / "refused"))
    assert refused.returncode == 4, explain(refused)
    assert "did not finish" in refused.stderr and "--interrupted" in refused.stderr
    assert not (killed.store.parent / "refused").exists()
    key = killed.store.parent / "se.pem"
    assert sit("keygen", str(key)).returncode == 0
    signed = killed.cli("signoff", killed.run_id, "--sign", str(key), "--signer", "Pat Jones (SE)")
    assert signed.returncode == 4 and "only a finished run is signed" in signed.stderr, explain(signed)


def _workbook(report: Path) -> dict[str, dict[str, str]]:
    """The csv's rows, under the header that follows its INTERRUPTED line."""
    with (report / "workbook.csv").open(encoding="utf-8", newline="") as fh:
        banner = next(csv.reader(fh))
        assert banner[0].startswith("INTERRUPTED: "), banner
        return {row["SIT ID"]: row for row in csv.DictReader(fh)}


def test_the_run_was_killed_inside_the_slow_scenario(killed: Killed) -> None:
    kinds = [e.kind for e in killed.events]
    assert "run.finished" not in kinds
    assert killed.started()[-1] == SLOW
    assert SLOW not in killed.statuses()
    assert len(killed.statuses()) >= AT_LEAST_FINISHED
    assert set(killed.started()[:-1]) == set(killed.statuses())  # every other scenario that started finished


def test_verify_finds_what_was_committed_intact_and_the_run_incomplete(killed: Killed) -> None:
    result = killed.cli("verify", killed.run_id)
    assert result.returncode == 4, explain(result)  # evidence incomplete: killed before any terminal event
    assert f"INCOMPLETE {killed.run_id}: {len(killed.events)} events, chain intact, head hash " in result.stdout


def test_workbook_rows(killed: Killed, report: Path) -> None:
    rows = _workbook(report)
    statuses = killed.statuses()
    assert {r["Status"] for r in rows.values()} == {"Pass", "N/A", "Interrupted", "Not run"}
    assert [sit_id for sit_id, r in rows.items() if r["Status"] == "Interrupted"] == [SLOW]
    assert rows[SLOW]["Actual result"] == INTERRUPTED
    assert rows[SLOW]["Executed at"]
    for sit_id, data in statuses.items():  # the scenarios that finished, as they finished
        assert rows[sit_id]["Status"] == {"passed": "Pass", "na": "N/A"}[data["status"]], sit_id
        if data["status"] == "na":
            assert rows[sit_id]["N/A reason"] == data["reason"] != ""
    never_started = {sit_id: r for sit_id, r in rows.items() if sit_id not in killed.started()}
    assert never_started
    for sit_id, row in never_started.items():  # Not run, unless the profile makes them N/A (with the reason)
        assert (row["Status"], row["Executed at"]) == ("N/A" if row["N/A reason"] else "Not run", ""), sit_id
    assert never_started["SIT-PAY-006"]["Status"] == "Not run"
    assert never_started["SIT-BAL-007"]["Status"] == "N/A"  # budget billing: not for Cayenta


def _criterion(page: str, name: str) -> tuple[str, str]:
    """An exit criterion's (result, met) as the sign-off's table shows them."""
    found = re.search(rf"<td[^>]*>{name}</td>\s*<td[^>]*>([^<]*)</td>\s*<td[^>]*>([^<]*)</td>", page)
    assert found, f"no criterion {name!r} in the sign-off"
    return found[1], found[2]


def test_signoff_says_not_met_and_not_finished(killed: Killed, report: Path) -> None:
    page = (report / "signoff.html").read_text(encoding="utf-8")
    assert re.search(r"<[^>]*notmet[^>]*>\s*NOT MET\s*<", page)
    assert not re.search(r">\s*MET\s*<", page)
    assert _criterion(page, "The run finished") == ("interrupted", "no")
    statuses = [row["Status"] for row in _workbook(report).values()]
    in_scope = len(statuses) - statuses.count("N/A")
    executed = in_scope - statuses.count("Not run") - statuses.count("Interrupted")
    assert _criterion(page, "All in-scope cases executed") == (f"{executed} of {in_scope}", "no")
    assert (report / "signoff.pdf").stat().st_size > 0


def test_allure_result_of_the_interrupted_scenario_is_broken(killed: Killed, report: Path) -> None:
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (report / "allure-results").glob("*-result.json")]
    by_case = {r["testCaseId"]: r for r in results}
    assert set(by_case) == set(killed.started())
    slow = by_case[SLOW]
    assert slow["status"] == "broken"
    assert slow["statusDetails"]["message"].startswith("Interrupted")
    steps = [s["status"] for s in slow["steps"]]
    committed = sum(e.kind == "step.finished" and e.data["sit_id"] == SLOW for e in killed.events)
    assert steps[:committed] == ["passed"] * committed  # the steps that ended before the kill
    assert set(steps[committed:]) <= {"skipped"} and steps[committed:]  # the rest never reported
    assert {by_case[sit_id]["status"] for sit_id in killed.statuses()} <= {"passed", "skipped"}


def test_every_document_says_interrupted_on_its_first_page(killed: Killed, report: Path) -> None:
    banner = f"INTERRUPTED: run {killed.run_id} did not finish (its process ended without finishing the run); "
    first_line = (report / "workbook.csv").read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith(banner)
    assert load_workbook(report / "workbook.xlsx").worksheets[0]["A1"].value == first_line
    page = (report / "signoff.html").read_text(encoding="utf-8")
    assert re.search(r'<div class="banner" role="alert"><span class="word">INTERRUPTED</span>', page)
    assert page.index("INTERRUPTED</span>") < page.index("<h2>")  # above every section
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext is not installed (Debian package poppler-utils); `make test` installs it"
    first_page = subprocess.run([pdftotext, "-f", "1", "-l", "1", str(report / "signoff.pdf"), "-"],
                                capture_output=True, text=True, check=True).stdout
    assert "INTERRUPTED" in first_page and f"Run {killed.run_id} did not finish" in " ".join(first_page.split())
    # The Allure report's name is its first page (the HTML is built only where Node and Allure are).
    options = re.search(r'"reportName":"([^"]*)"', (report / "allure-report.html").read_text(encoding="utf-8"))
    assert options and options[1].startswith("INTERRUPTED: SIT "), options
