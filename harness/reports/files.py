"""Many small files written into one folder by a helper process, while the projection goes on.

A report holds thousands of small files (Allure results and attachments). Creating a file is
the kernel's work, not Python's, and on some filesystems it is most of a projection's time
(ext4 without a journal walks the inodes freed in the last half minute at each creation).
A helper process creates them, on the other core, while this one folds, renders the
workbook and the sign-off. It is a bare Python (``-I -S``, only ``os`` and ``sys``) that
reads (name, bytes) records from a pipe and ends at the pipe's end: it cannot outlive the
projection, whose end (or death) closes the pipe. A process, not a thread: writer threads
made a 100,000-event projection slower (the store's cursor then waits for the GIL at every row).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

_PIPE_BYTES = 1024 * 1024  # records are batched this much: a write to the pipe is not a system call per file
_HEADER = 8  # two little-endian uint32: the name's length, the data's length
# The helper. On an error it says errno, message and file name on stderr (one per line) and stops at once.
_HELPER = r"""
import os, sys
folder, source = sys.argv[1], sys.stdin.buffer
while header := source.read(8):
    name = source.read(int.from_bytes(header[:4], "little")).decode()
    data = source.read(int.from_bytes(header[4:], "little"))
    try:
        with open(os.path.join(folder, name), "wb") as out:
            out.write(data)
    except OSError as exc:
        sys.stderr.write(f"{exc.errno}\n{exc.strerror}\n{exc.filename}\n")
        sys.exit(2)
"""


class FolderWriter:
    """Writes files into ``folder`` through a helper process. ``close`` waits until every file is written
    (and raises the ``OSError`` the helper met, if any); ``abort`` stops it, files half written."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._helper = subprocess.Popen([sys.executable, "-I", "-S", "-c", _HELPER, str(folder)],
                                        stdin=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=_PIPE_BYTES)
        self._pipe: IO[bytes] | None = self._helper.stdin
        _widen(self._pipe)

    def write(self, name: str, data: bytes) -> None:
        """Write ``data`` as ``folder/name`` (a plain file name, in the folder itself)."""
        if self._pipe is None:
            raise ValueError(f"{self.folder}: the writer is closed")
        encoded = name.encode()
        try:
            self._pipe.write(len(encoded).to_bytes(4, "little") + len(data).to_bytes(4, "little") + encoded)
            self._pipe.write(data)
        except BrokenPipeError:  # the helper stopped: it says why
            self.close()
            raise

    def close(self) -> None:
        """Wait for every file to be written; raise what the helper met, as the ``OSError`` it was."""
        if self._helper.returncode is not None:  # closed or aborted already
            return
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            with contextlib.suppress(BrokenPipeError):
                pipe.close()
        said = self._said()
        if code := self._helper.wait():
            raise _error(self.folder, code, said)

    def abort(self) -> None:
        """Stop the helper now (a projection that failed): what it wrote is removed with the staging folder."""
        self._pipe = None
        if self._helper.returncode is None:
            self._helper.kill()
            self._said()
            self._helper.wait()

    def _said(self) -> str:
        """What the helper wrote on stderr, to its end (it ends when the helper does)."""
        stderr = self._helper.stderr
        if stderr is None:
            return ""
        with stderr:
            return stderr.read().decode(errors="replace")

    def __enter__(self) -> FolderWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _widen(pipe: IO[bytes] | None) -> None:
    """A pipe as wide as a batch where the system allows (Linux): the projection seldom waits on the helper."""
    if pipe is None or sys.platform != "linux":
        return
    import fcntl

    with contextlib.suppress(OSError):  # above the system's maximum: the default width will do
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _error(folder: Path, code: int, said: str) -> OSError:
    lines = said.splitlines()
    if code == 2 and len(lines) >= 3 and lines[0].isdigit():
        return OSError(int(lines[0]), lines[1], lines[2])
    return OSError(f"{folder}: the helper writing its files stopped ({code}): {said.strip()[-500:]}")
