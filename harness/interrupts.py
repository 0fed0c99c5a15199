"""How a run stops when it is asked to: signals and a closed stdout become one interruption.

SIGTERM and SIGHUP become the ``KeyboardInterrupt`` that SIGINT already is, so pytest ends
the session the one way it knows: the scenario in flight is closed as interrupted, the
session's teardown stops WireMock and the sFTP server, and the run records
``run.interrupted`` with the reason. A closed stdout (``sit run | head``) means the reader
went away: while scenarios run, it is the same interruption; after them, output is dropped
and the run completes. Only the first interruption counts: a second Ctrl-C while the run
cleans up is ignored, so that the cleanup is never cut short itself.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO, Any, TypeVar

_T = TypeVar("_T")

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STDOUT_CLOSED = "stdout closed"
_EXIT_CLOSED = 128 + signal.SIGPIPE  # what a shell reports for a writer whose reader left


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop; ``reason`` says how (a signal's name, or a closed stdout)."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.reason, self.exit_code = reason, exit_code


class _State:
    first: Interrupted | None = None
    told = False  # whether the user was told of the interruption (else the CLI says it on its way out)
    scenarios_running = False


def reason() -> str | None:
    """How the run was interrupted, if it was."""
    return _State.first.reason if _State.first else None


def exit_code() -> int | None:
    """The exit code an interrupted run ends with (128 + the signal), if it was interrupted."""
    return _State.first.exit_code if _State.first else None


def told() -> None:
    """The user has been told of the interruption (the CLI need not say it again)."""
    _State.told = True


def untold() -> Interrupted | None:
    """The interruption, if there was one the user has not been told of."""
    return None if _State.told else _State.first


def _interrupt(reason: str, code: int) -> None:
    if _State.first is not None:
        return  # the first interruption is being handled: let its cleanup finish
    _State.first = Interrupted(reason, code)
    raise _State.first


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _interrupt(signal.Signals(signum).name, 128 + signum)


@contextmanager
def handled() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into ``Interrupted`` for the block (main thread only)."""
    _State.first, _State.told, _State.scenarios_running = None, False, False
    previous = {sig: signal.signal(sig, _on_signal) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def scenarios_running() -> Iterator[None]:
    """While the block runs, a closed stdout interrupts the run; outside it, output is just dropped."""
    _State.scenarios_running = True
    try:
        yield
    finally:
        _State.scenarios_running = False


def stdout_closed() -> None:
    """The reader of stdout is gone: silence stdout for good, and interrupt the run if scenarios run."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor behind stdout: nothing left to silence
        pass
    if _State.scenarios_running:
        _interrupt(STDOUT_CLOSED, _EXIT_CLOSED)


class GuardedOutput:
    """A file for rich's Console: writes go to the current ``sys.stdout``; a broken pipe is an interruption."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stdout, name)

    def write(self, text: str) -> int:
        return self._guard(lambda out: out.write(text), len(text))

    def flush(self) -> None:
        self._guard(lambda out: out.flush(), None)

    @staticmethod
    def _guard(action: Callable[[IO[str]], _T], fallback: _T) -> _T:
        try:
            return action(sys.stdout)
        except BrokenPipeError:
            stdout_closed()
            return fallback
