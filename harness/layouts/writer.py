"""One writer for every layout: the records the reader would give back, as the partner's bytes.

Header and trailer control fields (record count, control totals) are computed from the details
written; a value given for one wins, which is how a test writes a trailer that disagrees. A value
the layout cannot hold (too long for its positions, more decimals than it has, a negative amount
in an unsigned field) is the caller's error: ValueError, and with ``write`` no file is left behind.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO

from lxml import etree

from harness.layouts.fields import Codec
from harness.layouts.models import CsvLayout, FixedLayout, RecordKind, RecordLayout, XmlLayout
from harness.layouts.parse import csv_codecs, csv_labels, fixed_plans, xml_codecs
from harness.layouts.values import Value
from harness.layouts.xml import place

AnyLayout = CsvLayout | FixedLayout | XmlLayout
Values = Mapping[str, Value]


def render(layout: AnyLayout, details: Iterable[Values], *, header: Values | None = None,
           trailer: Values | None = None, bom: bool = False) -> bytes:
    """The whole file as bytes (test files, small files)."""
    out = io.BytesIO()
    _emit(out, layout, details, header, trailer, bom)
    return out.getvalue()


def write(path: Path, layout: AnyLayout, details: Iterable[Values], *, header: Values | None = None,
          trailer: Values | None = None, bom: bool = False) -> int:
    """Stream the file to ``path`` (beside it first, then renamed: never half-written); the detail count."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            count = _emit(out, layout, details, header, trailer, bom)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return count


def _emit(out: IO[bytes], layout: AnyLayout, details: Iterable[Values], header: Values | None,
          trailer: Values | None, bom: bool) -> int:
    if bom:
        if codecs.lookup(layout.encoding).name != "utf-8":
            raise ValueError(f"a byte-order mark is written before UTF-8 only, not {layout.encoding}")
        out.write(codecs.BOM_UTF8)
    counter = _Controls(layout)
    prefilled = layout.header is not None and any(f.control for f in layout.header.fields)
    if prefilled:
        details = list(details)  # the header states what follows it: count before writing
        for values in details:
            counter.add(values)
    lines = _Lines(layout)
    records = _records(layout, details, header, trailer, counter, prefilled=prefilled)
    if isinstance(layout, XmlLayout):
        _write_xml(out, layout, records, lines)
    else:
        text = io.TextIOWrapper(out, encoding=layout.encoding, newline="", write_through=True)
        try:
            if isinstance(layout, CsvLayout):
                _write_csv(text, layout, records, lines)
            else:
                for kind, values in records:
                    text.write(lines.fixed(kind, values))
        finally:
            text.detach()
    return counter.count


def _records(layout: AnyLayout, details: Iterable[Values], header: Values | None, trailer: Values | None,
             counter: _Controls, *, prefilled: bool) -> Iterator[tuple[RecordKind, Values]]:
    if layout.header is not None:
        yield "header", counter.filled(layout.header, header or {})
    elif header:
        raise ValueError("the layout has no header record")
    for values in details:
        if not prefilled:
            counter.add(values)
        yield "detail", values
    if layout.trailer is not None:
        yield "trailer", counter.filled(layout.trailer, trailer or {})
    elif trailer:
        raise ValueError("the layout has no trailer record")


class _Controls:
    """The record count and control totals of the details written so far."""

    def __init__(self, layout: AnyLayout) -> None:
        self.count = 0
        controls = (r for r in (layout.header, layout.trailer) if r is not None)
        self.totals: dict[str, Decimal] = {f.of: Decimal(0) for r in controls for f in r.fields if f.of}

    def add(self, values: Values) -> None:
        self.count += 1
        for name in self.totals:
            value = values.get(name)
            if isinstance(value, Decimal | int):
                self.totals[name] += value

    def filled(self, record: RecordLayout, given: Values) -> Values:
        values = dict(given)
        for spec in record.fields:
            if spec.name not in values and spec.control == "count":
                values[spec.name] = self.count
            elif spec.name not in values and spec.of is not None:
                values[spec.name] = self.totals[spec.of]
        return values


class _Lines:
    """Each record as its text, by the same codecs the reader decodes with."""

    def __init__(self, layout: AnyLayout) -> None:
        self.layout = layout
        self.codes = {kind: record.code or "" for kind, record in layout.records().items()}
        self.csv: dict[RecordKind, list[Codec]] = {}
        if isinstance(layout, CsvLayout):
            self.csv = {kind: csv_codecs(layout, r) for kind, r in layout.records().items()}
        self.fixed_plans = fixed_plans(layout) if isinstance(layout, FixedLayout) else {}
        self.xml = {kind: xml_codecs(layout, r) for kind, r in layout.records().items()} \
            if isinstance(layout, XmlLayout) else {}

    def texts(self, kind: RecordKind, values: Values, codecs_: Sequence[Codec]) -> list[str]:
        unknown = values.keys() - {c.spec.name for c in codecs_}
        if unknown:
            raise ValueError(f"fields not in the {kind} layout: {', '.join(sorted(unknown))}")
        return [codec.encode(values.get(codec.spec.name)) for codec in codecs_]

    def csv_row(self, kind: RecordKind, values: Values) -> list[str]:
        row = self.texts(kind, values, self.csv[kind])
        layout = self.layout
        if isinstance(layout, CsvLayout) and layout.record_type and layout.record_type.column:
            row.insert(layout.record_type.column - 1, self.codes[kind])
        return row

    def fixed(self, kind: RecordKind, values: Values) -> str:
        plan = self.fixed_plans[kind]
        texts = self.texts(kind, values, [codec for codec, _, _ in plan.slices])
        placed = [(begin, text) for (_, begin, _), text in zip(plan.slices, texts, strict=True)]
        layout = self.layout
        if isinstance(layout, FixedLayout) and layout.record_type and layout.record_type.start:
            placed.append((layout.record_type.start - 1, self.codes[kind]))
        pieces, at = [], 0
        for begin, text in sorted(placed):
            pieces.append(" " * (begin - at) + text)
            at = begin + len(text)
        line = "".join(pieces).ljust(plan.needs)
        return line + (layout.line_end if isinstance(layout, FixedLayout) else "\n")


def _write_csv(text: IO[str], layout: CsvLayout, records: Iterable[tuple[RecordKind, Values]], lines: _Lines) -> None:
    writer = csv.writer(text, delimiter=layout.delimiter, quotechar=layout.quote, lineterminator=layout.line_end,
                        quoting=csv.QUOTE_MINIMAL)
    if layout.labels:
        writer.writerow(csv_labels(layout))
    for kind, values in records:
        writer.writerow(lines.csv_row(kind, values))


def _write_xml(out: IO[bytes], layout: XmlLayout, records: Iterable[tuple[RecordKind, Values]],
               lines: _Lines) -> None:
    """One record a line under the root, so a rejection's line is its record's."""
    with etree.xmlfile(out, encoding=layout.encoding) as xf:
        xf.write_declaration()  # ends with a line end: the root is on line 2
        with xf.element(layout.root):
            for kind, values in records:
                plan = lines.xml[kind]
                texts = lines.texts(kind, values, [codec for codec, _, _ in plan])
                element = etree.Element(lines.codes[kind])
                for (_, path, _), value in zip(plan, texts, strict=True):
                    if value:
                        place(element, path).text = value
                xf.write("\n")
                xf.write(element)
            xf.write("\n")
    out.write(b"\n")

