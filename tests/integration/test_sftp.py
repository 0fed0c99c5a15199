"""The loopback sFTP server against real clients: asyncssh and, when installed, OpenSSH sftp.

Both directions: the partner uploads invoice files, and downloads what the platform left in its
outbox; each completed transfer is drained once, in order, with the digest of the file on disk.
"""

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
from types import SimpleNamespace
from typing import Any

import asyncssh
import pytest
from faker import Faker

from harness.events import Recorder, Redactor, SQLiteStore
from harness.scenario import ScenarioContext
from harness.session import SitSession
from harness.transfer import Received, SftpServer, TransferError, download, listdir, upload

PASSWORDS = {"biller": "s3cret-biller", "other": "s3cret-other"}
INVOICE = b'<?xml version="1.0"?>\n<billheader><invoice id="INV-1" amount="42.00"/></billheader>\n'
PAYMENTS = b"account,amount,method\n1001,45.10,CC\n1002,12.00,ACH\n"


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


def _partner_key(tmp_path: Path) -> tuple[Path, str]:
    """An ed25519 key pair for the partner: the private key's path and the public key's line."""
    key = tmp_path / "partner_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30)
    return key, (tmp_path / "partner_key.pub").read_text().strip()


def _openssh_batch(srv: SftpServer, key: Path, commands: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The real OpenSSH `sftp` client running ``commands`` as the partner, logged in with ``key``."""
    batch = tmp_path / "batch"
    batch.write_text(commands)
    return subprocess.run(
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


@pytest.mark.skipif(
    shutil.which("sftp") is None,
    reason="OpenSSH sftp client not installed (make test installs openssh-client)",
)
def test_openssh_sftp_client_with_public_key(tmp_path: Path) -> None:
    invoice = tmp_path / "billheader_20261101.xml"
    invoice.write_bytes(INVOICE)
    key, public_line = _partner_key(tmp_path)

    with SftpServer(tmp_path / "sftp", {}, authorized_keys={"partner": [public_line]}) as srv:
        done = _openssh_batch(srv, key, f"put {invoice} billheader_20261101.xml\n", tmp_path)
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


# --- Downloads: the partner fetches what the platform left for it ---------------------------------


def _leave(srv: SftpServer, user: str, relative: str, content: bytes) -> Path:
    """Put a file in a user's root as the platform would (straight on disk, not over SFTP)."""
    path = srv.inbox(user) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _get(srv: SftpServer, user: str, remote_path: str) -> bytes:
    return download(srv.host, srv.port, user, PASSWORDS[user], remote_path, host_key=srv.host_public_key)


def test_download_returns_the_bytes_and_is_drained_with_its_digest(server: SftpServer) -> None:
    _leave(server, "biller", "outbox/payments_20261130.csv", PAYMENTS)

    got = _get(server, "biller", "outbox/payments_20261130.csv")
    [moved] = server.drain()

    assert got == PAYMENTS
    assert (moved.direction, moved.user, moved.path) == ("download", "biller", "outbox/payments_20261130.csv")
    assert (moved.size, moved.sha256) == (len(PAYMENTS), hashlib.sha256(PAYMENTS).hexdigest())
    assert moved.head == PAYMENTS and moved.complete
    assert moved.received_at.endswith("+00:00")
    assert server.drain() == []


def test_large_download_read_in_parallel_chunks_is_one_complete_download(server: SftpServer) -> None:
    # 3 MiB: asyncssh reads it as many parallel, possibly out-of-order requests.
    content = bytes(range(256)) * (3 * 4096)
    _leave(server, "biller", "outbox/big.bin", content)

    got = _get(server, "biller", "outbox/big.bin")
    [moved] = server.drain()

    assert got == content
    assert (moved.direction, moved.size) == ("download", len(content))
    assert moved.sha256 == hashlib.sha256(content).hexdigest()
    assert len(moved.head) < moved.size and not moved.complete  # evidence keeps the first part only


def test_empty_file_download_is_recorded(server: SftpServer) -> None:
    _leave(server, "biller", "outbox/empty.csv", b"")

    assert _get(server, "biller", "outbox/empty.csv") == b""
    assert [(r.direction, r.path, r.size) for r in server.drain()] == [("download", "outbox/empty.csv", 0)]


def test_listdir_names_the_files_sorted_and_leaves_out_subdirectories(server: SftpServer) -> None:
    for name in ("payments_20261201.csv", "payments_20261130.csv", "README"):
        _leave(server, "biller", f"outbox/{name}", b"x")
    (server.inbox("biller") / "outbox" / "archive").mkdir()

    names = listdir(server.host, server.port, "biller", PASSWORDS["biller"], "outbox", host_key=server.host_public_key)

    assert names == ["README", "payments_20261130.csv", "payments_20261201.csv"]
    assert server.drain() == []  # listing moves no file


def test_listdir_of_a_missing_directory_is_empty(server: SftpServer) -> None:
    assert listdir(server.host, server.port, "biller", PASSWORDS["biller"], "outbox") == []


def test_listdir_sees_only_the_users_own_root(server: SftpServer) -> None:
    _leave(server, "other", "outbox/theirs.csv", b"x")
    _leave(server, "biller", "outbox/mine.csv", b"x")

    assert listdir(server.host, server.port, "biller", PASSWORDS["biller"], "/../other/outbox") == []
    assert listdir(server.host, server.port, "biller", PASSWORDS["biller"], "../outbox") == ["mine.csv"]


async def _read_part(srv: SftpServer, path: str, size: int) -> bytes:
    """Open a file, read only its first ``size`` bytes, close the handle properly, then log out."""
    async with (
        _connect_as_biller(srv) as conn,
        conn.start_sftp_client() as sftp,
        sftp.open(path, "rb") as fh,
    ):
        return bytes(await fh.read(size))


async def _read_spans(srv: SftpServer, path: str, spans: list[tuple[int, int]]) -> None:
    """Read (offset, size) spans of a file in the order given, then close the handle properly."""
    async with (
        _connect_as_biller(srv) as conn,
        conn.start_sftp_client() as sftp,
        sftp.open(path, "rb") as fh,
    ):
        for offset, size in spans:
            await fh.read(size, offset)


async def _abandon_download(srv: SftpServer, path: str) -> None:
    """Read the start of a file, then drop the connection with the handle still open."""
    conn = await _connect_as_biller(srv)
    sftp = await conn.start_sftp_client()
    fh = await sftp.open(path, "rb")
    await fh.read(5)
    conn.abort()
    await conn.wait_closed()


def test_partial_read_is_not_a_download(server: SftpServer) -> None:
    _leave(server, "biller", "outbox/payments.csv", PAYMENTS)

    # All but the last byte, with the handle closed cleanly: still not the file.
    assert asyncio.run(_read_part(server, "outbox/payments.csv", len(PAYMENTS) - 1)) == PAYMENTS[:-1]
    asyncio.run(_abandon_download(server, "outbox/payments.csv"))
    _get(server, "biller", "outbox/payments.csv")  # once this is drained, the two above were handled

    assert [(r.direction, r.path) for r in server.drain()] == [("download", "outbox/payments.csv")]


def test_download_with_wrong_password_is_one_line_and_moves_nothing(server: SftpServer) -> None:
    _leave(server, "biller", "outbox/payments.csv", PAYMENTS)

    with pytest.raises(TransferError) as caught:
        download(server.host, server.port, "biller", "not-the-password", "outbox/payments.csv")

    assert str(caught.value) == (
        f"sFTP login refused for biller@127.0.0.1:{server.port}: check the user name and password"
    )
    assert server.drain() == []


def test_listdir_with_wrong_password_is_refused(server: SftpServer) -> None:
    with pytest.raises(TransferError) as caught:
        listdir(server.host, server.port, "biller", "not-the-password", "outbox")

    assert str(caught.value) == (
        f"sFTP login refused for biller@127.0.0.1:{server.port}: check the user name and password"
    )


def test_download_of_a_missing_file_names_it(server: SftpServer) -> None:
    with pytest.raises(TransferError) as caught:
        _get(server, "biller", "outbox/payments_20261130.csv")

    assert str(caught.value) == (
        f"sFTP server biller@127.0.0.1:{server.port} has no file 'outbox/payments_20261130.csv': "
        "check the path and file name"
    )
    assert server.drain() == []


def test_download_with_a_pinned_host_key_mismatch_is_refused(server: SftpServer) -> None:
    _leave(server, "biller", "outbox/payments.csv", PAYMENTS)
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()

    with pytest.raises(TransferError, match="presented a host key other than the pinned one"):
        download(server.host, server.port, "biller", PASSWORDS["biller"], "outbox/payments.csv", host_key=impostor)

    assert server.drain() == []


def test_download_from_a_stopped_server_cannot_reach_it(tmp_path: Path) -> None:
    srv = SftpServer(tmp_path, PASSWORDS)
    srv.start()
    port = srv.port
    srv.stop()

    with pytest.raises(TransferError) as caught:
        download(srv.host, port, "biller", PASSWORDS["biller"], "outbox/payments.csv")

    assert str(caught.value).startswith(f"cannot reach sFTP server 127.0.0.1:{port}: ")


async def _upload_then_download(srv: SftpServer) -> bytes:
    """One SSH session: put an invoice, then fetch the payment file."""
    async with _connect_as_biller(srv) as conn, conn.start_sftp_client() as sftp:
        async with sftp.open("billheader_20261130.xml", "wb") as fh:
            await fh.write(INVOICE)
        async with sftp.open("outbox/payments_20261130.csv", "rb") as fh:
            return bytes(await fh.read())


def test_upload_and_download_in_one_session_drain_in_order_with_their_directions(server: SftpServer) -> None:
    _leave(server, "biller", "outbox/payments_20261130.csv", PAYMENTS)

    assert asyncio.run(_upload_then_download(server)) == PAYMENTS

    assert [(r.direction, r.path, r.sha256) for r in server.drain()] == [
        ("upload", "billheader_20261130.xml", hashlib.sha256(INVOICE).hexdigest()),
        ("download", "outbox/payments_20261130.csv", hashlib.sha256(PAYMENTS).hexdigest()),
    ]


def test_received_keeps_its_positional_fields_and_defaults_to_upload() -> None:
    # Callers that build a Received positionally (user, path, size, sha256, received_at, head) still work.
    made = Received("biller", "a.xml", 1, "00", "2026-11-30T00:00:00.000+00:00", b"a")

    assert made.direction == "upload" and made.complete


@pytest.mark.skipif(
    shutil.which("sftp") is None,
    reason="OpenSSH sftp client not installed (make test installs openssh-client)",
)
def test_openssh_sftp_get_is_a_download(tmp_path: Path) -> None:
    fetched = tmp_path / "fetched.csv"
    key, public_line = _partner_key(tmp_path)

    with SftpServer(tmp_path / "sftp", {}, authorized_keys={"partner": [public_line]}) as srv:
        _leave(srv, "partner", "outbox/payments_20261130.csv", PAYMENTS)
        done = _openssh_batch(srv, key, f"get outbox/payments_20261130.csv {fetched}\n", tmp_path)
        drained = srv.drain()

    assert done.returncode == 0, done.stderr
    assert fetched.read_bytes() == PAYMENTS
    assert [(r.direction, r.path, r.size, r.sha256) for r in drained] == [
        ("download", "outbox/payments_20261130.csv", len(PAYMENTS), hashlib.sha256(PAYMENTS).hexdigest())
    ]


def test_scenario_records_each_transfer_with_its_direction(server: SftpServer, tmp_path: Path) -> None:
    # observe() reads only the recorder, the sFTP ledger and the stub side; the side saw no exchange here.
    recorder = Recorder(SQLiteStore(tmp_path / "events.sqlite"), "run-1", Redactor())
    side = SimpleNamespace(drain=lambda force: [])
    session: Any = SimpleNamespace(recorder=recorder, sftp=server, partner=SimpleNamespace(side=side))
    session.record_transfers = lambda: SitSession.record_transfers(session)
    sit = ScenarioContext("SIT-FILE-001", "Files both ways", session, platform=None, fake=Faker())  # type: ignore[arg-type]
    _leave(server, "biller", "outbox/payments_20261130.csv", PAYMENTS)
    asyncio.run(_upload_then_download(server))

    sit.observe(force=True)

    events = recorder.scope_events("file.transferred")
    assert [(e.data["direction"], e.data["path"], e.data["sha256"]) for e in events] == [
        ("partner -> platform", "billheader_20261130.xml", hashlib.sha256(INVOICE).hexdigest()),
        ("platform -> partner", "outbox/payments_20261130.csv", hashlib.sha256(PAYMENTS).hexdigest()),
    ]


def test_a_download_is_complete_only_when_every_byte_was_read_in_any_order(server: SftpServer) -> None:
    _leave(server, "biller", "outbox/payments.csv", PAYMENTS)
    half, end = len(PAYMENTS) // 2, len(PAYMENTS)

    asyncio.run(_read_spans(server, "outbox/payments.csv", [(0, 10), (end - 10, 10)]))  # a gap in the middle
    assert server.drain() == []
    asyncio.run(_read_spans(server, "outbox/payments.csv", [(half, end - half), (0, half)]))  # back half first

    assert [(r.direction, r.size) for r in server.drain()] == [("download", end)]
