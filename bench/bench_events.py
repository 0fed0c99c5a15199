"""How fast the event log is: appends/s through a Recorder, chain verification, integrity check, JSONL export.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_events.py [--events N]``.

The headline figure appends a run-like mix of events through the Recorder, so redaction
is paid, and commits once per step of 8 events as a run does (an event is committed
before its step is reported). The mix follows the demo run's kinds (step lifecycle,
expectations, platform actions), with one partner exchange in 8 events where the demo
run has one in 19, and one exchange in ten carrying a secret in its URL and body.
One commit per event and the store alone are printed beside it for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.events import Recorder, Redactor, SQLiteStore, verify_chain, write_jsonl

TARGET_APPENDS_PER_S = 20_000
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


def timed(label: str, n: int, work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    rate = n / (time.perf_counter() - start)
    print(f"{label:<58} {rate:>9,.0f} appends/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to append (default 100000)")
    n = parser.parse_args().events
    mix = event_mix(n)  # built up front: not part of the measured cost

    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "events.db") as store:
        def run_like(run_id: str) -> None:
            recorder = Recorder(store, run_id, Redactor([SECRET]))
            for start in range(0, n, STEP_EVENTS):
                with recorder.batch():
                    for kind, data in mix[start : start + STEP_EVENTS]:
                        recorder.append(kind, **data)


        # Three runs, the median reported: this shared VM's timings swing by a quarter.
        label = f"Recorder, commit per step of {STEP_EVENTS} events (as a run), try"
        rate = statistics.median(timed(f"{label} {i}", n, lambda i=i: run_like(f"bench-run-{i}")) for i in (1, 2, 3))
        single = Recorder(store, "bench-single", Redactor([SECRET]))
        timed("Recorder, commit per event", n, lambda: [single.append(k, **d) for k, d in mix])
        redactor = Redactor([SECRET])
        redacted = [(k, redactor.redact(d)) for k, d in mix]
        timed("store alone, commit per event, data already redacted", n,
              lambda: [store.append("bench-store", k, d) for k, d in redacted])

        start = time.perf_counter()
        broken = verify_chain(store.events("bench-run-1"))
        took = time.perf_counter() - start
        print(f"{'verify_chain, streamed from the store':<58} {took:>9.2f} s ({n / took:,.0f} events/s, {broken})")
        total = sum(1 for run_id in store.run_ids() for _ in store.events(run_id))
        for check in ("quick_check", "integrity_check"):  # what opening a store for a writer or verifier adds
            start = time.perf_counter()
            SQLiteStore(Path(tmp) / "events.db", check=check).close()
            took = time.perf_counter() - start
            print(f"{f'open + PRAGMA {check}, store of {total:,} events':<58} {took:>9.2f} s "
                  f"({took * 100_000 / total:.2f} s per 100k events)")
        start = time.perf_counter()
        written = write_jsonl(store.events("bench-run-1"), Path(tmp) / "run.jsonl")
        took = time.perf_counter() - start
        size = (Path(tmp) / "run.jsonl").stat().st_size
        print(f"{'JSONL export':<58} {took:>9.2f} s ({written} events, {size / 1e6:.1f} MB)")

    verdict = "MET" if rate >= TARGET_APPENDS_PER_S else "NOT MET"
    print(f"median as a run {rate:,.0f} appends/s; target >= {TARGET_APPENDS_PER_S:,}: {verdict}")


if __name__ == "__main__":
    main()
