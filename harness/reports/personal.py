"""The biller's customers' personal data: found in a run's log by structure, masked in the partner pack.

Which fields are personal is profile data, never a guess from a text's look:
- the partner's ``evidence.personal_fields`` name elements, attributes, JSON keys, form fields
  and event data keys, wherever they occur;
- the fields of the partner's invoice file layout marked ``personal`` are read by the layout's
  own structure: paths in an XML record today (``STRUCTURES``); the readers of CSV columns by
  header and of fixed-width positions are here for the file layouts that partners like STW/OpenGov
  bring, and register in ``STRUCTURES`` once a profile can declare such a layout.

Where the log holds personal data, and how it is read there:
- ``file.transferred``: the invoice file as uploaded, accepted and rejected records alike, read
  by the layout (a file it cannot read is withheld whole: its content is one personal value);
- the platform's events: loaded bills (``bill``), rejections (with their record's fields where an
  event carries them), balances (``customer_name``), by key; an email or phone change by what it changes;
- ``partner.exchange`` and ``stub.added``: message bodies. XML and JSON are read where they parse
  as such; a body is read as a form only where the message's Content-Type says it is one (a ``=``
  in an XML prolog does not make a form);
- expectations, step texts and errors are free text: the values found above are masked there
  too, as in every text of the pack, in every form a writer may have put them in.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl

from lxml import etree

from harness.errors import ProfileError
from harness.events import Event
from harness.profiles.models import FileSpec
from harness.reports.bodies import FORM, XML_OPTIONS, content_type
from harness.reports.leaks import LeakFound, find_leaks, text_forms

PERSONAL = "[personal data]"
MIN_LEN = 3  # shorter values ("A", "12") would mask half the evidence
# An account change of these programs carries the customer's new contact detail as its value.
_CONTACT_CHANGES = frozenset({"email", "phone"})
# A message's body and the headers that say what it is, as events and stub mappings keep them.
_MESSAGES = (("request_body", "request_headers"), ("response_body", "response_headers"), ("body", "headers"))

Found = tuple[str, str]  # (where in the text, the value)


class Unreadable(ValueError):
    """A text that is not in the structure a layout describes."""


class RecordStructure(Protocol):
    """How one file format holds records, and where in a record the personal fields are."""

    def find(self, text: str, complete: bool = True) -> Iterator[Found]:
        """Each personal value of each record; ``complete`` False for the first part of a file
        only (the rest was not kept). Raises ``Unreadable`` for a text not in this structure."""
        ...


_STRICT, _LENIENT = etree.XMLParser(**XML_OPTIONS), etree.XMLParser(recover=True, **XML_OPTIONS)


def _tag(element: etree._Element) -> str:
    """A parsed element's tag, always text: lxml types it wider (bytes or a QName, when set by hand)."""
    return cast(str, element.tag)


def _xml(text: str, recover: bool) -> etree._Element:
    """The document of ``text`` without namespaces; raises ``Unreadable``."""
    try:
        root = etree.fromstring(text.encode("utf-8"), _LENIENT if recover else _STRICT)
    except etree.XMLSyntaxError as exc:
        raise Unreadable(f"not well-formed XML: {exc}") from None
    if root is None:
        raise Unreadable("no XML element")
    for element in root.iter(etree.Element):
        element.tag = etree.QName(element).localname
        for name in [name for name in element.attrib if name.startswith("{")]:
            element.attrib[etree.QName(name).localname] = element.attrib.pop(name)
    return root


@dataclass(frozen=True)
class XmlRecords:
    """Records are the ``record`` elements under ``root``; ``fields`` are paths relative to a record:
    ``CUSTOMER_NAME``, ``Contact/Email``, ``@name``, ``Customer/@name`` (namespaces ignored)."""

    root: str
    record: str
    fields: tuple[str, ...]

    def find(self, text: str, complete: bool = True) -> Iterator[Found]:
        document = _xml(text, recover=not complete)
        if document.getroottree().docinfo.internalDTD is not None:
            raise Unreadable("it declares a DTD")  # entities could hold anything; the platform refuses it too
        if document.tag != self.root:
            raise Unreadable(f"root element is <{_tag(document)}>, not <{self.root}>")
        for index, record in enumerate(document.iter(self.record), 1):
            for path in self.fields:
                for value in _at(record, path):
                    yield f"{self.record}[{index}]/{path}", value


def _at(record: etree._Element, path: str) -> Iterator[str]:
    parent, _, last = path.rpartition("/")
    if last.startswith("@"):
        for element in record.findall(parent) if parent else [record]:
            if (value := element.get(last[1:])) is not None:
                yield value
        return
    for element in record.findall(path):
        yield from element.itertext()


@dataclass(frozen=True)
class CsvRecords:
    """A header line names the columns; ``columns`` are the personal ones (case and blanks ignored)."""

    columns: tuple[str, ...]
    delimiter: str = ","

    def find(self, text: str, complete: bool = True) -> Iterator[Found]:
        header, *rows = self._rows(text, complete) or [[]]
        wanted = {_key(column) for column in self.columns}
        personal = [(index, name.strip()) for index, name in enumerate(header) if _key(name) in wanted]
        if not personal:
            raise Unreadable(f"the header names none of the columns {', '.join(self.columns)}")
        for number, row in enumerate(rows, 2):
            for index, name in personal:
                if index < len(row):
                    yield f"row {number}, column {name}", row[index]

    def _rows(self, text: str, complete: bool) -> list[list[str]]:
        # The first part of a file may end inside a quoted field: closing it keeps that field's start.
        error = None
        for attempt in (text,) if complete else (text, f'{text}"'):
            try:
                return list(csv.reader(io.StringIO(attempt, newline=""), delimiter=self.delimiter, strict=True))
            except csv.Error as exc:
                error = exc
        raise Unreadable(f"not CSV: {error}")


@dataclass(frozen=True)
class Span:
    """A fixed-width field as a layout writes it: its first column (1-based) and its width."""

    name: str
    start: int
    width: int

    def of(self, line: str) -> str:
        return line[self.start - 1:self.start - 1 + self.width]


@dataclass(frozen=True)
class FixedWidthRecords:
    """One record a line; ``fields`` are the personal spans. With ``record_type``, only lines whose
    type (at that span) is one of ``record_types`` are records: header and trailer lines are not."""

    fields: tuple[Span, ...]
    record_type: Span | None = None
    record_types: tuple[str, ...] = ()

    def find(self, text: str, complete: bool = True) -> Iterator[Found]:
        for number, line in enumerate(text.splitlines(), 1):
            if self.record_type is not None and self.record_type.of(line).strip() not in self.record_types:
                continue
            for span in self.fields:
                yield f"line {number}, {span.name} (columns {span.start}-{span.start + span.width - 1})", span.of(line)


Layout = Mapping[str, Any]  # a partner's ``invoice_file`` as data


def _personal_sources(layout: Layout) -> dict[str, str]:
    """BIF field -> where the layout reads it, for the fields it marks ``personal``."""
    fields = layout.get("fields") or {}
    return {name: str(spec.get("source", "")) for name, spec in fields.items() if spec.get("personal")}


def _xml_layout(layout: Layout) -> RecordStructure:
    sources = tuple(_personal_sources(layout).values())
    return XmlRecords(str(layout.get("root", "")), str(layout.get("record", "")), sources)


# How each invoice file format is read for personal data: a new format registers its reader here.
STRUCTURES: dict[str, Callable[[Layout], RecordStructure]] = {"xml": _xml_layout}


def _glob(spec: Mapping[str, Any]) -> str | None:
    """The names a file of the profiles' ``files`` has, as its model says (None: not a file spec it reads)."""
    try:
        return FileSpec.model_validate(spec).glob
    except ValueError:
        return None


def _file_structure(spec: Mapping[str, Any], names: frozenset[str]) -> RecordStructure | None:
    """How a file of the profiles' ``files`` holds personal data: its detail fields named personal, read
    by its layout (CSV by its labels line, fixed width by positions); None where it holds none."""
    layout = spec.get("layout") or {}
    detail = layout.get("detail") or {}
    personal = [f for f in detail.get("fields") or [] if _key(str(f.get("name", ""))) in names]
    if not personal:
        return None
    if layout.get("format") == "csv" and layout.get("labels"):
        return CsvRecords(tuple(str(f.get("label") or f["name"]) for f in personal), str(layout.get("delimiter", ",")))
    if layout.get("format") == "fixed":
        slot = layout.get("record_type") or {}
        kind = Span("record_type", int(slot["start"]), int(slot["length"])) if slot.get("start") else None
        spans = tuple(Span(str(f["name"]), int(f["start"]), int(f["length"])) for f in personal if f.get("start"))
        if len(spans) == len(personal):
            return FixedWidthRecords(spans, kind, (str(detail.get("code") or ""),) if kind else ())
    return None  # a layout no structure reads: its files are withheld whole


@dataclass(frozen=True)
class PersonalRules:
    """What a partner profile says is personal: names (any case) wherever they occur, and the
    invoice file layout's personal fields, read by the layout's structure."""

    names: frozenset[str]
    files: tuple[RecordStructure, ...]
    # The profiles' own files, told by their names: (glob, how it holds personal data; None: it holds none).
    named: tuple[tuple[str, RecordStructure | None], ...] = ()

    @classmethod
    def of(cls, partner: Mapping[str, Any], biller: Mapping[str, Any] | None = None) -> PersonalRules:
        """From the partner profile as data (``model_dump(mode="json")``, as a run records it at its start),
        and the biller's, whose own files (``files``) are read by their layouts: read by path, so a run
        recorded by an earlier version still reads."""
        evidence, layout = partner.get("evidence") or {}, partner.get("invoice_file") or {}
        names = frozenset(_key(name) for name in [*(evidence.get("personal_fields") or []),
                                                   *_personal_sources(layout)])
        file_format = str(layout.get("format", "xml"))
        if file_format not in STRUCTURES:
            raise ProfileError(f"invoice_file format '{file_format}': no reader of its personal data, so no partner "
                               f"pack can be written (formats read: {', '.join(sorted(STRUCTURES))})")
        files = {**(partner.get("files") or {}), **((biller or {}).get("files") or {})}
        named = tuple((glob, _file_structure(spec, names)) for spec in files.values() if (glob := _glob(spec)))
        return cls(names, (STRUCTURES[file_format](layout),), named)


def _key(name: str) -> str:
    return name.strip().lower()


class _Finder:
    """Collects the run's personal values, each with where it was first found."""

    def __init__(self, rules: PersonalRules) -> None:
        self._names = rules.names
        self._files = rules.files
        self._own_files = rules.named
        self.found: dict[str, str] = {}  # value -> where

    def event(self, event: Event) -> None:
        for where, value in self._in_event(event):
            value = value.strip()
            if len(value) >= MIN_LEN and value not in self.found:
                self.found[value] = f"{where} in event {event.seq} ({event.kind})"

    def _in_event(self, event: Event) -> Iterator[Found]:
        if event.kind.startswith("run."):  # what the run ran: profiles and workbook, no payer's data
            return
        data = event.data
        if event.kind == "file.transferred" and isinstance(data.get("content"), str):
            yield from self._in_file(str(data.get("path", "")), data["content"], not data.get("content_truncated"))
        yield from self._in_data(data)
        if event.kind.startswith("platform.") and data.get("program") in _CONTACT_CHANGES and "value" in data:
            yield f"{data['program']} change", str(data.get("value") or "")

    def _in_file(self, path: str, content: str, complete: bool) -> Iterator[Found]:
        refusals = []
        name = path.rsplit("/", 1)[-1]
        named = [(structure,) for glob, structure in self._own_files if fnmatch.fnmatchcase(name, glob)]
        if named and named[0][0] is None:
            return  # a file whose layout holds no personal field (a payment file)
        for structure in [s for (s,) in named[:1] if s is not None] or self._files:
            try:
                found = list(structure.find(content, complete))
            except Unreadable as exc:
                refusals.append(str(exc))
                continue
            yield from ((f"{path}: {where}", value) for where, value in found)
            return
        # Personal data cannot be told apart in a file no layout reads: none of it leaves.
        yield f"content of {path} (unreadable by the partner's layout: {'; '.join(refusals)})", content

    def _in_data(self, node: Any) -> Iterator[Found]:
        if isinstance(node, dict):
            for key, value in node.items():
                if _key(str(key)) in self._names:
                    yield from ((str(key), leaf) for leaf in _leaves(value))
                else:
                    yield from self._in_data(value)
            yield from self._in_forms(node)
        elif isinstance(node, list):
            for value in node:
                yield from self._in_data(value)
        elif isinstance(node, str):
            yield from self._in_text(node)

    def _in_forms(self, message: dict[str, Any]) -> Iterator[Found]:
        """Bodies whose headers say they are forms: read field by field (each value as a text)."""
        for body_key, headers_key in _MESSAGES:
            body = message.get(body_key)
            if isinstance(body, str) and body and FORM in content_type(message.get(headers_key)).lower():
                for name, value in parse_qsl(body, keep_blank_values=True):
                    yield from self._named(name, value)

    def _named(self, name: str, value: str, where: str = "") -> Iterator[Found]:
        """A named text (form field, attribute): personal by its name, or read for what it holds."""
        if _key(name) in self._names:
            yield where or name, value
        else:
            yield from self._in_text(value)

    def _in_text(self, text: str) -> Iterator[Found]:
        """XML or JSON held in a string, read by its names; any other text holds no structure."""
        start = text.lstrip()[:1]
        if start == "<":
            try:
                document = _xml(text, recover=True)
            except Unreadable:
                return
            yield from self._in_xml(document)
        elif start in ("{", "["):
            try:
                parsed = json.loads(text)
            except ValueError:
                return
            yield from self._in_data(parsed)

    def _in_xml(self, document: etree._Element) -> Iterator[Found]:
        for element in document.iter(etree.Element):
            if _key(_tag(element)) in self._names:
                yield from ((_tag(element), text) for text in element.itertext())
            elif element.text:
                yield from self._in_text(element.text)  # XML or JSON carried as text
            for name, value in element.attrib.items():
                yield from self._named(name, value, f"@{name}")


def _leaves(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    elif node is not None and not isinstance(node, bool):
        yield str(node)


def find_personal(events: Iterable[Event], rules: PersonalRules) -> dict[str, str]:
    """Every personal value in the run: name -> value, the name saying where it was found first
    (a value's name can be printed; the value never is)."""
    finder = _Finder(rules)
    for event in events:
        finder.event(event)
    named: dict[str, str] = {}
    for value, where in finder.found.items():
        name, count = where, 1
        while name in named:  # the same field of two records of one text
            count += 1
            name = f"{where} #{count}"
        named[name] = value
    return named


class Masker:
    """Replaces each known personal value, in every text form (escaped, URL-encoded), wherever it occurs."""

    def __init__(self, values: Iterable[str]) -> None:
        forms = {form for value in set(values) if len(value) >= MIN_LEN for form in text_forms(value)}
        ordered = sorted(forms, key=lambda v: (-len(v), v))  # longest first: a value masked whole
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(PERSONAL, text)


def refuse_leaks(values: Mapping[str, str], pack: Path) -> None:
    """Refuse a partner pack in which any personal value is still found after masking."""
    leaks = find_leaks(values, root=pack)
    if not leaks:
        return
    documents = sorted({leak.where for leak in leaks})
    more = f" (and {len(documents) - 1} more documents)" if len(documents) > 1 else ""
    raise LeakFound(f"partner pack refused, nothing written: {leaks[0].where} holds personal data "
                    f"({leaks[0].name}, {leaks[0].form}){more}; this is a harness defect, please report it")
