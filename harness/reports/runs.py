"""The runs of an event store, each with its state: running, passed, failed or interrupted.

A run's state is what its log says (its terminal event), and only for a run without one
does the store say whether its process is still alive: running, or cut short (interrupted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.events import TERMINAL_KINDS, Event, EventStore
from harness.reports.fold import CUT_SHORT, terminal_status

RUNNING = "running"
# The runs of a biller a new run records as its history: the workbook's _RunN columns and the
# sign-off's chart show that many, and a run's start record stays small however many came before.
HISTORY_RUNS = 9
# A worse status wins when a run holds the same SIT ID twice.
_RANK = {"passed": 1, "na": 2, "not_run": 3, "interrupted": 4, "failed": 5}


@dataclass
class RunSummary:
    """One run as `sit runs` lists it and a later run's history remembers it."""

    run_id: str
    facts: dict[str, Any]
    started: str
    status: str = RUNNING
    reason: str = ""  # why an interrupted run stopped, when its log says
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def biller(self) -> str:
        return str(self.facts.get("biller", ""))


def run_summaries(store: EventStore) -> list[RunSummary]:
    """Every run of the store in start order, with its state."""
    runs: dict[str, RunSummary] = {}
    for event in store.events_of_kind(["run.started", *TERMINAL_KINDS]):
        if event.kind == "run.started":
            runs[event.run_id] = RunSummary(event.run_id, event.data, event.ts)
        elif (run := runs.get(event.run_id)) is not None and run.status == RUNNING:
            run.status, run.reason = terminal_status(event)
            run.counts = dict(event.data.get("counts", {}))
    for run in runs.values():
        if run.status == RUNNING and not store.is_running(run.run_id):
            run.status, run.reason = "interrupted", CUT_SHORT
    return list(runs.values())


def biller_history(store: EventStore, biller: str) -> tuple[int, list[dict[str, Any]]]:
    """(how many runs of ``biller`` the store holds, the last ``HISTORY_RUNS`` of them that ended).

    Each as a new run records it: its number among the biller's runs, id, start, status,
    counts, and the status of each SIT ID (the worst, if it ran twice).
    """
    mine = [run for run in run_summaries(store) if run.biller == biller]
    ended = [(number, run) for number, run in enumerate(mine, start=1) if run.status != RUNNING]
    return len(mine), [_entry(store, number, run) for number, run in ended[-HISTORY_RUNS:]]


def _entry(store: EventStore, number: int, run: RunSummary) -> dict[str, Any]:
    return {"number": number, "run_id": run.run_id, "started": run.started, "status": run.status,
            "counts": run.counts, "results": _results(store.events_of_kind(["scenario.finished"], run.run_id))}


def _results(finished: Iterable[Event]) -> dict[str, str]:
    results: dict[str, str] = {}
    for event in finished:
        sit_id, status = str(event.data.get("sit_id") or ""), str(event.data.get("status", "failed"))
        if sit_id and _RANK.get(status, 0) >= _RANK.get(results.get(sit_id, ""), 0):
            results[sit_id] = status
    return results
