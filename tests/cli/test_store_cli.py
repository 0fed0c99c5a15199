"""The real `sit` on damaged stores (exit 5), incomplete evidence (exit 4) and `sit verify --all`.

Copies of the demo run's store (the session fixture ``demo_run``) are damaged at a real page
header or at the file header; exports are cut short; runs without a terminal event or with an
edited event are appended beside the demo run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.events import SQLiteStore
from tests.cli.test_cli import BILLER, DemoRun, assert_one_line_error, canonical, tampered
from tests.conftest import run_sit
from tests.unit.test_store_damage import TABLE_LEAF, break_page_size_field, flip, pages

DAMAGED = "the event store is damaged ("


def _leaf_page(path: Path, run_id: str) -> None:
    """Flip the type byte of a table leaf page in the middle of the run's rows."""
    leaves = pages(path, TABLE_LEAF, holds=run_id.encode())
    assert len(leaves) > 2, leaves
    flip(path, leaves[len(leaves) // 2])


def _file_header(path: Path, run_id: str) -> None:
    data = bytearray(path.read_bytes())
    break_page_size_field(data)
    path.write_bytes(bytes(data))


@pytest.fixture(params=[_leaf_page, _file_header], ids=["leaf-page-header", "file-header"])
def damaged(request: pytest.FixtureRequest, demo_run: DemoRun, tmp_path: Path) -> tuple[str, Path]:
    """A damaged copy of the demo store, in a folder of its own: (run id, path)."""
    run_id, store, _ = demo_run
    copy = tmp_path / "store" / "events.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(store, copy)
    damage: Callable[[Path, str], None] = request.param
    damage(copy, run_id)
    return run_id, copy


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("command", [["runs"], ["verify", "RUN"], ["verify", "--all"], ["export", "RUN", "-o", "OUT"],
                                     ["report", "RUN", "-o", "OUT", "--no-html"]], ids=lambda c: " ".join(c))
def test_a_damaged_store_is_one_line_and_exit_5(damaged: tuple[str, Path], tmp_path: Path, command: list[str]) -> None:
    run_id, copy = damaged
    out = tmp_path / "out"
    args = [{"RUN": run_id, "OUT": str(out)}.get(arg, arg) for arg in command]
    before = _sha256(copy)
    proc = run_sit(*args, "--store", str(copy), cwd=tmp_path)
    assert_one_line_error(proc, f"sit: {copy}: {DAMAGED}", "restore it from a backup", code=5)
    assert proc.stdout == ""
    assert not out.exists(), "nothing is written from a damaged store"
    assert _sha256(copy) == before, "a damaged store is not written to"


def test_sit_run_refuses_a_damaged_store_before_anything_starts(damaged: tuple[str, Path]) -> None:
    _, copy = damaged
    before = _sha256(copy)
    proc = run_sit("run", "--biller", BILLER, "--store", str(copy))
    assert_one_line_error(proc, f"sit: {copy}: {DAMAGED}", code=5)
    assert _sha256(copy) == before, "no run was appended"
    # WireMock logs beside the store from the moment it starts, reports land beside it after a run.
    assert sorted(p.name for p in copy.parent.iterdir() if not p.name.startswith("events.sqlite")) == []


def test_the_integrity_check_passes_an_intact_copy(demo_run: DemoRun, tmp_path: Path) -> None:
    """The negative control: the same commands on an undamaged copy read it."""
    run_id, store, _ = demo_run
    copy = tmp_path / "events.sqlite"
    shutil.copyfile(store, copy)
    assert run_sit("runs", "--store", str(copy)).returncode == 0
    proc = run_sit("export", run_id, "-o", str(tmp_path / "run.jsonl"), "--store", str(copy))
    assert proc.returncode == 0, proc.stderr


# --- incomplete and tampered exports ---------------------------------------------------------------

@pytest.fixture(scope="module")
def export_lines(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    run_id, store, _ = demo_run
    path = tmp_path_factory.mktemp("export") / "run.jsonl"
    proc = run_sit("export", run_id, "-o", str(path), "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert json.loads(lines[-1])["kind"] == "run.finished"
    return lines


def test_an_export_without_its_last_event_is_incomplete_exit_4(export_lines: list[str], tmp_path: Path) -> None:
    path = tmp_path / "truncated.jsonl"
    path.write_text("".join(export_lines[:-1]), encoding="utf-8")
    head = json.loads(export_lines[-2])["hash"]
    proc = run_sit("verify", str(path))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert proc.stdout == (f"INCOMPLETE {path}: {len(export_lines) - 1} events, chain intact, head hash {head}; "
                           "no run.finished or run.interrupted: the run is still going or was cut short\n")
    assert proc.stderr == ""


def test_an_export_cut_mid_line_is_incomplete_exit_4(export_lines: list[str], tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text("".join(export_lines[:-1]) + export_lines[-1][:50], encoding="utf-8")
    proc = run_sit("verify", str(path))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"INCOMPLETE {path}: {len(export_lines) - 1} events, chain intact, head hash "), \
        proc.stdout
    assert f"{path}:{len(export_lines)}: the file ends in the middle of an event" in proc.stdout
    assert "no run.finished or run.interrupted" in proc.stdout


def test_a_complete_export_with_an_edited_event_is_tampered_exit_1(export_lines: list[str], tmp_path: Path) -> None:
    """The other verdict, with its own exit code: the whole file is there, but changed."""
    lines = list(export_lines)
    event = json.loads(lines[3])
    lines[3] = canonical({**event, "data": tampered(event["data"])}) + "\n"
    path = tmp_path / "edited.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    proc = run_sit("verify", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == (f"BROKEN {path}: chain broken at event 4: hash does not match its content "
                           f"({len(lines)} events)\n")


def test_the_first_fault_is_named_when_an_unreadable_line_follows_a_break(export_lines: list[str],
                                                                           tmp_path: Path) -> None:
    lines = list(export_lines)
    event = json.loads(lines[3])
    lines[3] = canonical({**event, "data": tampered(event["data"])}) + "\n"
    lines[6] = "not json\n"
    path = tmp_path / "edited.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    proc = run_sit("verify", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == (f"BROKEN {path}: chain broken at event 4: hash does not match its content "
                           "(6 events before an unreadable line)\n")


def test_the_intact_export_still_verifies_exit_0(export_lines: list[str], tmp_path: Path) -> None:
    path = tmp_path / "whole.jsonl"
    path.write_text("".join(export_lines), encoding="utf-8")
    proc = run_sit("verify", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    head = json.loads(export_lines[-1])["hash"]
    assert proc.stdout == f"INTACT {path}: {len(export_lines)} events, head hash {head}\n"


# --- sit verify --all --------------------------------------------------------------------------------

def _add_run(store: Path, run_id: str, kinds: list[str], ts: str) -> str:
    """Append a small run with these kinds after run.started; returns its head hash."""
    with SQLiteStore(store) as events:
        events.append(run_id, "run.started", {"biller": BILLER}, ts=ts)
        last = None
        for n, kind in enumerate(kinds):
            last = events.append(run_id, kind, {"n": n, "status": "passed"}, ts=ts)
        return last.hash if last else ""


def _edit(store: Path, run_id: str, seq: int) -> None:
    conn = sqlite3.connect(store)
    with conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET data = '{\"n\":99}' WHERE run_id = ? AND seq = ?", (run_id, seq))
    conn.close()


@pytest.fixture
def many_runs(demo_run: DemoRun, tmp_path: Path) -> Path:
    """The demo run, then runs that were interrupted, cut short and edited (later timestamps: listed after it)."""
    copy = tmp_path / "events.sqlite"
    shutil.copyfile(demo_run[1], copy)
    _add_run(copy, "z1-interrupted", ["step", "run.interrupted"], "2999-01-01T00:00:01.000000+00:00")
    _add_run(copy, "z2-cut-short", ["step", "step"], "2999-01-01T00:00:02.000000+00:00")
    _add_run(copy, "z3-edited", ["step", "step", "run.finished"], "2999-01-01T00:00:03.000000+00:00")
    _edit(copy, "z3-edited", 2)
    return copy


def test_verify_all_lists_every_run_and_exits_with_the_worst(demo_run: DemoRun, many_runs: Path) -> None:
    run_id = demo_run[0]
    proc = run_sit("verify", "--all", "--store", str(many_runs))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # broken outranks incomplete
    lines = proc.stdout.splitlines()
    assert len(lines) == 5, proc.stdout
    assert lines[0].startswith(f"INTACT {run_id}: ") and " events, head hash " in lines[0]
    assert lines[1].startswith("INTACT z1-interrupted: 3 events, head hash ")  # run.interrupted ends a run
    assert lines[2].startswith("INCOMPLETE z2-cut-short: 3 events, chain intact, head hash ")
    assert lines[3] == "BROKEN z3-edited: chain broken at event 2: hash does not match its content (4 events)"
    assert lines[4] == f"4 runs in {many_runs}: 2 intact, 1 incomplete, 1 broken"
    assert proc.stderr == ""


def test_verify_all_without_a_broken_run_exits_4_for_an_incomplete_one(demo_run: DemoRun, tmp_path: Path) -> None:
    copy = tmp_path / "events.sqlite"
    shutil.copyfile(demo_run[1], copy)
    head = _add_run(copy, "z-running", ["step"], "2999-01-01T00:00:00.000000+00:00")
    proc = run_sit("verify", "--all", "--store", str(copy))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert f"INCOMPLETE z-running: 2 events, chain intact, head hash {head}; " in proc.stdout
    assert proc.stdout.splitlines()[-1] == f"2 runs in {copy}: 1 intact, 1 incomplete, 0 broken"
    single = run_sit("verify", "z-running", "--store", str(copy))
    assert single.returncode == 4 and single.stdout.startswith("INCOMPLETE z-running: "), single.stdout


def test_verify_all_of_an_intact_store_exits_0(demo_run: DemoRun) -> None:
    run_id, store, _ = demo_run
    proc = run_sit("verify", "--all", "--store", str(store))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"INTACT {run_id}: "), proc.stdout
    assert lines[1] == f"1 run in {store}: 1 intact, 0 incomplete, 0 broken"


@pytest.mark.parametrize(("args", "needle"), [
    ([], "verify needs a RUN, an exported FILE.jsonl or --all"),
    (["--all", "RUN"], "give a RUN (or FILE.jsonl) or --all, not both"),
    (["--all", "--signature"], "check signatures one run at a time"),
])
def test_verify_arguments_that_do_not_fit(demo_run: DemoRun, args: list[str], needle: str) -> None:
    args = [demo_run[0] if arg == "RUN" else arg for arg in args]
    assert_one_line_error(run_sit("verify", *args, "--store", str(demo_run[1])), needle, code=2)
