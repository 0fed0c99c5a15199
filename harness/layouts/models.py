"""File layouts as data: what a partner or biller profile holds to describe a file.

One model per file kind (``format``: csv, fixed, xml), each with up to three record layouts: an
optional header, the detail records and an optional trailer. A header or trailer field may be a
*control* field: the record count, or the total of a detail amount field, that the reader checks
and the writer computes. The models import nothing of the harness, so profiles can embed them.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["text", "amount", "date", "integer"]
RecordKind = Literal["header", "detail", "trailer"]
NUMERIC: frozenset[str] = frozenset({"amount", "integer"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayoutField(_Model):
    """One field of a record. Which position attributes apply depends on the file's format."""

    name: str = Field(min_length=1, description="the field's name in the records the reader yields")
    type: FieldType = "text"
    required: bool = False
    date_format: str | None = Field(default=None, description="strftime format; the layout's when absent")
    decimals: int = Field(default=2, ge=0, le=6, description="amount: at most this many decimals (exactly, implied)")
    implied_decimals: bool = Field(
        default=False, description="amount: no decimal point, the last ``decimals`` digits are the cents (000001234)")
    signed: bool = Field(default=False, description="amount or integer: may be negative")
    sign: Literal["leading", "trailing"] = Field(
        default="leading", description="trailing: the last character is the sign, + or - (000001234-); signed")
    control: Literal["count", "total"] | None = Field(
        default=None, description="header or trailer: the detail record count, or the total of detail field ``of``")
    of: str | None = Field(default=None, description="control total: the detail amount field it adds up")
    # CSV
    label: str | None = Field(default=None, description="csv: the column's label in the labels line (default name)")
    # Fixed width
    start: int | None = Field(default=None, ge=1, description="fixed: first position, 1-based (default: after the "
                                                              "previous field)")
    length: int | None = Field(default=None, ge=1, description="fixed: width in characters")
    align: Literal["left", "right"] | None = Field(
        default=None, description="fixed: where the value sits (default: numbers right, text left)")
    pad: str | None = Field(default=None, min_length=1, max_length=1,
                            description="fixed: the fill character (default: '0' for numbers, ' ' for text)")
    # XML
    path: str | None = Field(default=None, description="xml: element path relative to the record (default name)")

    @model_validator(mode="after")
    def _consistent(self) -> LayoutField:
        if self.type != "amount" and (self.implied_decimals or self.decimals != 2):
            raise ValueError(f"{self.name}: decimals apply to amounts only")
        if self.type not in NUMERIC and (self.signed or self.sign != "leading"):
            raise ValueError(f"{self.name}: a sign applies to amounts and integers only")
        if self.sign == "trailing" and not self.signed:
            raise ValueError(f"{self.name}: a trailing sign needs signed: true")
        if (self.control == "total") != (self.of is not None):
            raise ValueError(f"{self.name}: a control total names the detail field it adds up (of), nothing else does")
        if (self.control, self.type) in {("count", "text"), ("count", "date"), ("count", "amount"),
                                         ("total", "text"), ("total", "date"), ("total", "integer")}:
            raise ValueError(f"{self.name}: a control count is an integer, a control total an amount")
        return self

    @property
    def fill(self) -> str:
        return self.pad or ("0" if self.type in NUMERIC else " ")

    @property
    def right(self) -> bool:
        return (self.align or ("right" if self.type in NUMERIC else "left")) == "right"


class RecordLayout(_Model):
    """The fields of one record type, and the code that marks it (csv and fixed: the record-type
    column or positions; xml: the record's element name)."""

    code: str | None = Field(default=None, min_length=1)
    fields: list[LayoutField] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> RecordLayout:
        names = [f.name for f in self.fields]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"field {dupes[0]} is named twice")
        return self


class Position(_Model):
    """Where the record-type code sits: a 1-based column (csv) or start and length (fixed)."""

    column: int | None = Field(default=None, ge=1)
    start: int | None = Field(default=None, ge=1)
    length: int | None = Field(default=None, ge=1)


class _Layout(_Model):
    encoding: str = Field(default="utf-8", description="the text encoding (xml: written; read as declared)")
    date_format: str = "%Y-%m-%d"
    header: RecordLayout | None = None
    detail: RecordLayout
    trailer: RecordLayout | None = None

    @field_validator("encoding")
    @classmethod
    def _line_based(cls, encoding: str) -> str:
        """Lines are split on bytes, so the encoding must write ASCII as ASCII (utf-8, latin-1, cp1252)."""
        try:
            ascii_safe = "a,\n".encode(encoding) == b"a,\n"
        except LookupError:
            raise ValueError(f"unknown encoding '{encoding}'") from None
        if not ascii_safe:
            raise ValueError(f"'{encoding}' does not write ASCII as ASCII; use utf-8 or a single-byte encoding")
        return encoding

    def records(self) -> dict[RecordKind, RecordLayout]:
        found: dict[RecordKind, RecordLayout | None] = {
            "header": self.header, "detail": self.detail, "trailer": self.trailer}
        return {kind: record for kind, record in found.items() if record is not None}

    def _check_records(self, *, needs_codes: bool) -> None:
        records = self.records()
        codes = [r.code for r in records.values()]
        if needs_codes and None in codes:
            missing = next(kind for kind, r in records.items() if r.code is None)
            raise ValueError(f"{missing} has no code: with a header or trailer every record type needs one")
        if len(set(codes)) != len(codes):
            raise ValueError("two record types have the same code")
        detail = {f.name: f for f in self.detail.fields}
        for kind, record in records.items():
            for spec in record.fields:
                if spec.control and kind == "detail":
                    raise ValueError(f"detail field {spec.name}: control fields belong in a header or trailer")
                if spec.of is not None and (spec.of not in detail or detail[spec.of].type != "amount"):
                    raise ValueError(f"{kind} field {spec.name}: '{spec.of}' is not an amount field of the detail")


class CsvLayout(_Layout):
    """Delimited text: one record a line (a quoted value may span lines)."""

    format: Literal["csv"]
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote: str = Field(default='"', min_length=1, max_length=1)
    labels: bool = Field(default=False, description="the first line names the detail columns")
    record_type: Position | None = Field(
        default=None, description="the column holding each record's code; the fields fill the other columns")
    line_end: Literal["\n", "\r\n"] = "\r\n"

    @model_validator(mode="after")
    def _valid(self) -> CsvLayout:
        self._check_records(needs_codes=self.record_type is not None)
        if (self.header or self.trailer) and self.record_type is None:
            raise ValueError("a header or trailer needs record_type: the column that tells the records apart")
        if self.record_type is not None and self.record_type.column is None:
            raise ValueError("csv record_type: give the column (1-based)")
        if self.delimiter == self.quote or "\n" in self.delimiter + self.quote:
            raise ValueError("delimiter and quote must differ and not be a line end")
        for record in self.records().values():
            for spec in record.fields:
                if spec.start or spec.length or spec.align or spec.pad or spec.path:
                    raise ValueError(f"csv field {spec.name}: positions, padding and paths are for fixed width or xml")
        return self


class FixedLayout(_Layout):
    """Fixed width: each field at its positions; a record is one line."""

    format: Literal["fixed"]
    record_type: Position | None = Field(default=None, description="start and length of each record's code")
    width: int | None = Field(default=None, ge=1, description="every line's length, when the partner pads lines")
    line_end: Literal["\n", "\r\n"] = "\r\n"

    @model_validator(mode="after")
    def _valid(self) -> FixedLayout:
        self._check_records(needs_codes=self.record_type is not None)
        if (self.header or self.trailer) and self.record_type is None:
            raise ValueError("a header or trailer needs record_type: the positions that tell the records apart")
        slot = self.record_type
        if slot is not None and (slot.start is None or slot.length is None):
            raise ValueError("fixed record_type: give start and length")
        for kind, record in self.records().items():
            if slot is not None and record.code is not None and len(record.code) != slot.length:
                raise ValueError(f"{kind} code '{record.code}' is not {slot.length} characters (record_type length)")
            for spec in record.fields:
                if spec.label or spec.path:
                    raise ValueError(f"fixed field {spec.name}: labels and paths are for csv or xml")
                if spec.length is None:
                    raise ValueError(f"fixed field {spec.name}: give its length")
                if spec.type in NUMERIC and not spec.right and spec.fill == "0":
                    raise ValueError(f"fixed field {spec.name}: a number padded with zeros sits right")
            spans = fixed_spans(self, record)
            if self.width is not None and spans and max(end for _, _, end in spans) > self.width:
                raise ValueError(f"{kind}: a field ends past the line width {self.width}")
        return self


def fixed_spans(layout: FixedLayout, record: RecordLayout) -> list[tuple[LayoutField | None, int, int]]:
    """(field, start, end) of each field, 0-based and end-exclusive; None is the record-type code.
    A field without ``start`` follows the one before it. Overlaps are a profile error."""
    spans: list[tuple[LayoutField | None, int, int]] = []
    slot = layout.record_type
    if slot is not None and slot.start is not None and slot.length is not None:
        spans.append((None, slot.start - 1, slot.start - 1 + slot.length))
    end = spans[0][2] if spans and spans[0][1] == 0 else 0
    for spec in record.fields:
        begin = spec.start - 1 if spec.start is not None else end
        end = begin + (spec.length or 0)
        spans.append((spec, begin, end))
    ordered = sorted(spans, key=lambda span: span[1])
    for (first, _, first_end), (second, second_start, _) in pairwise(ordered):
        if second_start < first_end:
            names = [s.name if s is not None else "record_type" for s in (first, second)]
            raise ValueError(f"fields {names[0]} and {names[1]} overlap")
    return spans


class XmlLayout(_Layout):
    """XML: records are the root's children, told apart by element name (each record's ``code``)."""

    format: Literal["xml"]
    root: str = Field(min_length=1)

    @model_validator(mode="after")
    def _valid(self) -> XmlLayout:
        self._check_records(needs_codes=True)
        for record in self.records().values():
            for spec in record.fields:
                if spec.start or spec.length or spec.align or spec.pad or spec.label:
                    raise ValueError(f"xml field {spec.name}: positions, padding and labels are for fixed or csv")
        return self


Layout = Annotated[CsvLayout | FixedLayout | XmlLayout, Field(discriminator="format")]
