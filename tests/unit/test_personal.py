"""Personal data found by structure: each format's reader, each event kind that can carry it, the masking.

The profiles are the real ones (fixtures/partners); the CSV and fixed-width layouts are small ones
defined here, as those formats have no partner yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import ProfileError
from harness.events import Event
from harness.profiles import load_biller, load_partner
from harness.reports.bodies import pretty
from harness.reports.leaks import LeakFound
from harness.reports.personal import (
    PERSONAL,
    CsvRecords,
    FixedWidthRecords,
    Masker,
    PersonalRules,
    Span,
    Unreadable,
    XmlRecords,
    find_personal,
    refuse_leaks,
)
from tests.conftest import PROJECT

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# A Cayenta invoice file as the partner uploads it: its prolog is full of "=". The second record is
# rejected by the platform (no account number): its customer's data is in the file all the same.
CAYENTA_FILE = """<?xml version='1.0' encoding='UTF-8'?>
<BillHeaders>
  <BillHeader>
    <ACCOUNT_NO>172736675</ACCOUNT_NO><INVOICE_NO>INV-1</INVOICE_NO>
    <CUSTOMER_NAME>Leslie Landry</CUSTOMER_NAME><EMAIL>msmith@example.com</EMAIL>
    <SERVICE_ADDRESS>2779 Little Road Apt. 081</SERVICE_ADDRESS><AMOUNT_DUE>204.37</AMOUNT_DUE>
  </BillHeader>
  <BillHeader>
    <ACCOUNT_NO></ACCOUNT_NO><INVOICE_NO>INV-2</INVOICE_NO>
    <CUSTOMER_NAME>Rejected O'Reilly</CUSTOMER_NAME><EMAIL>rejected@example.org</EMAIL>
    <SERVICE_ADDRESS>12 Mill &amp; Kiln Lane</SERVICE_ADDRESS><AMOUNT_DUE>10.00</AMOUNT_DUE>
  </BillHeader>
</BillHeaders>
"""
CAYENTA_PEOPLE = {"Leslie Landry", "msmith@example.com", "2779 Little Road Apt. 081",
                  "Rejected O'Reilly", "rejected@example.org", "12 Mill & Kiln Lane"}


def rules(partner: str) -> PersonalRules:
    """As a report reads them: from the partner profile as the run recorded it (data, not the model)."""
    return PersonalRules.of(load_partner(PROJECT, partner).model_dump(mode="json"))


@pytest.fixture(scope="module")
def cayenta() -> PersonalRules:
    return rules("cayenta")


@pytest.fixture(scope="module")
def caselle() -> PersonalRules:
    return rules("caselle")


def event(kind: str, seq: int = 1, /, **data: Any) -> Event:
    return Event("run", seq, kind, "2026-11-30T00:00:00+00:00", data, "0" * 64, "0" * 64)


def upload(content: str, path: str = "billheader_20261130.xml", truncated: bool = False) -> Event:
    return event("file.transferred", 7, direction="partner -> platform", path=path, size=len(content),
                 content=content, content_truncated=truncated)


def values(partner: PersonalRules, *events: Event) -> set[str]:
    return set(find_personal(events, partner).values())


# --- XML: the invoice layout's records, and names anywhere ---------------------------------------------


def test_an_xml_file_whose_prolog_holds_equals_signs_is_read_as_xml(cayenta: PersonalRules) -> None:
    """Today's bug: the prolog's `version='1.0'` made the file a form, and its customers leaked."""
    found = find_personal([upload(CAYENTA_FILE)], cayenta)
    assert set(found.values()) == CAYENTA_PEOPLE
    # Each value is named by where it is (the record of the layout), never by itself.
    assert found["billheader_20261130.xml: BillHeader[2]/CUSTOMER_NAME in event 7 (file.transferred)"] == (
        "Rejected O'Reilly")


def test_the_layout_marks_which_fields_are_personal(cayenta: PersonalRules) -> None:
    layout = load_partner(PROJECT, "cayenta").invoice_file
    assert {field for field, spec in layout.fields.items() if spec.personal} == {"customer_name", "email",
                                                                                   "service_address"}
    assert cayenta.files == (XmlRecords("BillHeaders", "BillHeader", ("CUSTOMER_NAME", "EMAIL", "SERVICE_ADDRESS")),)
    assert not (values(cayenta, upload(CAYENTA_FILE)) & {"172736675", "INV-1", "204.37"})  # not personal


def test_rules_read_a_profile_recorded_by_another_version() -> None:
    """Read by path: a run recorded before ``personal`` existed still has its names; an unknown format
    (recorded by a later version) cannot be read, so no pack is written."""
    data = load_partner(PROJECT, "cayenta").model_dump(mode="json")
    for spec in data["invoice_file"]["fields"].values():
        del spec["personal"]
    older = PersonalRules.of(data)
    assert older.files == (XmlRecords("BillHeaders", "BillHeader", ()),)
    assert "customer_name" in older.names and values(older, upload(CAYENTA_FILE)) == CAYENTA_PEOPLE
    data["invoice_file"]["format"] = "edifact"
    with pytest.raises(ProfileError, match="invoice_file format 'edifact': no reader of its personal data"):
        PersonalRules.of(data)


def test_xml_records_read_attributes_nested_paths_and_namespaces() -> None:
    layout = XmlRecords("Export", "Bill", ("@holder", "Contact/Email", "Contact/@phone", "Address"))
    text = """<?xml version="1.0"?>
    <x:Export xmlns:x="urn:export" xmlns="urn:bills" xmlns:p="urn:people">
      <Bill holder="Ana Lima" id="1"><Contact p:phone="555-0101"><Email>ana@example.org</Email></Contact>
        <Address><Street>1 Rua Nova</Street><City>Porto</City></Address></Bill>
      <Bill p:holder="Bo Chen" id="2"><Amount>5.00</Amount></Bill>
    </x:Export>"""
    found = list(layout.find(text))
    assert found == [("Bill[1]/@holder", "Ana Lima"), ("Bill[1]/Contact/Email", "ana@example.org"),
                     ("Bill[1]/Contact/@phone", "555-0101"), ("Bill[1]/Address", "1 Rua Nova"),
                     ("Bill[1]/Address", "Porto"), ("Bill[2]/@holder", "Bo Chen")]


def test_xml_that_is_not_the_layout_is_unreadable() -> None:
    layout = XmlRecords("BillHeaders", "BillHeader", ("CUSTOMER_NAME",))
    for text in ("<Other><BillHeader/></Other>", "<BillHeaders><BillHeader>", "CUSTOMER_NAME=x",
                 '<!DOCTYPE BillHeaders [<!ENTITY n "Ann Lee">]><BillHeaders/>'):
        with pytest.raises(Unreadable):
            list(layout.find(text))


def test_the_first_part_of_a_big_file_is_read_up_to_where_it_stops(cayenta: PersonalRules) -> None:
    cut = CAYENTA_FILE[:CAYENTA_FILE.index("rejected@example.org") + len("rejected@")]
    assert values(cayenta, upload(cut, truncated=True)) == {"Leslie Landry", "msmith@example.com",
                                                            "2779 Little Road Apt. 081", "Rejected O'Reilly",
                                                            "rejected@"}


def test_a_file_the_layout_cannot_read_is_withheld_whole(cayenta: PersonalRules) -> None:
    """No structure, no way to tell its personal data apart: the whole content is one personal value."""
    broken = CAYENTA_FILE.replace("</BillHeaders>", "")  # complete, yet not well-formed
    dtd = '<!DOCTYPE BillHeaders [<!ENTITY n "Ann Lee">]>\n<BillHeaders><BillHeader/></BillHeaders>'
    for content in (broken, dtd, "ACCOUNT_NO,CUSTOMER_NAME\n1,Ann Lee\n"):
        found = find_personal([upload(content)], cayenta)
        (name,) = [name for name, value in found.items() if value == content.strip()]
        assert name.startswith("content of billheader_20261130.xml (unreadable by the partner's layout: ")


def test_personal_names_are_found_in_any_xml_body(caselle: PersonalRules) -> None:
    reply = """<?xml version="1.0" encoding="utf-8"?>
    <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
      <r:Account xmlns:r="urn:ar" r:CustomerName="Ida Park"><r:ServiceAddress>9 Elm St</r:ServiceAddress>
      </r:Account></s:Body></s:Envelope>"""
    exchange = event("partner.exchange", response_body=reply, response_headers={"Content-Type": "text/xml"})
    assert values(caselle, exchange) == {"Ida Park", "9 Elm St"}


def test_a_body_declaring_another_encoding_is_masked_as_the_pack_shows_it(caselle: PersonalRules) -> None:
    """The log holds decoded text: a prolog's encoding must not make the pack show another spelling."""
    reply = '<?xml version="1.0" encoding="ISO-8859-1"?><Account><CustomerName>Zoë Ångström</CustomerName></Account>'
    exchange = event("partner.exchange", response_body=reply, response_headers={"Content-Type": "text/xml"})
    assert values(caselle, exchange) == {"Zoë Ångström"}
    shown, _ = pretty(reply, "text/xml")
    assert "Zoë Ångström" in shown and PERSONAL in Masker(["Zoë Ångström"])(shown)


# --- JSON, forms ----------------------------------------------------------------------------------------


def test_json_keys_name_personal_values_and_all_they_hold(caselle: PersonalRules) -> None:
    body = ('{"operationName": "AccountBalance", "data": {"account": {"accountNumber": "1001", '
            '"customerName": "Mo Diaz", "EmailAddress": ["mo@example.org", "m.diaz@example.org"]}}}')
    exchange = event("partner.exchange", response_body=body, response_headers={"Content-Type": "application/json"})
    assert values(caselle, exchange) == {"Mo Diaz", "mo@example.org", "m.diaz@example.org"}


def test_a_form_is_read_only_where_its_content_type_says_so(cayenta: PersonalRules) -> None:
    body = "CUSTOMER_NAME=Jo+Ortiz&XMLREQUEST=%3CRequest%3E%3CEMAIL%3Ejo%40example.org%3C%2FEMAIL%3E%3C%2FRequest%3E"
    as_form = event("partner.exchange", request_body=body, request_headers=FORM)
    assert values(cayenta, as_form) == {"Jo Ortiz", "jo@example.org"}
    unsaid = event("partner.exchange", request_body=body, request_headers={"Content-Type": "text/plain"})
    assert values(cayenta, unsaid) == set()  # not guessed from its look


def test_a_stub_reply_arranged_by_a_scenario(cayenta: PersonalRules, caselle: PersonalRules) -> None:
    xml = {"mapping": {"response": {"headers": {"Content-Type": "application/xml"},
                                    "body": "<Reply><CUSTOMER_NAME>Al Gore Jr</CUSTOMER_NAME></Reply>"}}}
    assert values(cayenta, event("stub.added", **xml)) == {"Al Gore Jr"}
    json_body = {"mapping": {"response": {"jsonBody": {"data": {"account": {"customerName": "Eve Stone"}}}}}}
    assert values(caselle, event("stub.added", **json_body)) == {"Eve Stone"}


# --- the platform's events --------------------------------------------------------------------------------


def test_platform_events_by_their_keys(cayenta: PersonalRules) -> None:
    bill = {"account_number": "1", "invoice_number": "INV-1", "customer_name": "Kai Moss", "email": "kai@example.org",
            "service_address": "4 Oak Rd", "amount_due": "10.00"}
    rejected = {"file": "f.xml", "record": 2, "reason": "missing account number",
                "values": {"CUSTOMER_NAME": "Rae Holt", "ACCOUNT_NO": ""}}
    events = [event("platform.bill_loaded", 1, file="f.xml", bill=bill),
              event("platform.invoice_rejected", 2, **rejected),
              event("platform.balance_observed", 3, account="1", customer_name="Lu Wen", balance="1.00"),
              event("platform.tx_created", 4, key="A001", kind="change", program="email", value="new@example.org"),
              event("platform.tx_created", 5, key="A002", kind="change", program="paperless", value="Y"),
              event("expectation", 6, what="bills loaded", expected=1, actual=1, ok=True),
              event("step.started", 7, text="the payer pays 45.10 by card")]
    assert values(cayenta, *events) == {"Kai Moss", "kai@example.org", "4 Oak Rd", "Rae Holt", "Lu Wen",
                                        "new@example.org"}


def test_names_stay_unique_when_one_field_repeats_in_a_text(cayenta: PersonalRules) -> None:
    body = "<Reply><CUSTOMER_NAME>Ann One</CUSTOMER_NAME><CUSTOMER_NAME>Ben Two</CUSTOMER_NAME></Reply>"
    found = find_personal([event("partner.exchange", 3, response_body=body)], cayenta)
    assert found == {"CUSTOMER_NAME in event 3 (partner.exchange)": "Ann One",
                     "CUSTOMER_NAME in event 3 (partner.exchange) #2": "Ben Two"}


# --- CSV and fixed width (layouts of later partners) -------------------------------------------------------


def test_csv_columns_by_header() -> None:
    layout = CsvRecords(("Customer Name", "email"))
    text = 'Account,customer name ,EMAIL,Amount\r\n1001,"Ng, Mai",mai@example.org,10.00\r\n1002,"Ola ""O"" Ek",,5\r\n'
    assert list(layout.find(text)) == [("row 2, column customer name", "Ng, Mai"),
                                       ("row 2, column EMAIL", "mai@example.org"),
                                       ("row 3, column customer name", 'Ola "O" Ek'), ("row 3, column EMAIL", "")]
    semicolons = CsvRecords(("Name",), delimiter=";")
    assert list(semicolons.find("Id;Name\n1;Ivo Sousa\n2")) == [("row 2, column Name", "Ivo Sousa")]


def test_csv_that_is_not_the_layout_is_unreadable_unless_cut_short() -> None:
    layout = CsvRecords(("Name",))
    with pytest.raises(Unreadable, match="names none of the columns Name"):
        list(layout.find("Account,Amount\n1,2\n"))
    cut = 'Account,Name\n1,"Ada Byron"\n2,"Ali'  # the first part of a file: its last field cut short
    assert [value for _, value in layout.find(cut, complete=False)] == ["Ada Byron", "Ali"]
    with pytest.raises(Unreadable, match="not CSV"):
        list(CsvRecords(("Name",)).find('Name\n"x"y\n'))


def test_fixed_width_fields_by_position_on_detail_lines_only() -> None:
    layout = FixedWidthRecords((Span("name", 12, 15), Span("email", 27, 20)), record_type=Span("type", 1, 1),
                               record_types=("D",))
    lines = ["H20261130  HEADER NAME    NOT A PERSON",
             "D1001      Tia Ruiz       tia@example.org     0001000",
             "D1002      Oz Kaya        oz@example.org      0000500",
             "T00000002  0000001500"]
    assert list(layout.find("\n".join(lines))) == [
        ("line 2, name (columns 12-26)", "Tia Ruiz       "), ("line 2, email (columns 27-46)", "tia@example.org     "),
        ("line 3, name (columns 12-26)", "Oz Kaya        "), ("line 3, email (columns 27-46)", "oz@example.org      ")]
    every_line = FixedWidthRecords((Span("name", 1, 6),))
    assert [value for _, value in every_line.find("Al Li \nBo")] == ["Al Li ", "Bo"]


# --- masking and the pack's check ---------------------------------------------------------------------------


def test_the_masker_masks_every_form_a_writer_may_use() -> None:
    mask = Masker(["Rejected O'Reilly", "12 Mill & Kiln Lane", "ab"])
    texts = ["<CUSTOMER_NAME>Rejected O'Reilly</CUSTOMER_NAME>",  # XML text, pretty-printed body
             "<td>Rejected O&#39;Reilly</td> <td>12 Mill &amp; Kiln Lane</td>",  # Jinja2's escaping
             "CUSTOMER_NAME=Rejected+O%27Reilly",  # a form
             '{"address": "12 Mill & Kiln Lane"}', "ab stays: too short to mask"]
    assert [mask(text) for text in texts] == [
        f"<CUSTOMER_NAME>{PERSONAL}</CUSTOMER_NAME>", f"<td>{PERSONAL}</td> <td>{PERSONAL}</td>",
        f"CUSTOMER_NAME={PERSONAL}", f'{{"address": "{PERSONAL}"}}', "ab stays: too short to mask"]


def test_a_pack_still_holding_a_personal_value_is_refused(tmp_path: Path) -> None:
    (tmp_path / "allure-results").mkdir()
    (tmp_path / "allure-results" / "a-attachment.txt").write_text("<EMAIL>rejected@example.org</EMAIL>")
    (tmp_path / "signoff.html").write_text(f"<td>{PERSONAL}</td>")
    values = {"EMAIL in event 7 (file.transferred)": "rejected@example.org"}
    with pytest.raises(LeakFound) as refused:
        refuse_leaks(values, tmp_path)
    message = str(refused.value)
    assert message.startswith("partner pack refused, nothing written: allure-results/a-attachment.txt holds "
                              "personal data (EMAIL in event 7 (file.transferred), as is)")
    assert "rejected@example.org" not in message and "\n" not in message
    (tmp_path / "allure-results" / "a-attachment.txt").write_text(f"<EMAIL>{PERSONAL}</EMAIL>")
    refuse_leaks(values, tmp_path)  # masked: nothing to refuse


# --- the billers' own files (STW): each read by its layout, told apart by its name ------------------------


def billers_rules(slug: str) -> PersonalRules:
    biller = load_biller(PROJECT, slug)
    return PersonalRules.of(biller.partner.model_dump(mode="json"), biller.profile.model_dump(mode="json"))


def test_a_billers_own_files_are_read_by_their_layouts_and_told_apart_by_name() -> None:
    galveston, brazos = billers_rules("galveston-county"), billers_rules("brazos-valley-utilities")
    csv_file = ("record_type,ACCOUNT,BILL_NO,NAME,EMAIL,SERVICE_ADDRESS,BILL_DATE,DUE_DATE,AMOUNT_DUE,PAST_DUE\n"
                "H,11/30/2026,3780\nD,004417001,INV-1,Ann Lee,ann@example.org,1 Main St,,12/21/2026,10.00,0.00\n"
                "T,1,10.00\n")
    assert values(galveston, upload(csv_file, "GALV_BILLS_20261130_01.csv")) == {"Ann Lee", "ann@example.org",
                                                                                 "1 Main St"}
    fixed = "D004417001   INV-1               Ann Lee                       1 Main St"
    assert values(brazos, upload(fixed + "\n", "BVU2026113001.DAT")) == {"Ann Lee", "1 Main St"}
    payments = "record_type,TRAN,REFERENCE,ACCOUNT\nD,PAY,P001,004417001\n"
    assert values(galveston, upload(payments, "outbox/GALV_PAY_20261130_01.csv")) == set()  # holds no one
    # A file of no layout of the profiles, that no structure reads: withheld whole, as ever.
    assert values(galveston, upload("NAME\nAnn Lee\n", "notes.txt")) == {"NAME\nAnn Lee"}
