"""Loading partner invoice files into BIF: values, rejections, hostile input, memory."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from harness.errors import ProfileError
from harness.platform.bif import BifRecord
from harness.platform.invoices import (
    Rejection,
    expected_file_name,
    iter_invoice_file,
    load_invoice_file,
    render_invoice_file,
)
from harness.profiles import InvoiceFile, load_partner

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "fixtures" / "samples"
BID, INVOICE_TYPE = 4101, 1
DTD_REFUSAL = "refused: the file declares a DTD (<!DOCTYPE ...>); invoice files may not declare entities"


@pytest.fixture(scope="module")
def layout() -> InvoiceFile:
    return load_partner(ROOT, "cayenta").invoice_file


def record_xml(account: str, invoice: str, amount: str = "10.00", due: str = "2026-11-21") -> str:
    return (
        f"<BillHeader><ACCOUNT_NO>{account}</ACCOUNT_NO><INVOICE_NO>{invoice}</INVOICE_NO>"
        f"<DUE_DATE>{due}</DUE_DATE><AMOUNT_DUE>{amount}</AMOUNT_DUE></BillHeader>\n"
    )


def write(tmp_path: Path, body: bytes, name: str = "billheader_20261105.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_good_sample_is_accepted_with_exact_values(layout: InvoiceFile) -> None:
    result = load_invoice_file(SAMPLES / "billheader_20261101.xml", layout, BID, INVOICE_TYPE)

    assert result.ok and result.file == "billheader_20261101.xml"
    assert [r.invoice_number for r in result.accepted] == [f"INV-202611000{i}" for i in range(1, 5)]
    assert [r.amount_due for r in result.accepted] == [
        Decimal("45.10"),
        Decimal("132.75"),
        Decimal("78.00"),
        Decimal("211.48"),
    ]
    # Only descriptor 30 is past due; the descriptor 10 charges must not leak in.
    assert [r.past_due for r in result.accepted] == [
        Decimal("0.00"),
        Decimal("64.35"),
        Decimal("0.00"),
        Decimal("120.25"),
    ]
    assert result.accepted[1] == BifRecord(
        bid=BID,
        invoice_type=INVOICE_TYPE,
        account_number="100871-02",
        invoice_number="INV-2026110002",
        customer_name="Latoya Greene",
        email="lgreene@example.net",
        service_address="655 Mount Zion Rd, Morrow, GA 30260",
        bill_date=date(2026, 11, 1),
        due_date=date(2026, 11, 21),
        amount_due=Decimal("132.75"),
        past_due=Decimal("64.35"),
    )
    assert result.accepted[0].to_dict()["amount_due"] == "45.10"
    assert all(BifRecord.from_dict(r.to_dict()) == r for r in result.accepted)


def test_bad_sample_keeps_good_records_and_rejects_each_bad_one(layout: InvoiceFile) -> None:
    result = load_invoice_file(SAMPLES / "billheader_20261102_bad.xml", layout, BID, INVOICE_TYPE)

    assert [r.invoice_number for r in result.accepted] == ["INV-2026110201", "INV-2026110207"]
    assert result.accepted[1].email == "grace.bell@example.com"
    assert result.accepted[1].past_due == Decimal("40.00")
    file = "billheader_20261102_bad.xml"
    assert result.rejected == [
        Rejection(file, 2, 13, "INV-2026110202", "missing account number (ACCOUNT_NO)"),
        Rejection(file, 3, 22, "INV-2026110203", "AMOUNT_DUE '-5.00' is negative"),
        Rejection(file, 4, 31, "INV-2026110204", "AMOUNT_DUE 'abc' is not a number"),
        Rejection(file, 5, 40, "INV-2026110201",
                  "duplicate invoice number (INVOICE_NO) 'INV-2026110201' (first in record 1)"),
        Rejection(
            file,
            6,
            49,
            "INV-2026110206",
            "DUE_DATE '2026-13-01' is not a date (expected yyyy-mm-dd); AMOUNT_DUE '1.005' has more than 2 decimals",
        ),
    ]
    assert str(result.rejected[0]) == f"{file}: record 2 (line 13): missing account number (ACCOUNT_NO)"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("7", "7.00"),
        ("0.5", "0.50"),
        ("1.500", "1.50"),
        ("-0.00", "0.00"),
        ("1e3", "'1e3' is not a plain amount"),
        ("1.5E+2", "'1.5E+2' is not a plain amount"),
        ("1_000", "'1_000' is not a plain amount"),
        ("NaN", "'NaN' is not a plain amount"),
        ("-Infinity", "'-Infinity' is not a plain amount"),
        ("10.005", "'10.005' has more than 2 decimals"),
        ("0.001", "'0.001' has more than 2 decimals"),
        (".", "'.' is not a number"),
        ("12,50", "'12,50' is not a number"),
        ("1234567890123", "'1234567890123' is too large (more than 12 digits)"),
    ],
)
def test_amounts_are_plain_money(tmp_path: Path, layout: InvoiceFile, amount: str, expected: str) -> None:
    path = write(tmp_path, f"<BillHeaders>{record_xml('A1', 'I1', amount)}</BillHeaders>".encode())

    [item] = iter_invoice_file(path, layout, BID, INVOICE_TYPE)

    if isinstance(item, Rejection):
        assert item.reason == f"AMOUNT_DUE {expected}"
    else:
        assert str(item.amount_due) == expected


def test_malformed_xml_midway_keeps_earlier_records(tmp_path: Path, layout: InvoiceFile) -> None:
    body = "<BillHeaders>\n" + record_xml("A1", "I1") + record_xml("A2", "I2")
    body += "<BillHeader><ACCOUNT_NO>A3</ACCOUNT_NO>\n<INVOICE_NO>I3</AMOUNT_DUE></BillHeader>\n"
    body += record_xml("A4", "I4") + "</BillHeaders>\n"
    path = write(tmp_path, body.encode())

    items = list(iter_invoice_file(path, layout, BID, INVOICE_TYPE))

    assert [i.invoice_number for i in items[:2]] == ["I1", "I2"]
    assert all(isinstance(i, BifRecord) for i in items[:2])
    [failure] = items[2:]
    assert isinstance(failure, Rejection) and failure.record == 0 and failure.line == 5
    assert failure.reason.startswith("malformed XML at line 5, column ")
    assert "Opening and ending tag mismatch" in failure.reason
    assert failure.reason.endswith("; records after this point were not read")


def test_wrong_root_is_a_file_level_rejection(tmp_path: Path, layout: InvoiceFile) -> None:
    path = write(tmp_path, b"<?xml version='1.0'?>\n<Invoices>" + record_xml("A1", "I1").encode() + b"</Invoices>")

    assert list(iter_invoice_file(path, layout, BID, INVOICE_TYPE)) == [
        Rejection(path.name, 0, 2, None, "root element is <Invoices>, expected <BillHeaders>")
    ]


def test_latin1_bytes_in_a_utf8_file(tmp_path: Path, layout: InvoiceFile) -> None:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n<BillHeaders>\n' + record_xml("A1", "I1").encode()
    body += b"<BillHeader><ACCOUNT_NO>A2</ACCOUNT_NO><CUSTOMER_NAME>Ren\xe9e</CUSTOMER_NAME></BillHeader>\n"
    path = write(tmp_path, body + b"</BillHeaders>\n")

    items = list(iter_invoice_file(path, layout, BID, INVOICE_TYPE))

    assert isinstance(items[0], BifRecord) and items[0].account_number == "A1"
    [failure] = items[1:]
    assert isinstance(failure, Rejection) and failure.record == 0 and failure.line == 4
    assert "Invalid bytes in character encoding" in failure.reason


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE BillHeaders [<!ENTITY x SYSTEM "file://{secret}">]>',
        '<!DOCTYPE BillHeaders [<!ENTITY % x SYSTEM "file://{secret}"> %x;]>',
        '<!DOCTYPE BillHeaders SYSTEM "file://{secret}">',
        "<!DOCTYPE BillHeaders>",
    ],
    ids=["general-entity", "parameter-entity", "external-subset", "bare-doctype"],
)
def test_dtd_is_refused_and_nothing_outside_the_file_is_read(tmp_path: Path, layout: InvoiceFile, doctype: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-5521")
    body = f'<?xml version="1.0"?>\n{doctype.format(secret=secret)}\n<BillHeaders>'
    body += record_xml("&x;", "I1") if "ENTITY x" in doctype else record_xml("A1", "I1")
    path = write(tmp_path, (body + "</BillHeaders>").encode())

    items = list(iter_invoice_file(path, layout, BID, INVOICE_TYPE))

    assert items == [Rejection(path.name, 0, None, None, DTD_REFUSAL)]
    assert "TOP-SECRET" not in repr(items)


def test_xxe_against_etc_passwd(tmp_path: Path, layout: InvoiceFile) -> None:
    body = '<?xml version="1.0"?>\n<!DOCTYPE BillHeaders [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    path = write(tmp_path, (body + f"<BillHeaders>{record_xml('&x;', 'I1')}</BillHeaders>").encode())

    result = load_invoice_file(path, layout, BID, INVOICE_TYPE)

    assert result.accepted == [] and result.rejected == [Rejection(path.name, 0, None, None, DTD_REFUSAL)]
    assert "root:" not in repr(result)


def test_billion_laughs_is_refused_without_expansion(tmp_path: Path, layout: InvoiceFile) -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    body = f'<?xml version="1.0"?>\n<!DOCTYPE BillHeaders [{entities}]>\n<BillHeaders>'
    path = write(tmp_path, (body + record_xml("&lol9;", "&lol9;") + "</BillHeaders>").encode())

    # 10^9 "lol"s would take gigabytes and minutes; being refused at the root means neither.
    assert list(iter_invoice_file(path, layout, BID, INVOICE_TYPE)) == [
        Rejection(path.name, 0, None, None, DTD_REFUSAL)
    ]


def test_missing_file_and_directory(tmp_path: Path, layout: InvoiceFile) -> None:
    [missing] = iter_invoice_file(tmp_path / "billheader_nope.xml", layout, BID, INVOICE_TYPE)
    [directory] = iter_invoice_file(tmp_path, layout, BID, INVOICE_TYPE)

    assert missing == Rejection("billheader_nope.xml", 0, None, None, "cannot read the file: No such file or directory")
    assert directory.reason == "cannot read the file: Is a directory"


def test_empty_file(tmp_path: Path, layout: InvoiceFile) -> None:
    [item] = iter_invoice_file(write(tmp_path, b""), layout, BID, INVOICE_TYPE)

    assert isinstance(item, Rejection) and item.record == 0
    assert item.reason.startswith("malformed XML: ")


def test_render_then_load_round_trip(tmp_path: Path, layout: InvoiceFile) -> None:
    records = [
        {
            "account_number": "200001-01",
            "invoice_number": "INV-1",
            "customer_name": "Ana <Ruiz> & Sons",
            "email": "ana@example.com",
            "service_address": "12 Main St, Jonesboro, GA 30236",
            "bill_date": "2026-11-05",
            "due_date": "2026-11-25",
            "amount_due": "99.90",
            "past_due": "12.00",
        },
        {"account_number": "200002-01", "invoice_number": "INV-2", "due_date": "2026-11-25", "amount_due": "5"},
    ]
    data = render_invoice_file(layout, records)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert b'<Charges>\n      <Charge DESCRIPTOR="30">12.00</Charge>' in data

    result = load_invoice_file(write(tmp_path, data), layout, BID, INVOICE_TYPE)

    assert result.ok
    first, second = (r.to_dict() for r in result.accepted)
    assert first == {"bid": BID, "invoice_type": INVOICE_TYPE, **records[0]}
    assert second["amount_due"] == "5.00" and second["past_due"] == "0.00" and second["bill_date"] is None


def test_render_refuses_fields_outside_the_layout(layout: InvoiceFile) -> None:
    with pytest.raises(ValueError, match="fields not in the BillHeaders layout: acount_number"):
        render_invoice_file(layout, [{"acount_number": "1"}])


def test_bad_profile_path_is_a_profile_error(tmp_path: Path, layout: InvoiceFile) -> None:
    broken = layout.model_copy(
        update={"fields": {**layout.fields, "email": layout.fields["email"].model_copy(update={"source": "EMAIL[@"})}}
    )

    with pytest.raises(ProfileError, match="invoice_file field email: bad source path"):
        list(iter_invoice_file(write(tmp_path, b"<BillHeaders/>"), broken, BID, INVOICE_TYPE))


def test_expected_file_name(layout: InvoiceFile) -> None:
    assert expected_file_name(layout, date(2026, 11, 1)) == "billheader_20261101.xml"


def resident_bytes() -> int:
    """Resident set size: libxml2's tree lives outside Python's heap, where tracemalloc cannot see it."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc to read the resident set size")
def test_large_file_streams_in_flat_memory(tmp_path: Path, layout: InvoiceFile) -> None:
    count = 100_000
    path = tmp_path / "billheader_20261130.xml"
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<BillHeaders>\n')
        for i in range(count):
            out.write(
                f"  <BillHeader>\n    <ACCOUNT_NO>{300000 + i}-01</ACCOUNT_NO>\n"
                f"    <INVOICE_NO>INV-{i:010d}</INVOICE_NO>\n    <CUSTOMER_NAME>Customer {i}</CUSTOMER_NAME>\n"
                f"    <SERVICE_ADDRESS>{i} Tara Blvd, Jonesboro, GA 30236</SERVICE_ADDRESS>\n"
                "    <BILL_DATE>2026-11-30</BILL_DATE>\n    <DUE_DATE>2026-12-20</DUE_DATE>\n"
                f"    <AMOUNT_DUE>{i % 500}.{i % 100:02d}</AMOUNT_DUE>\n"
                '    <Charges><Charge DESCRIPTOR="30">1.00</Charge></Charges>\n  </BillHeader>\n'
            )
        out.write("</BillHeaders>\n")

    accepted = rejected = 0
    last: BifRecord | Rejection | None = None
    rss_start = rss_peak = resident_bytes()
    for last in iter_invoice_file(path, layout, BID, INVOICE_TYPE):
        accepted += isinstance(last, BifRecord)
        rejected += isinstance(last, Rejection)
        if accepted % 5_000 == 0:
            rss_peak = max(rss_peak, resident_bytes())

    assert (accepted, rejected) == (count, 0)
    assert isinstance(last, BifRecord) and last.invoice_number == f"INV-{count - 1:010d}"
    # Kept whole, the parsed tree adds about 400 MiB here (measured with clearing switched off);
    # streamed, growth is the set of seen invoice numbers (needed for duplicates) and little else.
    # tracemalloc is not used: it cannot see libxml2's memory and makes the test five times slower.
    assert rss_peak - rss_start < 100 * 2**20, f"resident set grew {(rss_peak - rss_start) / 2**20:.0f} MiB"


def test_a_layout_loads_only_the_records_it_names(tmp_path: Path) -> None:
    """Caselle sends open items only: a closed item in the file is not a bill, and not a rejection."""
    layout = load_partner(ROOT, "caselle").invoice_file
    records = [{"account_number": "1", "invoice_number": "A", "due_date": "2026-12-01", "amount_due": "10.00"},
               {"account_number": "2", "invoice_number": "B", "due_date": "2026-12-01", "amount_due": "20.00"}]
    data = render_invoice_file(layout, records).replace(b"<ItemStatus>Open</ItemStatus>", b"", 1)
    assert b"<DueDate>12/01/2026</DueDate>" in data  # ISO dates written in the layout's format
    path = tmp_path / "ARBills_20261201.xml"
    path.write_bytes(data.replace(b"<Bill>", b"<Bill><ItemStatus>Closed</ItemStatus>", 1))
    result = load_invoice_file(path, layout, 2493, 42)
    assert [bill.invoice_number for bill in result.accepted] == ["B"] and result.rejected == []


EXACT = ("0.10", "0.29", "19.99", "1234567.89", "0.01", "999999999999.99")


def test_amounts_whose_binary_float_is_inexact_load_exactly(tmp_path: Path, layout: InvoiceFile) -> None:
    """Decimal end to end: float(0.29) * 100 is 28.999..., a cents conversion through float loses a cent."""
    body = "".join(record_xml(f"A{i}", f"I{i}", amount) for i, amount in enumerate(EXACT))
    path = write(tmp_path, f"<BillHeaders>{body}</BillHeaders>".encode())

    result = load_invoice_file(path, layout, BID, INVOICE_TYPE)

    assert result.ok
    assert [r.amount_due for r in result.accepted] == [Decimal(a) for a in EXACT]
    assert all(type(r.amount_due) is Decimal for r in result.accepted)
    assert [r.to_dict()["amount_due"] for r in result.accepted] == list(EXACT)


def test_a_credit_line_inside_a_positive_bill_loads(tmp_path: Path, layout: InvoiceFile) -> None:
    records = [{"account_number": "1", "invoice_number": "A", "due_date": "2026-12-01", "amount_due": "120.00",
                "past_due": "35.00"}]
    data = render_invoice_file(layout, records, adjustments={0: ["-15.00", "0.29"]})
    assert b'<Charge DESCRIPTOR="ADJ">-15.00</Charge>\n      <Charge DESCRIPTOR="ADJ">0.29</Charge>\n      ' \
           b'<Charge DESCRIPTOR="30">35.00</Charge>' in data

    result = load_invoice_file(write(tmp_path, data), layout, BID, INVOICE_TYPE)

    assert result.ok
    assert [(r.amount_due, r.past_due) for r in result.accepted] == [(Decimal("120.00"), Decimal("35.00"))]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("abc", "Charges/Charge (DESCRIPTOR ADJ) 'abc' is not a number"),
        ("-1e2", "Charges/Charge (DESCRIPTOR ADJ) '-1e2' is not a plain amount"),
        ("-15.005", "Charges/Charge (DESCRIPTOR ADJ) '-15.005' has more than 2 decimals"),
    ],
)
def test_a_bad_charge_line_rejects_its_record(tmp_path: Path, layout: InvoiceFile, line: str, reason: str) -> None:
    records = [{"account_number": "1", "invoice_number": "A", "due_date": "2026-12-01", "amount_due": "120.00"}]
    path = write(tmp_path, render_invoice_file(layout, records, adjustments={0: [line]}))

    assert [i.reason for i in iter_invoice_file(path, layout, BID, INVOICE_TYPE)] == [reason]


def test_a_negative_past_due_line_is_said_once(tmp_path: Path, layout: InvoiceFile) -> None:
    """The past due line is read as the past due field (not negative), not checked again as a line."""
    records = [{"account_number": "1", "invoice_number": "A", "due_date": "2026-12-01", "amount_due": "9.00",
                "past_due": "-5.00"}]
    path = write(tmp_path, render_invoice_file(layout, records))

    assert [i.reason for i in iter_invoice_file(path, layout, BID, INVOICE_TYPE)] == [
        "Charges/Charge[@DESCRIPTOR='30'] '-5.00' is negative"]


NAMES = ["Renée Côté", "José Peña", "Zoë Ångström"]


@pytest.mark.parametrize("partner", ["cayenta", "caselle"])
@pytest.mark.parametrize(("encoding", "bom"), [("UTF-8", True), ("ISO-8859-1", False), ("windows-1252", False)])
def test_the_declared_encoding_is_honoured(tmp_path: Path, partner: str, encoding: str, bom: bool) -> None:
    layout = load_partner(ROOT, partner).invoice_file
    records = [{"account_number": str(i), "invoice_number": f"I{i}", "customer_name": name, "due_date": "2026-12-01",
                "amount_due": "10.00"} for i, name in enumerate(NAMES)]
    data = render_invoice_file(layout, records, encoding=encoding, bom=bom)
    assert data.startswith(b"\xef\xbb\xbf<?xml" if bom else f"<?xml version='1.0' encoding='{encoding}'?>".encode())
    assert NAMES[0].encode(encoding) in data

    result = load_invoice_file(write(tmp_path, data, "in.xml"), layout, BID, INVOICE_TYPE)

    assert result.ok and [r.customer_name for r in result.accepted] == NAMES


def test_closed_items_are_written_by_the_profile_and_not_loaded(tmp_path: Path) -> None:
    layout = load_partner(ROOT, "caselle").invoice_file
    records = [{"account_number": "1", "invoice_number": n, "due_date": "2026-12-01", "amount_due": "10.00"}
               for n in ("A", "B", "C")]
    data = render_invoice_file(layout, records, closed={0, 2})
    assert data.count(b"<ItemStatus>Closed</ItemStatus>") == 2 and data.count(b"<ItemStatus>Open</ItemStatus>") == 1

    result = load_invoice_file(write(tmp_path, data, "ARBills_20261201.xml"), layout, 2493, 42)

    assert [bill.invoice_number for bill in result.accepted] == ["B"] and result.rejected == []


def test_the_generator_refuses_what_a_layout_cannot_hold(layout: InvoiceFile) -> None:
    caselle = load_partner(ROOT, "caselle").invoice_file
    record = {"account_number": "1", "invoice_number": "A", "due_date": "2026-12-01", "amount_due": "1.00"}
    with pytest.raises(ProfileError, match="no 'otherwise' value"):
        render_invoice_file(layout, [record], closed={0})
    with pytest.raises(ProfileError, match="no 'lines'"):
        render_invoice_file(caselle, [record], adjustments={0: ["-1.00"]})
    with pytest.raises(ValueError, match="before UTF-8 only, not ISO-8859-1"):
        render_invoice_file(layout, [record], encoding="ISO-8859-1", bom=True)
