"""Tampering with a stored or exported run is detected, at the event tampered with."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.events import (
    GENESIS,
    ChainBreak,
    Event,
    EventLogError,
    SQLiteStore,
    canonical_json,
    event_hash,
    read_jsonl,
    seal,
    verify_chain,
    write_jsonl,
)


def _fill(path: Path, n: int = 10) -> list[Event]:
    with SQLiteStore(path) as store:
        return [store.append("run", "step", {"n": i, "body": f"<a>{i}</a>"}) for i in range(1, n + 1)]


def _attacker(path: Path) -> sqlite3.Connection:
    """A raw connection that has dropped the append-only triggers, as an attacker would."""
    conn = sqlite3.connect(path, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    return conn


def _verify_store(path: Path) -> ChainBreak | None:
    with SQLiteStore(path) as store:
        return verify_chain(store.events("run"))


def test_event_hash_is_sha256_of_canonical_json() -> None:
    fields = {"run_id": "r", "seq": 3, "kind": "k", "ts": "t\n", "data": {"b": [1, "é"], "a": None}}
    fields["prev_hash"] = GENESIS
    expected = hashlib.sha256(canonical_json(fields)).hexdigest()
    assert event_hash("r", 3, "k", "t\n", {"b": [1, "é"], "a": None}, GENESIS) == expected
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


def test_intact_chain_verifies(tmp_path: Path) -> None:
    _fill(tmp_path / "e.db")
    assert _verify_store(tmp_path / "e.db") is None


def test_edited_data_is_named_by_seq(tmp_path: Path) -> None:
    _fill(tmp_path / "e.db")
    with _attacker(tmp_path / "e.db") as conn:
        conn.execute("UPDATE events SET data = ? WHERE run_id = 'run' AND seq = 5", ('{"body":"x","n":500}',))
    assert _verify_store(tmp_path / "e.db") == ChainBreak(5, "hash does not match its content")


def test_edit_with_recomputed_hash_is_caught_at_the_next_event(tmp_path: Path) -> None:
    events = _fill(tmp_path / "e.db")
    forged = seal("run", 5, "step", events[4].ts, {"n": 500}, events[4].prev_hash)
    with _attacker(tmp_path / "e.db") as conn:
        conn.execute(
            "UPDATE events SET data = ?, hash = ? WHERE run_id = 'run' AND seq = 5",
            (canonical_json(forged.data).decode(), forged.hash),
        )
    assert _verify_store(tmp_path / "e.db") == ChainBreak(6, "prev_hash does not match event 5")


def test_deleted_middle_event_is_named(tmp_path: Path) -> None:
    _fill(tmp_path / "e.db")
    with _attacker(tmp_path / "e.db") as conn:
        conn.execute("DELETE FROM events WHERE run_id = 'run' AND seq = 4")
    assert _verify_store(tmp_path / "e.db") == ChainBreak(5, "seq 5 follows 3")


@pytest.mark.parametrize("sql", ["UPDATE events SET data = '{}' WHERE seq = 2", "DELETE FROM events WHERE seq = 2"])
def test_triggers_refuse_update_and_delete(tmp_path: Path, sql: str) -> None:
    _fill(tmp_path / "e.db", 3)
    with sqlite3.connect(tmp_path / "e.db") as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute(sql)
    assert _verify_store(tmp_path / "e.db") is None


def test_empty_and_foreign_chains() -> None:
    assert verify_chain([]) == ChainBreak(0, "no events")
    first = seal("a", 1, "k", "t", {}, GENESIS)
    other = seal("b", 2, "k", "t", {}, first.hash)
    assert verify_chain(iter([first, other])) == ChainBreak(2, "run_id 'b' differs from 'a'")
    assert verify_chain([seal("a", 1, "k", "t", {}, "f" * 64)]) == ChainBreak(
        1, "prev_hash of the first event is not the genesis hash"
    )
    assert verify_chain([seal("a", 2, "k", "t", {}, GENESIS)]) == ChainBreak(2, "first event has seq 2, expected 1")


def test_not_an_event_store(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a database\n" * 100)
    with pytest.raises(EventLogError, match=r"notes\.txt: not an sit-harness event store \("):
        SQLiteStore(text)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(EventLogError, match=r"other\.db: not an sit-harness event store \("):
        SQLiteStore(other)


def test_jsonl_round_trip_is_identical(tmp_path: Path) -> None:
    events = _fill(tmp_path / "e.db", 5)
    assert write_jsonl(iter(events), tmp_path / "run.jsonl") == 5
    assert list(read_jsonl(tmp_path / "run.jsonl")) == events
    lines = (tmp_path / "run.jsonl").read_bytes().splitlines()
    assert lines == [canonical_json(e.to_dict()) for e in events]


def test_edited_jsonl_line_is_named_by_seq(tmp_path: Path) -> None:
    events = _fill(tmp_path / "e.db", 6)
    path = tmp_path / "run.jsonl"
    write_jsonl(events, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[2])
    edited["data"]["n"] = 300
    lines[2] = json.dumps(edited)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert verify_chain(read_jsonl(path)) == ChainBreak(3, "hash does not match its content")


@pytest.mark.parametrize(
    ("line", "problem"),
    [("not json", "not valid JSON"), ("[1, 2]", "not a JSON object"), ('{"seq": 1}', "missing field")],
)
def test_bad_jsonl_line_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "run.jsonl"
    good = canonical_json(seal("r", 1, "k", "t", {}, GENESIS).to_dict()).decode()
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(EventLogError, match=rf"run\.jsonl:2: {problem}"):
        list(read_jsonl(path))


def test_write_jsonl_leaves_nothing_when_the_events_fail_midway(tmp_path: Path) -> None:
    events = _fill(tmp_path / "e.db", 3)
    path = tmp_path / "out" / "run.jsonl"
    path.parent.mkdir()
    path.write_text("previous export\n")

    def failing() -> Iterator[Event]:
        yield events[0]
        yield events[1]
        raise RuntimeError("store went away")

    with pytest.raises(RuntimeError, match="store went away"):
        write_jsonl(failing(), path)
    assert path.read_text() == "previous export\n"
    assert [p.name for p in path.parent.iterdir()] == ["run.jsonl"]
