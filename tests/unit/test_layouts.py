"""Layouts as data: one reader and one writer for CSV, fixed width and XML, with control totals."""

from __future__ import annotations

import random
import string
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from harness.layouts import Layout, LoadedFile, Record, Rejection, load, read, render, write
from harness.layouts.models import CsvLayout, FixedLayout, XmlLayout
from harness.layouts.values import Value
from harness.platform.bif import BifRecord
from harness.platform.invoices import invoice_layout, iter_invoice_file
from harness.profiles import load_partner

ROOT = Path(__file__).resolve().parents[2]
LAYOUTS: TypeAdapter[CsvLayout | FixedLayout | XmlLayout] = TypeAdapter(Layout)

# As a partner or biller profile holds them (YAML), with a header and a trailer carrying controls.
CSV_YAML = """
format: csv
date_format: "%m/%d/%Y"
record_type: {column: 1}
header:
  code: H
  fields:
    - {name: file_date, type: date, required: true}
    - {name: biller_id, type: integer}
detail:
  code: D
  fields:
    - {name: account_number, required: true}
    - {name: amount, type: amount, required: true, signed: true}
    - {name: paid_on, type: date}
    - {name: payer}
trailer:
  code: T
  fields:
    - {name: record_count, type: integer, control: count}
    - {name: amount_total, type: amount, signed: true, control: total, of: amount}
"""

FIXED_YAML = """
format: fixed
date_format: "%Y%m%d"
line_end: "\\n"
record_type: {start: 1, length: 1}
header:
  code: H
  fields:
    - {name: file_date, type: date, length: 8, required: true}
detail:
  code: D
  fields:
    - {name: account_number, length: 12, required: true}
    - {name: amount, type: amount, length: 10, implied_decimals: true, signed: true, sign: trailing}
    - {name: paid_on, type: date, length: 8}
    - {name: payer, length: 20}
trailer:
  code: T
  fields:
    - {name: record_count, type: integer, length: 6, control: count}
    - {name: amount_total, type: amount, start: 8, length: 14, implied_decimals: true, signed: true,
       sign: trailing, control: total, of: amount}
"""

XML_YAML = """
format: xml
root: Payments
date_format: "%Y-%m-%d"
header: {code: FileHeader, fields: [{name: file_date, type: date, required: true}]}
detail:
  code: Payment
  fields:
    - {name: account_number, path: Account/Number, required: true}
    - {name: amount, type: amount, required: true, signed: true}
    - {name: paid_on, type: date}
    - {name: payer}
trailer:
  code: FileTrailer
  fields:
    - {name: record_count, type: integer, control: count}
    - {name: amount_total, type: amount, signed: true, control: total, of: amount}
"""


def layout_of(text: str, **changes: Any) -> CsvLayout | FixedLayout | XmlLayout:
    return LAYOUTS.validate_python({**yaml.safe_load(text), **changes})


CSV, FIXED, XML = layout_of(CSV_YAML), layout_of(FIXED_YAML), layout_of(XML_YAML)
HEADER = {"file_date": date(2026, 12, 1)}
DETAILS: list[dict[str, Value]] = [
    {"account_number": "100871-02", "amount": Decimal("132.75"), "paid_on": date(2026, 11, 30), "payer": "Renée Côté"},
    {"account_number": "100872-01", "amount": Decimal("-15.00"), "paid_on": None, "payer": 'Ana "Jr", & Sons'},
    {"account_number": "100873-01", "amount": Decimal("0.29"), "paid_on": date(2026, 12, 1), "payer": ""},
]


def put(tmp_path: Path, data: bytes, name: str = "payments_20261201.dat") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rejections(path: Path, layout: CsvLayout | FixedLayout | XmlLayout) -> list[Rejection]:
    return [item for item in read(path, layout) if isinstance(item, Rejection)]


# --- Each kind reads and writes --------------------------------------------------------------------------------

def test_csv_writes_the_partner_shape_and_reads_back() -> None:
    data = render(CSV, DETAILS, header={**HEADER, "biller_id": 3780})

    assert data.decode() == (
        "H,12/01/2026,3780\r\n"
        "D,100871-02,132.75,11/30/2026,Renée Côté\r\n"
        'D,100872-01,-15.00,,"Ana ""Jr"", & Sons"\r\n'
        "D,100873-01,0.29,12/01/2026,\r\n"
        "T,3,118.04\r\n"
    )


def test_fixed_width_pads_implies_decimals_and_signs_at_the_end() -> None:
    data = render(FIXED, DETAILS, header=HEADER)

    assert data.decode().splitlines() == [
        "H20261201",
        "D100871-02   000013275+20261130Renée Côté          ",
        "D100872-01   000001500-        Ana \"Jr\", & Sons    ",
        "D100873-01   000000029+20261201                    ",
        "T0000030000000011804+",
    ]


@pytest.mark.parametrize("layout", [CSV, FIXED, XML], ids=["csv", "fixed", "xml"])
def test_each_layout_reads_typed_records_with_their_lines(tmp_path: Path, layout: Any) -> None:
    path = put(tmp_path, render(layout, DETAILS, header=HEADER))

    loaded = load(path, layout)

    assert loaded.accepted and loaded.rejected == []
    assert [dict(r.values) for r in loaded.records] == [{**d, "payer": d["payer"]} for d in DETAILS]
    assert [r.line for r in loaded.records] == ([4, 5, 6] if layout is XML else [2, 3, 4])
    assert loaded.header is not None and loaded.header.values["file_date"] == date(2026, 12, 1)
    assert loaded.trailer is not None and loaded.trailer.values["record_count"] == 3
    assert loaded.trailer.values["amount_total"] == Decimal("118.04")
    assert all(type(r.values["amount"]) is Decimal for r in loaded.records)


def test_a_csv_labels_line_is_written_and_checked(tmp_path: Path) -> None:
    layout = layout_of(CSV_YAML, labels=True, header=None, trailer=None, record_type=None)
    data = render(layout, DETAILS[:1])
    assert data.startswith(b"account_number,amount,paid_on,payer\r\n")
    assert load(put(tmp_path, data), layout).records[0].line == 2

    [bad] = rejections(put(tmp_path, b"acct,amount,paid_on,payer\r\n" + data.split(b"\r\n", 1)[1]), layout)

    assert str(bad) == ("payments_20261201.dat:1: the labels line is 'acct,amount,paid_on,payer', expected "
                        "'account_number,amount,paid_on,payer'; the whole file is rejected: check the columns "
                        "against the layout")


def test_semicolons_and_single_quotes(tmp_path: Path) -> None:
    layout = layout_of(CSV_YAML, delimiter=";", quote="'")
    data = render(layout, [{**DETAILS[0], "payer": "O'Brien; Pat"}], header=HEADER)
    assert b"D;100871-02;132.75;11/30/2026;'O''Brien; Pat'\r\n" in data

    assert load(put(tmp_path, data), layout).records[0].values["payer"] == "O'Brien; Pat"


# --- Each bad input: its one rejection, naming file, line and field ----------------------------------------------

def bad_csv(detail_line: str) -> bytes:
    return f"H,12/01/2026,3780\r\nD,A1,1.00,12/01/2026,x\r\n{detail_line}\r\nT,2,2.00\r\n".encode()


# A bad record alone, where no trailer's controls would also speak of it (they do: see the trailer tests).
CSV_NO_TRAILER, FIXED_NO_TRAILER = layout_of(CSV_YAML, trailer=None), layout_of(FIXED_YAML, trailer=None)


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ("D,A2,12,50,12/01/2026,x", None, "5 fields where a detail record has 4"),
        ('D,A2,"1,00",12/01/2026,x', "amount", "amount (column 3) '1,00' is not a number"),
        ("D,A2,1e2,12/01/2026,x", "amount", "amount (column 3) '1e2' is not a plain amount"),
        ("D,A2,1.005,12/01/2026,x", "amount", "amount (column 3) '1.005' has more than 2 decimals"),
        ("D,A2,1.00,2026-12-01,x", "paid_on", "paid on (column 4) '2026-12-01' is not a date (expected mm/dd/yyyy)"),
        ("D,,1.00,12/01/2026,x", "account_number", "missing account number (column 2)"),
        ("X,A2,1.00,12/01/2026,x", "record_type", "unknown record type 'X' (column 1)"),
    ],
    ids=["field-count", "amount", "exponent", "decimals", "date", "missing", "record-type"],
)
def test_a_bad_csv_record_is_rejected_and_the_rest_stands(tmp_path: Path, line: str, field: str | None,
                                                          reason: str) -> None:
    path = put(tmp_path, bad_csv(line).replace(b"T,2,2.00\r\n", b""))

    items = list(read(path, CSV_NO_TRAILER))

    [bad] = [i for i in items if isinstance(i, Rejection)]
    assert (bad.file, bad.line, bad.field, bad.reason, bad.whole_file) == (path.name, 3, field, reason, False)
    assert str(bad).startswith(f"payments_20261201.dat:3: {reason}; the record is not loaded: ")
    assert [i.line for i in items if isinstance(i, Record)] == [1, 2]


def test_the_record_type_hint_names_the_known_types(tmp_path: Path) -> None:
    [bad] = rejections(put(tmp_path, bad_csv("X,A2,1.00,12/01/2026,x")[:-10]), CSV_NO_TRAILER)

    assert bad.hint == "the record is not loaded: the layout's types are H (header), D (detail)"


def fixed_file(*details: str) -> bytes:
    return "\n".join(["H20261201", "DA1          000000100+20261201x                   ", *details]).encode() + b"\n"


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ("DA2          000000100+2026120", "paid_on",
         "short line: 30 characters, a detail record has 51: paid on (positions 24-31) is cut"),
        ("DA2          000000100+20261301x", "paid_on",
         "paid on (positions 24-31) '20261301' is not a date (expected yyyymmdd)"),
        ("DA2          000000100020261201", "amount",
         "amount (positions 14-23) '0000001000' has no trailing sign (+ or -)"),
        ("DA2          00000x100+20261201", "amount",
         "amount (positions 14-23) 'x100' is not a number (digits only, 2 decimals implied)"),
        ("ZA2          000000100+20261201x", "record_type", "unknown record type 'Z' (positions 1-1)"),
        ("D            000000100+", "account_number", "missing account number (positions 2-13)"),
    ],
    ids=["short-line", "date", "trailing-sign", "amount", "record-type", "missing"],
)
def test_a_bad_fixed_width_record_is_rejected(tmp_path: Path, line: str, field: str, reason: str) -> None:
    path = put(tmp_path, fixed_file(line if "short" in reason else line.ljust(51)))

    assert [(r.line, r.field, r.reason, r.whole_file) for r in rejections(path, FIXED_NO_TRAILER)] == [
        (3, field, reason, False)]


def test_characters_past_the_last_field_and_a_long_line(tmp_path: Path) -> None:
    path = put(tmp_path, fixed_file("DA2          000000100+20261201x".ljust(51) + "junk"))
    [past] = rejections(path, FIXED_NO_TRAILER)
    assert (past.line, past.reason) == (3, "characters past position 51, where a detail record ends: 'junk'")

    wide = layout_of(FIXED_YAML, width=60, header=None, trailer=None, record_type=None)
    [long] = rejections(put(tmp_path, b"1" * 12 + b"000000100+" + b" " * 41 + b"\n"), wide)
    assert long.reason == "long line: 63 characters, a detail record has 60"


# --- The file as a whole: header, trailer, controls; nothing half-loaded -------------------------------------------

def test_a_trailer_count_that_disagrees_rejects_the_file(tmp_path: Path) -> None:
    path = put(tmp_path, render(CSV, DETAILS, header=HEADER, trailer={"record_count": 4}))

    loaded = load(path, CSV)

    assert not loaded.accepted and loaded.records == [] and loaded.header is None and loaded.trailer is None
    [bad] = loaded.rejected
    assert str(bad) == ("payments_20261201.dat:5: the trailer says 4 records (record_count), the file has 3; "
                        "the whole file is rejected: it is incomplete or altered; ask for it again")
    assert (bad.line, bad.field, bad.whole_file) == (5, "record_count", True)


def test_a_trailer_total_that_disagrees_rejects_the_file(tmp_path: Path) -> None:
    path = put(tmp_path, render(FIXED, DETAILS, header=HEADER, trailer={"amount_total": Decimal("118.05")}))

    [bad] = load(path, FIXED).rejected

    assert bad.reason == "the trailer says amount totals 118.05 (amount_total), the records add up to 118.04"
    assert (bad.line, bad.field) == (5, "amount_total")


def test_a_rejected_amount_shows_as_a_total_that_disagrees(tmp_path: Path) -> None:
    """The count is of the records in the file; the total of those that load: a bad amount cannot be added."""
    loaded = load(put(tmp_path, bad_csv("D,A2,abc,12/01/2026,x")), CSV)

    assert [(r.line, r.field, r.whole_file) for r in loaded.rejected] == [(3, "amount", False),
                                                                          (4, "amount_total", True)]
    assert loaded.rejected[1].reason == "the trailer says amount totals 2.00 (amount_total), the records add up to 1.00"
    assert loaded.records == []


def test_a_bad_record_alone_leaves_the_file_standing(tmp_path: Path) -> None:
    """Its date does not read, its amount does: the trailer's total adds it (the file as sent)."""
    loaded = load(put(tmp_path, bad_csv("D,A2,1.00,31/31/2026,x")), CSV)

    assert loaded.accepted and [r.values["account_number"] for r in loaded.records] == ["A1"]
    assert [r.field for r in loaded.rejected] == ["paid_on"]


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"D,A1,1.00,,\r\nT,1,1.00\r\n", 1, "no header record (H): the file starts with a detail record"),
        (b"H,12/01/2026,\r\nD,A1,1.00,,\r\n", None, "no trailer record (T): the file may be cut short"),
        (b"H,12/01/2026,\r\nT,0,0.00\r\nD,A1,1.00,,\r\n", 3, "a record after the trailer (line 2)"),
        (b"H,12/01/2026,\r\nH,12/01/2026,\r\nT,0,0.00\r\n", 2, "a second header record"),
        (b"", None, "no header record (H): the file is empty"),
        (b'H,12/01/2026,\r\nD,A1,"1.00,,\r\nT,1,1.00\r\n', 3,
         "malformed CSV at line 3: unexpected end of data; records after this point were not read"),
    ],
    ids=["no-header", "no-trailer", "after-trailer", "two-headers", "empty", "open-quote"],
)
def test_a_file_that_does_not_hold_together_is_rejected_whole(tmp_path: Path, data: bytes, line: int | None,
                                                              reason: str) -> None:
    loaded = load(put(tmp_path, data), CSV)

    assert [(r.line, r.reason, r.whole_file) for r in loaded.rejected] == [(line, reason, True)]
    assert loaded.records == [] and not loaded.accepted


def test_a_bad_trailer_rejects_the_file_without_checking_it(tmp_path: Path) -> None:
    loaded = load(put(tmp_path, b"H,12/01/2026,\r\nD,A1,1.00,,\r\nT,one,1.00\r\n"), CSV)

    assert [(r.line, r.field, r.reason, r.whole_file) for r in loaded.rejected] == [
        (3, "record_count", "record count (column 2) 'one' is not a whole number", True)]
    assert loaded.rejected[0].hint == "the whole file is rejected: the trailer record does not read"


def test_a_missing_file(tmp_path: Path) -> None:
    [bad] = read(tmp_path / "nope.csv", CSV)

    assert str(bad) == "nope.csv: cannot read the file: No such file or directory; the whole file is rejected: " \
                       "check the path and its permissions"


# --- Encodings ---------------------------------------------------------------------------------------------------

def test_a_utf8_byte_order_mark_is_not_part_of_the_first_record(tmp_path: Path) -> None:
    for layout in (CSV, FIXED, XML):
        data = render(layout, DETAILS, header=HEADER, bom=True)
        assert data.startswith(b"\xef\xbb\xbf")
        loaded = load(put(tmp_path, data), layout)
        assert loaded.accepted and loaded.header is not None and len(loaded.records) == 3, layout.format


def test_latin1_layout_and_latin1_bytes_in_a_utf8_file(tmp_path: Path) -> None:
    latin = layout_of(FIXED_YAML, encoding="latin-1")
    data = render(latin, DETAILS, header=HEADER)
    assert "Renée Côté".encode("latin-1") in data
    assert load(put(tmp_path, data), latin).records[0].values["payer"] == "Renée Côté"

    loaded = load(put(tmp_path, data), FIXED)  # the same bytes read as UTF-8

    assert [(r.line, r.whole_file) for r in loaded.rejected] == [(2, True)]
    assert loaded.rejected[0].reason == ("line 2 is not utf-8 text (byte 0xe9 at column 35); records after this "
                                         "point were not read")
    assert loaded.records == []


# --- Round trip: write, read, write again --------------------------------------------------------------------------

def random_details(rng: random.Random, count: int) -> list[dict[str, Value]]:
    letters = string.ascii_letters + string.digits + " ,;\"'<>&éßü-"
    out: list[dict[str, Value]] = []
    for _ in range(count):
        payer = "".join(rng.choice(letters) for _ in range(rng.randint(0, 20))).strip()
        out.append({
            "account_number": "".join(rng.choice(string.digits + "-") for _ in range(rng.randint(1, 12))),
            "amount": Decimal(rng.randint(-99_999_999, 99_999_999)).scaleb(-2),
            "paid_on": rng.choice([None, date(2026, 1, 1) + timedelta(days=rng.randint(0, 900))]),
            "payer": payer,
        })
    return out


@pytest.mark.parametrize("layout", [CSV, FIXED, XML], ids=["csv", "fixed", "xml"])
@pytest.mark.parametrize("seed", range(5))
def test_write_then_read_gives_the_same_records_and_the_same_bytes(tmp_path: Path, layout: Any, seed: int) -> None:
    details = random_details(random.Random(seed), 200)
    data = render(layout, details, header=HEADER)

    loaded = load(put(tmp_path, data), layout)

    assert loaded.accepted, loaded.rejected[:3]
    assert [dict(r.values) for r in loaded.records] == details
    again = render(layout, [r.values for r in loaded.records], header=_values(loaded.header),
                   trailer=_values(loaded.trailer))
    assert again == data


def _values(record: Record | None) -> dict[str, Value]:
    assert record is not None
    return dict(record.values)


def test_write_streams_to_the_path_and_leaves_nothing_when_a_value_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "pay.txt"
    assert write(path, FIXED, iter(DETAILS), header=HEADER) == 3
    assert load(path, FIXED).trailer == Record("trailer", 5, {"record_count": 3, "amount_total": Decimal("118.04")})

    too_long = [*DETAILS, {"account_number": "X" * 13, "amount": Decimal(1)}]
    with pytest.raises(ValueError, match=r"account_number 'XXXXXXXXXXXXX' does not fit in 12 characters"):
        write(tmp_path / "bad.txt", FIXED, too_long, header=HEADER)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pay.txt"]


@pytest.mark.parametrize(
    ("value", "message"),
    [(Decimal("1.005"), "1.005 has more than 2 decimals"), ("12.00", "'12.00' is not an amount")],
)
def test_the_writer_refuses_a_value_the_layout_cannot_hold(value: Value, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(CSV, [{"account_number": "1", "amount": value}], header=HEADER)


# --- XML: the invoice files of today, and the same safety -------------------------------------------------------------

def test_the_invoice_sample_reads_the_same_through_the_xml_layout() -> None:
    invoice = load_partner(ROOT, "cayenta").invoice_file
    sample = ROOT / "fixtures" / "samples" / "billheader_20261101.xml"

    loaded = load(sample, invoice_layout(invoice))

    bills = [b for b in iter_invoice_file(sample, invoice, 1, 1) if isinstance(b, BifRecord)]
    assert loaded.accepted and len(loaded.records) == len(bills) == 4
    for record, bill in zip(loaded.records, bills, strict=True):
        as_bif = {k: (Decimal("0.00") if v is None and k == "past_due" else v) for k, v in record.values.items()}
        assert as_bif == {k: getattr(bill, k) for k in as_bif} and len(as_bif) == len(invoice.fields)


def test_the_xml_layout_refuses_a_dtd_and_reads_nothing_outside_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-5521")
    body = (f'<?xml version="1.0"?>\n<!DOCTYPE Payments [<!ENTITY x SYSTEM "file://{secret}">]>\n'
            "<Payments><Payment><Account><Number>&x;</Number></Account><amount>1.00</amount></Payment></Payments>")

    [bad] = read(put(tmp_path, body.encode()), XML)

    assert bad == Rejection("payments_20261201.dat", None, None,
                            "refused: the file declares a DTD (<!DOCTYPE ...>); files may not declare entities",
                            "the whole file is rejected: ask for the file without a DOCTYPE", whole_file=True)


def test_an_unknown_xml_record_and_a_bad_value(tmp_path: Path) -> None:
    data = render(XML, DETAILS, header=HEADER).replace(b"<Payment><Account>", b"<Refund><Account>", 1)
    data = data.replace(b"</Payment>", b"</Refund>", 1).replace(b"<amount>0.29</amount>", b"<amount>0,29</amount>")

    loaded = load(put(tmp_path, data), XML)

    assert [(r.line, r.field, r.reason, r.whole_file) for r in loaded.rejected] == [
        (4, "record_type", "unknown record <Refund>", False),
        (6, "amount", "amount '0,29' is not a number", False),
        (7, "record_count", "the trailer says 3 records (record_count), the file has 2", True),
        (7, "amount_total", "the trailer says amount totals 118.04 (amount_total), the records add up to -15.00", True),
    ]
    assert isinstance(loaded, LoadedFile) and loaded.records == []


# --- The layout models refuse what cannot be read ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"detail": {"code": "D", "fields": [{"name": "a", "length": 5}, {"name": "b", "start": 4, "length": 2}]},
          "trailer": None}, "fields a and b overlap"),
        ({"trailer": {"code": "T", "fields": [{"name": "t", "type": "amount", "length": 9, "control": "total",
                                               "of": "payer"}]}}, "'payer' is not an amount field of the detail"),
        ({"record_type": None}, "a header or trailer needs record_type"),
        ({"header": {"code": "HH", "fields": [{"name": "d", "length": 8}]}}, "header code 'HH' is not 1 characters"),
        ({"encoding": "utf-16"}, "'utf-16' does not write ASCII as ASCII"),
        ({"detail": {"code": "D", "fields": [{"name": "a", "type": "amount", "length": 9, "sign": "trailing"}]},
          "trailer": None}, "a trailing sign needs signed: true"),
    ],
    ids=["overlap", "total-of-text", "no-record-type", "code-width", "utf-16", "trailing-unsigned"],
)
def test_a_layout_that_cannot_be_read_is_a_profile_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        layout_of(FIXED_YAML, **change)


def test_zero_amounts_in_every_fixed_width_shape(tmp_path: Path) -> None:
    """A zero-padded zero is all fill: it reads as 0, not as a missing value, whatever the sign convention."""
    shapes = [{"implied_decimals": True}, {"implied_decimals": True, "signed": True, "sign": "trailing"},
              {}, {"signed": True}, {"signed": True, "pad": " "}]
    for shape in shapes:
        layout = layout_of("format: fixed\ndetail: {fields: [{name: a, type: amount, length: 10}]}",
                           detail={"fields": [{"name": "a", "type": "amount", "length": 10, **shape}]})
        details: list[dict[str, Value]] = [{"a": Decimal("0.00")}, {"a": None}, {"a": Decimal("7.50")}]
        data = render(layout, details)
        assert [dict(r.values) for r in load(put(tmp_path, data), layout).records] == details, (shape, data)


@pytest.mark.parametrize("layout", [CSV, FIXED, XML], ids=["csv", "fixed", "xml"])
def test_damaged_files_are_rejected_never_raised(tmp_path: Path, layout: Any) -> None:
    """Whatever a partner sends, the reader answers with records and rejections: bytes changed, cut or
    doubled at random in a good file never escape as an exception."""
    good = render(layout, DETAILS, header=HEADER)
    rng = random.Random(11)
    noise = b"\x00\xff\xe9,;\"'<>&-+0123456789 \r\nDHTX"
    for _ in range(400):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            action = rng.choice(["change", "cut", "insert"])
            if action == "change":
                data[at] = rng.choice(noise)
            elif action == "cut":
                del data[at:at + rng.randint(1, 30)]
            else:
                data[at:at] = bytes(rng.choice(noise) for _ in range(rng.randint(1, 5)))
        items = list(read(put(tmp_path, bytes(data)), layout))
        assert all(isinstance(i, Record | Rejection) for i in items)
        loaded = load(put(tmp_path, bytes(data)), layout)
        assert loaded.accepted or loaded.records == []
