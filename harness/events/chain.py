"""Hashing and verifying a run's chain of events.

Each event's hash covers its content and the previous event's hash, so editing,
removing or reordering any stored event is detected at that event (or, if the
attacker also recomputed the hash, at the next one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from json.encoder import encode_basestring as _quote  # the C string encoder json.dumps uses
from typing import Any

from harness.events.model import GENESIS, ChainBroken, Event, EventLogError

# One encoder, built once: json.dumps with these options would build a new one per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _append_encoder() -> Callable[[Any, int], Sequence[str]] | None:
    """The C encoder ``_CANONICAL.encode`` builds on every call, built once for appends (a third of their
    encoding cost); None on a Python without it. Without markers it keeps no state between calls (threads
    share it) and checks no cycles: a cycle recurses until Python's recursion limit stops it, which
    ``encode_data`` reports like any data it cannot encode."""
    try:
        from _json import make_encoder
    except ImportError:
        return None
    return make_encoder(None, _CANONICAL.default, _quote, None, ":", ",", True, False, False)


_APPEND_ENCODER = _append_encoder()


def canonical_json(obj: Any) -> bytes:
    """The one byte encoding hashed and stored: key order and spacing are fixed.

    Same bytes as ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False).encode("utf-8")``.
    """
    return _CANONICAL.encode(obj).encode("utf-8")


def encode_data(data: Any) -> bytes:
    """``canonical_json(data)`` for event data, or an ``EventLogError`` saying why not."""
    if not isinstance(data, dict):
        raise EventLogError(f"event data must be a dict, not {type(data).__name__}")
    try:
        if _APPEND_ENCODER is None:
            return canonical_json(data)
        return "".join(_APPEND_ENCODER(data, 0)).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # unserialisable, NaN, lone surrogate, circular
        raise EventLogError(f"event data is not JSON-serialisable: {exc}") from None


@lru_cache(maxsize=1024)
def _quoted(text: str) -> str:
    """``_quote`` of a run id or a kind: a run's events share one, and a run has a few dozen kinds."""
    return _quote(text)


def hash_encoded(run_id: str, seq: int, kind: str, ts: str, data_json: bytes, prev_hash: str) -> str:
    """``event_hash`` given the data already encoded by ``canonical_json``.

    Stores encode the data once for the column and reuse it here, instead of
    serialising it twice per append. The bytes hashed are exactly ``canonical_json``
    of the six-field dict, keys in sorted order: data, kind, prev_hash, run_id, seq, ts.
    """
    tail = (
        f',"kind":{_quoted(kind)},"prev_hash":{_quote(prev_hash)},"run_id":{_quoted(run_id)}'
        f',"seq":{seq:d},"ts":{_quote(ts)}}}'
    )
    digest = hashlib.sha256(b'{"data":')
    digest.update(data_json)  # fed in parts: the data, often the largest part, is never copied
    digest.update(tail.encode("utf-8"))
    return digest.hexdigest()


def event_hash(run_id: str, seq: int, kind: str, ts: str, data: dict[str, Any], prev_hash: str) -> str:
    """Hex SHA-256 of ``canonical_json({"run_id", "seq", "kind", "ts", "data", "prev_hash"})``."""
    return hash_encoded(run_id, seq, kind, ts, canonical_json(data), prev_hash)


def seal(run_id: str, seq: int, kind: str, ts: str, data: dict[str, Any], prev_hash: str) -> Event:
    """The event with its hash computed."""
    return Event(run_id, seq, kind, ts, data, prev_hash, event_hash(run_id, seq, kind, ts, data, prev_hash))


@dataclass(frozen=True)
class ChainBreak:
    """Where a chain first goes wrong: the event's seq and why, for a person to read."""

    seq: int
    reason: str


class ChainChecker:
    """Checks one run's events fed in order, keeping only the previous one (streams)."""

    def __init__(self) -> None:
        self._run_id: str | None = None
        self._prev: Event | None = None

    @property
    def head(self) -> Event | None:
        """The last event checked and found intact."""
        return self._prev

    def check(self, event: Event) -> ChainBreak | None:
        """``None`` if ``event`` continues the chain, else why it breaks it."""
        prev = self._prev
        if prev is None:
            if event.seq != 1:
                return ChainBreak(event.seq, f"first event has seq {event.seq}, expected 1")
            if event.prev_hash != GENESIS:
                return ChainBreak(event.seq, "prev_hash of the first event is not the genesis hash")
            self._run_id = event.run_id
        else:
            if event.run_id != self._run_id:
                return ChainBreak(event.seq, f"run_id {event.run_id!r} differs from {self._run_id!r}")
            if event.seq != prev.seq + 1:
                return ChainBreak(event.seq, f"seq {event.seq} follows {prev.seq}")
            if event.prev_hash != prev.hash:
                return ChainBreak(event.seq, f"prev_hash does not match event {prev.seq}")
        try:
            encoded = event.encoded if event.encoded is not None else canonical_json(event.data)
        except (TypeError, ValueError):
            return ChainBreak(event.seq, "data is not canonical JSON")
        expected = hash_encoded(event.run_id, event.seq, event.kind, event.ts, encoded, event.prev_hash)
        if event.hash != expected:
            return ChainBreak(event.seq, "hash does not match its content")
        self._prev = event
        return None


def verify_chain(events: Iterable[Event]) -> ChainBreak | None:
    """Check one run's events in order; ``None`` if intact, else the first break.

    Streams: only the previous event is kept, so a run of any length fits in memory.
    """
    checker = ChainChecker()
    for event in events:
        if broken := checker.check(event):
            return broken
    if checker.head is None:
        return ChainBreak(0, "no events")
    return None


def verified(events: Iterable[Event], name: str) -> Iterator[Event]:
    """``events`` passed through as the chain checks out; ``EventLogError`` naming ``name``
    and the first broken event otherwise (so a projection never renders tampered evidence)."""
    checker = ChainChecker()
    for event in events:
        if broken := checker.check(event):
            raise ChainBroken(f"{name}: chain broken at event {broken.seq}: {broken.reason}; "
                                f"`sit verify {name}` says more")
        yield event
    if checker.head is None:
        raise EventLogError(f"{name}: no events")
