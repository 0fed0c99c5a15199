"""A real SSH/SFTP drop box on loopback, standing in for the platform's partner sFTP server.

The partner (or the harness acting as the partner) uploads invoice files and downloads what the
platform left for it; the harness then asks ``drain()`` what moved. Each user is chrooted to
``root/<user>``, its inbox.

What counts as a transfer: an upload once its write handle is closed; a download once a read-only
handle is closed after the client read every byte of the file. A download that stopped short
(the client closed early, or the connection dropped) is not recorded at all, just as an abandoned
upload is not: the file did not reach the partner, so there is nothing to claim it received.
(A server-side copy, SFTP's copy-data extension, reads and writes through the same calls and so
records a download and an upload too; the harness's own client never asks for one.)

asyncssh runs on its own event loop in a daemon thread so that a blocking client in the
caller's thread (``upload()``, ``download()``, OpenSSH ``sftp``) can talk to it without deadlocking.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, cast

import asyncssh

from harness.errors import TransferError

# Generous: listening takes milliseconds; this only bounds a wedged event loop.
_LOOP_TIMEOUT_S = 10.0
_HASH_CHUNK = 1 << 20
# How much of each upload is kept as evidence: a day's invoice file in full, a year's not.
EVIDENCE_BYTES = 256 * 1024


Direction = Literal["upload", "download"]


@dataclass(frozen=True)
class Received:
    """One file that moved: an upload fully written and closed by the client, or a download the
    client read to its end and closed (``direction``, as the client sees it)."""

    user: str
    path: str  # posix path relative to that user's inbox
    size: int
    sha256: str
    received_at: str  # ISO-8601 UTC, when the handle was closed
    head: bytes = b""  # the first EVIDENCE_BYTES of the file, kept as evidence of what was sent
    direction: Direction = "upload"

    @property
    def complete(self) -> bool:
        """Whether ``head`` is the whole file."""
        return len(self.head) == self.size


class _Ledger:
    """Receipts written by the server's loop thread and drained by the caller's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Received] = []

    def add(self, item: Received) -> None:
        with self._lock:
            self._items.append(item)

    def take(self) -> list[Received]:
        with self._lock:
            items, self._items = self._items, []
        return items


def _digest(path: bytes) -> tuple[int, str, bytes]:
    """Size, sha256 and first bytes of the file as it is on disk, i.e. what the platform would pick up."""
    sha, size, head = hashlib.sha256(), 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            sha.update(chunk)
            if size < EVIDENCE_BYTES:
                head += chunk[: EVIDENCE_BYTES - size]
            size += len(chunk)
    return size, sha.hexdigest(), head


class _Served:
    """The bytes a download handle has handed out, as merged [start, end) spans: clients may read in
    parallel and out of order, so only full coverage, not the last offset, says the file went whole."""

    def __init__(self, local: bytes) -> None:
        self.local = local
        self._reads = 0
        self._spans: list[tuple[int, int]] = []

    def add(self, start: int, end: int) -> None:
        self._reads += 1
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted([*self._spans, (start, end)]):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            elif hi > lo:
                merged.append((lo, hi))
        self._spans = merged

    def covers(self, size: int) -> bool:
        """Whether every byte of a file of ``size`` was served (an empty file: whether it was read at all)."""
        if size == 0:
            return self._reads > 0
        return bool(self._spans) and self._spans[0][0] == 0 and self._spans[0][1] >= size


class _InboxSFTPServer(asyncssh.SFTPServer):
    """SFTP session chrooted to the user's inbox that records each completed upload and download."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], root: Path, ledger: _Ledger) -> None:
        self._user: str = chan.get_extra_info("username")
        super().__init__(chan, chroot=os.fsencode(root / self._user))
        self._ledger = ledger
        self._uploads: dict[io.FileIO, bytes] = {}  # open write handles -> local path
        self._downloads: dict[io.FileIO, _Served] = {}  # open read-only handles -> what they served

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> io.FileIO:
        return self._track(path, cast(io.FileIO, super().open(path, pflags, attrs)))

    def open56(self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs) -> io.FileIO:
        # SFTP v5/v6 clients open files through this call instead of open().
        return self._track(path, cast(io.FileIO, super().open56(path, desired_access, flags, attrs)))

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        # The base class reads the local file synchronously, so this is bytes, never an awaitable.
        data = cast(bytes, super().read(file_obj, offset, size))
        served = self._downloads.get(cast(io.FileIO, file_obj))
        if served is not None:
            served.add(offset, offset + len(data))
        return data

    def close(self, file_obj: object) -> None:
        super().close(file_obj)
        upload = self._uploads.pop(cast(io.FileIO, file_obj), None)
        download = self._downloads.pop(cast(io.FileIO, file_obj), None)
        # When a connection drops, asyncssh also closes the handles left open; the channel is
        # then already closing and the transfer is partial, so it must not be reported.
        if self.channel.is_closing():
            return
        if upload is not None:
            self._ledger.add(self._receipt(upload, "upload"))
        elif download is not None:
            receipt = self._receipt(download.local, "download")
            if download.covers(receipt.size):  # a read that stopped short did not deliver the file
                self._ledger.add(receipt)

    def _track(self, path: bytes, file_obj: io.FileIO) -> io.FileIO:
        if file_obj.writable():
            self._uploads[file_obj] = self.map_path(path)
        elif file_obj.readable():
            self._downloads[file_obj] = _Served(self.map_path(path))
        return file_obj

    def _receipt(self, local: bytes, direction: Direction) -> Received:
        size, sha256, head = _digest(local)
        return Received(
            user=self._user,
            path=os.fsdecode(self.reverse_map_path(local)).lstrip("/"),
            size=size,
            sha256=sha256,
            received_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            head=head,
            direction=direction,
        )


def _fingerprint(secret: str) -> bytes:
    # Hashing first gives equal-length inputs, so compare_digest leaks not even the length.
    return hashlib.sha256(secret.encode()).digest()


class _Gatekeeper(asyncssh.SSHServer):
    """Authenticates one connection: password or public key, per user."""

    def __init__(
        self,
        passwords: Mapping[str, bytes],
        keys: Mapping[str, frozenset[bytes]],
        live: set[asyncssh.SSHServerConnection],
    ) -> None:
        self._passwords = passwords
        self._keys = keys
        self._live = live
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._live.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._live.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # every user must authenticate; unknown ones simply never succeed

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        expected = self._passwords.get(username)
        # Compare even for unknown users so response time does not reveal which users exist.
        match = hmac.compare_digest(_fingerprint(password), expected or _fingerprint(""))
        return match and expected is not None

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return key.public_data in self._keys.get(username, frozenset())


def _check_user(user: str) -> str:
    # The user name becomes a directory under root: it must not name anything else.
    if not user or user in {".", ".."} or "/" in user or "\\" in user or "\0" in user:
        raise TransferError(f"sFTP user name {user!r} cannot be used as an inbox directory name")
    return user


def _parse_keys(user: str, lines: Sequence[str]) -> frozenset[bytes]:
    try:
        return frozenset(asyncssh.import_public_key(line).public_data for line in lines)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise TransferError(
            f"authorized key for sFTP user {user!r} is not an OpenSSH public key line: {exc}"
        ) from exc


def _reason(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {_LOOP_TIMEOUT_S:.0f}s"
    if exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


class SftpServer:
    """SSH/SFTP server on loopback with one chrooted inbox per user."""

    def __init__(
        self,
        root: Path,
        users: Mapping[str, str],
        authorized_keys: Mapping[str, Sequence[str]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.root = Path(root)
        self.host = host
        self.port = port
        self._passwords = {_check_user(u): _fingerprint(p) for u, p in users.items()}
        self._keys = {_check_user(u): _parse_keys(u, k) for u, k in (authorized_keys or {}).items()}
        self._host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_public_key: str = self._host_key.export_public_key().decode().strip()
        self._ledger = _Ledger()
        self._live: set[asyncssh.SSHServerConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None

    def inbox(self, user: str) -> Path:
        path = self.root / _check_user(user)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def drain(self) -> list[Received]:
        return self._ledger.take()

    def start(self) -> None:
        if self._thread is not None:
            return
        for user in {*self._passwords, *self._keys}:
            self.inbox(user)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="sftp-server", daemon=True)
        thread.start()
        try:
            acceptor = asyncio.run_coroutine_threadsafe(self._listen(), loop).result(_LOOP_TIMEOUT_S)
        except OSError as exc:  # includes the bind errors and TimeoutError
            _halt(loop, thread)
            raise TransferError(
                f"sFTP server cannot listen on {self.host}:{self.port}: {_reason(exc)}"
            ) from exc
        self._loop, self._thread, self._acceptor = loop, thread, acceptor
        self.port = acceptor.get_port()

    def stop(self) -> None:
        loop, thread, acceptor = self._loop, self._thread, self._acceptor
        if loop is None or thread is None or acceptor is None:
            return
        self._loop = self._thread = self._acceptor = None
        asyncio.run_coroutine_threadsafe(self._close(acceptor), loop).result(_LOOP_TIMEOUT_S)
        _halt(loop, thread)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _listen(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            self.host,
            self.port,
            server_host_keys=[self._host_key],
            server_factory=lambda: _Gatekeeper(self._passwords, self._keys, self._live),
            sftp_factory=lambda chan: _InboxSFTPServer(chan, self.root, self._ledger),
            config=None,  # the machine's sshd_config must not change what the harness serves
        )

    async def _close(self, acceptor: asyncssh.SSHAcceptor) -> None:
        acceptor.close()
        await acceptor.wait_closed()
        # Closing the listener leaves accepted connections open; end them so the loop can stop.
        conns = list(self._live)
        for conn in conns:
            conn.close()
        await asyncio.gather(*(conn.wait_closed() for conn in conns))


def _halt(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """Stop the loop thread and leave nothing behind: no pending task, no executor thread."""
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    leftovers = asyncio.all_tasks(loop)
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    # listen() resolves the host in the loop's default executor; join those threads too.
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
