"""The event record and the one error type of the event log.

This package is the bottom layer of the harness, so it defines its own error rather
than importing ``harness.errors``; callers that want a ``SitError`` wrap it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# The prev_hash of a run's first event: a chain has to start from a known value.
GENESIS = "0" * 64
# The events that close a run: exactly one of them ends a finished run (signatures may follow it).
# A run with neither is still running or was cut short, and is never signed as finished.
TERMINAL_KINDS = frozenset({"run.finished", "run.interrupted"})

_STR_FIELDS = ("run_id", "kind", "ts", "prev_hash", "hash")
_set = object.__setattr__  # an Event's own __setattr__ refuses: it is immutable
_new = object.__new__


class EventLogError(Exception):
    """A fault in the event log a user can act on; ``str()`` is one line naming where.

    ``exit_code`` is what the CLI exits with (``harness.errors`` names the codes; this
    package cannot import them).
    """

    exit_code = 2


class ChainBroken(EventLogError):
    """A run's hash chain does not verify: its evidence was edited after it was written."""

    exit_code = 1  # harness.errors.EXIT_FAILED


class IncompleteEvidence(EventLogError):
    """The evidence stops short: a run still running, one that did not finish, or an export cut off mid-way."""

    exit_code = 4  # harness.errors.EXIT_INCOMPLETE


class Event:
    """One sealed, immutable entry of a run's hash chain.

    An event read from a store keeps its data as the stored bytes (``encoded``, exactly what its hash
    covers) and parses them at the first read of ``data``: checking a chain, counting kinds or listing runs
    then parses nothing.
    """

    __slots__ = ("_data", "encoded", "hash", "kind", "prev_hash", "run_id", "seq", "ts")
    run_id: str
    seq: int
    kind: str
    ts: str
    prev_hash: str
    hash: str
    # The data's canonical JSON exactly as a store holds it (None for an event built from parsed data).
    encoded: bytes | None
    _data: dict[str, Any] | None

    def __init__(self, run_id: str, seq: int, kind: str, ts: str, data: dict[str, Any] | None, prev_hash: str,
                 hash: str, encoded: bytes | None = None) -> None:
        if data is None and encoded is None:
            raise ValueError("an event has its data, or the bytes it was stored as")
        # One call per field, no loop: a store builds one event per row read, and this is most of its cost.
        _set(self, "run_id", run_id)
        _set(self, "seq", seq)
        _set(self, "kind", kind)
        _set(self, "ts", ts)
        _set(self, "prev_hash", prev_hash)
        _set(self, "hash", hash)
        _set(self, "encoded", encoded)
        _set(self, "_data", data)

    @classmethod
    def stored(cls, run_id: str, seq: int, kind: str, ts: str, encoded: bytes, prev_hash: str, hash: str) -> Event:
        """An event as a store holds it: its data parsed from ``encoded`` when first read.

        Built slot by slot through each slot's own setter, without ``__init__``'s lookups by name: reading
        and checking a run of a million events builds a million of them (0.36 against 0.59 µs each)."""
        event = _new(cls)
        _SET_RUN_ID(event, run_id)
        _SET_SEQ(event, seq)
        _SET_KIND(event, kind)
        _SET_TS(event, ts)
        _SET_PREV_HASH(event, prev_hash)
        _SET_HASH(event, hash)
        _SET_ENCODED(event, encoded)
        _SET_DATA(event, None)
        return event

    @property
    def data(self) -> dict[str, Any]:
        data = self._data
        if data is None:
            assert self.encoded is not None
            data = json.loads(self.encoded)
            _set(self, "_data", data)
        return data

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"an event is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"an event is immutable: cannot delete {name!r}")

    def _key(self) -> tuple[Any, ...]:
        return (self.run_id, self.seq, self.kind, self.ts, self.data, self.prev_hash, self.hash)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.run_id, self.seq, self.hash))

    def __repr__(self) -> str:
        return (f"Event(run_id={self.run_id!r}, seq={self.seq!r}, kind={self.kind!r}, ts={self.ts!r}, "
                f"data={self.data!r}, prev_hash={self.prev_hash!r}, hash={self.hash!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Event, (self.run_id, self.seq, self.kind, self.ts, self._data, self.prev_hash, self.hash,
                        self.encoded))

    def to_dict(self) -> dict[str, Any]:
        """All fields, as written to JSONL exports."""
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "kind": self.kind,
            "ts": self.ts,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        """Rebuild an event from ``to_dict()`` output, checking the field types.

        The hash is *not* checked here: ``verify_chain`` does that, so a tampered
        event can still be loaded and reported by its seq.
        """
        missing = [name for name in (*_STR_FIELDS, "seq", "data") if name not in d]
        if missing:
            raise EventLogError(f"missing field(s) {', '.join(missing)}")
        for name in _STR_FIELDS:
            if not isinstance(d[name], str):
                raise EventLogError(f"field {name!r} must be a string")
        # bool is an int subclass but never a valid seq.
        if not isinstance(d["seq"], int) or isinstance(d["seq"], bool):
            raise EventLogError("field 'seq' must be an integer")
        if not isinstance(d["data"], dict):
            raise EventLogError("field 'data' must be a JSON object")
        return cls(
            run_id=d["run_id"],
            seq=d["seq"],
            kind=d["kind"],
            ts=d["ts"],
            data=d["data"],
            prev_hash=d["prev_hash"],
            hash=d["hash"],
        )


_SET_RUN_ID, _SET_SEQ, _SET_KIND, _SET_TS, _SET_PREV_HASH, _SET_HASH, _SET_ENCODED, _SET_DATA = (
    Event.__dict__[name].__set__ for name in ("run_id", "seq", "kind", "ts", "prev_hash", "hash", "encoded", "_data"))
