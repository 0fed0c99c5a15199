"""The loopback sFTP server against real clients: asyncssh and, when installed, OpenSSH sftp."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from harness.transfer import SftpServer, TransferError, upload

PASSWORDS = {"biller": "s3cret-biller", "other": "s3cret-other"}
INVOICE = b'<?xml version="1.0"?>\n<billheader><invoice id="INV-1" amount="42.00"/></billheader>\n'


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpServer]:
    with SftpServer(tmp_path / "sftp", PASSWORDS) as srv:
        yield srv


def _put(srv: SftpServer, user: str, content: bytes, name: str) -> None:
    upload(srv.host, srv.port, user, PASSWORDS[user], content, name, host_key=srv.host_public_key)


def test_upload_is_drained_once_with_server_side_digest(server: SftpServer) -> None:
    _put(server, "biller", INVOICE, "billheader_20261101.xml")

    [got] = server.drain()

    assert (got.user, got.path, got.size) == ("biller", "billheader_20261101.xml", len(INVOICE))
    assert got.sha256 == hashlib.sha256(INVOICE).hexdigest()
    assert got.received_at.endswith("+00:00")
    assert (server.inbox("biller") / "billheader_20261101.xml").read_bytes() == INVOICE
    assert server.drain() == []


def test_drain_reports_uploads_in_completion_order(server: SftpServer) -> None:
    for name in ("a.xml", "b.xml", "c.xml"):
        _put(server, "biller", name.encode(), name)

    assert [r.path for r in server.drain()] == ["a.xml", "b.xml", "c.xml"]


def test_wrong_password_is_refused_without_echoing_it(server: SftpServer) -> None:
    with pytest.raises(TransferError) as caught:
        upload(server.host, server.port, "biller", "not-the-password", INVOICE, "x.xml")

    message = str(caught.value)
    assert "not-the-password" not in message and PASSWORDS["biller"] not in message
    assert "\n" not in message and "refused" in message
    assert server.drain() == []


def test_unknown_user_is_refused(server: SftpServer) -> None:
    with pytest.raises(TransferError, match="login refused"):
        upload(server.host, server.port, "mallory", PASSWORDS["biller"], INVOICE, "x.xml")


def test_pinned_host_key_mismatch_is_refused(server: SftpServer) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()

    with pytest.raises(TransferError, match="host key") as caught:
        upload(server.host, server.port, "biller", PASSWORDS["biller"], INVOICE, "x.xml", host_key=impostor)

    assert "\n" not in str(caught.value)
    assert server.drain() == []


def _connect_as_biller(srv: SftpServer) -> Any:
    """An SSH login as 'biller' that ignores the machine's own keys, agent and ssh config
    (awaitable, or an async context manager: asyncssh's connect wrapper is both)."""
    return asyncssh.connect(srv.host, srv.port, username="biller", password=PASSWORDS["biller"], known_hosts=None,
                            client_keys=None, agent_path=None, config=None)


async def _escape_attempts(srv: SftpServer) -> dict[str, bytes | Exception]:
    """What a logged-in 'biller' gets when reading outside its inbox, by path tried."""
    outcomes: dict[str, bytes | Exception] = {}
    async with (
        _connect_as_biller(srv) as conn,
        conn.start_sftp_client() as sftp,
    ):
        for path in ("../secret.txt", "/../secret.txt", "../other/theirs.xml", "/../../other/theirs.xml"):
            try:
                async with sftp.open(path, "rb") as fh:
                    outcomes[path] = await fh.read()
            except asyncssh.SFTPError as exc:
                outcomes[path] = exc
        try:
            outcomes["write ../planted.xml"] = await _write(sftp, "../planted.xml")
        except asyncssh.SFTPError as exc:
            outcomes["write ../planted.xml"] = exc
    return outcomes


async def _write(sftp: asyncssh.SFTPClient, path: str) -> bytes:
    async with sftp.open(path, "wb") as fh:
        await fh.write(b"planted")
    return b"written"


def test_user_cannot_escape_its_inbox(server: SftpServer) -> None:
    (server.root / "secret.txt").write_bytes(b"root secret")
    (server.inbox("other") / "theirs.xml").write_bytes(b"other's invoice")

    outcomes = asyncio.run(_escape_attempts(server))

    leaked = {path: got for path, got in outcomes.items() if got in (b"root secret", b"other's invoice")}
    assert leaked == {}
    # "../planted.xml" is clamped to the inbox root: it lands inside biller's inbox, nowhere else.
    assert not (server.root / "planted.xml").exists()
    assert not (server.inbox("other") / "planted.xml").exists()
    assert [r.path for r in server.drain()] == ["planted.xml"]


def test_each_user_writes_to_its_own_inbox(server: SftpServer) -> None:
    _put(server, "biller", b"from biller", "same.xml")
    _put(server, "other", b"from other", "same.xml")

    assert {(r.user, r.path) for r in server.drain()} == {("biller", "same.xml"), ("other", "same.xml")}
    assert (server.inbox("biller") / "same.xml").read_bytes() == b"from biller"
    assert (server.inbox("other") / "same.xml").read_bytes() == b"from other"


async def _abandon_upload(srv: SftpServer) -> None:
    """Open a file for writing, write part of it, then drop the connection without closing."""
    conn = await _connect_as_biller(srv)
    sftp = await conn.start_sftp_client()
    fh = await sftp.open("partial.xml", "wb")
    await fh.write(b"<billheader>")
    conn.abort()
    await conn.wait_closed()


def test_abandoned_upload_is_not_reported(server: SftpServer) -> None:
    asyncio.run(_abandon_upload(server))
    _put(server, "biller", INVOICE, "after.xml")  # once this is drained, the abort was handled

    assert [r.path for r in server.drain()] == ["after.xml"]


@pytest.mark.skipif(
    shutil.which("sftp") is None,
    reason="OpenSSH sftp client not installed (make test installs openssh-client)",
)
def test_openssh_sftp_client_with_public_key(tmp_path: Path) -> None:
    key = tmp_path / "partner_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30)
    invoice = tmp_path / "billheader_20261101.xml"
    invoice.write_bytes(INVOICE)
    batch = tmp_path / "batch"
    batch.write_text(f"put {invoice} billheader_20261101.xml\n")
    public_line = (tmp_path / "partner_key.pub").read_text().strip()

    with SftpServer(tmp_path / "sftp", {}, authorized_keys={"partner": [public_line]}) as srv:
        done = subprocess.run(
            [
                "sftp", "-b", str(batch), "-i", str(key), "-P", str(srv.port),
                "-F", "/dev/null",  # the runner's ~/.ssh/config must not interfere
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                f"partner@{srv.host}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        drained = srv.drain()

    assert done.returncode == 0, done.stderr
    assert [(r.user, r.path, r.size, r.sha256) for r in drained] == [
        ("partner", "billheader_20261101.xml", len(INVOICE), hashlib.sha256(INVOICE).hexdigest())
    ]


def test_port_in_use_is_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(TransferError) as caught:
            SftpServer(tmp_path, PASSWORDS, port=port).start()

    assert str(caught.value) == f"sFTP server cannot listen on 127.0.0.1:{port}: address already in use"


def test_start_and_stop_are_idempotent_and_the_thread_ends(tmp_path: Path) -> None:
    srv = SftpServer(tmp_path, PASSWORDS)
    srv.stop()  # before start: nothing to do

    before = set(threading.enumerate())
    srv.start()
    port = srv.port
    srv.start()  # already running: same server, no second thread
    assert srv.port == port
    [thread] = [t for t in set(threading.enumerate()) - before if t.name == "sftp-server"]

    srv.stop()
    srv.stop()

    assert not thread.is_alive()
    assert set(threading.enumerate()) <= before
    with pytest.raises(TransferError, match="cannot reach"):
        upload(srv.host, port, "biller", PASSWORDS["biller"], INVOICE, "x.xml")


def test_server_starts_quickly(tmp_path: Path) -> None:
    began = time.perf_counter()
    with SftpServer(tmp_path, PASSWORDS):
        elapsed = time.perf_counter() - began

    assert elapsed < 2.0, f"sFTP server took {elapsed:.3f}s to start"


async def _connected_while_stopping(srv: SftpServer) -> None:
    async with asyncssh.connect(
        srv.host,
        srv.port,
        username="biller",
        password=PASSWORDS["biller"],
        known_hosts=None,
        client_keys=None,
        agent_path=None,
        config=None,
    ) as conn:
        await asyncio.wait_for(asyncio.to_thread(srv.stop), timeout=10)
        await asyncio.wait_for(conn.wait_closed(), timeout=10)


def test_stop_ends_live_connections(tmp_path: Path) -> None:
    srv = SftpServer(tmp_path, PASSWORDS)
    srv.start()

    asyncio.run(_connected_while_stopping(srv))

    assert srv.drain() == []
