"""A live partner as a child process, for tests: started, waited for, and always stopped.

``start_partner`` starts ``python -m tests.support.live_partners`` in its own process group
(so a Ctrl-C to the test run reaches only pytest, which then stops it here), reads the base URL
it prints when ready, and on leaving stops the whole group: SIGTERM, then SIGKILL if it lingers.
The server also stops by itself when the test process is gone (``--parent PID``), so not
even a ``kill -9`` of pytest leaves it running.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.live_partners import caselle, cayenta
from tests.support.live_partners.certs import Certificates, make_certificates

PROJECT = Path(__file__).resolve().parents[3]
_READY_SECONDS = 30.0  # a loaded 2-core box may take a while to import graphql-core and lxml
_STOP_SECONDS = 5.0


@dataclass(frozen=True)
class LivePartner:
    base_url: str
    ca: Path  # the CA PEM a client verifies the partner with (``--partner-ca``)
    log: Path  # the server's stderr: one line per request, and why it stopped
    pid: int


def demo_credentials(partner: str) -> dict[str, str]:
    """The credential variables a partner checks, at the harness's demo values (harness/secrets.py)."""
    names = cayenta.CREDENTIALS if partner == "cayenta" else caselle.CREDENTIALS
    return {name: f"demo-{name.lower()}" for name in names}


@contextlib.contextmanager
def start_partner(partner: str, folder: Path, *, drift: bool = False, data: Path | None = None,
                  credentials: Mapping[str, str] | None = None) -> Iterator[LivePartner]:
    """A running live ``partner`` (cayenta or caselle), its certificates and log in ``folder``.

    ``credentials``: the values of its credential variables (default: the demo values)."""
    folder.mkdir(parents=True, exist_ok=True)
    certs = Certificates.in_folder(folder / "certs")
    if not certs.exist():
        make_certificates(folder / "certs")
    env = {**os.environ, **(credentials if credentials is not None else demo_credentials(partner)),
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "tests.support.live_partners", partner, "--cert", str(folder / "certs"),
               "--port", "0", "--parent", str(os.getpid()), *(["--data", str(data)] if data else []),
               *(["--drift"] if drift else [])]
    log = folder / f"{partner}{'-drift' if drift else ''}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=stderr, start_new_session=True)
    try:
        url = _ready(process, log)
        yield LivePartner(url, certs.ca, log, process.pid)
    finally:
        _stop(process)


def _ready(process: subprocess.Popen[bytes], log: Path) -> str:
    """The base URL the server prints, or an error naming its log when it died or said nothing in time."""
    assert process.stdout is not None
    deadline = time.monotonic() + _READY_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if selector.select(timeout=min(left, 0.5)):
                line = process.stdout.readline().decode().strip()
                if line.startswith("https://"):
                    return line
                if not line and process.poll() is not None:
                    break
    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
    raise RuntimeError(f"live partner did not start (exit {process.poll()}); its log {log} ends: {' | '.join(tail)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL; reaped either way."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
