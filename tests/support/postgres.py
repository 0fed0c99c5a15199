"""A throwaway PostgreSQL server for the tests and benchmarks: started in a temp dir, stopped however they end.

``throwaway_postgres()`` runs ``initdb`` and ``pg_ctl start`` (each under a second) and yields the
server; ``Server.database()`` creates a fresh, empty database on it (a few ms), so tests never see
each other's events. As root, the server runs as the ``postgres`` user (``initdb`` refuses root).

The server listens on 127.0.0.1 with password authentication, so URLs carry a password as a team's
store URL does (and error messages can be checked for leaking it); the admin connection uses the
Unix socket in the server's own folder, with trust.

No orphan server, however pytest ends: ``pg_ctl`` starts the server in its own session, so a Ctrl-C
at the terminal reaches pytest only and the fixture's teardown stops it; and a guard process, in its
own session too, holds the read end of a pipe only this process writes to: when this process dies
by any signal (``kill -9`` included) the pipe closes, and the guard stops the server and removes its
folder.

The pytest fixtures: ``postgres_server`` (one server per session, per xdist worker: each worker is its
own session) and ``postgres_url`` (a fresh database per test). Where PostgreSQL cannot be had
(no binaries; root without a ``postgres`` user) they skip, saying why in one line.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PostgresUnavailable", "Server", "postgres_server", "postgres_url", "throwaway_postgres"]

START_TIMEOUT_S = 60  # pg_ctl -w: a loaded machine can take longer than the usual second
_USER = "postgres"

# The guard: waits for its stdin to close (this process is gone or done), then stops the server and removes
# its folder. ``immediate`` because nobody is left to care about a clean shutdown.
_GUARD = """
import shutil, subprocess, sys
root, stop = sys.argv[1], sys.argv[2:]
sys.stdin.buffer.read()
subprocess.run(stop, capture_output=True)
shutil.rmtree(root, ignore_errors=True)
"""


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be started here; ``str()`` says why in one line."""


@dataclass(frozen=True)
class Server:
    """A running throwaway server: ``url(db)`` for clients, ``admin(sql)`` to run SQL as the superuser."""

    port: int
    password: str
    socket_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """One statement as the superuser, over the Unix socket (autocommit: CREATE DATABASE needs it)."""
        import psycopg  # only where a server runs: the helper's import must not need psycopg

        with psycopg.connect(host=str(self.socket_dir), port=self.port, user=_USER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql.encode())

    def database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t_{secrets.token_hex(6)}"
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _bindir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: $PG_BINDIR, Debian's newest, or the PATH's."""
    candidates = [os.environ.get("PG_BINDIR", ""), *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PostgresUnavailable("PostgreSQL is not installed (no initdb/pg_ctl; Debian: apt-get install postgresql-15)")


def _as_server_user() -> list[str]:
    """The prefix that runs a command as the server's owner: ``runuser -u postgres --`` as root, else nothing."""
    if os.geteuid() != 0:
        return []
    try:
        import pwd

        pwd.getpwnam(_USER)
    except KeyError:
        raise PostgresUnavailable("running as root and there is no 'postgres' user to run PostgreSQL as "
                                  "(initdb refuses root)") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and no runuser to start PostgreSQL as 'postgres'")
    return [runuser, "-u", _USER, "--"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log and log.exists() else []
        detail = " ".join((done.stderr.strip().splitlines() or tail or [f"exit {done.returncode}"])[-1:])
        raise PostgresUnavailable(f"{what} failed: {detail}")


def _start_guard(root: Path, stop: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """The guard process and the write end of its pipe (close it to let the guard clean up)."""
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, False)
    guard = subprocess.Popen([sys.executable, "-c", _GUARD, str(root), *stop],
                             stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, close_fds=True)
    os.close(read_end)
    return guard, write_end


@contextlib.contextmanager
def throwaway_postgres(durable: bool = False) -> Iterator[Server]:
    """A PostgreSQL server for the block, in a temp dir removed afterwards; ``PostgresUnavailable`` if none can run.

    Not ``durable`` (the tests): no fsync, which a throwaway server does not need. ``durable`` (the
    benchmarks): PostgreSQL's default durability, as a team's server has.
    """
    bindir = _bindir()
    prefix = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="sit-pg-"))
    data, password = root / "data", secrets.token_urlsafe(12)
    if prefix:
        shutil.chown(root, _USER)
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
    guard, guard_pipe = _start_guard(root, [*pg_ctl, "-m", "immediate", "-w", "stop"])
    try:
        (root / "pw").write_text(password)
        if prefix:
            shutil.chown(root / "pw", _USER)
        _run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", _USER, "--pwfile", str(root / "pw"),
              "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"],
             "initdb")
        port = _free_port()
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off"
        log = root / "server.log"
        _run([*pg_ctl, "-l", str(log), "-t", str(START_TIMEOUT_S), "-w", "-o", options, "start"], "pg_ctl start", log)
        try:
            yield Server(port, password, root)
        finally:
            subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"],
                           capture_output=True, stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        os.close(guard_pipe)  # the guard stops whatever still runs and removes the folder
        guard.wait()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """One throwaway server for the session (per xdist worker), or a skip saying why there is none."""
    try:
        cm = throwaway_postgres()
        server = cm.__enter__()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL: {exc}")
    try:
        yield server
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server: Server) -> str:
    """The URL of a fresh, empty database on the session's server, with its password."""
    return postgres_server.database()
