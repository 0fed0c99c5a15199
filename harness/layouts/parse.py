"""Each format's records from a byte stream: csv, fixed width and xml, one record at a time.

A parser yields a ``Record`` or a ``Bad`` (the record's kind, if known, and its rejections) per
record, and raises ``FileFault`` where the file cannot be read on. Whether records come in the
right order and add up is the reader's business (``reader.py``), the same for every format.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from harness.layouts.fields import Codec, fixed_codec, plain_codec
from harness.layouts.models import CsvLayout, FixedLayout, LayoutField, RecordKind, RecordLayout, XmlLayout, fixed_spans
from harness.layouts.records import WHOLE, FileFault, Record, Rejection
from harness.layouts.values import Fault, Value, quote
from harness.layouts.xml import NAME, child_texts, root_children

_SKIP = "the record is not loaded"


@dataclass(frozen=True, slots=True)
class Bad:
    kind: RecordKind | None
    line: int
    rejections: list[Rejection]
    values: dict[str, Value] | None = None  # the fields that did read (a control total adds its amounts)


Parsed = Record | Bad


def _unknown_type(file: str, line: int, code: str, where: str, layout: CsvLayout | FixedLayout) -> Bad:
    """A record whose type code (at ``where``) the layout does not name: rejected, the file stands."""
    reason = f"unknown record type {quote(code)} ({where})"
    return Bad(None, line, [Rejection(file, line, "record_type", reason,
                                      f"{_SKIP}: the layout's types are {_known(layout)}")])


def _known(layout: CsvLayout | FixedLayout | XmlLayout) -> str:
    return ", ".join(f"{r.code} ({kind})" for kind, r in layout.records().items())


def _decode_all(file: str, kind: RecordKind, line: int, codecs_: Sequence[Codec], texts: Sequence[str],
                hint: str) -> Parsed:
    values: dict[str, Value] = {}
    faults: list[Rejection] = []
    for codec, text in zip(codecs_, texts, strict=True):
        try:
            values[codec.spec.name] = codec.decode(text)
        except Fault as fault:
            faults.append(Rejection(file, line, codec.spec.name, str(fault), hint))
    return Bad(kind, line, faults, values) if faults else Record(kind, line, values)


def text_lines(stream: IO[bytes], encoding: str) -> Iterator[str]:
    """The file's lines decoded, line ends kept, a UTF-8 byte-order mark skipped."""
    utf8 = codecs.lookup(encoding).name == "utf-8"
    for number, raw in enumerate(stream, 1):
        if number == 1 and utf8 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise FileFault(number, f"line {number} is not {encoding} text (byte {raw[exc.start]:#04x} at column "
                            f"{exc.start + 1}); records after this point were not read",
                            f"{WHOLE}: ask for the file in {encoding}, or set the layout's encoding") from None


# --- CSV -------------------------------------------------------------------------------------------------------

def words(spec: LayoutField) -> str:
    """A field as a rejection names it: its name in words (account_number -> account number), so that
    rejections read the same in every layout."""
    return spec.name.replace("_", " ")


def csv_codecs(layout: CsvLayout, record: RecordLayout) -> list[Codec]:
    offset = layout.record_type.column if layout.record_type and layout.record_type.column else 0
    columns = [n + 1 if not offset or n + 1 < offset else n + 2 for n in range(len(record.fields))]
    return [plain_codec(spec, f"{words(spec)} (column {column}{', ' + spec.label if spec.label else ''})",
                        layout.date_format)
            for spec, column in zip(record.fields, columns, strict=True)]


def csv_labels(layout: CsvLayout) -> list[str]:
    labels = [spec.label or spec.name for spec in layout.detail.fields]
    if layout.record_type and layout.record_type.column:
        labels.insert(layout.record_type.column - 1, "record_type")
    return labels


def parse_csv(stream: IO[bytes], file: str, layout: CsvLayout) -> Iterator[Parsed]:
    records = layout.records()
    plans = {kind: csv_codecs(layout, record) for kind, record in records.items()}
    by_code = {record.code: kind for kind, record in records.items()}
    column = layout.record_type.column - 1 if layout.record_type and layout.record_type.column else None
    rows = csv.reader(text_lines(stream, layout.encoding), delimiter=layout.delimiter, quotechar=layout.quote,
                      strict=True)
    last = 0
    try:
        for row in rows:
            line, last = last + 1, rows.line_num
            if layout.labels and line == 1:
                if row != (expected := csv_labels(layout)):
                    shown = layout.delimiter.join(row)
                    raise FileFault(1, f"the labels line is {quote(shown, 80)}, expected "
                                    f"'{layout.delimiter.join(expected)}'",
                                    f"{WHOLE}: check the columns against the layout")
                continue
            if not row:
                yield Bad(None, line, [Rejection(file, line, None, "an empty line", f"{_SKIP}: remove blank lines")])
                continue
            kind: RecordKind = "detail"
            if column is not None:
                code = row[column] if column < len(row) else ""
                if code not in by_code:
                    yield _unknown_type(file, line, code, f"column {column + 1}", layout)
                    continue
                kind = by_code[code]
                row = row[:column] + row[column + 1:]
            plan = plans[kind]
            if len(row) != len(plan):
                reason = f"{len(row)} fields where a {kind} record has {len(plan)}"
                yield Bad(kind, line, [Rejection(file, line, None, reason,
                                                 f"{_SKIP}: check the delimiter and quoting against the layout")])
                continue
            yield _decode_all(file, kind, line, plan, row, f"{_SKIP}: correct the value, or the layout")
    except csv.Error as exc:
        raise FileFault(rows.line_num or None, f"malformed CSV at line {rows.line_num}: {exc}; records after this "
                        "point were not read", f"{WHOLE}: check the quoting against the layout") from None


# --- Fixed width -----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _FixedPlan:
    slices: list[tuple[Codec, int, int]]
    needs: int  # the line length the record's fields need


def fixed_plans(layout: FixedLayout) -> dict[RecordKind, _FixedPlan]:
    plans: dict[RecordKind, _FixedPlan] = {}
    for kind, record in layout.records().items():
        slices = [(fixed_codec(spec, f"{words(spec)} (positions {begin + 1}-{end})", layout.date_format, end - begin),
                   begin, end) for spec, begin, end in fixed_spans(layout, record) if spec is not None]
        ends = [end for _, _, end in fixed_spans(layout, record)]
        plans[kind] = _FixedPlan(slices, layout.width or max(ends))
    return plans


def parse_fixed(stream: IO[bytes], file: str, layout: FixedLayout) -> Iterator[Parsed]:
    plans = fixed_plans(layout)
    by_code = {record.code: kind for kind, record in layout.records().items()}
    slot = layout.record_type
    code_at = (slot.start - 1, slot.start - 1 + slot.length) if slot and slot.start and slot.length else None
    hint = f"{_SKIP}: correct the value, or the layout"
    for line, text in enumerate(text_lines(stream, layout.encoding), 1):
        text = text.rstrip("\r\n") if text.endswith("\n") else text
        kind: RecordKind = "detail"
        if code_at is not None:
            code = text[code_at[0]:code_at[1]]
            if code not in by_code:
                yield _unknown_type(file, line, code, f"positions {code_at[0] + 1}-{code_at[1]}", layout)
                continue
            kind = by_code[code]
        plan = plans[kind]
        if len(text) != plan.needs and (fault := _length_fault(file, line, kind, text, plan, layout.width)):
            yield Bad(kind, line, [fault])
            continue
        values: dict[str, Value] = {}
        faults: list[Rejection] = []
        for codec, begin, end in plan.slices:
            try:
                values[codec.spec.name] = codec.decode(text[begin:end])
            except Fault as fault:
                faults.append(Rejection(file, line, codec.spec.name, str(fault), hint))
        yield Bad(kind, line, faults, values) if faults else Record(kind, line, values)


def _length_fault(file: str, line: int, kind: RecordKind, text: str, plan: _FixedPlan,
                  width: int | None) -> Rejection | None:
    if len(text) < plan.needs:
        cut = next(codec for codec, _, end in plan.slices if end > len(text)) if plan.slices else None
        where = f": {cut.label} is cut" if cut is not None else ""
        return Rejection(file, line, cut.spec.name if cut else None,
                         f"short line: {len(text)} characters, a {kind} record has {plan.needs}{where}",
                         f"{_SKIP}: the partner's line is cut short, or the layout's positions are wrong")
    if width is not None:
        return Rejection(file, line, None, f"long line: {len(text)} characters, a {kind} record has {width}",
                         f"{_SKIP}: check the layout's width")
    if text[plan.needs:].strip():
        return Rejection(file, line, None, f"characters past position {plan.needs}, where a {kind} record ends: "
                         f"{quote(text[plan.needs:])}", f"{_SKIP}: check the layout's positions")
    return None


# --- XML -------------------------------------------------------------------------------------------------------

def xml_codecs(layout: XmlLayout, record: RecordLayout) -> list[tuple[Codec, str, bool]]:
    """(codec, path, plain name) per field: a plain child name is read from one pass over the children."""
    out = []
    for spec in record.fields:
        path = spec.path or spec.name
        label = path if path == spec.name else f"{spec.name} ({path})"
        out.append((plain_codec(spec, label, layout.date_format), path, bool(NAME.fullmatch(path))))
    return out


def parse_xml(stream: IO[bytes], file: str, layout: XmlLayout) -> Iterator[Parsed]:
    records = layout.records()
    plans = {record.code: (kind, xml_codecs(layout, record)) for kind, record in records.items()}
    hint = f"{_SKIP}: correct the value, or the layout"
    for element in root_children(stream, layout.root):
        line = element.sourceline or 0
        if not isinstance(element.tag, str):  # a comment or processing instruction
            continue
        if element.tag not in plans:
            yield Bad(None, line, [Rejection(file, line, "record_type", f"unknown record <{element.tag}>",
                                             f"{_SKIP}: the layout's records are {_known(layout)}")])
            continue
        kind, plan = plans[element.tag]
        children = child_texts(element)
        values: dict[str, Value] = {}
        faults: list[Rejection] = []
        for codec, path, plain in plan:
            found = children.get(path) if plain else element.findtext(path)
            try:
                values[codec.spec.name] = codec.decode((found or "").strip())
            except Fault as fault:
                faults.append(Rejection(file, line, codec.spec.name, str(fault), hint))
        yield Bad(kind, line, faults, values) if faults else Record(kind, line, values)

