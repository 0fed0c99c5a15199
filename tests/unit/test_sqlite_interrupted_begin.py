"""An interruption that lands just as a SQLite transaction began leaves no transaction open behind it.

Several processes append to one file (parallel billers): a begin waits for the write lock, so a Ctrl-C or
SIGTERM often arrives right as it returns, before the store tracks the transaction. The next append must
still work (the run's `run.interrupted` is written) and the file's write lock must not stay held.
"""

from __future__ import annotations

from pathlib import Path

from harness.events import SQLiteStore


def _interrupted_begin(store: SQLiteStore) -> None:
    store._cur.execute("BEGIN IMMEDIATE")  # what an interruption right after the begin leaves behind


def test_a_plain_append_after_an_interrupted_begin_is_stored(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "events.sqlite") as store:
        store.append("r", "run.started", {})
        _interrupted_begin(store)
        store.append("r", "run.interrupted", {"reason": "SIGTERM"})
        with SQLiteStore(tmp_path / "events.sqlite") as other:  # another process sees it committed
            assert [e.kind for e in other.events("r")] == ["run.started", "run.interrupted"]


def test_a_batch_after_an_interrupted_begin_commits(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "events.sqlite") as store:
        _interrupted_begin(store)
        with store.batch():
            store.append("r", "run.started", {})
        with SQLiteStore(tmp_path / "events.sqlite") as other:
            assert [e.kind for e in other.events("r")] == ["run.started"]
            other.append("r", "run.finished", {"status": "passed"})  # the write lock is free
