"""One WireMock process a pytest process (an xdist worker) keeps up for the billers it runs one after another.

Several billers in one `sit run`: each worker runs its billers one at a time, each its own run. A JVM per biller
costs ~0.5 s of CPU to start and ~0.6-0.9 s of wall time before it answers, and serves its first requests cold
(interpreted, classes still loading); with dozens of billers per worker that was a good part of the run. So the
worker starts one WireMock at its first biller and lends it to each biller's session in turn. Nothing of a
biller outlives its run on it: each session loads its own pack on it with ``StubSide.load`` (``/__admin/reset``:
no mapping, scenario state or journal entry of the biller before), and only after the previous biller's session
has stopped (its partner client, callback and CloudPay servers closed), so its exchanges are its own.

The server is the process backend's (``ProcessWireMock``): registered as any JVM the harness starts, so that a
worker killed outright leaves it to the next run to stop; its folder is the worker's, not a run's.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from harness.stubs.server import ProcessWireMock, WireMockServer

__all__ = ["LentWireMock", "SharedWireMock"]


class SharedWireMock:
    """The worker's WireMock: started by the first biller that needs it, again if it died, stopped by ``stop``."""

    def __init__(self, project: Path) -> None:
        self._project = project
        self._lock = threading.Lock()  # a session starts it from its background thread
        self._server: ProcessWireMock | None = None
        self._workdir: Path | None = None
        self._first_log: Path | None = None  # the log of the run it was started for: its start is told there

    def lend(self, log: Path, scrub: Callable[[str], str]) -> LentWireMock:
        """The server as one run's session sees it; ``log``: that run's WireMock log."""
        return LentWireMock(self, log, scrub)

    def _running(self, log: Path, scrub: Callable[[str], str]) -> tuple[ProcessWireMock, Path]:
        """The running server (started now, its console logged to ``log``, if none runs), and the log of its start."""
        with self._lock:
            if self._server is not None and not self._server.running:
                self._server.stop()  # it died under an earlier biller: this one gets a fresh one
                self._server = None
            if self._server is None:
                if self._workdir is None:
                    self._workdir = Path(tempfile.mkdtemp(prefix="sit-wiremock-"))
                server = ProcessWireMock(self._project, self._workdir, log, scrub)
                server.start()  # a failure leaves nothing running: the next biller tries again
                self._server, self._first_log = server, log
            assert self._first_log is not None
            return self._server, self._first_log

    def stop(self) -> None:
        """Stop the server and remove its folder (after the last biller of the worker, or on an interruption)."""
        with self._lock:
            server, self._server = self._server, None
            workdir, self._workdir = self._workdir, None
        try:
            if server is not None:
                server.stop()
        finally:
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)


class LentWireMock(WireMockServer):
    """The worker's WireMock for one run: ``start`` waits until it answers, ``stop`` gives it back (it runs on)."""

    backend = "process"

    def __init__(self, shared: SharedWireMock, log: Path, scrub: Callable[[str], str]) -> None:
        self._shared, self._log, self._scrub = shared, log, scrub
        self.base_url = ""

    def start(self) -> None:
        server, first = self._shared._running(self._log, self._scrub)
        self.base_url = server.base_url
        if first != self._log:  # started for an earlier run: this run's log says which server served it
            self._log.parent.mkdir(parents=True, exist_ok=True)
            started = first.read_text(encoding="utf-8", errors="replace") if first.is_file() else ""
            self._log.write_text(
                f"[sit-harness] This run's partner stubs were served by the WireMock its worker started for an "
                f"earlier run ({first.name}), at {server.base_url}, reset and loaded with this run's stub pack "
                f"when the run began. Its start, as logged then:\n{started}", encoding="utf-8")

    def stop(self) -> None:
        """Nothing to stop: the worker stops its WireMock after its last biller."""
