"""The seam every event store implements (SQLite now, PostgreSQL later).

Tests in ``tests/contract`` run the same suite against each implementation, so a
new store only has to pass them to be usable by the rest of the harness.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from time import time_ns
from types import TracebackType
from typing import Any, Self

from harness.events.chain import encode_data
from harness.events.model import Event, EventLogError

# The last second formatted, and its text up to the seconds: a run appends many events per second, and
# formatting a datetime costs an append more than the rest of its timestamp. One tuple, swapped whole (threads).
_second: tuple[int, str] = (-1, "")


def format_ts(us: int) -> str:
    """``us`` microseconds since the epoch as ``datetime.isoformat(timespec="microseconds")`` writes it in UTC:
    ``2026-11-30T10:00:00.123456+00:00``."""
    global _second
    second, micro = divmod(us, 1_000_000)
    cached, text = _second
    if cached != second:
        text = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")[:-6]  # without "+00:00"
        _second = (second, text)
    return f"{text}.{micro:06d}+00:00"


def now_ts() -> str:
    """The default event timestamp: UTC, microsecond precision, ISO 8601 (what ``datetime.now(UTC)`` says,
    which also truncates the system clock's nanoseconds)."""
    return format_ts(time_ns() // 1000)


class EventStore(ABC):
    """An append-only log of hash-chained events, one chain per run."""

    @abstractmethod
    def append(self, run_id: str, kind: str, data: dict[str, Any], ts: str | None = None) -> Event:
        """Seal ``data`` against the run's head and commit it durably before returning
        (or, inside ``batch()``, when the batch ends).

        Atomic across processes: concurrent appenders to one run never fork its
        chain. Data that is not JSON-serialisable (or holds NaN) raises
        ``EventLogError`` and nothing is written.
        """

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Appends inside the block are committed together when it ends, even when the
        block raises: what was appended happened. A store without group commit commits
        each append on its own, which is also correct."""
        yield

    @abstractmethod
    def events(self, run_id: str, after_seq: int = 0) -> Generator[Event, None, None]:
        """The run's events with seq > ``after_seq``, in seq order, streamed (close what is not read to its end)."""

    @abstractmethod
    def head(self, run_id: str) -> Event | None:
        """The run's last event, or ``None`` if it has none."""

    @abstractmethod
    def run_ids(self) -> list[str]:
        """Every run, in order of its first event's ts."""

    @abstractmethod
    def events_of_kind(self, kinds: Collection[str], run_id: str | None = None) -> Iterator[Event]:
        """Events of these kinds across all runs (or of one run), runs in ``run_ids()`` order then by seq."""

    @abstractmethod
    def running(self, run_id: str) -> AbstractContextManager[None]:
        """Mark ``run_id`` as running for as long as the block runs, and no longer than this process lives.

        What ``is_running`` reads: a run with no terminal event whose process died (a
        ``kill -9``, a power cut) is then seen as cut short, never as still running. Raises
        ``EventLogError`` if the run is already marked running.
        """

    @abstractmethod
    def is_running(self, run_id: str) -> bool:
        """Whether a live process holds ``running(run_id)`` (on any machine the store is shared with)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; the store is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SealingStore(EventStore):
    """What the stores share of an append: the checks, the one encoding of the data (refused before the
    store is touched), the timestamp, and the event returned as stored. A store seals the event alone, or
    into its open batch (``_batch_depth``), under ``_lock``."""

    _lock: AbstractContextManager[Any]
    _batch_lock: AbstractContextManager[Any]  # held for a whole batch: batches of different threads take turns
    _batch_depth: int

    def append(self, run_id: str, kind: str, data: dict[str, Any], ts: str | None = None) -> Event:
        if not (isinstance(run_id, str) and run_id and isinstance(kind, str) and kind):
            raise EventLogError(f"run_id and kind must be non-empty strings, not {run_id!r}, {kind!r}")
        data_json = encode_data(data)
        data_text = data_json.decode("utf-8")
        if ts is None:
            ts = now_ts()
        with self._lock:
            seal = self._seal_in_batch if self._batch_depth else self._append_alone
            seq, prev_hash, hash_ = seal(run_id, kind, ts, data_json, data_text)
        # Returned with the data as stored (its JSON, parsed when first read: tuples become lists),
        # so the caller sees exactly what readers of the store will see.
        return Event.stored(run_id, seq, kind, ts, data_json, prev_hash, hash_)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every append in the block (group commit), committed even when it raises.

        A commit costs more than everything else an append does; a step appends a handful of events, so
        committing once per step multiplies the rate without ever reporting a step before its events are
        stored. Nested batches join the outer one. Batches of different threads run one after the other,
        but a plain append from another thread joins the open batch rather than waiting for it to end: a
        step blocked on an HTTP call whose server records events on its own thread (the reference
        platform's callback endpoint) would otherwise deadlock. A store begins its transaction at the
        batch's first touch of a run, so a batch that writes nothing costs nothing.
        """
        with self._batch_lock:
            with self._lock:
                if self._batch_depth == 0:
                    self._drop_leftover()
                self._batch_depth += 1
            try:
                yield
            finally:
                self._end_batch()

    @abstractmethod
    def _drop_leftover(self) -> None:
        """Outside a batch no transaction of the store stays open, unless an interruption (Ctrl-C, SIGTERM)
        landed between its begin and its commit: roll it back before appending again."""

    @abstractmethod
    def _end_batch(self) -> None:
        """Leave a batch; the outermost one writes what it sealed and commits."""

    @abstractmethod
    def _append_alone(self, run_id: str, kind: str, ts: str, data_json: bytes, data_text: str) -> tuple[int, str, str]:
        """Seal and commit one event on its own: (seq, prev_hash, hash)."""

    @abstractmethod
    def _seal_in_batch(self, run_id: str, kind: str, ts: str, data_json: bytes, data_text: str) -> tuple[int, str, str]:
        """Seal one event into the open batch, committed when it ends: (seq, prev_hash, hash)."""
