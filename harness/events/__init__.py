"""The append-only, hash-chained event log: the harness's record of every run.

The bottom layer: it imports nothing else from ``harness``.
"""

from harness.events.chain import ChainBreak, ChainChecker, canonical_json, event_hash, seal, verified, verify_chain
from harness.events.factory import StoreUrl, open_store, parse_store, store_url
from harness.events.jsonl import read_jsonl, write_jsonl
from harness.events.model import GENESIS, TERMINAL_KINDS, ChainBroken, Event, EventLogError, IncompleteEvidence
from harness.events.recorder import Recorder
from harness.events.redact import MASK, Redactor
from harness.events.sqlite import SQLiteStore, StoreDamaged
from harness.events.store import EventStore

__all__ = [
    "GENESIS",
    "MASK",
    "TERMINAL_KINDS",
    "ChainBreak",
    "ChainBroken",
    "ChainChecker",
    "Event",
    "EventLogError",
    "EventStore",
    "IncompleteEvidence",
    "Recorder",
    "Redactor",
    "SQLiteStore",
    "StoreDamaged",
    "StoreUrl",
    "canonical_json",
    "event_hash",
    "open_store",
    "parse_store",
    "read_jsonl",
    "seal",
    "store_url",
    "verified",
    "verify_chain",
    "write_jsonl",
]
