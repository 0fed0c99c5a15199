"""How fast the PostgreSQL event store appends and verifies, beside a plain psycopg + SHA-256 floor of the same run.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_store_postgres.py [--events N] [--batch-events N] [--url URL]``.

Without ``--url`` it starts a throwaway server (``tests/support/postgres.py``) with PostgreSQL's default
durability (fsync on, synchronous_commit on), as a team's server has; each measurement gets a fresh
database. The floor does what any chained log on psycopg must: canonical JSON, SHA-256 over it and the
previous hash (the head kept in memory, no lock, no read), one INSERT per event, committed per event or
per step of 8 (executemany in one transaction). The store adds what makes it safe for many processes:
a per-run advisory lock per transaction and the head check. Floor and store alternate, three rounds,
medians reported: this shared VM's timings swing by a quarter.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from bench.bench_events import event_mix
from harness.events import verify_chain
from harness.events.postgres import PostgresStore
from tests.support.postgres import Server, throwaway_postgres

TARGET_RATIO = 0.7  # appends at least 0.7x of the plain psycopg floor
VERIFY_EVENTS = 100_000
STEP_EVENTS = 8
GENESIS = "0" * 64
ROUNDS = 3

_FLOOR_TABLE = """CREATE TABLE floor_events (run_id text, seq bigint, kind text, ts text, data text,
                  prev_hash text, hash text, PRIMARY KEY (run_id, seq))"""
_FLOOR_INSERT = "INSERT INTO floor_events VALUES (%s, %s, %s, %s, %s, %s, %s)"


def _rows(run_id: str, mix: list[tuple[str, dict[str, Any]]]) -> Iterator[tuple[str, int, str, str, str, str, str]]:
    """The floor's sealing: canonical JSON and SHA-256 chained on the previous hash, written plainly."""
    prev = GENESIS
    for seq, (kind, data) in enumerate(mix, 1):
        ts = "2026-01-01T00:00:00.000000+00:00"
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        body = json.dumps({"data": data, "kind": kind, "prev_hash": prev, "run_id": run_id, "seq": seq, "ts": ts},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(body.encode()).hexdigest()
        yield run_id, seq, kind, ts, text, prev, digest
        prev = digest


def floor_per_event(url: str, mix: list[tuple[str, dict[str, Any]]]) -> None:
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        for row in _rows("floor", mix):
            cur.execute(_FLOOR_INSERT, row)


def floor_per_step(url: str, mix: list[tuple[str, dict[str, Any]]]) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        rows = list(_rows("floor", mix))
        for start in range(0, len(rows), STEP_EVENTS):
            cur.executemany(_FLOOR_INSERT, rows[start : start + STEP_EVENTS])
            conn.commit()


def store_per_event(url: str, mix: list[tuple[str, dict[str, Any]]]) -> None:
    with PostgresStore(url) as store:
        for kind, data in mix:
            store.append("store", kind, data)


def store_per_step(url: str, mix: list[tuple[str, dict[str, Any]]]) -> None:
    with PostgresStore(url) as store:
        for start in range(0, len(mix), STEP_EVENTS):
            with store.batch():
                for kind, data in mix[start : start + STEP_EVENTS]:
                    store.append("store", kind, data)


def rate(server: Server, work: Callable[[str, list[tuple[str, dict[str, Any]]]], None],
         mix: list[tuple[str, dict[str, Any]]]) -> float:
    """Appends/s of ``work`` into a fresh database (its tables made before the clock starts)."""
    url = server.database()
    PostgresStore(url).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_FLOOR_TABLE)
    start = time.perf_counter()
    work(url, mix)
    return len(mix) / (time.perf_counter() - start)


def compare(server: Server, label: str, floor: Callable[..., None], store: Callable[..., None],
            mix: list[tuple[str, dict[str, Any]]]) -> None:
    floors, stores = [], []
    for _ in range(ROUNDS):
        floors.append(rate(server, floor, mix))
        stores.append(rate(server, store, mix))
    f, s = statistics.median(floors), statistics.median(stores)
    verdict = "MET" if s >= TARGET_RATIO * f else "NOT MET"
    print(f"{label:<34} store {s:>8,.0f}/s  floor {f:>8,.0f}/s  ratio {s / f:.2f}  "
          f"target >= {TARGET_RATIO}: {verdict}  ({len(mix):,} events, median of {ROUNDS})")


def verify(server: Server, mix: list[tuple[str, dict[str, Any]]]) -> None:
    url = server.database()
    with PostgresStore(url) as store:
        for start in range(0, len(mix), 1000):
            with store.batch():
                for kind, data in mix[start : start + 1000]:
                    store.append("big", kind, data)
    with PostgresStore(url) as store:
        start = time.perf_counter()
        read = sum(1 for _ in store.events("big"))
        read_took = time.perf_counter() - start
        start = time.perf_counter()
        broken = verify_chain(store.events("big"))
        took = time.perf_counter() - start
    with psycopg.connect(url) as conn:  # the floor: stream the same rows plainly, re-hash each from its stored bytes
        start = time.perf_counter()
        prev = GENESIS
        with conn.cursor("floor") as cur:
            cur.itersize = 2000
            cur.execute("SELECT run_id, seq, kind, ts, data, prev_hash, hash FROM sit_events ORDER BY seq")
            for run_id, seq, kind, ts, data, prev_hash, digest in cur:
                tail = json.dumps({"kind": kind, "prev_hash": prev_hash, "run_id": run_id, "seq": seq, "ts": ts},
                                  separators=(",", ":"), ensure_ascii=False)
                ok = prev_hash == prev and hashlib.sha256(f'{{"data":{data},{tail[1:]}'.encode()).hexdigest() == digest
                assert ok, f"floor: chain broken at {seq}"
                prev = digest
        floor = time.perf_counter() - start
    print(f"{'events() read alone, streamed':<34} store {read_took:>8.2f} s   floor {floor:>6.2f} s   "
          f"({read:,} events; the floor also re-hashes)")
    print(f"{'verify_chain, streamed':<34} store {took:>8.2f} s   floor {floor:>6.2f} s   ratio {took / floor:.1f}x  "
          f"({len(mix):,} events, {broken or 'intact'}; target within 2x of the floor: "
          f"{'MET' if took <= 2 * floor else 'NOT MET'})")


@contextlib.contextmanager
def _server(url: str | None) -> Iterator[Server]:
    if url is None:
        with throwaway_postgres(durable=True) as server:
            yield server
        return

    class Given(Server):  # a server given by URL: each measurement makes and uses a database there
        def database(self) -> str:
            name = f"sit_bench_{time.time_ns()}"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"'.encode())
            return url.rsplit("/", 1)[0] + "/" + name

    yield Given(0, "", __import__("pathlib").Path())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000, help="events per measurement, commit per event")
    parser.add_argument("--batch-events", type=int, default=40_000, help="events per measurement, commit per step")
    parser.add_argument("--url", help="a server to use (postgresql://...); default: a throwaway one")
    args = parser.parse_args()
    with _server(args.url) as server:
        compare(server, "commit per event", floor_per_event, store_per_event, event_mix(args.events))
        compare(server, f"commit per step of {STEP_EVENTS} (batch())", floor_per_step, store_per_step,
                event_mix(args.batch_events))
        verify(server, event_mix(VERIFY_EVENTS))


if __name__ == "__main__":
    main()
