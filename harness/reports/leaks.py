"""Finding values that must not leave the team (secrets, personal data) in a run's events and files.

A value is looked for in every form a writer may have put it in: as it is, escaped for HTML,
XML or JSON, URL-encoded, and base64-encoded, on its own or inside a longer base64 text at any
of the three byte alignments (a password inside a Basic credential ``base64(user:password)``).
A finding names the value by the name it was given (an environment variable, a personal
field), never by the value: the finding itself is printed and may be shared.
"""

from __future__ import annotations

import base64
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AnyStr
from urllib.parse import quote, quote_plus

from harness.errors import HarnessError
from harness.events import Event

# Shorter values are not looked for: "abc" is in any long text (the redactor's minimum too).
MIN_VALUE_LEN = 4
# A base64 fragment shorter than this is too likely to occur by chance in other base64 text.
MIN_BASE64_LEN = 8
# Members of a zip container (xlsx) larger than this are not unpacked: a bomb, not a report.
MAX_MEMBER_BYTES = 64 * 1024 * 1024
_PIECE = 1024 * 1024  # how much of a zip member is searched at a time
_QUOTE_ESCAPES = (("'", '"'), ("&#x27;", "&quot;"), ("&#39;", "&#34;"), ("&apos;", "&quot;"))


class LeakFound(HarnessError):
    """A value that must not leave the team is in something about to leave it: a harness defect."""


@dataclass(frozen=True)
class Leak:
    """One value found: by its name, in which form, in which event or file."""

    name: str
    form: str
    seq: int | None = None
    kind: str | None = None
    path: str | None = None  # relative to the folder searched; ``book.xlsx!xl/sharedStrings.xml`` for a member

    @property
    def where(self) -> str:
        return f"event {self.seq} ({self.kind})" if self.path is None else self.path

    def __str__(self) -> str:
        return f"{self.name} ({self.form}) in {self.where}"


def text_forms(value: str) -> dict[str, str]:
    """``value`` as text writers put it -> the name of that form: escaped, URL-encoded, both."""
    escaped = {value: "as is"}
    markup = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for apostrophe, quotation in _QUOTE_ESCAPES:  # lxml, html.escape, Jinja2 (markupsafe), XML
        escaped.setdefault(markup.replace("'", apostrophe).replace('"', quotation), "HTML/XML-escaped")
    for ensure_ascii in (True, False):
        escaped.setdefault(json.dumps(value, ensure_ascii=ensure_ascii)[1:-1], "JSON-escaped")
    forms = dict(escaped)
    for text, form in escaped.items():
        for encoded in (quote(text, safe=""), quote(text), quote_plus(text)):
            forms.setdefault(encoded, "URL-encoded" if form == "as is" else f"{form}, URL-encoded")
    return forms


def _base64_forms(value: str) -> dict[str, str]:
    """The base64 texts that appear wherever ``value`` is base64-encoded, alone or inside more bytes.

    Inside a longer text the value starts at some byte offset; the whole 3-byte groups that
    follow its first group boundary encode the same at every such offset. Those are the three
    "stable middles" (one per alignment), in the standard and the URL-safe alphabet.
    """
    raw = value.encode()
    forms: dict[str, str] = {}
    candidates = [base64.b64encode(raw)]
    for skip in range(3):
        whole = (len(raw) - skip) // 3 * 3
        candidates.append(base64.b64encode(raw[skip:skip + whole]))
    for encoded in candidates:
        for text in (encoded.decode(), base64.urlsafe_b64encode(base64.b64decode(encoded)).decode()):
            if len(text.rstrip("=")) >= MIN_BASE64_LEN:
                forms.setdefault(text, "base64")
    return forms


def _forms(value: str) -> dict[str, str]:
    return text_forms(value) | _base64_forms(value)


class _Needles:
    """Every form of every value, ready to be looked for in text (events) or in bytes (files)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.text = [(form, name, label) for name, value in values.items() if len(value) >= MIN_VALUE_LEN
                     for form, label in _forms(value).items()]
        self.data = [(form.encode(), name, label) for form, name, label in self.text]


def _search(haystack: AnyStr, needles: Iterable[tuple[AnyStr, str, str]],
            seen: set[str] | None = None) -> Iterator[tuple[str, str]]:
    """(name, form) of each value found in ``haystack``, once per value (and not again for one in ``seen``)."""
    seen = set() if seen is None else seen
    for form, name, label in needles:
        if name not in seen and form in haystack:
            seen.add(name)
            yield name, label


def find_leaks(values: Mapping[str, str], events: Iterable[Event] = (), root: Path | None = None,
               written: FileSearch | None = None) -> list[Leak]:
    """Where the ``values`` (name -> value) occur: in ``events`` and in every file under ``root``.

    Each event's strings (keys too) are searched; each file as bytes, and a zip container
    (xlsx) member by member as well. At most one finding per value and event or file.
    A file ``written`` searched as it was written (for the same values) is not read again.
    """
    if written is not None and written.values != dict(values):
        raise ValueError("the files were searched as written for other values")
    needles = _Needles(values)
    if not needles.text:
        return []
    found = [Leak(name, form, seq=event.seq, kind=event.kind)
             for event in events for name, form in _search(_event_text(event), needles.text)]
    if root is not None:
        found += _file_leaks(needles, root, written or FileSearch(values))
    return found


class FileSearch:
    """The search of files as they are written, their bytes at hand: ``find_leaks`` then skips them (a
    report's thousands of Allure files are not read back). Only for files nothing changes after."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self._needles = _Needles(values)
        self._clean: set[str] = set()  # the paths searched with nothing found (most): only their names are kept
        self._found: dict[str, list[tuple[str, str]]] = {}

    def __call__(self, path: Path, data: bytes) -> None:
        """``data`` is being written as ``path``; a zip container is left to be read (its members are searched)."""
        if data.startswith(b"PK"):
            return
        if found := list(_search(data, self._needles.data)):
            self._found[str(path)] = found
        else:
            self._clean.add(str(path))

    def found(self, path: Path) -> list[tuple[str, str]] | None:
        """(name, form) of each value in ``path`` as written, or ``None``: not searched as written."""
        key = str(path)
        return [] if key in self._clean else self._found.get(key)


def _event_text(event: Event) -> str:
    # NUL cannot be in a value looked for, so no form matches across two strings.
    return "\0".join(_strings(event.data))


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _strings(value)


def _file_leaks(needles: _Needles, root: Path, written: FileSearch) -> Iterator[Leak]:
    for path in _files(root):
        relative = path.relative_to(root).as_posix()
        if (known := written.found(path)) is not None:
            yield from (Leak(name, form, path=relative) for name, form in known)
            continue
        data = path.read_bytes()
        yield from (Leak(name, form, path=relative) for name, form in _search(data, needles.data))
        if data.startswith(b"PK") and zipfile.is_zipfile(path):
            del data  # a member is read in pieces, not beside the whole container
            yield from _member_leaks(needles, path, relative)


def _files(folder: Path) -> Iterator[Path]:
    """The files under ``folder`` (no symlinks), in the order of their sorted paths, one folder listed at a time
    (a report holds thousands of Allure files: their paths are not all held at once). A listing's entries know
    their type: no file is looked up again."""
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _files(folder / entry.name)
        elif entry.is_file(follow_symlinks=False):
            yield folder / entry.name


def _member_leaks(needles: _Needles, path: Path, relative: str) -> Iterator[Leak]:
    """The findings in each member of a zip container (xlsx), compressed in the file, read a piece at a time."""
    overlap = max((len(form) for form, _, _ in needles.data), default=1) - 1  # a form may span two pieces
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if member.is_dir() or member.file_size > MAX_MEMBER_BYTES:
                continue
            seen: set[str] = set()
            with archive.open(member) as stream:
                tail = b""
                while piece := stream.read(_PIECE):
                    window = tail + piece
                    for name, form in _search(window, needles.data, seen):
                        yield Leak(name, form, path=f"{relative}!{member.filename}")
                    tail = window[-overlap:] if overlap else b""
