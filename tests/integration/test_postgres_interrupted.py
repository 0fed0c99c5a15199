"""An interruption that lands inside a PostgreSQL transaction of the store leaves nothing open behind it.

A Ctrl-C or SIGTERM is raised in Python between two statements: after the store's BEGIN, before its COMMIT.
The next append (the run's `run.interrupted`) must still be committed, not join the half-done transaction
and vanish with the connection; and no head the store remembers may come from rows that were rolled back.
"""

from __future__ import annotations

from harness.events.postgres import PostgresStore


def _interrupted_begin(store: PostgresStore) -> None:
    store._conn.execute("BEGIN")  # what an interruption between the store's BEGIN and its COMMIT leaves behind


def test_a_plain_append_after_an_interrupted_begin_is_committed(postgres_url: str) -> None:
    with PostgresStore(postgres_url) as store:
        store.append("r", "run.started", {})
        _interrupted_begin(store)
        store.append("r", "run.interrupted", {"reason": "SIGTERM"})
        with PostgresStore(postgres_url) as other:  # another process sees it committed
            assert [e.kind for e in other.events("r")] == ["run.started", "run.interrupted"]


def test_a_batch_after_an_interrupted_begin_commits(postgres_url: str) -> None:
    with PostgresStore(postgres_url) as store:
        _interrupted_begin(store)
        with store.batch():
            store.append("r", "run.started", {})
        with PostgresStore(postgres_url) as other:
            assert [e.kind for e in other.events("r")] == ["run.started"]
            other.append("r", "run.finished", {"status": "passed"})  # no lock of the run stays held


def test_rows_of_an_interrupted_transaction_leave_no_head_behind(postgres_url: str) -> None:
    with PostgresStore(postgres_url) as store:
        store.append("r", "run.started", {})
        _interrupted_begin(store)
        store.append("r", "step.started", {})  # joins the leftover transaction unless the store ends it first
        store._conn.execute("ROLLBACK")  # what closing the connection would do to a transaction left open
        store.append("r", "run.finished", {"status": "passed"})
        with PostgresStore(postgres_url) as other:
            events = list(other.events("r"))
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
