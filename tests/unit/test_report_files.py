"""The helper process that writes a report's many small files: every byte written, errors as they were, no orphan."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.reports.files import FolderWriter
from tests.support.processes import alive


def test_every_file_is_written_byte_for_byte_once_closed(tmp_path: Path) -> None:
    files = {f"{i:05d}-attachment.txt": os.urandom(i * 37 % 5000) for i in range(600)}
    files["é-result.json"] = "{\"name\": \"Zoë\"}".encode()
    files["big-attachment.txt"] = os.urandom(3 * 1024 * 1024)  # larger than the pipe's batch
    with FolderWriter(tmp_path / "allure-results") as writer:
        for name, data in files.items():
            writer.write(name, data)
    written = {path.name: path.read_bytes() for path in (tmp_path / "allure-results").iterdir()}
    assert written == files


def test_a_file_that_cannot_be_written_raises_the_os_error_it_met(tmp_path: Path) -> None:
    writer = FolderWriter(tmp_path / "out")
    (tmp_path / "out" / "taken").mkdir()  # a folder where a file is to go: EISDIR
    writer.write("first.json", b"{}")
    writer.write("taken", b"data")
    with pytest.raises(OSError) as raised:
        for i in range(100_000):  # the helper has stopped: a write finds the pipe broken, or close says why
            writer.write(f"more-{i}.json", b"x" * 1000)
        writer.close()
    assert (raised.value.errno, raised.value.filename) == (errno.EISDIR, str(tmp_path / "out" / "taken"))
    assert (tmp_path / "out" / "first.json").read_bytes() == b"{}"
    writer.close()  # closing again (as a failing projection may) is harmless


def test_abort_stops_the_helper_at_once(tmp_path: Path) -> None:
    writer = FolderWriter(tmp_path / "out")
    writer.write("a.json", b"{}")
    writer.abort()
    with pytest.raises(ValueError, match="closed"):
        writer.write("b.json", b"{}")
    writer.close()  # nothing left to wait for


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to tell a zombie from a running process")
def test_the_helper_ends_when_the_projection_dies(tmp_path: Path) -> None:
    """Killed outright (no cleanup at all), the projection's pipe closes: its helper ends too, no orphan."""
    script = (f"import os, signal, sys; from pathlib import Path; from harness.reports.files import FolderWriter\n"
              f"w = FolderWriter(Path({str(tmp_path / 'out')!r})); w.write('a.json', b'{{}}')\n"
              f"print(w._helper.pid, flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    helper = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(helper)
