"""A served run from start to finish (`sit stubs serve`, `sit serve`): bring the served side up, say what to
configure, record until told to stop, close the run.

Ctrl-C (SIGINT) and SIGTERM say the SE is done: the run finishes (``run.finished``). SIGHUP says
the terminal went away with nobody done: the run is interrupted (``run.interrupted``). Either
way everything the served side brought up stops and nothing is left running. A signal only sets a
flag that the loop reads between polls, so an exchange is never half recorded.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from harness.errors import EXIT_FAILED, EXIT_OK, EXIT_SIGNAL

FINISHING = (signal.SIGINT, signal.SIGTERM)
INTERRUPTING = (signal.SIGHUP,)
POLL_SECONDS = 0.5
Say = Callable[[str], None]


class Served(Protocol):
    """One served run, as the loop drives it: ``start`` brings the side up and opens the run (``opened``),
    ``configuration`` is what the SE configures, ``poll`` records what arrived and returns its console lines
    (once the run is closed: only lines of what finishing recorded), ``finish`` closes the run (``closed``) and
    returns its status, ``outcome`` is the closing line, ``stop`` takes down whatever ``start`` brought up."""

    command: str  # how the SE started it: named in the reason of a run an error stopped
    run_id: str
    opened: bool
    closed: bool

    def start(self) -> None: ...
    def configuration(self) -> list[str]: ...
    def poll(self) -> list[str]: ...
    def finish(self, interrupted: str | None = None) -> str: ...
    def outcome(self, status: str) -> str: ...
    def stop(self) -> None: ...


class _Stop:
    """The first stop signal, remembered; later ones are ignored so that the cleanup is never cut short."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self.event = threading.Event()

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum)
            self.event.set()


def serve(served: Served, say: Say, poll_seconds: float = POLL_SECONDS) -> int:
    """Serve until a signal; returns the exit code: 0 when the run passed, 1 when it failed (or nothing came),
    128 + the signal when the run was interrupted."""
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (*FINISHING, *INTERRUPTING)}
    try:
        served.start()
        for line in served.configuration():
            say(line)
        while not stop.event.wait(poll_seconds):
            _show(served, say)
        return _finish(served, stop.signal, say)
    except BaseException:
        if served.opened and not served.closed:  # the run was recorded as started: it must end in the log
            served.finish(interrupted=f"{served.command} stopped by an error ({stop.signal or 'no signal'})")
        raise
    finally:
        served.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _show(served: Served, say: Say) -> None:
    for line in served.poll():
        say(line)


def _finish(served: Served, sig: signal.Signals | None, say: Say) -> int:
    _show(served, say)
    if sig is not None and sig in INTERRUPTING:
        served.finish(interrupted=sig.name)
        _show(served, say)  # what finishing recorded (a postback abandoned at stop, say)
        say(f"Interrupted ({sig.name}): the evidence up to then is kept;\n  sit report {served.run_id} --interrupted")
        return EXIT_SIGNAL + int(sig)
    status = served.finish()
    _show(served, say)
    say(served.outcome(status))
    say(f"  sit report {served.run_id}")
    return EXIT_OK if status == "passed" else EXIT_FAILED
