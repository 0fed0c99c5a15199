"""The partner side of a partner whose integration is files: its pickup of the platform's payment files.

It stands where ``harness.stubs.StubSide`` stands for an API partner. When the platform has put a
payment file in its outbox, the partner fetches it over real SSH; or the platform puts it on the
partner's own sFTP server over real SSH (either transfer is evidence, with its digest, from that
server's ledger). The partner reads it with the biller's layout, as its import would:
each posting line becomes a ``partner.line`` event in the platform's words, and the file as a whole
a ``partner.file_read`` event (its record count, control total, and any reason it refused it).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import layouts
from harness.events import Event, Recorder
from harness.partners.files import OUTBOX, FileCodec
from harness.profiles.models import FileSpec
from harness.transfer import SftpServer, download


@dataclass(frozen=True)
class Pickup:
    """Where the partner finds the platform's files. ``fetch``: on the platform's sFTP server, in ``folder``
    (looked at to know when the scheduled pickup has something to fetch), downloaded over SSH with
    ``login``; else on the partner's own server, where the platform put them over SSH (``folder`` is its
    disk). ``transfers`` records what the server saw move, before the partner's reading of it."""

    server: SftpServer
    login: tuple[str, str]
    folder: Callable[[], Path]
    fetch: bool
    transfers: Callable[[], None]

    def take(self, name: str) -> bytes:
        """The file's bytes, as the partner gets them."""
        if not self.fetch:
            return (self.folder() / name).read_bytes()
        user, password = self.login
        return download(self.server.host, self.server.port, user, password, f"{OUTBOX}/{name}",
                        host_key=self.server.host_public_key)


class FileSide:
    """``spec``: the payment file (None: the partner takes no postings in a file)."""

    def __init__(self, pickup: Pickup, spec: FileSpec | None, codec: FileCodec, recorder: Recorder) -> None:
        self._pickup, self._spec, self._codec, self._recorder = pickup, spec, codec, recorder
        self._fetched: set[str] = set()

    def load(self) -> None:
        """Nothing to load: the partner's files are written by the scenarios that need them."""

    def reset(self, sit_id: str | None = None) -> None:
        """A scenario starts on an empty outbox (the session empties the platform's sFTP folders; the
        partner's own server is emptied here)."""
        self._fetched.clear()
        if not self._pickup.fetch:
            for leftover in self._pickup.folder().iterdir():
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()

    def drain(self, force: bool = False) -> list[Event]:
        """Fetch and read every payment file the platform wrote since the last look."""
        if self._spec is None:
            return []
        folder = self._pickup.folder()
        new = sorted(p.name for p in folder.glob(self._spec.glob) if p.name not in self._fetched) \
            if folder.is_dir() else []
        events: list[Event] = []
        for name in new:
            data = self._pickup.take(name)
            self._fetched.add(name)
            self._pickup.transfers()
            events += self._read(name, data, self._spec)
        return events

    def _read(self, name: str, data: bytes, spec: FileSpec) -> list[Event]:
        with tempfile.TemporaryDirectory(prefix="sit-partner-") as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            loaded = layouts.load(path, spec.layout)
        events = []
        for record in loaded.records:
            call, fields = self._codec.decode(spec, record.values)
            events.append(self._recorder.append("partner.line", call=call, fields=fields, file=name,
                                                line=record.line))
        trailer = dict(loaded.trailer.values) if loaded.trailer else {}
        events.append(self._recorder.append(
            "partner.file_read", file=name, accepted=loaded.accepted, records=len(loaded.records),
            trailer={k: str(v) for k, v in trailer.items()},
            rejected=[str(r) for r in loaded.rejected]))
        return events

    def close(self) -> None:
        """Each fetch is its own SSH session: nothing is held open."""
