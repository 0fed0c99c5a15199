"""Partner invoice files (XML over sFTP) mapped to the platform's BIF.

The mapping is data: ``InvoiceFile`` in the partner profile says which element of a
record feeds which BIF field. The same code loads files in scenarios and in
``sit invoices check``, so it must be safe on anything a partner may send: it streams
(flat memory for any file size), refuses DTDs (no XXE, no entity bombs) and turns every
fault in the file into a ``Rejection`` instead of raising.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import IO, cast

from lxml import etree

from harness.errors import ProfileError
from harness.platform.bif import BIF_FIELDS, BifRecord
from harness.profiles.models import ChargeLines, FieldMap, InvoiceFile

_DTD_REFUSAL = "refused: the file declares a DTD (<!DOCTYPE ...>); invoice files may not declare entities"
# lxml repeats the position at the end of its message; the rejection states it once.
_POSITION_SUFFIX = re.compile(r", line \d+, column \d+$")
# Amounts are plain decimals: no exponents, underscores, NaN or Infinity, which Decimal accepts.
_AMOUNT = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d*)(?:\.(?P<frac>\d*))?")
_MAX_WHOLE_DIGITS = 12
_CENT = Decimal("0.01")
# One step of a path the generator can build: a name and optional [@attr='value'] tests.
_STEP = re.compile(r"[A-Za-z_][\w.-]*(?:\[@[A-Za-z_][\w.-]*=(?:'[^']*'|\"[^\"]*\")\])*")
_NAME = re.compile(r"[A-Za-z_][\w.-]*")
_TEST = re.compile(r"\[@([A-Za-z_][\w.-]*)=(?:'([^']*)'|\"([^\"]*)\")\]")


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record (or, with ``record == 0``, the whole file) the platform would not import."""

    file: str
    record: int  # 1-based record index, 0 = the file as a whole
    line: int | None
    invoice_number: str | None
    reason: str

    def __str__(self) -> str:
        where = [self.file]
        if self.record:
            where.append(f"record {self.record}" + (f" (line {self.line})" if self.line else ""))
        elif self.line:
            where.append(f"line {self.line}")
        return f"{': '.join(where)}: {self.reason}"


@dataclass
class LoadResult:
    file: str
    accepted: list[BifRecord]
    rejected: list[Rejection]

    @property
    def ok(self) -> bool:
        return not self.rejected


def _words(field: str) -> str:
    """A BIF field as a reader names it (``account_number`` -> "account number"): rejection
    reasons speak the platform's words first, so they read the same for every partner."""
    return field.replace("_", " ")


class _Fault(ValueError):
    """One field's problem; its message is the phrase that goes into a Rejection reason."""


def expected_file_name(layout: InvoiceFile, day: date) -> str:
    return day.strftime(layout.name_template)


def load_invoice_file(path: Path, layout: InvoiceFile, bid: int, invoice_type: int) -> LoadResult:
    """The whole file at once; use ``iter_invoice_file`` to keep memory flat on big files."""
    result = LoadResult(path.name, [], [])
    for item in iter_invoice_file(path, layout, bid, invoice_type):
        if isinstance(item, Rejection):
            result.rejected.append(item)
        else:
            result.accepted.append(item)
    return result


def iter_invoice_file(path: Path, layout: InvoiceFile, bid: int, invoice_type: int) -> Iterator[BifRecord | Rejection]:
    """Yield each record of the file as a BifRecord or a Rejection, in file order.

    File-level faults (unreadable, DTD, wrong root, malformed XML) end the stream with one
    Rejection of record 0; records yielded before a fault stand.
    """
    _check_layout(layout)
    try:
        with path.open("rb") as stream:
            yield from _parse(stream, path.name, layout, _RecordMapper(path.name, layout, bid, invoice_type))
    except OSError as exc:
        yield Rejection(path.name, 0, None, None, f"cannot read the file: {exc.strerror or exc}")


def _parse(stream: IO[bytes], name: str, layout: InvoiceFile, mapper: _RecordMapper) -> Iterator[BifRecord | Rejection]:
    # No entity substitution, no DTD loading, no network and libxml2's size limits: with
    # these, nothing outside the file is read, and the DTD check below runs before content.
    events = etree.iterparse(
        stream,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    depth = 0
    try:
        for event, element in events:
            if event == "start":
                if depth == 0 and (refusal := _refuse_root(element, name, layout)):
                    yield refusal
                    return
                depth += 1
                continue
            depth -= 1
            if depth == 1:
                if element.tag == layout.record and (item := mapper.map(element)) is not None:
                    yield item
                _drop(element)
    except etree.XMLSyntaxError as exc:
        yield _malformed(name, exc)


def _refuse_root(root: etree._Element, name: str, layout: InvoiceFile) -> Rejection | None:
    """Refuse the file at its first event: the prolog (and any DTD) is parsed, no content is."""
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url or docinfo.public_id:
        return Rejection(name, 0, None, None, _DTD_REFUSAL)
    if root.tag != layout.root:
        tag = cast(str, root.tag)  # a parsed element's tag is text; lxml types it wider (as set by hand)
        return Rejection(name, 0, root.sourceline, None, f"root element is <{tag}>, expected <{layout.root}>")
    return None


def _drop(element: etree._Element) -> None:
    """Free a finished child of the root and anything before it (comments too)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is None:  # only the root has none, and only its children come here
        return
    while element.getprevious() is not None:
        del parent[0]


def _malformed(name: str, exc: etree.XMLSyntaxError) -> Rejection:
    line, column = exc.position
    where = f" at line {line}, column {column}" if line else ""
    message = _POSITION_SUFFIX.sub("", exc.msg)
    reason = f"malformed XML{where}: {message}; records after this point were not read"
    return Rejection(name, 0, line or None, None, reason)


class _RecordMapper:
    """Maps record elements to BIF, remembering only the values of ``unique`` fields."""

    def __init__(self, file: str, layout: InvoiceFile, bid: int, invoice_type: int) -> None:
        self._file = file
        self._layout = layout
        self._bid = bid
        self._invoice_type = invoice_type
        self._count = 0
        self._seen: dict[str, dict[str, int]] = {n: {} for n, f in layout.fields.items() if f.unique}
        # Plain child names are read from one pass over the children: lxml's find() costs
        # microseconds a call, which dominates the load time of a big file.
        self._by_name = {field: bool(_NAME.fullmatch(spec.source)) for field, spec in layout.fields.items()}
        # A field read from a charge line (past due) is checked as that field; the other lines as lines.
        self._line_fields = [spec.source for field, spec in layout.fields.items() if not self._by_name[field]]

    def map(self, record: etree._Element) -> BifRecord | Rejection | None:
        """The record in BIF, or why it is rejected; None for a record the layout does not load
        (``only_when``: a closed item where only open items count)."""
        self._count += 1
        if any((record.findtext(source) or "").strip() != value for source, value in self._layout.only_when.items()):
            return None
        children: dict[object, str | None] = {}
        for child in record:
            children.setdefault(child.tag, child.text)  # the first one, as find() would
        values: dict[str, object] = {}
        faults: list[str] = []
        for field, spec in self._layout.fields.items():
            found = children.get(spec.source) if self._by_name[field] else record.findtext(spec.source)
            text = (found or "").strip()
            try:
                values[field] = _field_value(text, field, spec, self._layout.date_format)
                self._check_unique(field, spec, text)
            except _Fault as fault:
                faults.append(str(fault))
        if self._layout.lines is not None:
            faults.extend(self._line_faults(record, self._layout.lines))
        if faults:
            invoice = record.findtext(self._layout.fields["invoice_number"].source)
            invoice = invoice.strip() if invoice and invoice.strip() else None
            return Rejection(self._file, self._count, record.sourceline, invoice, "; ".join(faults))
        return BifRecord(bid=self._bid, invoice_type=self._invoice_type, **values)  # type: ignore[arg-type]

    def _line_faults(self, record: etree._Element, lines: ChargeLines) -> Iterator[str]:
        """A line is a charge or an adjustment: a plain amount, negative for a credit."""
        taken = {id(element) for source in self._line_fields if (element := record.find(source)) is not None}
        for line in record.iterfind(lines.source):
            if id(line) in taken:
                continue
            kind = line.get(lines.kind) if lines.kind else None
            label = f"{lines.source} ({lines.kind} {kind})" if kind is not None else lines.source
            try:
                _amount((line.text or "").strip(), label, signed=True)
            except _Fault as fault:
                yield str(fault)

    def _check_unique(self, field: str, spec: FieldMap, text: str) -> None:
        if not spec.unique or not text:
            return
        first = self._seen[field].setdefault(text, self._count)
        if first != self._count:
            raise _Fault(f"duplicate {_words(field)} ({spec.source}) {_quote(text)} (first in record {first})")


def _field_value(text: str, field: str, spec: FieldMap, date_format: str) -> str | Decimal | date | None:
    if not text:
        if spec.required:
            raise _Fault(f"missing {_words(field)} ({spec.source})")
        empty: dict[str, str | Decimal | None] = {"text": "", "amount": Decimal("0.00"), "date": None}
        return empty[spec.type]
    if spec.type == "amount":
        return _amount(text, spec.source)
    if spec.type == "date":
        try:
            return _date(text, date_format)
        except ValueError:
            raise _Fault(f"{spec.source} {_quote(text)} is not a date (expected {date_format})") from None
    return text


@lru_cache(maxsize=1024)
def _date(text: str, date_format: str) -> date:
    """strptime is slow and a file repeats a handful of dates, so parse each once."""
    return datetime.strptime(text, date_format).date()


def _amount(text: str, source: str, *, signed: bool = False) -> Decimal:
    """Parse by hand so nothing Decimal would accept beyond plain money slips through (an exponent,
    NaN, underscores: "not a plain amount"); never through float. ``signed``: a credit may be negative."""
    match = _AMOUNT.fullmatch(text)
    if match is None or not (match["whole"] or match["frac"]):
        raise _Fault(f"{source} {_quote(text)} {'is not a plain amount' if _decimal(text) else 'is not a number'}")
    whole = match["whole"].lstrip("0")
    frac = (match["frac"] or "").rstrip("0")
    negative = match["sign"] == "-" and bool(whole or frac)
    if negative and not signed:
        raise _Fault(f"{source} {_quote(text)} is negative")
    if len(frac) > 2:
        raise _Fault(f"{source} {_quote(text)} has more than 2 decimals")
    if len(whole) > _MAX_WHOLE_DIGITS:
        raise _Fault(f"{source} {_quote(text)} is too large (more than {_MAX_WHOLE_DIGITS} digits)")
    return Decimal(f"{'-' if negative else ''}{whole or 0}.{frac or 0}").quantize(_CENT)


def _decimal(text: str) -> bool:
    """Whether Decimal reads ``text`` as a number: 1e3, 1_000, NaN, Infinity are numbers, not money."""
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def _quote(text: str, limit: int = 40) -> str:
    """Quote a value for a reason, cut short: a partner's field may be megabytes long."""
    return f"'{text}'" if len(text) <= limit else f"'{text[:limit]}…'"


def _check_layout(layout: InvoiceFile) -> None:
    """Profile faults are the harness's to fix, so they raise instead of rejecting the file."""
    unknown = layout.fields.keys() - set(BIF_FIELDS)
    if unknown:
        raise ProfileError(f"invoice_file maps unknown BIF fields: {', '.join(sorted(unknown))}")
    probe = etree.Element("probe")
    for field, spec in layout.fields.items():
        try:
            probe.find(spec.source)
        except SyntaxError as exc:
            raise ProfileError(f"invoice_file field {field}: bad source path {spec.source!r}: {exc}") from None


def render_invoice_file(layout: InvoiceFile, records: Iterable[Mapping[str, str]], *, closed: Collection[int] = (),
                        adjustments: Mapping[int, Sequence[str]] | None = None, encoding: str = "UTF-8",
                        bom: bool = False) -> bytes:
    """Build a partner-shaped file from dicts of BIF field -> text, using the profile's paths.

    What real files hold, by record index: ``closed`` records are items the layout does not load
    (``otherwise``: a closed item); ``adjustments`` are charge lines added to a record (``lines``),
    "-15.00" for a credit. The file is written in ``encoding`` (declared in its prolog; a character
    the encoding lacks becomes a character reference), after a byte-order mark if ``bom`` (UTF-8 only).
    """
    _check_layout(layout)
    if closed and not layout.otherwise:
        raise ProfileError("invoice_file: no 'otherwise' value says how the partner writes an item that does not load")
    if adjustments and (layout.lines is None or (layout.lines.kind and not layout.lines.adjustment)):
        raise ProfileError("invoice_file: no 'lines' (with an 'adjustment' kind) says how a bill's charge lines look")
    if bom and codecs.lookup(encoding).name != "utf-8":
        raise ValueError(f"a byte-order mark is written before UTF-8 only, not {encoding}")
    root = etree.Element(layout.root)
    for index, values in enumerate(records):
        unknown = values.keys() - layout.fields.keys()
        if unknown:
            raise ValueError(f"fields not in the {layout.root} layout: {', '.join(sorted(unknown))}")
        record = etree.SubElement(root, layout.record)
        for field, spec in layout.fields.items():
            if field in values:
                _place(record, spec.source).text = _rendered(values[field], spec, layout.date_format)
        if adjustments and index in adjustments:
            _adjust(record, layout.lines, adjustments[index])  # type: ignore[arg-type]
        # A record the partner sends to be loaded, or one it sends that does not load (a closed item).
        for source, value in (layout.otherwise if index in closed else layout.only_when).items():
            _place(record, source).text = value
    data = etree.tostring(root, xml_declaration=True, encoding=encoding, pretty_print=True)
    return codecs.BOM_UTF8 + data if bom else data


def _adjust(record: etree._Element, lines: ChargeLines, amounts: Sequence[str]) -> None:
    """Adjustment lines of these amounts, listed before the record's other lines: a reader that takes
    the first line for the past due one (or any line's sign for the bill's) goes wrong on them."""
    parent, _, name = lines.source.rpartition("/")
    holder = _place(record, parent) if parent else record
    first = holder.find(name)
    attrs = {lines.kind: lines.adjustment} if lines.kind and lines.adjustment else {}
    for amount in amounts:
        line = etree.Element(name, attrs)
        line.text = amount
        if first is None:
            holder.append(line)
        else:
            first.addprevious(line)


def _rendered(text: str, spec: FieldMap, date_format: str) -> str:
    """A BIF value as the partner writes it: ISO dates in the layout's date format (other text,
    a deliberately bad date included, as given)."""
    if spec.type != "date":
        return text
    try:
        return date.fromisoformat(text).strftime(date_format)
    except ValueError:
        return text


def _place(record: etree._Element, source: str) -> etree._Element:
    """Find or create the element at ``source`` under ``record``, with its attribute tests."""
    element = record
    for step in source.split("/"):
        if not _STEP.fullmatch(step):
            raise ProfileError(f"cannot render path {source!r}: only names with [@attr='value'] tests")
        child = element.find(step)
        if child is None:
            tag = _NAME.match(step)[0]  # type: ignore[index]
            attrs = {key: single or double for key, single, double in _TEST.findall(step)}
            child = etree.SubElement(element, tag, attrs)
        element = child
    return element
