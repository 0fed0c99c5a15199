"""The runs of an event store, each with its state: running, passed, failed or interrupted.

A run's state is what its log says (its terminal event), and only for a run without one
does the store say whether its process is still alive: running, or cut short (interrupted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.events import TERMINAL_KINDS, ChainBroken, Event, EventStore, verified
from harness.reports.fold import CUT_SHORT, STATUS_RANK, terminal_status

RUNNING = "running"
# The runs of a biller a new run records as its history: the workbook's _RunN columns and the
# sign-off's chart show that many, and a run's start record stays small however many came before.
HISTORY_RUNS = 9


@dataclass(frozen=True)
class RunState:
    """Whether a run ended, and how: passed, failed, interrupted (with the reason), or running."""

    status: str
    reason: str = ""

    @property
    def finished(self) -> bool:
        return self.status in ("passed", "failed")


def run_state(terminal: Event | None, running: bool) -> RunState:
    """The one rule: a run's terminal event says how it ended; without one, it runs while its
    process holds the store's mark (``running``), else it was cut short. Ask the store whether
    the run is running *before* reading its terminal event: a run that ends in between then
    reads as ended, never as cut short."""
    if terminal is not None:
        return RunState(*terminal_status(terminal))
    return RunState(RUNNING) if running else RunState("interrupted", CUT_SHORT)


@dataclass
class RunListing:
    """One run as `sit runs` lists it and a later run's history remembers it."""

    run_id: str
    facts: dict[str, Any]
    started: str
    state: RunState = RunState(RUNNING)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def biller(self) -> str:
        return str(self.facts.get("biller", ""))


def run_listings(store: EventStore) -> list[RunListing]:
    """Every run of the store in start order, with its state."""
    running = {run_id for run_id in store.run_ids() if store.is_running(run_id)}
    runs: dict[str, RunListing] = {}
    terminals: dict[str, Event] = {}
    for event in store.events_of_kind(["run.started", *TERMINAL_KINDS]):
        if event.kind == "run.started":
            runs[event.run_id] = RunListing(event.run_id, event.data, event.ts)
        else:
            terminals.setdefault(event.run_id, event)
    for run in runs.values():
        terminal = terminals.get(run.run_id)
        run.state = run_state(terminal, run.run_id in running)
        run.counts = dict(terminal.data.get("counts", {})) if terminal else {}
    return list(runs.values())


def biller_history(store: EventStore, biller: str) -> tuple[int, list[dict[str, Any]]]:
    """(how many runs of ``biller`` the store holds, the last ``HISTORY_RUNS`` of them that ended).

    Each as a new run records it: its number among the biller's runs, id, start, status,
    counts, the status of each SIT ID (the worst, if it ran twice) and its head hash, read
    through the chain check: an earlier run whose log was edited lends the new one no results.
    """
    mine = [run for run in run_listings(store) if run.biller == biller]
    ended = [(number, run) for number, run in enumerate(mine, start=1) if run.state.status != RUNNING]
    return len(mine), [_entry(store, number, run) for number, run in ended[-HISTORY_RUNS:]]


def _entry(store: EventStore, number: int, run: RunListing) -> dict[str, Any]:
    entry: dict[str, Any] = {"number": number, "run_id": run.run_id, "started": run.started,
                             "partner_mode": run.facts.get("partner_mode") or "stub"}
    results: dict[str, str] = {}
    head = ""
    try:
        for event in verified(store.events(run.run_id), run.run_id):
            head = event.hash
            if event.kind == "scenario.finished":
                _worst(results, str(event.data.get("sit_id") or ""), str(event.data.get("status", "failed")))
    except ChainBroken:
        return entry | {"status": "chain broken", "counts": {}, "results": {}}
    return entry | {"status": run.state.status, "counts": run.counts, "results": results, "head_hash": head}


def _worst(results: dict[str, str], sit_id: str, status: str) -> None:
    if sit_id and STATUS_RANK.get(status, 0) >= STATUS_RANK.get(results.get(sit_id, ""), 0):
        results[sit_id] = status
