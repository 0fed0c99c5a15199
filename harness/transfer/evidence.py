"""Files that moved over the sFTP server, as evidence: one ``file.transferred`` event each, with its digest."""

from __future__ import annotations

from typing import Any

from harness.events import Recorder
from harness.transfer.server import Received, SftpServer

# How the server's ledger says a file moved, and how the evidence says it: on the platform's server, an
# upload comes from the partner; on the partner's own server, from the platform.
DIRECTIONS = {"platform": {"upload": "partner -> platform", "download": "platform -> partner"},
              "partner": {"upload": "platform -> partner", "download": "partner -> platform"}}


def record_transfers(sftp: SftpServer, recorder: Recorder, server: str = "platform") -> None:
    """Every file the server (the ``platform``'s or the ``partner``'s) saw move since the last look, either
    way (a download recorded once every byte of it was read)."""
    for moved in sftp.drain():
        recorder.append("file.transferred", direction=DIRECTIONS[server][moved.direction], user=moved.user,
                        path=moved.path, size=moved.size, sha256=moved.sha256, received_at=moved.received_at,
                        **_content(moved))


def _content(moved: Received) -> dict[str, Any]:
    """A file's content as evidence: text as it was sent (its first part if large), binary by its hash only."""
    try:
        text = moved.head.decode("utf-8")
    except UnicodeDecodeError:  # binary, or a multi-byte character cut at the limit: the sha256 identifies it
        return {}
    return {"content": text, "content_truncated": not moved.complete}
