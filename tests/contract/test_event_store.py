"""The contract every EventStore must meet, run against each implementation.

To cover a new store, add one entry to STORES: a function that, given the test's
request and a fresh temp dir, returns a picklable zero-argument factory opening (or
reopening) one store; and one to RAW_SQL: how to run a statement on the store's
database with a plain client, bypassing the store (what someone with SQL access can do).
The PostgreSQL store runs on a throwaway server (``tests/support/postgres.py``),
a fresh database per test.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import pairwise
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from harness.events import GENESIS, EventLogError, EventStore, SQLiteStore, verify_chain
from harness.events.postgres import PostgresStore

StoreFactory = Callable[[], EventStore]


def _sqlite_sql(factory: StoreFactory, statement: str) -> None:
    with sqlite3.connect(factory.args[0]) as conn:  # type: ignore[attr-defined]
        conn.execute(statement.replace("{events}", "events"))


def _postgres_sql(factory: StoreFactory, statement: str) -> None:
    import psycopg

    with psycopg.connect(factory.args[0], autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute(statement.replace("{events}", "sit_events").encode())


STORES: dict[str, Callable[[pytest.FixtureRequest, Path], StoreFactory]] = {
    "sqlite": lambda request, tmp: partial(SQLiteStore, tmp / "store" / "events.db"),
    "postgresql": lambda request, tmp: partial(PostgresStore, request.getfixturevalue("postgres_url")),
}
RAW_SQL: dict[str, Callable[[StoreFactory, str], None]] = {"sqlite": _sqlite_sql, "postgresql": _postgres_sql}


@pytest.fixture(params=sorted(STORES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return STORES[request.param](request, tmp_path)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[EventStore]:
    with store_factory() as opened:
        yield opened


@pytest.fixture
def raw_sql(request: pytest.FixtureRequest, store_factory: StoreFactory) -> Callable[[str], None]:
    """Run one statement on the store's database with a plain client; ``{events}`` names its events table."""
    return partial(RAW_SQL[request.node.callspec.params["store_factory"]], store_factory)


def test_append_then_read_in_order(store: EventStore) -> None:
    appended = [store.append("r1", "step", {"n": n}) for n in range(5)]
    read = list(store.events("r1"))
    assert read == appended
    assert [e.data["n"] for e in read] == [0, 1, 2, 3, 4]
    assert [e.seq for e in store.events("r1", after_seq=3)] == [4, 5]


def test_seq_is_consecutive_and_chained(store: EventStore) -> None:
    events = [store.append("r1", "step", {}) for _ in range(4)]
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))


def test_runs_have_independent_chains(store: EventStore) -> None:
    a1 = store.append("a", "step", {"x": 1})
    b1 = store.append("b", "step", {"x": 1})
    a2 = store.append("a", "step", {"x": 2})
    assert (a1.seq, b1.seq, a2.seq) == (1, 1, 2)
    assert b1.prev_hash == GENESIS
    assert a2.prev_hash == a1.hash
    assert verify_chain(store.events("a")) is None
    assert verify_chain(store.events("b")) is None


def test_head(store: EventStore) -> None:
    assert store.head("r1") is None
    store.append("r1", "step", {"n": 1})
    last = store.append("r1", "step", {"n": 2})
    store.append("r2", "step", {"n": 3})
    assert store.head("r1") == last


def test_run_ids_in_order_of_first_event_ts(store: EventStore) -> None:
    store.append("late", "run.started", {}, ts="2026-01-02T00:00:00.000000+00:00")
    store.append("early", "run.started", {}, ts="2026-01-01T00:00:00.000000+00:00")
    store.append("late", "step", {}, ts="2026-01-03T00:00:00.000000+00:00")
    assert store.run_ids() == ["early", "late"]


def test_events_of_kind_across_runs(store: EventStore) -> None:
    store.append("b", "run.started", {}, ts="2026-01-02T00:00:00.000000+00:00")
    store.append("a", "run.started", {}, ts="2026-01-01T00:00:00.000000+00:00")
    store.append("b", "step", {}, ts="2026-01-02T00:00:01.000000+00:00")
    store.append("b", "run.finished", {"ok": True}, ts="2026-01-02T00:00:02.000000+00:00")
    store.append("a", "run.finished", {"ok": False}, ts="2026-01-02T00:00:03.000000+00:00")
    found = [(e.run_id, e.kind, e.seq) for e in store.events_of_kind({"run.started", "run.finished"})]
    assert found == [
        ("a", "run.started", 1),
        ("a", "run.finished", 2),
        ("b", "run.started", 1),
        ("b", "run.finished", 3),
    ]
    assert list(store.events_of_kind(["nothing"])) == []


def test_reopen_keeps_everything(store_factory: StoreFactory) -> None:
    with store_factory() as store:
        first = [store.append("r1", "step", {"n": n, "text": "é ✓"}) for n in range(3)]
    with store_factory() as store:
        assert list(store.events("r1")) == first
        assert store.append("r1", "step", {}).prev_hash == first[-1].hash


def test_verify_chain_passes_on_what_was_appended(store: EventStore) -> None:
    for n in range(50):
        store.append("r1", "step", {"n": n, "nested": {"list": [1, 2.5, None, "x"]}})
    assert verify_chain(store.events("r1")) is None


@pytest.mark.parametrize("bad", [{"x": object()}, {"x": float("nan")}, {"x": {1, 2}}])
def test_unserialisable_data_is_refused_and_nothing_written(store: EventStore, bad: dict) -> None:
    store.append("r1", "step", {"n": 1})
    with pytest.raises(EventLogError, match="not JSON-serialisable"):
        store.append("r1", "step", bad)
    assert [e.seq for e in store.events("r1")] == [1]
    assert store.head("r1").seq == 1  # type: ignore[union-attr]


def _append_many(factory: StoreFactory, worker: int, count: int, start: Barrier) -> None:
    with factory() as store:
        start.wait()  # both processes append at the same time, so they really contend
        for n in range(count):
            store.append("shared", "step", {"worker": worker, "n": n})


def at_once(target: Callable[..., None], store_factory: StoreFactory, workers: Iterable[int], *args: object) -> None:
    """``target(store_factory, worker, *args, start)`` in one forked process per worker, released together by a
    barrier so that they really contend; each must exit 0."""
    ctx = multiprocessing.get_context("fork")
    numbers = list(workers)
    start = ctx.Barrier(len(numbers))
    processes = [ctx.Process(target=target, args=(store_factory, w, *args, start)) for w in numbers]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0


def test_concurrent_appends_from_two_processes_keep_one_chain(store_factory: StoreFactory) -> None:
    store_factory().close()  # created once up front, as a run would
    at_once(_append_many, store_factory, (1, 2), 300)
    with store_factory() as store:
        events = list(store.events("shared"))
        assert verify_chain(events) is None
        assert [e.seq for e in events] == list(range(1, 601))
        for worker in (1, 2):
            assert [e.data["n"] for e in events if e.data.get("worker") == worker] == list(range(300))


def test_appends_taking_turns_from_two_connections_keep_one_chain(store_factory: StoreFactory) -> None:
    """Each connection's next append follows the other's: whatever a store remembers of a run's head, the
    chain stays one, with consecutive seqs, plain appends and batches alike."""
    with store_factory() as a, store_factory() as b:
        for n in range(3):
            a.append("r", "step", {"by": "a", "n": n})
            b.append("r", "step", {"by": "b", "n": n})
        with a.batch():
            a.append("r", "step", {"by": "a", "n": 3})
        b.append("r", "step", {"by": "b", "n": 3})
        a.append("r", "step", {"by": "a", "n": 4})
        events = list(a.events("r"))
    assert [e.seq for e in events] == list(range(1, 10))
    assert [e.data["by"] for e in events] == ["a", "b"] * 4 + ["a"]
    assert verify_chain(events) is None


def test_batch_commits_once_and_keeps_the_chain(store_factory: StoreFactory) -> None:
    writer, reader = store_factory(), store_factory()
    try:
        with writer.batch():
            for i in range(5):
                writer.append("r", "k", {"i": i})
            writer.append("other", "k", {"i": 0})
        assert [e.data["i"] for e in reader.events("r")] == [0, 1, 2, 3, 4]
        assert verify_chain(reader.events("r")) is None
        assert reader.head("other") is not None
    finally:
        writer.close()
        reader.close()


def test_batch_commits_what_was_appended_when_the_block_raises(store: EventStore) -> None:
    with pytest.raises(RuntimeError), store.batch():
        store.append("r", "step.started", {})
        raise RuntimeError("the step failed")
    assert [e.kind for e in store.events("r")] == ["step.started"]
    store.append("r", "step.finished", {})
    assert verify_chain(store.events("r")) is None


def test_nested_batches_join_the_outer_one(store: EventStore) -> None:
    with store.batch():
        store.append("r", "a", {})
        with store.batch():
            store.append("r", "b", {})
        store.append("r", "c", {})
    assert [e.seq for e in store.events("r")] == [1, 2, 3]
    assert verify_chain(store.events("r")) is None


def test_reads_inside_a_batch_see_what_it_appended(store: EventStore) -> None:
    with store.batch():
        store.append("r", "a", {})
        assert store.head("r") is not None and store.head("r").seq == 1
        store.append("r", "b", {})
        assert [e.kind for e in store.events("r")] == ["a", "b"]
        assert store.run_ids() == ["r"]
        store.append("r", "c", {})
    assert [e.seq for e in store.events("r")] == [1, 2, 3]
    assert verify_chain(store.events("r")) is None


def test_opening_the_store_to_read_never_waits_on_a_run_holding_its_write_lock(store_factory: StoreFactory) -> None:
    """`sit runs` beside a run stopped in the middle of an append (SIGSTOP, a debugger): it reads what was
    committed at once, instead of waiting out the busy timeout on the write lock it does not need."""
    with store_factory() as writer:
        writer.append("run-a", "run.started", {})
        with writer.batch():  # the write transaction stays open: the run is "stopped" mid-batch
            writer.append("run-a", "step.started", {})
            started = time.monotonic()
            with store_factory() as reader:
                assert reader.run_ids() == ["run-a"]
                assert [e.kind for e in reader.events("run-a")] == ["run.started"]
            assert time.monotonic() - started < 5.0


@pytest.mark.parametrize("statement", [
    "UPDATE {events} SET kind = 'forged' WHERE seq = 2",
    "UPDATE {events} SET data = '{{}}'",
    "DELETE FROM {events} WHERE seq = 3",
    "DELETE FROM {events}",
])
def test_the_database_itself_refuses_to_rewrite_history(
    store_factory: StoreFactory, raw_sql: Callable[[str], None], statement: str
) -> None:
    """Append-only is the database's rule, not only the store's: a plain SQL client is refused too."""
    with store_factory() as store:
        appended = [store.append("r1", "step", {"n": n}) for n in range(3)]
    with pytest.raises(Exception, match="append-only"):
        raw_sql(statement)
    with store_factory() as store:
        assert list(store.events("r1")) == appended


def _append_to_own_and_shared(factory: StoreFactory, worker: int, count: int, start: Barrier) -> None:
    with factory() as store:
        start.wait()
        for n in range(count):
            store.append(f"run-{worker}", "step", {"n": n})
            store.append("shared", "step", {"worker": worker, "n": n})


def test_concurrent_appenders_to_their_own_runs_and_one_shared(store_factory: StoreFactory) -> None:
    store_factory().close()
    at_once(_append_to_own_and_shared, store_factory, (1, 2, 3), 100)
    with store_factory() as store:
        for worker in (1, 2, 3):
            own = list(store.events(f"run-{worker}"))
            assert verify_chain(own) is None
            assert [e.data["n"] for e in own] == list(range(100))
        shared = list(store.events("shared"))
        assert verify_chain(shared) is None
        assert len(shared) == 300
        assert sorted(store.run_ids()) == ["run-1", "run-2", "run-3", "shared"]


def _append_in_batches(factory: StoreFactory, worker: int, batches: int, start: Barrier) -> None:
    with factory() as store:
        start.wait()
        for b in range(batches):
            with store.batch():
                for i in range(5):
                    store.append("shared", "step", {"worker": worker, "batch": b, "i": i})


def test_concurrent_batches_to_one_run_keep_one_chain_and_each_batch_whole(store_factory: StoreFactory) -> None:
    """Group commit under contention: each process's batch of a step lands as one unbroken stretch of the chain."""
    store_factory().close()
    at_once(_append_in_batches, store_factory, (1, 2), 40)
    with store_factory() as store:
        events = list(store.events("shared"))
    assert verify_chain(events) is None
    assert len(events) == 400
    stretches = [[(e.data["worker"], e.data["batch"]) for e in events[i : i + 5]] for i in range(0, 400, 5)]
    assert all(len(set(stretch)) == 1 for stretch in stretches)
    assert sorted(stretch[0] for stretch in stretches) == [(w, b) for w in (1, 2) for b in range(40)]


def _open_and_append(factory: StoreFactory, worker: int, start: Barrier) -> None:
    start.wait()
    with factory() as store:
        store.append(f"run-{worker}", "run.started", {})


def test_several_processes_opening_a_fresh_store_at_once_create_it_once(store_factory: StoreFactory) -> None:
    at_once(_open_and_append, store_factory, range(4))
    with store_factory() as store:
        assert sorted(store.run_ids()) == [f"run-{w}" for w in range(4)]


def test_a_batch_is_seen_by_others_only_once_it_ends_and_then_whole(store_factory: StoreFactory) -> None:
    with store_factory() as writer, store_factory() as reader:
        with writer.batch():
            for i in range(3):
                writer.append("r", "k", {"i": i})
            assert reader.head("r") is None
            assert list(reader.events("r")) == []
        assert [e.seq for e in reader.events("r")] == [1, 2, 3]


def test_running_is_seen_from_another_connection_and_only_while_it_runs(store_factory: StoreFactory) -> None:
    with store_factory() as runner, store_factory() as reader:
        assert not reader.is_running("r1")
        with runner.running("r1"):
            assert reader.is_running("r1")
            assert runner.is_running("r1")
            assert not reader.is_running("r2")
            with pytest.raises(EventLogError, match="already running"), reader.running("r1"):
                pass
        assert not reader.is_running("r1")


def _hold_running(factory: StoreFactory, ready: Barrier) -> None:
    store = factory()
    with store.running("held"):
        ready.wait()
        time.sleep(120)


def test_a_killed_process_run_is_never_seen_running(store_factory: StoreFactory) -> None:
    """kill -9 gives the process no chance to let go: the lock must go with the process itself."""
    store_factory().close()
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Barrier(2)
    process = ctx.Process(target=_hold_running, args=(store_factory, ready))
    process.start()
    try:
        ready.wait(timeout=60)
        with store_factory() as reader:
            assert reader.is_running("held")
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
            process.join(timeout=10)
            deadline = time.monotonic() + 5  # the server notices a closed socket at once; give it a moment
            while reader.is_running("held") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not reader.is_running("held")
    finally:
        if process.is_alive():
            process.kill()
            process.join()


def _batches_over_two_runs(factory: StoreFactory, worker: int, batches: int, start: Barrier) -> None:
    order = ("a", "b") if worker == 1 else ("b", "a")
    with factory() as store:
        start.wait()
        for n in range(batches):
            with store.batch():
                for run_id in order:
                    store.append(run_id, "step", {"worker": worker, "n": n})


def test_batches_touching_runs_in_opposite_orders_neither_deadlock_nor_lose_events(
    store_factory: StoreFactory,
) -> None:
    store_factory().close()
    at_once(_batches_over_two_runs, store_factory, (1, 2), 100)
    with store_factory() as store:
        for run_id in ("a", "b"):
            events = list(store.events(run_id))
            assert verify_chain(events) is None
            for worker in (1, 2):
                assert [e.data["n"] for e in events if e.data["worker"] == worker] == list(range(100))


def test_a_step_of_a_run_held_running_keeps_no_other_run_waiting(store_factory: StoreFactory) -> None:
    """Parallel billers: while one process's run is in a step (its batch open, a partner call under way), another
    process's run appends and commits its own steps at once, rather than waiting for that step to end."""
    store_factory().close()
    with store_factory() as first, store_factory() as second, first.running("run-a"), second.running("run-b"):
        first.append("run-a", "run.started", {})
        with first.batch():
            first.append("run-a", "step.started", {})
            started = time.monotonic()
            with second.batch():
                second.append("run-b", "step.started", {})
            second.append("run-b", "step.finished", {})
            assert time.monotonic() - started < 5.0
            first.append("run-a", "step.finished", {})
        assert [e.kind for e in second.events("run-b")] == ["step.started", "step.finished"]
        assert [e.kind for e in first.events("run-a")] == ["run.started", "step.started", "step.finished"]
        assert verify_chain(first.events("run-a")) is None


def test_a_held_runs_batch_that_another_process_appended_under_is_refused_whole(tmp_path: Path) -> None:
    """SQLite seals a held run's batch without the write lock: a process that appends to the run all the same
    gets its event in, and the batch is refused whole with one line (never a fork, never half a batch)."""
    path = tmp_path / "events.db"
    with SQLiteStore(path) as owner, SQLiteStore(path) as intruder, owner.running("r"):
        owner.append("r", "run.started", {})
        with pytest.raises(EventLogError, match="another process appended to run r") as refused, owner.batch():
            owner.append("r", "step.started", {})
            owner.append("r", "step.finished", {})
            intruder.append("r", "forged", {})
        assert "\n" not in str(refused.value)
        assert [e.kind for e in owner.events("r")] == ["run.started", "forged"]
        assert verify_chain(owner.events("r")) is None
        owner.append("r", "run.finished", {})  # the store goes on from the file's head
        assert [e.seq for e in owner.events("r")] == [1, 2, 3]
