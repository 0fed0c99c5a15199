"""The contract every EventStore must meet, run against each implementation.

To cover a new store, add one entry to STORES: a function that, given a fresh temp
dir, returns a picklable zero-argument factory opening (or reopening) one store.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from functools import partial
from itertools import pairwise
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from harness.events import GENESIS, EventLogError, EventStore, SQLiteStore, verify_chain

StoreFactory = Callable[[], EventStore]

STORES: dict[str, Callable[[Path], StoreFactory]] = {
    "sqlite": lambda tmp: partial(SQLiteStore, tmp / "store" / "events.db"),
}


@pytest.fixture(params=sorted(STORES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return STORES[request.param](tmp_path)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[EventStore]:
    with store_factory() as opened:
        yield opened


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


def test_concurrent_appends_from_two_processes_keep_one_chain(store_factory: StoreFactory) -> None:
    store_factory().close()  # created once up front, as a run would
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)
    workers = [ctx.Process(target=_append_many, args=(store_factory, w, 300, start)) for w in (1, 2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    with store_factory() as store:
        events = list(store.events("shared"))
        assert verify_chain(events) is None
        assert [e.seq for e in events] == list(range(1, 601))
        for worker in (1, 2):
            assert [e.data["n"] for e in events if e.data.get("worker") == worker] == list(range(300))


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
