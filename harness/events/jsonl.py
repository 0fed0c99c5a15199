"""Exporting and importing a run as JSON Lines, one canonical event per line.

A JSONL export can be verified on its own (``verify_chain(read_jsonl(path))``), with no
database, which is what makes it worth handing to a partner or an auditor.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import NoReturn

from harness.events.chain import canonical_json
from harness.events.model import Event, EventLogError, IncompleteEvidence


def write_jsonl(events: Iterable[Event], path: Path) -> int:
    """Write ``events`` to ``path``, returning how many; all or nothing.

    The lines go to a temp file in the same directory, which replaces ``path`` only
    once complete and on disk, so a failure midway leaves no half-written export.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for event in events:
                out.write(canonical_json(event.to_dict()) + b"\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return count


def _reject_constant(name: str) -> NoReturn:
    # json.loads accepts NaN/Infinity by default; canonical JSON never contains them.
    raise ValueError(f"{name} is not valid JSON")


def read_jsonl(path: Path) -> Generator[Event, None, None]:
    """The events of a JSONL file, one line at a time; a bad line is an ``EventLogError``."""
    try:
        with open(path, encoding="utf-8") as lines:
            for lineno, line in enumerate(lines, 1):
                try:
                    obj = json.loads(line, parse_constant=_reject_constant)
                except ValueError as exc:
                    if not line.endswith("\n"):  # every exported line ends with one: the file was cut here
                        raise IncompleteEvidence(f"{path}:{lineno}: the file ends in the middle of an event "
                                                 "(cut short); export the run again") from None
                    raise EventLogError(f"{path}:{lineno}: not valid JSON ({exc})") from None
                if not isinstance(obj, dict):
                    raise EventLogError(f"{path}:{lineno}: not a JSON object")
                try:
                    yield Event.from_dict(obj)
                except EventLogError as exc:
                    raise EventLogError(f"{path}:{lineno}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise EventLogError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise EventLogError(f"{path}: cannot read it ({exc.strerror or exc})") from None
