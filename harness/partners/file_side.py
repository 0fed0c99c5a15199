"""The partner side of a partner whose integration is files: its pickup of the platform's payment files.

It stands where ``harness.stubs.StubSide`` stands for an API partner. When the platform has put a
payment file in its outbox, the partner fetches it over real SSH (the transfer is evidence, with its
digest, from the sFTP server's ledger) and reads it with the biller's layout, as its import would:
each posting line becomes a ``partner.line`` event in the platform's words, and the file as a whole
a ``partner.file_read`` event (its record count, control total, and any reason it refused it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import layouts
from harness.events import Event, Recorder
from harness.partners.files import OUTBOX, FileCodec
from harness.profiles.models import FileSpec
from harness.transfer import SftpServer, download


class FileSide:
    """``outbox``: where the platform's files lie on its sFTP server (looked at to know when the
    scheduled pickup has something to fetch); ``login``: the partner's sFTP user and password;
    ``transfers``: records what the sFTP server saw move, before the partner's reading of it."""

    def __init__(self, sftp: SftpServer, login: tuple[str, str], outbox: Callable[[], Path], spec: FileSpec | None,
                 codec: FileCodec, recorder: Recorder, transfers: Callable[[], None]) -> None:
        self._sftp, self._login, self._outbox, self._spec = sftp, login, outbox, spec
        self._codec, self._recorder, self._transfers = codec, recorder, transfers
        self._fetched: set[str] = set()

    def load(self) -> None:
        """Nothing to load: the partner's files are written by the scenarios that need them."""

    def reset(self, sit_id: str | None = None) -> None:
        """A scenario starts on an empty outbox (the session empties the platform's sFTP folders)."""
        self._fetched.clear()

    def drain(self, force: bool = False) -> list[Event]:
        """Fetch and read every payment file the platform wrote since the last look."""
        if self._spec is None:
            return []
        folder = self._outbox()
        new = sorted(p.name for p in folder.glob(self._spec.glob) if p.name not in self._fetched) \
            if folder.is_dir() else []
        events: list[Event] = []
        for name in new:
            user, password = self._login
            data = download(self._sftp.host, self._sftp.port, user, password, f"{OUTBOX}/{name}",
                            host_key=self._sftp.host_public_key)
            self._fetched.add(name)
            self._transfers()
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
