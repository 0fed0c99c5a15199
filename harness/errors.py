"""Errors a user can act on.

Every error the CLI reports is a ``SitError``: its message is one line that names the
file, line or field at fault and what to do about it. Anything else escaping is a bug.
"""

from __future__ import annotations

# What `sit` exits with; scripts and CI tell the outcomes apart by these.
EXIT_OK = 0
EXIT_FAILED = 1  # a run failed, or a chain is broken (the evidence was tampered with)
EXIT_USAGE = 2  # the user's input cannot be used (a SitError's default)
EXIT_HARNESS = 3  # a harness error: a run could not start, or evidence the harness itself got wrong
EXIT_INCOMPLETE = 4  # the evidence is incomplete: the run has no terminal event (still running, or cut short)
EXIT_STORE_DAMAGED = 5  # the event store's SQLite file is damaged
EXIT_SIGNAL = 128  # + the number of a signal that ends a run: 129 SIGHUP, 130 SIGINT, 141 SIGPIPE, 143 SIGTERM


class SitError(Exception):
    """An error for the user: ``str(error)`` is the whole, one-line message."""

    exit_code = EXIT_USAGE


class ProfileError(SitError):
    """A partner or biller profile is missing, malformed or inconsistent."""


class StubServerError(SitError):
    """WireMock could not be started, reached or loaded with a stub pack."""


class TransferError(SitError):
    """The sFTP server could not be started or a transfer failed."""


class InputError(SitError):
    """A file or argument given on the command line cannot be used."""


class RunNotFound(SitError):
    """No run with that id in the event store."""


class HarnessError(SitError):
    """A fault of the harness itself, not of the user's input: there is nothing to fix but to report it."""

    exit_code = EXIT_HARNESS
