"""Where a projection reads a run: the event store or an exported JSONL file.

Every read goes through the chain check, so no report is ever rendered from a log
that was edited after the fact: the first broken event stops the projection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import InputError, RunNotFound
from harness.events import Event, EventLogError, SQLiteStore, read_jsonl, verified


@dataclass(frozen=True)
class RunLog:
    """One run's events, readable as many times as a projection needs (each read streams)."""

    run_id: str
    source: Path  # the SQLite store, or the JSONL file
    from_jsonl: bool = False

    def events(self) -> Iterator[Event]:
        """The run's events in order, chain-checked as they stream."""
        if self.from_jsonl:
            yield from verified(read_jsonl(self.source), str(self.source))
            return
        with SQLiteStore(self.source) as store:
            yield from verified(store.events(self.run_id), self.run_id)

    def facts(self) -> dict[str, Any]:
        """The ``run.started`` data: biller, partner, versions, seed, operator."""
        first = self._first()
        if first.kind != "run.started":
            raise EventLogError(f"{self.name}: first event is {first.kind}, not run.started")
        return first.data

    @property
    def name(self) -> str:
        return str(self.source) if self.from_jsonl else self.run_id

    def _first(self) -> Event:
        events = self.events()
        try:
            return next(events)
        finally:
            events.close()


def open_run(target: str, store: Path) -> RunLog:
    """``target`` is a run id in ``store`` or the path of an exported ``.jsonl`` file."""
    path = Path(target)
    if target.endswith(".jsonl") or path.is_file():
        if not path.is_file():
            raise InputError(f"{target}: no such file")
        with closing(read_jsonl(path)) as events:  # only the first line: the file is not read to its end
            first = next(events, None)
        if first is None:
            raise InputError(f"{target}: no events in this file")
        return RunLog(first.run_id, path, from_jsonl=True)
    if not store.exists():
        raise InputError(f"{store}: no event store yet; run `sit run --biller SLUG` first")
    with SQLiteStore(store, check="quick_check") as events:  # once per command; each read of the run reopens it
        if events.head(target) is None:
            raise RunNotFound(f"no run '{target}' in {store}; `sit runs` lists them")
    return RunLog(target, store)
