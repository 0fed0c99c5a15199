"""The partner's side of an sFTP drop box: upload a file, list a folder, download a file.

Each call is one real SSH session (connect, password login, one SFTP operation, close), bounded
in time, and every failure is one ``TransferError`` line that never shows the password.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import asyncssh

from harness.errors import TransferError

# Bounds the whole transfer (connect, login, operation, close) so a silent server cannot hang a run.
_TIMEOUT_S = 15.0

# asyncssh accepts known_hosts as (trusted host keys, trusted CA keys, revoked keys).
_KnownHosts = tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Account:
    """An account on an sFTP server: where to connect, as whom, and the server's host key to pin (None
    accepts any: only for the harness's own loopback servers, whose keys are made at their start)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    host_key: str | None = None

    def put(self, content: bytes, name: str) -> None:
        """Write ``content`` as ``name`` in the account's folder (see ``upload``)."""
        upload(self.host, self.port, self.user, self.password, content, name, host_key=self.host_key)


@dataclass(frozen=True)
class _Login:
    """Where to connect and as whom; ``where`` names it in messages (never the password)."""

    host: str
    port: int
    user: str
    password: str
    known_hosts: _KnownHosts | None

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def upload(
    host: str,
    port: int,
    user: str,
    password: str,
    content: bytes,
    remote_name: str,
    host_key: str | None = None,
) -> None:
    """Write ``content`` as ``remote_name`` in ``user``'s inbox; raise ``TransferError`` on failure.

    ``host_key`` pins the server's OpenSSH public key line. ``None`` accepts any key: that is
    only acceptable against the harness's own loopback server, whose key is generated at start.
    """
    login = _Login(host, port, user, password, _known_hosts(host_key))

    async def write(sftp: asyncssh.SFTPClient) -> None:
        async with sftp.open(remote_name, "wb") as remote:
            await remote.write(content)

    def refused(exc: asyncssh.SFTPError) -> str:
        return f"sFTP server {login.where} refused to write {remote_name!r}: {_one_line(exc.reason)}"

    _run(login, f"upload to {login.where}", write, refused)


def download(
    host: str,
    port: int,
    user: str,
    password: str,
    remote_path: str,
    host_key: str | None = None,
) -> bytes:
    """The whole of ``remote_path`` (relative to ``user``'s root), read to its end; ``TransferError`` on failure.

    ``host_key`` as for ``upload``.
    """
    login = _Login(host, port, user, password, _known_hosts(host_key))

    async def read(sftp: asyncssh.SFTPClient) -> bytes:
        async with sftp.open(remote_path, "rb") as remote:
            return await remote.read()

    def refused(exc: asyncssh.SFTPError) -> str:
        if isinstance(exc, asyncssh.SFTPNoSuchFile):
            return f"sFTP server {login.where} has no file {remote_path!r}: check the path and file name"
        return f"sFTP server {login.where} refused to read {remote_path!r}: {_one_line(exc.reason)}"

    return _run(login, f"download of {remote_path!r} from {login.where}", read, refused)


def listdir(
    host: str,
    port: int,
    user: str,
    password: str,
    remote_dir: str,
    host_key: str | None = None,
) -> list[str]:
    """Names of the files in ``remote_dir`` (relative to ``user``'s root), sorted; subdirectories are
    left out. A directory that does not exist holds no files: an empty list, not an error.

    ``host_key`` as for ``upload``.
    """
    login = _Login(host, port, user, password, _known_hosts(host_key))

    async def names(sftp: asyncssh.SFTPClient) -> list[str]:
        try:
            entries = await sftp.readdir(remote_dir)
        except asyncssh.SFTPNoSuchFile:
            return []  # e.g. an outbox the platform has not created yet: nothing to fetch
        return sorted(
            str(e.filename)
            for e in entries
            if e.filename not in (".", "..") and e.attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY
        )

    def refused(exc: asyncssh.SFTPError) -> str:
        return f"sFTP server {login.where} refused to list {remote_dir!r}: {_one_line(exc.reason)}"

    return _run(login, f"listing of {remote_dir!r} on {login.where}", names, refused)


def _run(
    login: _Login,
    what: str,
    operation: Callable[[asyncssh.SFTPClient], Awaitable[_T]],
    refused: Callable[[asyncssh.SFTPError], str],
) -> _T:
    """Run ``operation`` in one SSH/SFTP session; every failure becomes one ``TransferError`` line.

    ``what`` names the transfer in generic messages ("upload to biller@127.0.0.1:2222"); ``refused``
    words an SFTP-level refusal, which only the operation knows how to name.
    """
    try:
        return asyncio.run(asyncio.wait_for(_session(login, operation), _TIMEOUT_S))
    except TimeoutError as exc:  # before OSError: TimeoutError is one
        raise TransferError(f"sFTP {what} timed out after {_TIMEOUT_S:.0f}s") from exc
    except asyncssh.PermissionDenied as exc:
        raise TransferError(f"sFTP login refused for {login.where}: check the user name and password") from exc
    except asyncssh.HostKeyNotVerifiable as exc:
        raise TransferError(
            f"sFTP server {login.host}:{login.port} presented a host key other than the pinned one"
        ) from exc
    except asyncssh.SFTPError as exc:
        raise TransferError(refused(exc)) from exc
    except asyncssh.Error as exc:
        raise TransferError(f"sFTP {what} failed: {_one_line(exc.reason)}") from exc
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno is not None else _one_line(str(exc))
        raise TransferError(f"cannot reach sFTP server {login.host}:{login.port}: {reason}") from exc


def _one_line(text: str) -> str:
    # Reasons can come from the remote server; the user message must stay on one line.
    return " ".join(text.split())


def _known_hosts(host_key: str | None) -> _KnownHosts | None:
    if host_key is None:
        return None  # no verification: the caller knows it is our own loopback server
    try:
        return [asyncssh.import_public_key(host_key)], [], []
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise TransferError(f"pinned sFTP host key is not an OpenSSH public key line: {exc}") from exc


async def _session(login: _Login, operation: Callable[[asyncssh.SFTPClient], Awaitable[_T]]) -> _T:
    async with (
        asyncssh.connect(
            login.host,
            login.port,
            username=login.user,
            password=login.password,
            known_hosts=login.known_hosts,
            # Only the given password: no keys or agent or ~/.ssh/config from whoever runs the harness.
            client_keys=None,
            agent_path=None,
            config=None,
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        return await operation(sftp)
