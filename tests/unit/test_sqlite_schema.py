"""The SQLite store's indexes: a run's own events are found through events_run_kinds, and a store made before
that index (with one on every kind) still appends, lists and verifies."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.events import SQLiteStore, verify_chain
from harness.events import sqlite as sqlite_store

# The schema stores were created with before events_run_kinds (issue 13): an index on every kind.
EARLIER_SCHEMA = tuple(
    "CREATE INDEX events_kind ON events (kind)" if "events_run_kinds" in statement else statement
    for statement in sqlite_store._SCHEMA
)


def _fill(store: SQLiteStore) -> None:
    for run_id in ("r1", "r2"):
        store.append(run_id, "run.started", {"run": run_id})
        with store.batch():
            for n in range(5):
                store.append(run_id, "step.finished", {"n": n})
        store.append(run_id, "run.finished", {"status": "passed"})


def _plans(path: Path) -> list[str]:
    """The query plans of the two lookups of a run's own events (across runs, and of one run)."""
    conn = sqlite3.connect(path)
    try:
        details = []
        for sql, params in ((sqlite_store.SQLiteStore._kinds_sql(["run.started", "run.finished"], None),
                             ("run.started", "run.finished")),
                            (sqlite_store.SQLiteStore._kinds_sql(["run.finished"], "r1"), ("r1", "run.finished"))):
            details.append(" / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)))
        return details
    finally:
        conn.close()


def _listing(store: SQLiteStore) -> list[tuple[str, int, str]]:
    return [(e.run_id, e.seq, e.kind) for e in store.events_of_kind(["run.started", "run.finished"])]


def test_only_a_runs_own_events_are_indexed_and_lookups_use_that_index(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    with SQLiteStore(path) as store:
        _fill(store)
        assert _listing(store) == [("r1", 1, "run.started"), ("r1", 7, "run.finished"),
                                   ("r2", 1, "run.started"), ("r2", 7, "run.finished")]
        assert [e.seq for e in store.events_of_kind(["run.finished"], "r2")] == [7]
        # Other kinds are still found, by reading the runs.
        assert [(e.run_id, e.seq) for e in store.events_of_kind(["step.finished"], "r1")] == [
            ("r1", seq) for seq in range(2, 7)]
        assert len(list(store.events_of_kind({"step.finished", "run.started"}))) == 12
    conn = sqlite3.connect(path)
    indexed = conn.execute("SELECT count(*) FROM events INDEXED BY events_run_kinds "
                           f"WHERE {sqlite_store._RUN_KINDS}").fetchone()[0]
    indexes = sorted(name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                      "AND name NOT LIKE 'sqlite_%'"))
    conn.close()
    assert (indexed, indexes) == (4, ["events_run_kinds", "events_run_start"])
    assert all("USING INDEX events_run_kinds" in plan for plan in _plans(path)), _plans(path)


def test_a_store_made_with_the_earlier_index_still_works(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in EARLIER_SCHEMA:
        conn.execute(statement)
    conn.close()
    with SQLiteStore(path, check="integrity_check") as store:
        _fill(store)
        assert _listing(store) == [("r1", 1, "run.started"), ("r1", 7, "run.finished"),
                                   ("r2", 1, "run.started"), ("r2", 7, "run.finished")]
        assert [e.seq for e in store.events_of_kind(["run.finished"], "r2")] == [7]
        assert all(verify_chain(store.events(run_id)) is None for run_id in ("r1", "r2"))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'events_%kind%'").fetchall() == [
        ("events_kind",)]
    conn.close()
