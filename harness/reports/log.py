"""Where a projection reads a run: the event store or an exported JSONL file.

Every read goes through the chain check, so no report is ever rendered from a log
that was edited after the fact: the first broken event stops the projection. What a
report needs to know besides the scenarios (the run's facts, its workbook, the profiles
as loaded) is what the run recorded when it started: reports never read features or
profiles from the checkout.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cases import WORKBOOK_EVENT, SitCase, cases_from_event
from harness.errors import InputError, RunNotFound
from harness.events import TERMINAL_KINDS, Event, EventLogError, StoreUrl, open_store, parse_store, read_jsonl, verified
from harness.reports.runs import RunState, run_state


@dataclass(frozen=True)
class Opening:
    """What a run recorded at its start: its facts, its workbook, and the profiles as loaded."""

    facts: dict[str, Any]
    cases: list[SitCase]

    def profile(self, which: str, *path: str, default: Any = None) -> Any:
        """A field of the recorded ``biller`` or ``partner`` profile, e.g. ``profile("partner", "product")``.

        Read by path with a default, not through today's profile models: a run recorded by an
        earlier version still projects when the models have changed since.
        """
        node: Any = self.facts.get("profiles", {}).get(which, {}).get("data", {})
        for name in path:
            node = node.get(name) if isinstance(node, dict) else None
        return default if node is None else node


@dataclass(frozen=True)
class RunLog:
    """One run's events, readable as many times as a projection needs (each read streams)."""

    run_id: str
    source: StoreUrl | Path  # the event store, or the exported JSONL file
    from_jsonl: bool = False

    def events(self) -> Generator[Event, None, None]:
        """The run's events in order, chain-checked as they stream."""
        if isinstance(self.source, Path):
            yield from verified(read_jsonl(self.source), str(self.source))
            return
        with open_store(self.source) as store:
            yield from verified(store.events(self.run_id), self.run_id)

    def opening(self) -> Opening:
        """``run.started`` and ``run.workbook``: read from the log's first events, not to its end."""
        events = self.events()
        try:
            first = next(events)
            if first.kind != "run.started":
                raise EventLogError(f"{self.name}: first event is {first.kind}, not run.started")
            for event in events:
                if event.kind == WORKBOOK_EVENT:
                    return Opening(first.data, cases_from_event(event.data))
                if event.kind.startswith("scenario."):
                    break
        finally:
            events.close()
        raise EventLogError(f"{self.name}: the run did not record its workbook (run.workbook); it was made by an "
                            "earlier sit-harness whose reports read the checkout: run the SIT again")

    def state(self) -> RunState:
        """How the run ended, from its terminal event; without one, whether its process still runs."""
        if isinstance(self.source, Path):  # an export has no process: without its terminal event it was cut short
            with closing(read_jsonl(self.source)) as events:
                return run_state(next((e for e in events if e.kind in TERMINAL_KINDS), None), running=False)
        with open_store(self.source) as store:
            running = store.is_running(self.run_id)
            return run_state(next(iter(store.events_of_kind(TERMINAL_KINDS, self.run_id)), None), running)

    @property
    def name(self) -> str:
        return str(self.source) if self.from_jsonl else self.run_id

    def beside(self, fallback: Path) -> Path:
        """The local folder the log lives in (reports go there by default): an export's, a SQLite store's;
        ``fallback`` (the project's reports folder) for a store with no local file."""
        return self.source.parent if isinstance(self.source, Path) else self.source.beside(fallback)


def open_run(target: str, store: StoreUrl | str | Path) -> RunLog:
    """``target`` is a run id in ``store`` (a URL or a path) or the path of an exported ``.jsonl`` file."""
    path = Path(target)
    if target.endswith(".jsonl") or path.is_file():
        if not path.is_file():
            raise InputError(f"{target}: no such file")
        with closing(read_jsonl(path)) as events:  # only the first line: the file is not read to its end
            first = next(events, None)
        if first is None:
            raise InputError(f"{target}: no events in this file")
        return RunLog(first.run_id, path, from_jsonl=True)
    url = store if isinstance(store, StoreUrl) else parse_store(store)
    if url.missing:
        raise InputError(f"{url}: no event store yet; run `sit run --biller SLUG` first")
    with open_store(url, check="quick_check") as events:  # once per command; each read of the run reopens it
        if events.head(target) is None:
            raise RunNotFound(f"no run '{target}' in {url}; `sit runs` lists them")
    return RunLog(target, url)
