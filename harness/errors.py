"""Errors a user can act on.

Every error the CLI reports is a ``SitError``: its message is one line that names the
file, line or field at fault and what to do about it. Anything else escaping is a bug.
"""

from __future__ import annotations


class SitError(Exception):
    """An error for the user: ``str(error)`` is the whole, one-line message."""

    exit_code = 2


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


class IncompleteRun(SitError):
    """A run that has not finished (still running, interrupted, or its log cut short) where a finished one is needed."""

    exit_code = 4
