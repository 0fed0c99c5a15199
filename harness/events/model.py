"""The event record and the one error type of the event log.

This package is the bottom layer of the harness, so it defines its own error rather
than importing ``harness.errors``; callers that want a ``SitError`` wrap it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The prev_hash of a run's first event: a chain has to start from a known value.
GENESIS = "0" * 64
# The events that close a run: exactly one of them ends a finished run (signatures may follow it).
# A run with neither is still running or was cut short, and is never signed as finished.
TERMINAL_KINDS = frozenset({"run.finished", "run.interrupted"})

_STR_FIELDS = ("run_id", "kind", "ts", "prev_hash", "hash")


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


@dataclass(frozen=True, slots=True)
class Event:
    """One sealed, immutable entry of a run's hash chain."""

    run_id: str
    seq: int
    kind: str
    ts: str
    data: dict[str, Any]
    prev_hash: str
    hash: str
    # The data's canonical JSON exactly as a store holds it (set when read from one): what the hash covers,
    # so checking the chain hashes these bytes rather than encoding the data again. Not part of the event.
    encoded: bytes | None = field(default=None, compare=False, repr=False)

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
