"""The bytes a chain hashes never change: a run sealed by any earlier sit-harness must verify with this one.

The encoding and the hash are locked to values computed by the code that wrote the stores in use, over data
that reaches the corners of JSON encoding (non-ASCII, escapes, floats, big integers, key order).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.events import GENESIS, SQLiteStore, canonical_json, chain, event_hash, verify_chain
from harness.events.chain import encode_data
from harness.events.model import EventLogError
from harness.events.store import format_ts, now_ts

SAMPLE: dict[str, Any] = {
    "zeta": [1, -2, 3.5, 1e16, 1e-7, 0.1, True, False, None],
    "alpha": "é ü € 💶 \u2028 \x7f",
    "quote": "\"back\\slash\" <tag> & \t\n\r\x00\x1f",
    "nested": {"b": {}, "a": [], "10": "ten", "9": "nine"},
    "big": 123456789012345678901234567890,
    "neg0": -0.0,
    "empty": "",
}
SAMPLE_JSON = (
    '{"alpha":"é ü € 💶 \u2028 \x7f","big":123456789012345678901234567890,"empty":"","neg0":-0.0,'
    '"nested":{"10":"ten","9":"nine","a":[],"b":{}},"quote":"\\"back\\\\slash\\" <tag> & \\t\\n\\r\\u0000\\u001f",'
    '"zeta":[1,-2,3.5,1e+16,1e-07,0.1,true,false,null]}'
).encode("utf-8")
RUN = "run-é 1"
TS1, TS2 = "2026-11-30T10:00:00.123456+00:00", "2026-11-30T10:00:00.123457+00:00"
# Computed by sit-harness before appends were made faster (issue 13): any change here breaks every stored chain.
HASH1 = "0071029373693d08293fb8952c0105ef316e8f3170f1bd693b3a28172ac6c7b7"
HASH2 = "b6b980c5791ce7731e04b3754746e57fb4612fa40870261cfc68f6bea1d56c3f"


def test_the_canonical_encoding_is_locked() -> None:
    assert canonical_json(SAMPLE) == SAMPLE_JSON
    assert encode_data(SAMPLE) == SAMPLE_JSON


def test_appends_encode_alike_on_a_python_without_the_c_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain, "_APPEND_ENCODER", None)
    assert encode_data(SAMPLE) == SAMPLE_JSON
    with pytest.raises(EventLogError, match="not JSON-serialisable"):
        encode_data({"x": float("nan")})


def test_the_hash_is_locked() -> None:
    assert event_hash(RUN, 1, "partner.exchange", TS1, SAMPLE, GENESIS) == HASH1
    assert event_hash(RUN, 2, 'kind "q"', TS2, {}, HASH1) == HASH2


def test_a_store_seals_and_stores_the_locked_bytes(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    with SQLiteStore(path) as store:
        with store.batch():
            first = store.append(RUN, "partner.exchange", SAMPLE, ts=TS1)
        second = store.append(RUN, 'kind "q"', {}, ts=TS2)
        assert (first.hash, second.hash, second.prev_hash) == (HASH1, HASH2, HASH1)
        assert first.encoded == SAMPLE_JSON and first.data == SAMPLE
        assert verify_chain(store.events(RUN)) is None
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT seq, data, hash FROM events ORDER BY seq").fetchall()
    assert rows == [(1, SAMPLE_JSON.decode("utf-8"), HASH1), (2, "{}", HASH2)]


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": object()}, {"x": "\ud800"}, {1: "mixed key types", "b": 2}])
def test_data_the_encoding_refuses_is_an_event_log_error(bad: dict[str, Any]) -> None:
    with pytest.raises(EventLogError, match="not JSON-serialisable"):
        encode_data(bad)


def test_circular_data_is_an_event_log_error_and_the_encoder_still_works() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(EventLogError, match="not JSON-serialisable"):
        encode_data(loop)
    shared = {"a": 1}
    assert encode_data({"x": shared, "y": [shared, shared]}) == b'{"x":{"a":1},"y":[{"a":1},{"a":1}]}'


@pytest.mark.parametrize("us", [0, 1, 999_999, 1_000_000, 1_764_496_800_123_456, 1_764_496_859_999_999,
                                1_764_496_860_000_000, 253_402_300_799_999_999])
def test_timestamps_keep_the_iso_format(us: int) -> None:
    expected = datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)
    assert format_ts(us) == expected.isoformat(timespec="microseconds")


def test_now_ts_is_now_in_the_iso_format() -> None:
    before = datetime.now(UTC)
    stamp = now_ts()
    after = datetime.now(UTC)
    assert before <= datetime.fromisoformat(stamp) <= after
    assert stamp == datetime.fromisoformat(stamp).isoformat(timespec="microseconds")
