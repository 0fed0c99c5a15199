"""The SQLite event store: one file, safe for several processes at once.

WAL lets readers run while one process appends; ``BEGIN IMMEDIATE`` takes the write
lock *before* the head is read, so two processes can never seal against the same
head. A batch of a run this store holds as running (``running``: no other process appends
to it) takes the lock only to write its rows at its end, so that the steps of runs in other
processes (parallel billers) are not kept waiting for the whole of one step; should another
process append to such a run all the same, the primary key refuses the batch whole.
``synchronous=NORMAL`` in WAL survives a process crash (not a power cut) and keeps a commit
per event cheap enough to report every step only once it is stored.

A damaged file (SQLite's corruption errors, or its own integrity check when asked for at
open) is a ``StoreDamaged``, wherever it is met: reads stream, so it can surface mid-way.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Collection, Generator, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

from harness.events.chain import hash_encoded
from harness.events.model import GENESIS, Event, EventLogError
from harness.events.store import SealingStore

# Marks the file as ours in the SQLite header ("SITH"), so a stray database is refused.
APPLICATION_ID = 0x53495448
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

# SQLite's own checks, by cost: quick_check reads every page and checks each b-tree's
# structure (~0.1 s per 100k events here); integrity_check also checks every index
# against its table (~0.3 s), which tells a damaged index from tampered rows.
Check = Literal["quick_check", "integrity_check"]
_CHECKS: tuple[Check, ...] = ("quick_check", "integrity_check")
# The result codes that mean the file itself is damaged (not busy, not unreadable).
_DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
# Bytes every SQLite file carries: its first 16, and the fixed payload fractions at 21-23.
_MAGIC = b"SQLite format 3\x00"
_FRACTIONS = (slice(21, 24), b"\x40\x20\x20")

# The kinds of a run's own events, as a condition events_run_kinds is made on and queries repeat to use it
# (SQLite uses a partial index only for a query that says its condition in the same words).
_RUN_KINDS = "kind >= 'run.' AND kind < 'run/'"

# Separate statements, not one script: executescript() would commit the open
# BEGIN IMMEDIATE that guards creation against a concurrent creator.
_SCHEMA = (
    """CREATE TABLE events (
        run_id    TEXT    NOT NULL,
        seq       INTEGER NOT NULL,
        kind      TEXT    NOT NULL,
        ts        TEXT    NOT NULL,
        data      TEXT    NOT NULL,  -- canonical JSON, exactly the bytes that were hashed
        prev_hash TEXT    NOT NULL,
        hash      TEXT    NOT NULL,
        PRIMARY KEY (run_id, seq)
    )""",
    # A run's own events (run.started, run.finished, ...) are the kinds looked up across runs (`sit runs`) and
    # per run (how it ended); only they are indexed. An index of every kind cost each append a third of its
    # time: a step's events of several kinds each write a leaf page of it per commit.
    f"CREATE INDEX events_run_kinds ON events (run_id, kind) WHERE {_RUN_KINDS}",
    # One entry per run: run_ids() and the run order of events_of_kind() scan only this.
    "CREATE INDEX events_run_start ON events (ts, run_id) WHERE seq = 1",
    """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

_COLUMNS = "run_id, seq, kind, ts, data, prev_hash, hash"
_E_COLUMNS = "e.run_id, e.seq, e.kind, e.ts, e.data, e.prev_hash, e.hash"
_HEAD = "SELECT seq, hash FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"

Row = tuple[str, int, str, str, str, str, str]


def _event(row: Row) -> Event:
    run_id, seq, kind, ts, data, prev_hash, hash_ = row
    return Event.stored(run_id, seq, kind, ts, data.encode("utf-8"), prev_hash, hash_)


class StoreDamaged(EventLogError):
    """The store's SQLite file is damaged: its pages or its header no longer hold together.

    Distinct from a broken chain (rows that were edited): here SQLite itself cannot
    trust the file, so nothing in it is evidence until it is restored.
    """

    exit_code = 5  # harness.errors.EXIT_STORE_DAMAGED


def _is_damage(exc: sqlite3.Error) -> bool:
    # Extended codes (SQLITE_CORRUPT_INDEX, ...) carry the primary code in their low byte.
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _DAMAGE_CODES


def _one_line(text: str) -> str:
    return " ".join(text.replace("*** in database main ***", "").split())


class SQLiteStore(SealingStore):
    """An ``EventStore`` in one SQLite file (created, with its parent dirs, if absent)."""

    def __init__(self, path: Path, check: Check | None = None) -> None:
        """Open (or create) the store; ``check`` runs SQLite's own check of the whole file first.

        Writers and verifiers ask for a check: a damaged page no query happens to touch
        would otherwise go unnoticed. Readers that reopen the store per read do not.
        """
        if check is not None and check not in _CHECKS:
            raise ValueError(f"check must be one of {_CHECKS}, not {check!r}")
        self._path = Path(path)
        # Threads of one process share the connection; the lock keeps each of their
        # BEGIN..COMMIT whole. Other processes are kept out by SQLite's own lock.
        self._lock = threading.RLock()
        # Held for a whole batch, so one thread's batch waits for another's; plain appends
        # do not take it (see ``batch``).
        self._batch_lock = threading.RLock()
        self._batch_depth = 0
        # Heads sealed inside the current batch: it holds the write lock (or the run is held as running),
        # so no other process can move them, and re-reading them would be a query per append.
        self._batch_heads: dict[str, tuple[int, str]] = {}
        # The runs this store holds as running (``running``): their batches defer the write lock to their end.
        self._held: set[str] = set()
        # The head of each run this connection last committed: a guess a plain append seals against without
        # reading the head first. Another process's append to the run since took that seq, so the primary
        # key refuses the insert and the append reads the head: a stale guess costs a retry, never a fork.
        # (Only committed heads are kept: a guess ahead of the file would go unnoticed.)
        self._heads: dict[str, tuple[int, str]] = {}
        self._pending: list[tuple[str, int, str, str, str, str, str]] = []
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise EventLogError(f"{self._path}: cannot open the event store ({exc})") from None
        try:
            self._prepare(check)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise self._open_error(exc) from None
        except EventLogError:
            self._conn.close()
            raise
        # One reused cursor for appends: saves creating a cursor object per event.
        self._cur = self._conn.cursor()

    def _open_error(self, exc: sqlite3.DatabaseError) -> EventLogError:
        """Why the file could not be opened as a store, in one line."""
        if _is_damage(exc) and (exc.sqlite_errorcode != sqlite3.SQLITE_NOTADB or self._was_sqlite()):
            header = exc.sqlite_errorcode == sqlite3.SQLITE_NOTADB
            return self._damaged(f"the file header is broken: SQLite says '{exc}'" if header else f"SQLite: {exc}")
        if isinstance(exc, sqlite3.OperationalError):  # locked past the timeout, unreadable, read-only
            return EventLogError(f"{self._path}: cannot open the event store ({exc})")
        return EventLogError(f"{self._path}: not an sit-harness event store ({exc})")

    def _was_sqlite(self) -> bool:
        """Whether the file still shows SQLite's fixed header bytes (either set of them).

        SQLite says "file is not a database" for a text file and for a damaged header alike;
        a header with a damaged field, or a flipped byte in the magic string, keeps the other set.
        """
        try:
            with open(self._path, "rb") as file:
                head = file.read(100)
        except OSError:
            return False
        return head.startswith(_MAGIC) or head[_FRACTIONS[0]] == _FRACTIONS[1]

    def _damaged(self, detail: str) -> StoreDamaged:
        return StoreDamaged(f"{self._path}: the event store is damaged ({detail}); restore it from a backup: "
                            "evidence in a damaged file cannot be trusted")

    def _fault(self, exc: sqlite3.DatabaseError, doing: str) -> EventLogError:
        """A read or write that SQLite refused: damage, or why not (busy, disk full, ...)."""
        if _is_damage(exc):
            return self._damaged(f"SQLite: {exc}")
        return EventLogError(f"{self._path}: cannot {doing} ({exc})")

    def _check(self, check: Check) -> None:
        """SQLite's own check of every page (and, for integrity_check, every index); rows other than "ok" are damage."""
        problems = [_one_line(str(row[0])) for row in self._conn.execute(f"PRAGMA {check}")]
        if problems != ["ok"]:
            more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
            raise self._damaged(f"SQLite's {check}: {problems[0]}{more}")

    def _prepare(self, check: Check | None) -> None:
        """Tune the connection; check the file is ours, creating the schema if it is empty."""
        conn = self._conn
        # Reads the header first, so a file that is not SQLite fails before anything is written.
        conn.execute("PRAGMA schema_version").fetchone()
        if check is not None:  # before WAL mode is set: nothing is written to a damaged file
            self._check(check)
        conn.execute("PRAGMA journal_mode=WAL").fetchone()
        conn.execute("PRAGMA synchronous=NORMAL")
        # A store that has its schema is only read here: a reader (`sit runs`) must never wait on the write
        # lock of a run that is appending (or held stopped) meanwhile; WAL lets it read beside that run.
        if self._identity() == (APPLICATION_ID, SCHEMA_VERSION):
            return
        conn.execute("BEGIN IMMEDIATE")  # another process may be creating the schema right now
        try:
            app_id, version = self._identity()
            if app_id == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                for statement in _SCHEMA:
                    conn.execute(statement)
            elif app_id != APPLICATION_ID:
                raise EventLogError(f"{self._path}: not an sit-harness event store (a different SQLite database)")
            elif version != SCHEMA_VERSION:
                raise EventLogError(f"{self._path}: event store schema version {version} is not {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _identity(self) -> tuple[int, int]:
        """The file's application id and schema version (0, 0 for a new, empty file)."""
        conn = self._conn
        return (conn.execute("PRAGMA application_id").fetchone()[0], conn.execute("PRAGMA user_version").fetchone()[0])

    def _drop_leftover(self) -> None:
        """Outside a batch no transaction of ours stays open, unless an interruption (Ctrl-C, SIGTERM) landed
        just as one began, before its owner could track it: roll it back, holding no rows, so that it neither
        refuses the next append nor keeps other processes' appends waiting on the file's write lock."""
        if self._batch_depth == 0 and self._conn.in_transaction:
            try:
                self._cur.execute("ROLLBACK")
            except sqlite3.DatabaseError as exc:
                raise self._fault(exc, "end a transaction an interruption left open") from None

    def _append_alone(self, run_id: str, kind: str, ts: str, data_json: bytes, data_text: str) -> tuple[int, str, str]:
        cur = self._cur
        try:
            self._drop_leftover()
            cur.execute("BEGIN IMMEDIATE")
            try:
                guess = self._heads.get(run_id)
                try:
                    sealed = self._insert(run_id, kind, ts, data_json, data_text, guess or self._head(run_id))
                except sqlite3.IntegrityError:
                    if guess is None:
                        raise
                    # Another process appended to the run since this connection did: seal against its head.
                    sealed = self._insert(run_id, kind, ts, data_json, data_text, self._head(run_id))
                cur.execute("COMMIT")
            except BaseException:
                self._heads.pop(run_id, None)
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise self._fault(exc, f"append to run {run_id!r}") from None
        self._heads[run_id] = (sealed[0], sealed[2])
        return sealed

    def _head(self, run_id: str) -> tuple[int, str] | None:
        """The run's head as the file has it (None: the run has no event yet)."""
        row = self._cur.execute(_HEAD, (run_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def _insert(self, run_id: str, kind: str, ts: str, data_json: bytes, data_text: str,
                head: tuple[int, str] | None) -> tuple[int, str, str]:
        """Seal the event against ``head`` and insert it: (seq, prev_hash, hash)."""
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
        hash_ = hash_encoded(run_id, seq, kind, ts, data_json, prev_hash)
        self._cur.execute(_INSERT, (run_id, seq, kind, ts, data_text, prev_hash, hash_))
        return seq, prev_hash, hash_

    def _seal_in_batch(self, run_id: str, kind: str, ts: str, data_json: bytes, data_text: str) -> tuple[int, str, str]:
        """Seal against the head the batch knows and keep the row for one insert at the end.

        The batch holds the write lock from its first touch of a run, so no other process can move a head
        meanwhile; a run this store holds as running needs no lock for that (see the module's note).
        """
        head = self._batch_heads.get(run_id)
        if head is None:
            try:
                if run_id not in self._held:
                    self._write()
                elif run_id in self._heads:  # committed by this store, and nobody else appends to it
                    head = self._heads[run_id]
                if head is None:
                    head = self._cur.execute(_HEAD, (run_id,)).fetchone()
            except sqlite3.DatabaseError as exc:
                raise self._fault(exc, f"append to run {run_id!r}") from None
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
        hash_ = hash_encoded(run_id, seq, kind, ts, data_json, prev_hash)
        self._pending.append((run_id, seq, kind, ts, data_text, prev_hash, hash_))
        self._batch_heads[run_id] = (seq, hash_)
        return seq, prev_hash, hash_

    def _write(self) -> None:
        """The batch's write transaction, begun (the file's write lock taken) if it is not yet."""
        if not self._conn.in_transaction:
            self._cur.execute("BEGIN IMMEDIATE")

    def _flush(self) -> None:
        """Write the batch's sealed rows (before a read, so it sees them; and at commit)."""
        if self._pending:
            rows, self._pending = self._pending, []
            try:
                self._write()
                self._cur.executemany(_INSERT, rows)
            except sqlite3.IntegrityError:
                self._cur.execute("ROLLBACK")  # none of the batch, rather than part of it
                self._batch_heads.clear()
                runs = sorted({row[0] for row in rows})
                for run_id in runs:
                    self._heads.pop(run_id, None)
                raise EventLogError(f"{self._path}: another process appended to run {runs[0]} while this one held "
                                    f"it running; the {len(rows)} events of this batch were not written") from None
            except sqlite3.DatabaseError as exc:
                raise self._fault(exc, f"write {len(rows)} events") from None

    def _end_batch(self) -> None:
        with self._lock:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                sealed, self._batch_heads = self._batch_heads, {}
                try:
                    self._flush()
                finally:
                    self._commit()
                # Only once committed: a guess behind the file is caught by the insert, one ahead of it would not be.
                self._heads.update(sealed)

    def _commit(self) -> None:
        if self._conn.in_transaction:
            try:
                self._cur.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise self._fault(exc, "commit a batch") from None

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> Generator[Event, None, None]:
        """Rows as events, one step of the cursor at a time (never fetchall).

        A generator: damage met on a page deep in the run surfaces here, mid-iteration,
        so the cursor's steps are guarded as well as its start.
        """
        with self._lock:
            self._flush()
        try:
            cur = self._conn.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise self._fault(exc, "read the event store") from None
        try:
            for row in cur:
                yield _event(row)
        except sqlite3.DatabaseError as exc:
            raise self._fault(exc, "read the event store") from None
        finally:
            with suppress(sqlite3.ProgrammingError):  # the store was closed under a half-read cursor
                cur.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Every row of a small query, read at once (a head, the run ids)."""
        with self._lock:
            self._flush()
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._fault(exc, "read the event store") from None

    def events(self, run_id: str, after_seq: int = 0) -> Generator[Event, None, None]:
        return self._query(
            f"SELECT {_COLUMNS} FROM events WHERE run_id = ? AND seq > ? ORDER BY seq", (run_id, after_seq)
        )

    def head(self, run_id: str) -> Event | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", (run_id,))
        return _event(rows[0]) if rows else None

    def run_ids(self) -> list[str]:
        return [run_id for (run_id,) in self._rows("SELECT run_id FROM events WHERE seq = 1 ORDER BY ts, run_id")]

    def events_of_kind(self, kinds: Collection[str], run_id: str | None = None) -> Iterator[Event]:
        kinds = list(kinds)
        if not kinds:
            return iter(())
        return self._query(self._kinds_sql(kinds, run_id), tuple(kinds) if run_id is None else (run_id, *kinds))

    @staticmethod
    def _kinds_sql(kinds: list[str], run_id: str | None) -> str:
        """The query of ``events_of_kind``: the run id (if any), then the kinds, as its parameters.

        Kinds of a run's own events are found through events_run_kinds; others by reading the run (or all runs).
        """
        marks = ", ".join("?" * len(kinds))
        indexed = all(isinstance(kind, str) and kind.startswith("run.") for kind in kinds)
        if run_id is not None:
            also = f" AND {_RUN_KINDS}" if indexed else ""
            return f"SELECT {_COLUMNS} FROM events WHERE run_id = ? AND kind IN ({marks}){also} ORDER BY seq"
        also = f" AND {_RUN_KINDS.replace('kind', 'e.kind')}" if indexed else ""
        return f"""SELECT {_E_COLUMNS}
                FROM events AS e JOIN events AS first ON first.run_id = e.run_id AND first.seq = 1
                WHERE e.kind IN ({marks}){also}
                ORDER BY first.ts, e.run_id, e.seq"""

    # A run's process holds an flock on a file beside the store while it runs: the kernel drops
    # it when the process dies, however it dies, so a killed run never reads as running.

    def _run_lock(self, run_id: str) -> Path:
        return self._path.with_name(f"{self._path.name}.running") / f"{run_id}.lock"

    @contextmanager
    def running(self, run_id: str) -> Iterator[None]:
        path = self._run_lock(run_id)
        try:
            path.parent.mkdir(exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise EventLogError(f"{path}: cannot mark run {run_id} as running ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EventLogError(f"run {run_id} is already running in another process") from None
        self._held.add(run_id)
        try:
            yield
        finally:
            self._held.discard(run_id)
            path.unlink(missing_ok=True)  # before the lock goes: a reader never sees a stale free lock file
            os.close(fd)

    def is_running(self, run_id: str) -> bool:
        try:
            fd = os.open(self._run_lock(run_id), os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def close(self) -> None:
        self._conn.close()
