"""What only the PostgreSQL store has: a server to reach (and fail to), its triggers, its URL's password.

The contract both stores meet is in ``tests/contract/test_event_store.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from harness.events import EventLogError, canonical_json
from harness.events.factory import masked_url
from harness.events.postgres import PostgresStore
from tests.support.postgres import Server
from tests.support.processes import alive

PROJECT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _refused(url: str) -> str:
    with pytest.raises(EventLogError) as caught:
        PostgresStore(url)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_wrong_password_names_the_url_without_any_password(postgres_server: Server, postgres_url: str) -> None:
    url = postgres_url.replace(postgres_server.password, "not-the-password")
    message = _refused(url)
    assert message.startswith(masked_url(url) + ": cannot open the event store (")
    assert "password authentication failed" in message
    assert "not-the-password" not in message and postgres_server.password not in message


def test_a_missing_database_says_so(postgres_server: Server) -> None:
    message = _refused(postgres_server.url("no_such_db"))
    assert 'database "no_such_db" does not exist' in message
    assert postgres_server.password not in message


def test_a_server_that_is_not_there_says_so_at_once() -> None:
    url = f"postgresql://sit:secret-pw@127.0.0.1:{_free_port()}/events"
    started = time.monotonic()
    message = _refused(url)
    assert time.monotonic() - started < 5
    assert message.startswith(f"postgresql://sit:***@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/events: ")
    assert "secret-pw" not in message


@pytest.mark.parametrize("url", ["mysql://root:pw@localhost/db", "host=localhost password=pw", ""])
def test_what_is_not_a_postgresql_url_is_refused_without_echoing_it(url: str) -> None:
    message = _refused(url)
    assert "must start with postgresql://" in message
    assert "pw" not in message.replace("postgresql://", "")


def test_a_shown_url_masks_the_password_wherever_it_is() -> None:
    assert masked_url("postgresql://sit:s3cret@db.example:5432/events") == "postgresql://sit:***@db.example:5432/events"
    assert masked_url("postgresql://db.example/events?password=s3cret&sslmode=require") == (
        "postgresql://db.example/events?password=***&sslmode=require")
    assert masked_url("postgresql://sit@h1:5432,h2:5433/events") == "postgresql://sit@h1:5432,h2:5433/events"


def test_data_is_stored_as_the_very_bytes_that_were_hashed(postgres_url: str) -> None:
    data = {"b": [1, 2.5, None], "a": "é ✓ \u0000", "nested": {"z": True}}
    with PostgresStore(postgres_url) as store:
        store.append("r1", "step", data)
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT data FROM sit_events WHERE run_id = 'r1'").fetchone()
    assert row is not None and row[0].encode("utf-8") == canonical_json(data)


def test_truncate_is_refused_by_the_database(postgres_url: str) -> None:
    with PostgresStore(postgres_url) as store:
        store.append("r1", "step", {})
    with psycopg.connect(postgres_url, autocommit=True) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("TRUNCATE sit_events")
    with PostgresStore(postgres_url) as store:
        assert store.head("r1") is not None


@pytest.mark.parametrize(("tamper", "state"), [
    ("DROP TRIGGER sit_events_no_rewrite ON sit_events", "missing"),
    ("ALTER TABLE sit_events DISABLE TRIGGER sit_events_no_rewrite", "disabled"),
])
def test_a_check_refuses_a_store_whose_append_only_trigger_was_taken_away(
    postgres_url: str, tamper: str, state: str
) -> None:
    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(tamper.encode())
    PostgresStore(postgres_url).close()  # a plain reader opens it: the chains say whether rows were changed
    with pytest.raises(EventLogError, match=f"append-only trigger sit_events_no_rewrite is {state}"):
        PostgresStore(postgres_url, check="quick_check")


def test_a_foreign_sit_events_table_is_not_taken_for_a_store(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE sit_events (id int)")
    with pytest.raises(EventLogError, match="not an sit-harness event store"):
        PostgresStore(postgres_url)


def test_a_killed_owner_leaves_no_postgres_server_behind(tmp_path: Path) -> None:
    """``kill -9`` of the process that started the throwaway server: its guard stops the server."""
    script = ("import sys, time\nfrom tests.support.postgres import throwaway_postgres\n"
              "with throwaway_postgres() as server:\n"
              "    print(server.socket_dir, flush=True)\n    time.sleep(120)\n")
    child = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        root = Path(child.stdout.readline().strip())
        if not root.name:
            pytest.skip("no PostgreSQL here")  # the child said nothing: throwaway_postgres could not start one
        postmaster = int((root / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        deadline = time.monotonic() + 30
        while (alive(postmaster) or root.exists()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(postmaster), f"postgres {postmaster} outlived its owner"
        assert not root.exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
