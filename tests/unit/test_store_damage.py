"""A damaged SQLite store is named as damaged (StoreDamaged, exit 5), never taken for tampering or a traceback.

Each test builds a real store, copies its file and damages the copy where SQLite keeps its
structure: a b-tree page's header (found from ``PRAGMA page_size``) or the file header.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import errors
from harness.events import (
    GENESIS,
    EventLogError,
    IncompleteEvidence,
    SQLiteStore,
    StoreDamaged,
    canonical_json,
    read_jsonl,
    seal,
)
from harness.events import sqlite as sqlite_store

CHECKS = ("quick_check", "integrity_check")
TABLE_LEAF, INDEX_LEAF = 0x0D, 0x0A  # b-tree page types (first byte of a page's header)
# pages, flip and break_page_size_field damage stores for the CLI tests too (tests/cli/test_store_cli.py).
EVENTS_PER_RUN = 400


@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed store of two runs, big enough that each run spans many table leaf pages."""
    path = tmp_path_factory.mktemp("store") / "events.sqlite"
    with SQLiteStore(path) as store:
        for run_id, kind in (("run-a", "step.a"), ("run-b", "step.b")):
            for n in range(EVENTS_PER_RUN):
                store.append(run_id, kind, {"n": n, "body": "x" * 200})
    return path


def _copy(intact: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "events.sqlite"
    shutil.copyfile(intact, copy)
    return copy


def _page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def pages(path: Path, page_type: int, holds: bytes, lacks: bytes | None = None) -> list[int]:
    """Header offsets of the pages of ``page_type`` (past page 1) whose cells hold ``holds`` and not ``lacks``."""
    data, size = path.read_bytes(), _page_size(path)
    return [offset for offset in range(size, len(data), size)
            if data[offset] == page_type and holds in data[offset:offset + size]
            and (lacks is None or lacks not in data[offset:offset + size])]


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _middle_leaf_of_run_b(path: Path) -> int:
    """A table leaf in the middle of run-b's rows: its events before it read fine, then the damage."""
    leaves = pages(path, TABLE_LEAF, holds=b"run-b", lacks=b"run-a")
    assert len(leaves) > 4, leaves
    return leaves[len(leaves) // 2]


@pytest.mark.parametrize("check", CHECKS)
def test_an_intact_store_passes_both_checks(intact: Path, tmp_path: Path, check: sqlite_store.Check) -> None:
    """The negative control: the checks find nothing in an undamaged copy, and every event reads."""
    with SQLiteStore(_copy(intact, tmp_path), check=check) as store:
        assert [len(list(store.events(run_id))) for run_id in store.run_ids()] == [EVENTS_PER_RUN] * 2


@pytest.mark.parametrize("check", CHECKS)
def test_a_flipped_leaf_page_header_fails_the_check_at_open(intact: Path, tmp_path: Path,
                                                            check: sqlite_store.Check) -> None:
    copy = _copy(intact, tmp_path)
    flip(copy, _middle_leaf_of_run_b(copy))
    with pytest.raises(StoreDamaged) as caught:
        SQLiteStore(copy, check=check)
    assert str(caught.value).startswith(f"{copy}: the event store is damaged (")
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == errors.EXIT_STORE_DAMAGED == 5


def test_damage_met_mid_read_is_store_damaged_and_a_check_finds_what_a_read_misses(intact: Path,
                                                                                   tmp_path: Path) -> None:
    """Reads stream: the damage surfaces in the generator, after the events before it. The other run's
    reads never touch the page, which is why writers and verifiers check the whole file at open."""
    copy = _copy(intact, tmp_path)
    flip(copy, _middle_leaf_of_run_b(copy))
    with SQLiteStore(copy) as store:
        assert len(list(store.events("run-a"))) == EVENTS_PER_RUN  # untouched by the damage
        seen: list[int] = []
        with pytest.raises(StoreDamaged, match=r"the event store is damaged \(SQLite: database disk image"):
            for event in store.events("run-b"):
                seen.append(event.seq)
        assert 0 < len(seen) < EVENTS_PER_RUN
        assert seen == list(range(1, len(seen) + 1))


def test_a_damaged_index_page_reads_fine_but_fails_the_check(intact: Path, tmp_path: Path) -> None:
    copy = _copy(intact, tmp_path)
    # A leaf of the primary key's index holding only run-a's keys: reading run-b never touches it.
    flip(copy, pages(copy, INDEX_LEAF, holds=b"run-a", lacks=b"run-b")[0])
    with SQLiteStore(copy) as store:
        assert len(list(store.events("run-b"))) == EVENTS_PER_RUN
    with pytest.raises(StoreDamaged, match=r"SQLite's quick_check: Page \d+: "):
        SQLiteStore(copy, check="quick_check")


def break_page_size_field(data: bytearray) -> None:
    data[16:18] = b"\x03\x00"  # 768: not a power of two


def _magic_string(data: bytearray) -> None:
    data[3] ^= 0x01  # "SQLite format 3" -> "SQMite format 3"


def _payload_fraction(data: bytearray) -> None:
    data[21] = 0x10  # must be 64


@pytest.mark.parametrize("damage", [break_page_size_field, _magic_string, _payload_fraction])
@pytest.mark.parametrize("check", [None, "quick_check"])
def test_a_damaged_file_header_is_store_damaged(intact: Path, tmp_path: Path, damage: Callable[[bytearray], None],
                                                check: sqlite_store.Check | None) -> None:
    copy = _copy(intact, tmp_path)
    data = bytearray(copy.read_bytes())
    damage(data)
    copy.write_bytes(bytes(data))
    with pytest.raises(StoreDamaged, match=r"the file header is broken: SQLite says 'file is not a database'"):
        SQLiteStore(copy, check=check)
    assert copy.read_bytes() == bytes(data), "a damaged store is not written to"


def test_a_text_file_is_not_a_store_rather_than_damaged(tmp_path: Path) -> None:
    """The negative control of the header test: SQLite gives the same error code; no SQLite bytes, no damage."""
    notes = tmp_path / "notes.sqlite"
    notes.write_text("my notes, not a database\n" * 200, encoding="utf-8")
    with pytest.raises(EventLogError, match=r"notes\.sqlite: not an sit-harness event store") as caught:
        SQLiteStore(notes, check="quick_check")
    assert not isinstance(caught.value, StoreDamaged)
    assert caught.value.exit_code == errors.EXIT_USAGE


def test_a_busy_store_is_not_damaged(intact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write lock held past the timeout is a plain error saying so, not damage. Opening the store only
    reads it (WAL: a reader never waits on a writer), so the lock is met where it is needed: a write."""
    copy = _copy(intact, tmp_path)
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_S", 0.1)
    holder = sqlite3.connect(copy, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with SQLiteStore(copy, check="quick_check") as store:
            assert store.run_ids()  # read beside the lock
            with pytest.raises(EventLogError, match=r"database is locked") as caught:
                store.append("run-busy", "run.started", {})
        assert not isinstance(caught.value, StoreDamaged)
    finally:
        holder.close()


def test_check_names_only_sqlites_own_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="check must be one of"):
        SQLiteStore(tmp_path / "events.sqlite", check="quick_check; DROP TABLE events")  # type: ignore[arg-type]


# --- a truncated export ---------------------------------------------------------------------------

def _lines(n: int) -> list[bytes]:
    events, prev = [], GENESIS
    for seq in range(1, n + 1):
        event = seal("r", seq, "step", "t", {"n": seq}, prev)
        events.append(canonical_json(event.to_dict()) + b"\n")
        prev = event.hash
    return events


def test_an_export_cut_mid_line_is_incomplete_evidence(tmp_path: Path) -> None:
    lines = _lines(3)
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"".join(lines[:2]) + lines[2][:40])
    read = []
    with pytest.raises(IncompleteEvidence, match=r"run\.jsonl:3: the file ends in the middle of an event") as caught:
        read.extend(read_jsonl(path))
    assert [event.seq for event in read] == [1, 2]
    assert caught.value.exit_code == errors.EXIT_INCOMPLETE == 4


def test_a_bad_line_that_is_not_the_cut_end_stays_a_plain_error(tmp_path: Path) -> None:
    """The negative control: a malformed line followed by its newline was written that way, not cut short."""
    lines = _lines(3)
    path = tmp_path / "run.jsonl"
    path.write_bytes(lines[0] + lines[1][:40] + b"\n" + lines[2])
    with pytest.raises(EventLogError, match=r"run\.jsonl:2: not valid JSON") as caught:
        list(read_jsonl(path))
    assert not isinstance(caught.value, IncompleteEvidence)


def test_a_last_line_without_its_newline_but_whole_reads(tmp_path: Path) -> None:
    lines = _lines(2)
    path = tmp_path / "run.jsonl"
    path.write_bytes(lines[0] + lines[1].rstrip(b"\n"))
    assert [event.seq for event in read_jsonl(path)] == [1, 2]


def test_event_log_exit_codes_match_the_cli_conventions() -> None:
    assert EventLogError.exit_code == errors.EXIT_USAGE
    assert StoreDamaged.exit_code == errors.EXIT_STORE_DAMAGED
    assert IncompleteEvidence.exit_code == errors.EXIT_INCOMPLETE
