"""Upload one file to an sFTP inbox, as a partner's billing software would."""

from __future__ import annotations

import asyncio
import os

import asyncssh

from harness.errors import TransferError

# Bounds the whole upload (connect, login, write, close) so a silent server cannot hang a run.
_TIMEOUT_S = 15.0

# asyncssh accepts known_hosts as (trusted host keys, trusted CA keys, revoked keys).
_KnownHosts = tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]


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
    known_hosts = _known_hosts(host_key)
    where = f"{user}@{host}:{port}"
    try:
        asyncio.run(
            asyncio.wait_for(
                _upload(host, port, user, password, content, remote_name, known_hosts), _TIMEOUT_S
            )
        )
    except TimeoutError as exc:  # before OSError: TimeoutError is one
        raise TransferError(f"sFTP upload to {where} timed out after {_TIMEOUT_S:.0f}s") from exc
    except asyncssh.PermissionDenied as exc:
        raise TransferError(f"sFTP login refused for {where}: check the user name and password") from exc
    except asyncssh.HostKeyNotVerifiable as exc:
        raise TransferError(
            f"sFTP server {host}:{port} presented a host key other than the pinned one"
        ) from exc
    except asyncssh.SFTPError as exc:
        raise TransferError(
            f"sFTP server {where} refused to write {remote_name!r}: {_one_line(exc.reason)}"
        ) from exc
    except asyncssh.Error as exc:
        raise TransferError(f"sFTP upload to {where} failed: {_one_line(exc.reason)}") from exc
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno is not None else _one_line(str(exc))
        raise TransferError(f"cannot reach sFTP server {host}:{port}: {reason}") from exc


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


async def _upload(
    host: str,
    port: int,
    user: str,
    password: str,
    content: bytes,
    remote_name: str,
    known_hosts: _KnownHosts | None,
) -> None:
    async with (
        asyncssh.connect(
            host,
            port,
            username=user,
            password=password,
            known_hosts=known_hosts,
            # Only the given password: no keys or agent or ~/.ssh/config from whoever runs the harness.
            client_keys=None,
            agent_path=None,
            config=None,
        ) as conn,
        conn.start_sftp_client() as sftp,
        sftp.open(remote_name, "wb") as remote,
    ):
        await remote.write(content)
