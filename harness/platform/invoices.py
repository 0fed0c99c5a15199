"""Partner invoice files (XML over sFTP) mapped to the platform's BIF.

The mapping is data: ``InvoiceFile`` in the partner profile says which element of a
record feeds which BIF field. The same code loads files in scenarios and in
``sit invoices check``, so it must be safe on anything a partner may send: it streams
(flat memory for any file size), refuses DTDs (no XXE, no entity bombs) and turns every
fault in the file into a ``Rejection`` instead of raising.
"""

from __future__ import annotations

import codecs
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO

from lxml import etree

from harness.errors import ProfileError
from harness.layouts import LayoutField, RecordLayout, XmlLayout
from harness.layouts.records import FileFault
from harness.layouts.values import Fault as _Fault
from harness.layouts.values import parse_amount as _amount
from harness.layouts.values import parse_date
from harness.layouts.values import quote as _quote
from harness.layouts.xml import NAME as _NAME
from harness.layouts.xml import child_texts, place, root_children
from harness.platform.bif import BIF_FIELDS, BifRecord
from harness.profiles.models import ChargeLines, FieldMap, InvoiceFile

# One step of a path the generator can build: a name and optional [@attr='value'] tests.


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
    """The streaming and its safety (no DTD, no entities, flat memory) are the layouts' XML reader's."""
    try:
        for element in root_children(stream, layout.root, "invoice files"):
            if element.tag == layout.record and (item := mapper.map(element)) is not None:
                yield item
    except FileFault as fault:
        yield Rejection(name, 0, fault.line, None, fault.reason)


def invoice_layout(layout: InvoiceFile) -> XmlLayout:
    """The invoice file as a layout of ``harness.layouts``: the same files read by the one reader
    (its values typed, not yet BIF: ``only_when`` and charge lines stay the invoice loader's)."""
    fields = [LayoutField(name=field, type=spec.type, required=spec.required, path=spec.source)
              for field, spec in layout.fields.items()]
    return XmlLayout(format="xml", root=layout.root, date_format=layout.date_format,
                     detail=RecordLayout(code=layout.record, fields=fields))


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
        children = child_texts(record)
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
        return parse_date(text, spec.source, date_format)
    return text


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
    try:
        return place(record, source)
    except ValueError as exc:
        raise ProfileError(str(exc)) from None
