"""The PostgreSQL event store: one database a team shares, written from many processes and machines.

Same rows, bytes and hashes as ``SQLiteStore`` (the data column holds exactly the canonical JSON
that was hashed), with the database itself keeping them append-only: statement triggers refuse
UPDATE, DELETE and TRUNCATE on the events table, so even a client with SQL access cannot rewrite
history without first dropping a trigger (which ``check`` reports).

Concurrency. A run's tail is only ever written under a transaction-scoped advisory lock on that
run, taken before its head is read: two appenders can never seal against the same head, and runs
do not wait on each other. A plain append is one statement (lock, then INSERT) on the head this
store last wrote; ``ON CONFLICT DO NOTHING`` finds a head another process has since moved, and the
append is redone on the head read under the lock. ``batch()`` is
one transaction: a run's lock is taken when the batch first touches the run (reads included, so a
check-then-append such as signing never races another batch), its head is read once, and its rows
are sealed in memory and written together before any read and at the end.

``running()`` holds a session-level advisory lock on a connection of its own: the server drops it
with the connection when the process dies, however it dies (a vanished machine after the TCP
keepalives below), so ``is_running`` (a look at ``pg_locks``) never reports a dead run as running.

Faults (server down, bad URL, wrong password, missing database, a dropped connection) are one-line
``EventLogError``s naming the URL without its password.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Collection, Generator, Iterator
from contextlib import contextmanager, suppress
from itertools import count
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from harness.events.chain import hash_encoded
from harness.events.factory import masked_url
from harness.events.model import GENESIS, Event, EventLogError
from harness.events.sqlite import _CHECKS, Check
from harness.events.store import SealingStore

__all__ = ["PostgresStore"]

APPLICATION = "sit-harness event store"
SCHEMA_VERSION = 1
CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT = "30s"  # as SQLite's busy timeout: a writer stopped mid-batch makes others fail, not hang
FETCH_ROWS = 2000  # rows per FETCH of a streamed read
# A vanished client's running lock is dropped by the server after idle + interval * count seconds.
_KEEPALIVE = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}
_SCHEMA_LOCK = 0x5349_5448_0000_0001  # "SITH": one creator of the schema at a time

# Text columns compare as bytes (COLLATE "C"), as SQLite's do, whatever the database's locale:
# run_ids() orders runs with equal first ts by run_id the same way in both stores.
_SCHEMA: tuple[LiteralString, ...] = (
    """CREATE TABLE sit_events (
        run_id    text   COLLATE "C" NOT NULL,
        seq       bigint NOT NULL,
        kind      text   COLLATE "C" NOT NULL,
        ts        text   COLLATE "C" NOT NULL,
        data      text   NOT NULL,  -- canonical JSON, exactly the bytes that were hashed
        prev_hash text   NOT NULL,
        hash      text   NOT NULL,
        PRIMARY KEY (run_id, seq)
    )""",
    "CREATE INDEX sit_events_kind ON sit_events (kind, run_id, seq)",
    # One entry per run: run_ids() and the run order of events_of_kind() scan only this.
    "CREATE INDEX sit_events_run_start ON sit_events (ts, run_id) WHERE seq = 1",
    """CREATE FUNCTION sit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'events are append-only: % on sit_events refused', TG_OP; END $$""",
    # Statement triggers: they fire even when no row matches, and TRUNCATE has no rows.
    """CREATE TRIGGER sit_events_no_rewrite BEFORE UPDATE OR DELETE OR TRUNCATE ON sit_events
       FOR EACH STATEMENT EXECUTE FUNCTION sit_events_append_only()""",
    "CREATE TABLE sit_store (application text PRIMARY KEY, version integer NOT NULL)",
)
_TRIGGER = "sit_events_no_rewrite"

_COLUMNS = "run_id, seq, kind, ts, data, prev_hash, hash"
_HEAD = "SELECT seq, hash FROM sit_events WHERE run_id = %s ORDER BY seq DESC LIMIT 1"
_INSERT = f"INSERT INTO sit_events ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
# A plain append on a known head, in one statement (its own transaction): the run's lock first (the CTE
# is evaluated before the row it feeds), then the row, unless another process has since taken its seq.
_APPEND_ON_HEAD = f"""WITH locked AS (SELECT pg_advisory_xact_lock(%s))
    INSERT INTO sit_events ({_COLUMNS}) SELECT %s, %s, %s, %s, %s, %s, %s FROM locked
    ON CONFLICT (run_id, seq) DO NOTHING"""
_LOCK = "SELECT pg_advisory_xact_lock(%s)"
_TRY_LOCK = "SELECT pg_try_advisory_xact_lock(%s)"

Row = tuple[str, int, str, str, str, str, str]


def _event(row: Row) -> Event:
    run_id, seq, kind, ts, data, prev_hash, hash_ = row
    return Event.stored(run_id, seq, kind, ts, data.encode("utf-8"), prev_hash, hash_)


def _key(purpose: bytes, run_id: str) -> int:
    """A run's advisory lock key (bigint): appending and running are separate locks."""
    return int.from_bytes(hashlib.sha256(purpose + b"\0" + run_id.encode()).digest()[:8], "big", signed=True)


class PostgresStore(SealingStore):
    """An ``EventStore`` in a PostgreSQL database (its tables created on first open)."""

    def __init__(self, url: str, check: Check | None = None) -> None:
        """Open the store at ``url`` (``postgresql://user:password@host:port/database``).

        ``check`` (either level; there are no pages to check here) confirms the database still
        refuses rewrites: its append-only trigger is in place and enabled.
        """
        if check is not None and check not in _CHECKS:
            raise ValueError(f"check must be one of {_CHECKS}, not {check!r}")
        self._url = url
        self._name = masked_url(url) if url.startswith(("postgresql://", "postgres://")) else "the event store URL"
        try:
            self._password = str(conninfo_to_dict(url).get("password") or "")
        except psycopg.Error:
            self._password = ""
        if self._name == "the event store URL":
            raise EventLogError("the event store URL must start with postgresql:// (postgresql://user@host/db)")
        # Threads of one process share the connection; the lock keeps each of their transactions whole.
        self._lock = threading.RLock()
        self._batch_lock = threading.RLock()  # held for a whole batch (see ``batch``)
        self._batch_depth = 0
        self._owned: set[str] = set()  # runs whose advisory lock the open batch holds
        self._batch_heads: dict[str, tuple[int, str]] = {}
        self._pending: list[Row] = []
        # Heads this store committed: the next plain append seals on them without reading.
        self._heads: dict[str, tuple[int, str]] = {}
        self._cursors = count(1)
        self._conn = self._connect("open the event store")
        try:
            self._prepare(check)
        except psycopg.Error as exc:
            self._conn.close()
            raise self._fault(exc, "open the event store") from None
        except EventLogError:
            self._conn.close()
            raise
        self._cur = self._conn.cursor()  # one reused cursor for appends

    # -- connection and faults

    def _connect(self, doing: str) -> psycopg.Connection[Any]:
        try:
            params: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S, **conninfo_to_dict(self._url)}
            return psycopg.connect(autocommit=True, **params)
        except psycopg.Error as exc:
            raise self._fault(exc, doing) from None

    def _fault(self, exc: BaseException, doing: str) -> EventLogError:
        """A fault PostgreSQL (or the way to it) reported, in one line, with no password in it."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        if self._password:
            text = text.replace(self._password, "***")
        return EventLogError(f"{self._name}: cannot {doing} ({text})")

    def _prepare(self, check: Check | None) -> None:
        """Set the lock timeout; check the schema is ours, creating it if the database has none."""
        conn = self._conn
        row = conn.execute(
            "SELECT set_config('lock_timeout', %s, false), to_regclass('sit_store') IS NOT NULL",
            (LOCK_TIMEOUT,),
        ).fetchone()
        if row is None or not row[1]:
            self._create_schema()
        version = conn.execute("SELECT version FROM sit_store WHERE application = %s", (APPLICATION,)).fetchone()
        if version is None:
            raise EventLogError(f"{self._name}: not an sit-harness event store (its sit_store table says otherwise)")
        if version[0] != SCHEMA_VERSION:
            raise EventLogError(f"{self._name}: event store schema version {version[0]} is not {SCHEMA_VERSION}")
        if check is not None:
            self._check_trigger()

    def _create_schema(self) -> None:
        """Create the tables once, even when several processes open a fresh database at once."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.execute(_LOCK, (_SCHEMA_LOCK,))
            # pg_class read with this statement's snapshot, not to_regclass: the backend may still cache
            # "no such table" from before the lock, though another process has since created it.
            found = {name for (name,) in conn.execute(
                "SELECT relname FROM pg_class WHERE relname IN ('sit_store', 'sit_events') "
                "AND relnamespace = current_schema()::regnamespace")}
            if "sit_store" not in found:
                if "sit_events" in found:
                    raise EventLogError(f"{self._name}: not an sit-harness event store (a sit_events table "
                                        "without sit_store)")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO sit_store VALUES (%s, %s)", (APPLICATION, SCHEMA_VERSION))
            conn.execute("COMMIT")
        except BaseException:
            with suppress(psycopg.Error):
                conn.execute("ROLLBACK")
            raise

    def _check_trigger(self) -> None:
        row = self._conn.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'sit_events'::regclass AND tgname = %s", (_TRIGGER,)
        ).fetchone()
        if row is None or row[0] == "D":
            state = "missing" if row is None else "disabled"
            raise EventLogError(f"{self._name}: the events table's append-only trigger {_TRIGGER} is {state}, so "
                                "its history may have been rewritten: verify every run (sit verify) and have the "
                                "database owner restore the trigger")

    def _reset(self) -> None:
        """After a fault: forget every head held in memory and end any half-done transaction."""
        self._heads.clear()
        if self._conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            with suppress(psycopg.Error):
                self._conn.execute("ROLLBACK")

    def _drop_leftover(self) -> None:
        """Outside a batch no transaction of ours stays open, unless an interruption (Ctrl-C, SIGTERM) landed
        between its BEGIN and its COMMIT: roll it back (and the heads it may have moved), so that the next
        append is committed rather than joining it, and the run's lock it holds is let go."""
        if self._batch_depth == 0 and self._conn.info.transaction_status != TransactionStatus.IDLE:
            self._reset()

    # -- appending

    def _append_alone(self, run_id: str, kind: str, ts: str, data_json: bytes, data_text: str) -> tuple[int, str, str]:
        """One statement when this store wrote the run's head; else (or if another process moved it since)
    a transaction that reads the head under the lock: two round trips."""
        key, conn, cur = _key(b"append", run_id), self._conn, self._cur
        try:
            self._drop_leftover()
            head = self._heads.get(run_id)
            if head is not None:
                row = self._seal(run_id, kind, ts, data_json, data_text, head)
                cur.execute(_APPEND_ON_HEAD, (key, *row))
                if cur.rowcount == 1:
                    self._heads[run_id] = (row[1], row[6])
                    return row[1], row[5], row[6]
            # Not this store's head, or another process moved it: read it under the lock.
            with conn.pipeline():
                conn.execute("BEGIN")
                conn.execute(_LOCK, (key,))
                cur.execute(_HEAD, (run_id,))
            row = self._seal(run_id, kind, ts, data_json, data_text, cur.fetchone())
            with conn.pipeline():
                conn.execute(_INSERT, row)
                conn.execute("COMMIT")
        except psycopg.Error as exc:
            self._reset()
            raise self._fault(exc, f"append to run {run_id!r}") from None
        self._heads[run_id] = (row[1], row[6])
        return row[1], row[5], row[6]

    @staticmethod
    def _seal(run_id: str, kind: str, ts: str, data_json: bytes, data_text: str,
              head: tuple[int, str] | tuple[Any, ...] | None) -> Row:
        seq, prev_hash = (int(head[0]) + 1, str(head[1])) if head else (1, GENESIS)
        return (run_id, seq, kind, ts, data_text, prev_hash, hash_encoded(run_id, seq, kind, ts, data_json, prev_hash))

    def _seal_in_batch(self, run_id: str, kind: str, ts: str, data_json: bytes, data_text: str) -> tuple[int, str, str]:
        """Seal against the head the batch holds the lock of; the row is written with the batch's others."""
        if run_id in self._batch_heads:
            head: tuple[int, str] | None = self._batch_heads[run_id]
        else:
            try:
                head = self._own(run_id, want_head=True)
            except psycopg.Error as exc:
                self._heads.clear()
                raise self._fault(exc, f"append to run {run_id!r}") from None
        row = self._seal(run_id, kind, ts, data_json, data_text, head)
        self._pending.append(row)
        self._batch_heads[run_id] = (row[1], row[6])
        return row[1], row[5], row[6]

    def _own(self, run_id: str, want_head: bool) -> tuple[int, str] | None:
        """Hold the run's lock for the rest of the batch (its transaction begun on the first); the head if wanted.

        Waiting for one lock while holding another could deadlock two batches that touch the same
        runs in opposite orders, and the server would then abort one with its sealed events. So a
        batch that holds locks and finds this one taken commits what it has first, then waits.
        """
        conn, key = self._conn, _key(b"append", run_id)
        lock = run_id not in self._owned
        if lock and self._owned:
            got = conn.execute(_TRY_LOCK, (key,)).fetchone()
            if got is not None and got[0]:
                lock = False
            else:
                self._commit_batch()
        self._owned.add(run_id)
        if not (lock or want_head):
            return None
        with conn.pipeline():  # one round trip: BEGIN, the lock (waited for on the server), the head
            if conn.info.transaction_status == TransactionStatus.IDLE:
                conn.execute("BEGIN")
            if lock:
                conn.execute(_LOCK, (key,))
            if want_head:
                self._cur.execute(_HEAD, (run_id,))
        found = self._cur.fetchone() if want_head else None
        return (int(found[0]), str(found[1])) if found else None

    def _commit_batch(self) -> None:
        """Write the batch's sealed rows and commit, in one round trip; its heads are then the database's."""
        conn = self._conn
        if conn.info.transaction_status != TransactionStatus.IDLE:
            rows, self._pending = self._pending, []
            with conn.pipeline():
                if rows:
                    self._cur.executemany(_INSERT, rows)
                conn.execute("COMMIT")
        self._heads.update(self._batch_heads)
        self._batch_heads.clear()
        self._owned.clear()

    def _flush(self) -> None:
        """Write the batch's sealed rows (before a read, so it sees them)."""
        if self._pending:
            rows, self._pending = self._pending, []
            self._cur.executemany(_INSERT, rows)

    def _end_batch(self) -> None:
        with self._lock:
            self._batch_depth -= 1
            if self._batch_depth:
                return
            try:
                self._commit_batch()
            except psycopg.Error as exc:
                self._pending.clear()
                self._batch_heads.clear()
                self._owned.clear()
                self._reset()
                raise self._fault(exc, "commit a batch") from None

    # -- reading

    def _before_read(self, run_id: str | None, doing: str) -> None:
        """Inside a batch: the run's lock (so what is read stays the head until the batch ends), then its rows."""
        with self._lock:
            if not self._batch_depth:
                return
            try:
                if run_id is not None:
                    self._own(run_id, want_head=False)
                self._flush()
            except psycopg.Error as exc:
                self._heads.clear()
                raise self._fault(exc, doing) from None

    def _query(self, query: LiteralString, params: tuple[Any, ...], run_id: str | None) -> Generator[Event, None, None]:
        """Rows as events through a server-side cursor, ``FETCH_ROWS`` at a time (never all in memory).

        WITH HOLD, so the cursor outlives the statement's transaction: between fetches the connection is
        free for appends and other reads, as SQLite's is.
        """
        self._before_read(run_id, "read the event store")
        name = f"sit_read_{next(self._cursors)}"
        try:
            with self._lock:
                cur = self._conn.cursor(name, withhold=True)
                cur.itersize = FETCH_ROWS
                cur.execute(query, params)
        except psycopg.Error as exc:
            raise self._fault(exc, "read the event store") from None
        try:
            while True:
                with self._lock:
                    rows = cur.fetchmany(FETCH_ROWS)
                if not rows:
                    return
                for row in rows:
                    yield _event(row)
        except psycopg.Error as exc:
            raise self._fault(exc, "read the event store") from None
        finally:
            with self._lock, suppress(psycopg.Error):  # the store may be closed under a half-read cursor
                cur.close()

    def _rows(self, query: LiteralString, params: tuple[Any, ...], run_id: str | None) -> list[Any]:
        """Every row of a small query, read at once (a head, the run ids)."""
        self._before_read(run_id, "read the event store")
        try:
            with self._lock:
                return self._conn.execute(query, params).fetchall()
        except psycopg.Error as exc:
            raise self._fault(exc, "read the event store") from None

    def events(self, run_id: str, after_seq: int = 0) -> Generator[Event, None, None]:
        return self._query(f"SELECT {_COLUMNS} FROM sit_events WHERE run_id = %s AND seq > %s ORDER BY seq",
                           (run_id, after_seq), run_id)

    def head(self, run_id: str) -> Event | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM sit_events WHERE run_id = %s ORDER BY seq DESC LIMIT 1",
                          (run_id,), run_id)
        return _event(rows[0]) if rows else None

    def run_ids(self) -> list[str]:
        rows = self._rows("SELECT run_id FROM sit_events WHERE seq = 1 ORDER BY ts, run_id", (), None)
        return [run_id for (run_id,) in rows]

    def events_of_kind(self, kinds: Collection[str], run_id: str | None = None) -> Iterator[Event]:
        kinds = list(kinds)
        if not kinds:
            return iter(())
        if run_id is not None:
            return self._query(
                f"SELECT {_COLUMNS} FROM sit_events WHERE run_id = %s AND kind = ANY(%s) ORDER BY seq",
                (run_id, kinds), run_id)
        return self._query(
            """SELECT e.run_id, e.seq, e.kind, e.ts, e.data, e.prev_hash, e.hash
               FROM sit_events AS e JOIN sit_events AS first ON first.run_id = e.run_id AND first.seq = 1
               WHERE e.kind = ANY(%s)
               ORDER BY first.ts, e.run_id, e.seq""",
            (kinds,), None)

    # -- running

    @contextmanager
    def running(self, run_id: str) -> Iterator[None]:
        conn, key = self._connect(f"mark run {run_id} as running"), _key(b"running", run_id)
        try:
            settings = sql.SQL(", ").join(
                sql.SQL("set_config({}, {}, false)").format(name, value) for name, value in _KEEPALIVE.items())
            got = conn.execute(sql.SQL("SELECT {}, pg_try_advisory_lock(%s)").format(settings), (key,)).fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise self._fault(exc, f"mark run {run_id} as running") from None
        if got is None or not got[-1]:
            conn.close()
            raise EventLogError(f"run {run_id} is already running in another process")
        try:
            yield
        finally:
            # Let go before closing: the server ends a closed connection's session (and drops its
            # lock) a moment later, and is_running must read False once the block is over.
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            conn.close()

    def is_running(self, run_id: str) -> bool:
        # pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32), objsubid 1.
        key = _key(b"running", run_id) & 0xFFFF_FFFF_FFFF_FFFF
        rows = self._rows(
            """SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND granted AND objsubid = 1
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND classid = %s::bigint::oid AND objid = %s::bigint::oid""",
            (key >> 32, key & 0xFFFF_FFFF), None)
        return bool(rows)

    def close(self) -> None:
        self._conn.close()
