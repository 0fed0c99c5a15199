"""How fast the event log is: appends/s through a Recorder, chain verification, integrity check, JSONL export.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_events.py [--events N]``.

The headline figure appends a run-like mix of events through the Recorder, so redaction
is paid, and commits once per step of 8 events as a run does (an event is committed
before its step is reported). The mix follows the demo run's kinds (step lifecycle,
expectations, platform actions), with one partner exchange in 8 events where the demo
run has one in 19, and one exchange in ten carrying a secret in its URL and body.
One commit per event and the store alone are printed beside it for comparison.

Each figure is printed beside its floor, measured in the same run on the same disk: plain
``sqlite3`` with the store's durability (WAL, synchronous=NORMAL) inserting the same rows, each
hashed with SHA-256 over its fields and the previous hash, and nothing else; for verification,
reading those rows back and recomputing the hashes. Targets (issue 13): appends at least 0.7x of
the floor, committing per event and per step alike; verification within 2x of its floor, and
1,000,000 events under 3 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.events import Recorder, Redactor, SQLiteStore, verify_chain, write_jsonl

APPEND_RATIO = 0.7  # appends: at least this share of the plain sqlite3 floor
VERIFY_RATIO = 2.0  # verification: at most this many times the floor's time
VERIFY_MILLION_S = 3.0  # and 1,000,000 events verified in under this
STEP_EVENTS = 8
SECRET = "pa55-w0rd-canary"


def exchange(n: int) -> dict[str, Any]:
    """A partner exchange as WireMock's journal gives it; every tenth leaks a secret to mask."""
    leak = n % 10 == 0
    return {
        "call": "AddARItem",
        "method": "POST",
        "url": f"/CayentaAPI/XMLRequest?account={n}" + (f"&BK={SECRET}" if leak else ""),
        "request_headers": {"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic ZGVtbzp4"},
        "request_body": f"XMLREQUEST=<Request><AddARItem><Params><ACCOUNT_NO>{n:09d}</ACCOUNT_NO>"
        f"<AMOUNT>12.50</AMOUNT>{f'<PASSWORD>{SECRET}</PASSWORD>' if leak else ''}</Params></AddARItem></Request>",
        "status": 200,
        "response_body": "<Reply><AddARItem><STATUS>0</STATUS><Params><STATUS>0</STATUS></Params></AddARItem></Reply>",
    }


def event_mix(n: int) -> list[tuple[str, dict[str, Any]]]:
    shapes: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        ("step.started", lambda i: {"sit_id": "SIT-PAY-001", "keyword": "When", "text": f"the payer pays {i}"}),
        ("platform.tx_created", lambda i: {"key": f"P{i}", "kind": "payment", "account": f"{i:09d}",
                                           "amount": "12.50", "method": "ACH"}),
        ("partner.exchange", exchange),
        ("platform.pump_posted", lambda i: {"key": f"P{i}", "attempts": 1, "partner_ref": f"AR-{i}"}),
        ("scenario.started", lambda i: {"sit_id": "SIT-PAY-001", "name": "A card payment posts to the partner",
                                        "feature": "Payment posting (data pump)", "tags": ["SIT-PAY-001"]}),
        ("expectation", lambda i: {"what": "payment status", "expected": "posted", "actual": "posted", "ok": True}),
        ("step.finished", lambda i: {"sit_id": "SIT-PAY-001", "status": "passed", "duration_ms": 3}),
    ]
    return [(shapes[i % len(shapes)][0], shapes[i % len(shapes)][1](i)) for i in range(n)]


def timed(label: str, n: int, work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    rate = n / (time.perf_counter() - start)
    print(f"{label:<58} {rate:>9,.0f} appends/s")
    return rate


def floor_appends(path: Path, rows: list[tuple[str, dict[str, Any]]], per_commit: int) -> None:
    """The floor: plain sqlite3, the same durability, each row hashed over its fields and the previous hash."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS events (run_id TEXT, seq INTEGER, kind TEXT, ts TEXT, data TEXT, "
                 "prev_hash TEXT, hash TEXT, PRIMARY KEY (run_id, seq))")
    run_id, prev = f"floor-{per_commit}", "0" * 64
    for start in range(0, len(rows), per_commit):
        conn.execute("BEGIN IMMEDIATE")
        for seq, (kind, data) in enumerate(rows[start:start + per_commit], start + 1):
            text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            ts = "2026-11-30T10:00:00.000000+00:00"
            prev_hash, prev = prev, hashlib.sha256(f"{run_id}|{seq}|{kind}|{ts}|{text}|{prev}".encode()).hexdigest()
            conn.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", (run_id, seq, kind, ts, text, prev_hash,
                                                                           prev))
        conn.execute("COMMIT")
    conn.close()


def floor_verify(path: Path, run_id: str) -> int:
    """The floor of verification: read the run's rows in order and recompute each hash."""
    conn = sqlite3.connect(path)
    prev, n = "0" * 64, 0
    for seq, kind, ts, text, prev_hash, stored in conn.execute(
            "SELECT seq, kind, ts, data, prev_hash, hash FROM events WHERE run_id = ? ORDER BY seq", (run_id,)):
        if prev_hash != prev or hashlib.sha256(f"{run_id}|{seq}|{kind}|{ts}|{text}|{prev}".encode()).hexdigest() \
                != stored:
            raise AssertionError(f"the floor's own chain broke at {seq}")
        prev, n = stored, n + 1
    conn.close()
    return n


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to append (default 100000)")
    parser.add_argument("--verify-events", type=int, default=1_000_000,
                        help="events of the run whose verification is timed against the 3 s target (default 1000000)")
    args = parser.parse_args()
    n = args.events
    mix = event_mix(n)  # built up front: not part of the measured cost
    redactor = Redactor([SECRET])
    redacted = [(k, redactor.redact(d)) for k, d in mix]

    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "events.db") as store:
        def run_like(run_id: str) -> None:
            recorder = Recorder(store, run_id, Redactor([SECRET]))
            for start in range(0, n, STEP_EVENTS):
                with recorder.batch():
                    for kind, data in mix[start : start + STEP_EVENTS]:
                        recorder.append(kind, **data)

        def store_steps(run_id: str) -> None:
            for start in range(0, n, STEP_EVENTS):
                with store.batch():
                    for kind, data in redacted[start : start + STEP_EVENTS]:
                        store.append(run_id, kind, data)

        floor = Path(tmp) / "floor.db"
        # Three tries each, floor and store alternating, the medians compared: this shared VM's timings swing.
        step_floor, step_store, one_floor, one_store = [], [], [], []
        for i in (1, 2, 3):
            step_floor.append(timed(f"floor: sqlite3 + SHA-256, commit per {STEP_EVENTS}, try {i}", n,
                                    lambda: floor_appends(floor, redacted, STEP_EVENTS)))
            step_store.append(timed(f"store, commit per step of {STEP_EVENTS} (batch), try {i}", n,
                                    lambda i=i: store_steps(f"bench-steps-{i}")))
            one_floor.append(timed(f"floor: sqlite3 + SHA-256, commit per event, try {i}", n,
                                   lambda: floor_appends(floor, redacted, 1)))
            one_store.append(timed(f"store, commit per event, try {i}", n,
                                   lambda i=i: [store.append(f"bench-one-{i}", k, d) for k, d in redacted]))
            floor.unlink()
        rate = timed(f"Recorder (redaction too), commit per step of {STEP_EVENTS}, as a run", n,
                     lambda: run_like("bench-run"))
        single = Recorder(store, "bench-single", Redactor([SECRET]))
        timed("Recorder (redaction too), commit per event", n, lambda: [single.append(k, **d) for k, d in mix])

        total = sum(1 for run_id in store.run_ids() for _ in store.events(run_id))
        for check in ("quick_check", "integrity_check"):  # what opening a store for a writer or verifier adds
            start = time.perf_counter()
            SQLiteStore(Path(tmp) / "events.db", check=check).close()
            took = time.perf_counter() - start
            print(f"{f'open + PRAGMA {check}, store of {total:,} events':<58} {took:>9.2f} s "
                  f"({took * 100_000 / total:.2f} s per 100k events)")
        start = time.perf_counter()
        written = write_jsonl(store.events("bench-run"), Path(tmp) / "run.jsonl")
        took = time.perf_counter() - start
        size = (Path(tmp) / "run.jsonl").stat().st_size
        print(f"{'JSONL export':<58} {took:>9.2f} s ({written} events, {size / 1e6:.1f} MB)")
    verify_s, verify_floor_s = verify_against_floor(redacted)
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "events.db") as store:
        million_s = verify_many(store, args.verify_events)

    step_ratio = statistics.median(step_store) / statistics.median(step_floor)
    one_ratio = statistics.median(one_store) / statistics.median(one_floor)
    verify_ratio = verify_s / verify_floor_s
    print()
    print(f"appends per step: {statistics.median(step_store):,.0f}/s against the floor's "
          f"{statistics.median(step_floor):,.0f}/s = {step_ratio:.2f}x; target >= {APPEND_RATIO}x: "
          f"{verdict(step_ratio >= APPEND_RATIO)}")
    print(f"appends per event: {statistics.median(one_store):,.0f}/s against the floor's "
          f"{statistics.median(one_floor):,.0f}/s = {one_ratio:.2f}x; target >= {APPEND_RATIO}x: "
          f"{verdict(one_ratio >= APPEND_RATIO)}")
    print(f"as a run (Recorder, redaction too): {rate:,.0f}/s = {rate / statistics.median(step_floor):.2f}x the floor")
    print(f"verify {n:,} events: {verify_s:.2f} s against the floor's {verify_floor_s:.2f} s = {verify_ratio:.2f}x; "
          f"target <= {VERIFY_RATIO}x: {verdict(verify_ratio <= VERIFY_RATIO)}")
    print(f"verify {args.verify_events:,} events: {million_s:.2f} s; target < {VERIFY_MILLION_S} s: "
          f"{verdict(million_s < VERIFY_MILLION_S)}")


def verify_against_floor(rows: list[tuple[str, dict[str, Any]]]) -> tuple[float, float]:
    """Median seconds to verify one run of ``rows`` from a store, and the floor's for the same rows; both
    written alike (commits of 1,000) into a fresh file, the tries alternating."""
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "events.db") as store:
        for start in range(0, len(rows), 1000):
            with store.batch():
                for kind, data in rows[start:start + 1000]:
                    store.append("bench-verify", kind, data)
        floor_appends(Path(tmp) / "floor.db", rows, 1000)
        ours, floors = [], []
        for _ in range(3):
            start = time.perf_counter()
            broken = verify_chain(store.events("bench-verify"))
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            floor_verify(Path(tmp) / "floor.db", "floor-1000")
            floors.append(time.perf_counter() - start)
        took, floor = statistics.median(ours), statistics.median(floors)
    print(f"{f'verify_chain, {len(rows):,} events streamed from the store':<58} {took:>9.2f} s "
          f"({len(rows) / took:,.0f} events/s, {broken})")
    print(f"{'floor: read the rows, recompute SHA-256':<58} {floor:>9.2f} s")
    return took, floor


def verify_many(store: SQLiteStore, count: int) -> float:
    """Seconds to verify one run of ``count`` small events (appended in large batches, not timed)."""
    for start in range(0, count, 10_000):
        with store.batch():
            for i in range(start, min(start + 10_000, count)):
                store.append("bench-million", "step.finished", {"n": i, "status": "passed"})
    start = time.perf_counter()
    broken = verify_chain(store.events("bench-million"))
    took = time.perf_counter() - start
    print(f"{f'verify_chain, one run of {count:,} events':<58} {took:>9.2f} s ({broken})")
    return took


if __name__ == "__main__":
    main()
