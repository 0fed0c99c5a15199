"""The one way steps write events: redacted, appended, and remembered per scenario."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.events.model import Event
from harness.events.redact import Redactor
from harness.events.store import EventStore


class Recorder:
    """Appends a run's events through a ``Redactor``, so no secret reaches the store.

    It also keeps the events of the current scope (a scenario), so its assertions can
    look at what it did without querying the store. Safe to append from several threads
    (a server thread records what it was asked): one append at a time, so the scope holds
    the events in the order of their sequence numbers.
    """

    def __init__(self, store: EventStore, run_id: str, redactor: Redactor) -> None:
        self._store = store
        self._run_id = run_id
        self._redactor = redactor
        self._scope: list[Event] = []
        self._lock = threading.Lock()

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def store(self) -> EventStore:
        return self._store

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def append(self, kind: str, /, **data: Any) -> Event:
        """Redact ``data``, append it as a ``kind`` event and add it to the scope.

        ``kind`` is positional-only so that data may itself have a ``kind`` field.
        """
        with self._lock:
            event = self._store.append(self._run_id, kind, self._redactor.redact(data))
            self._scope.append(event)
        return event

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group-commit the appends of one unit of work (a step); see ``EventStore.batch``."""
        with self._store.batch():
            yield

    def open_scope(self) -> None:
        """Start a new scope: ``scope_events`` forgets what came before."""
        self._scope = []

    def scope_events(self, kind: str | None = None) -> list[Event]:
        """Events appended since ``open_scope`` (of ``kind`` only, if given), oldest first."""
        if kind is None:
            return list(self._scope)
        return [event for event in self._scope if event.kind == kind]
