"""Invoice load: files the partner drops on the platform's sFTP inbox, and the bills they become."""

from __future__ import annotations

import hashlib
import tempfile
from decimal import Decimal
from pathlib import Path

from harness import layouts
from harness.catalogue import given, then, when
from harness.errors import SitError
from harness.layouts.values import Value
from harness.partners.files import control_field
from harness.platform.invoices import expected_file_name, render_invoice_file
from harness.profiles.models import FileSpec
from harness.scenario import ScenarioContext, counted, listed
from steps.common import money_cell, rows

_files = listed(lambda f: f"{f['path']} ({f['size']} bytes, SHA-256 {f['sha256']})", none="no file")
_bills = listed(lambda b: f"bill {b[0]} of {b[1]} ({b[2]} past due), due {b[3]}, for {b[4]}", none="no bill")
_presented = listed(lambda b: f"bill {b[0]} of {b[1]}", none="no bill")
_rejections = listed(lambda reason: f'"{reason}"', none="no records")

FAULTS = {
    "missing account number": {"account_number": ""},
    "negative amount": {"amount_due": "-5.00"},
    "non-numeric amount": {"amount_due": "abc"},
    "amount with three decimals": {"amount_due": "10.005"},
    "amount with an exponent": {"amount_due": "1.5E+2"},
    "bad due date": {"due_date": "2026-13-45"},
}
# What the payer is presented of an account's bills, by the partner's billing model (profile data).
_BILLING_MODELS = {
    "balance_forward": ("only its latest bill (balance forward)", lambda bills: bills[-1:]),
    "open_item": ("every one of its bills (open items)", lambda bills: bills),
}


@given("the partner has an invoice file for today with {count:Count} bills")
@given("the partner has an invoice file for today with {count:Count} bill")
def invoice_file(sit: ScenarioContext, count: int) -> None:
    """A partner invoice file (partner's own layout) with this many good bills."""
    sit.vars["records"] = [sit.invoice_record() for _ in range(count)]


@given("the partner has an invoice file for today with a bill of {amount:Money} of which {past_due:Money} is past due")
def invoice_file_past_due(sit: ScenarioContext, amount: Decimal, past_due: Decimal) -> None:
    """One bill whose past due part is in the partner's past due charge."""
    sit.vars["records"] = [sit.invoice_record(amount=amount, past_due=past_due)]


@given("the partner has an invoice file for today with 2 bills for one account, of {first:Money} and {second:Money}")
def invoice_file_one_account(sit: ScenarioContext, first: Decimal, second: Decimal) -> None:
    """Two bills for the same account, in this order."""
    account = sit.account_number()
    sit.vars["records"] = [sit.invoice_record(account, first), sit.invoice_record(account, second)]


@given("the partner has an invoice file for today with bills of these amounts:")
def invoice_file_amounts(sit: ScenarioContext, datatable: list[list[str]]) -> None:
    """One bill per row of the table (column "amount"), each on its own account."""
    sit.vars["records"] = [sit.invoice_record(amount=money_cell(row, "amount")) for row in rows(datatable, ("amount",))]


@given("the partner has an invoice file for today with {accounts:Count} accounts of {count:Count} bills each")
def invoice_file_several_per_account(sit: ScenarioContext, accounts: int, count: int) -> None:
    """Several bills per account, the accounts' bills interleaved in the file as a day's run writes them."""
    numbers = [sit.account_number() for _ in range(accounts)]
    sit.vars["records"] = [sit.invoice_record(account) for _ in range(count) for account in numbers]


@given("the partner has an invoice file for today with {open_count:Count} open and {closed:Count} closed items "
       "for one account", needs="layout:item_status")
def invoice_file_closed_items(sit: ScenarioContext, open_count: int, closed: int) -> None:
    """Open items and closed (paid) ones for one account, closed ones first, as an AR export holds them."""
    account = sit.account_number()
    sit.vars["records"] = [sit.invoice_record(account) for _ in range(closed + open_count)]
    sit.vars["closed"] = set(range(closed))


@given("the bill has a credit adjustment of {amount:Money}", needs="layout:charge_lines")
def credit_adjustment(sit: ScenarioContext, amount: Decimal) -> None:
    """A charge line of minus this amount inside the (positive) bill, before its other lines."""
    sit.vars.setdefault("adjustments", {}).setdefault(0, []).append(f"{-amount:.2f}")


@given("the partner has an invoice file for today with {count:Count} bills for customers with accented names")
def invoice_file_accented(sit: ScenarioContext, count: int) -> None:
    """Good bills whose customer names have letters beyond ASCII (é, ñ, Å, Š, Œ)."""
    sit.vars["records"] = [sit.invoice_record(name=sit.accented_name()) for _ in range(count)]


@given('the invoice file is written in "{encoding:Text}"')
def file_encoding(sit: ScenarioContext, encoding: str) -> None:
    """The file's encoding, declared in its XML prolog (ISO-8859-1, windows-1252, UTF-8)."""
    sit.vars["encoding"] = encoding


@given("the invoice file starts with a byte-order mark")
def file_bom(sit: ScenarioContext) -> None:
    """The UTF-8 byte-order mark some partner systems write before the XML prolog."""
    sit.vars["bom"] = True


@given("the invoice file also has these faulty records:")
def faulty_records(sit: ScenarioContext, datatable: list[list[str]]) -> None:
    """Adds one faulty record per row; faults: missing account number, negative amount,
    non-numeric amount, amount with three decimals, amount with an exponent, bad due date,
    duplicate invoice number."""
    records = sit.vars["records"]
    for (fault,) in datatable[1:]:
        if fault == "duplicate invoice number":
            change = {"invoice_number": records[0]["invoice_number"]}
        elif fault in FAULTS:
            change = FAULTS[fault]
        else:
            known = ", ".join([*FAULTS, "duplicate invoice number"])
            raise ValueError(f"unknown fault {fault!r} (one of: {known})")
        records.append({**sit.invoice_record(), **change})


@given("the partner uploads the invoice file to the platform's sFTP inbox")
@when("the partner uploads the invoice file to the platform's sFTP inbox")
def upload_invoice_file(sit: ScenarioContext) -> None:
    """The partner puts the file on the platform's sFTP server under its usual name."""
    name, content = _invoice_file(sit)
    sit.partner.upload(name, content)
    sit.vars["content"] = content
    sit.vars["file"] = {"path": name, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def _invoice_file(sit: ScenarioContext) -> tuple[str, bytes]:
    """The scenario's records as the partner writes its invoice file: its XML export, or the biller's layout
    (with the trailer and lines the scenario spoiled)."""
    today, spec = sit.session.today, sit.biller.file_for("invoice_load")
    if spec is not None:
        name = spec.name(today)
        records = sit.vars["records"]
        trailer: dict[str, Value] = {}
        if sit.vars.get("miscount"):
            trailer[control_field(spec, "count")] = len(records) + 1
        if (more := sit.vars.get("total_off")) is not None:
            trailer[control_field(spec, "total")] = sum(Decimal(r["amount_due"]) for r in records) + more
        content = sit.session.partner.files.file(spec, records, name, today, bom=sit.vars.get("bom", False),
                                                 trailer=trailer)
        return name, _spoiled(content, spec, sit.vars.get("spoil"))
    layout = sit.biller.partner.invoice_file
    assert layout is not None  # a partner's invoices are its export or a file of its own (the profile says)
    content = render_invoice_file(layout, sit.vars["records"], closed=sit.vars.get("closed", ()),
                                  adjustments=sit.vars.get("adjustments"), encoding=sit.vars.get("encoding", "UTF-8"),
                                  bom=sit.vars.get("bom", False))
    return expected_file_name(layout, today), content


def _spoiled(content: bytes, spec: FileSpec, how: str | None) -> bytes:
    """The file with a line spoiled as a partner's system might: ``stray``, a copy of the first bill's line
    under a record type the layout does not know, after it; ``cut``, the last bill's line cut in half."""
    if how is None:
        return content
    lines = content.splitlines(keepends=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file"
        path.write_bytes(content)
        details = [item.line for item in layouts.read(path, spec.layout)
                   if isinstance(item, layouts.Record) and item.kind == "detail"]
    if how == "cut":
        last = lines[details[-1] - 1]
        body = last.rstrip(b"\r\n")
        lines[details[-1] - 1] = body[:len(body) // 2] + last[len(body):]
        return b"".join(lines)
    first = lines[details[0] - 1]
    slot = getattr(spec.layout, "record_type", None)
    code = (spec.layout.detail.code or "").encode()
    if slot is None or not code:
        raise SitError("the invoice file's layout has no record types: tag the scenario @layout:record_types")
    stray = b"Z" * len(code)
    at = 0 if slot.column is not None else slot.start - 1
    if slot.column is not None and slot.column != 1:
        raise SitError("a stray record type is written in the first column only")
    lines.insert(details[0], first[:at] + stray + first[at + len(code):])
    return b"".join(lines)


@given("the invoice file's trailer counts one record more than it holds")
def trailer_miscounts(sit: ScenarioContext) -> None:
    """The trailer's record count (its control field) is one more than the bills the file holds."""
    sit.vars["miscount"] = True


@given("the invoice file's trailer total is 0.01 more than its bills")
def trailer_total_off(sit: ScenarioContext) -> None:
    """The trailer's control total of the amounts due is a cent more than the bills add up to."""
    sit.vars["total_off"] = Decimal("0.01")


@given("the invoice file has a line of a record type the layout does not know among its bills")
def stray_record_type(sit: ScenarioContext) -> None:
    """After the first bill, a copy of its line under a record type code the layout does not name."""
    sit.vars["spoil"] = "stray"


@given("one bill's line in the invoice file is cut short")
def line_cut_short(sit: ScenarioContext) -> None:
    """The last bill's line ends halfway, as a transfer or an export cut short leaves it."""
    sit.vars["spoil"] = "cut"


@when("the partner uploads the same invoice file again under another name")
def upload_again(sit: ScenarioContext) -> None:
    """The partner sends the file it sent before, byte for byte, under a new name its pick-up pattern takes
    (the day's next file number, where the biller's file names have one)."""
    first = Path(sit.vars["file"]["path"])
    spec = sit.biller.file_for("invoice_load")
    if spec is not None and "{seq}" not in spec.naming:
        raise SitError(f"the invoice file's naming ({spec.naming}) gives a day's file one name only: no other name")
    again = spec.name(sit.session.today, 2) if spec is not None else f"{first.stem}-again{first.suffix}"
    sit.partner.upload(again, sit.vars["content"])
    sit.vars["again"] = again


@given("the platform imports its sFTP inbox")
@when("the platform imports its sFTP inbox")
def import_inbox(sit: ScenarioContext) -> None:
    """The platform's import job picks up the partner's files and maps them to BIF."""
    sit.vars["import"] = sit.platform.import_inbox()


@when("the platform imports its sFTP inbox again")
def import_inbox_again(sit: ScenarioContext) -> None:
    """The import job runs again, as at its next poll, with the files it took still on the inbox."""
    sit.vars["import_again"] = sit.platform.import_inbox()


@then("the second import loads nothing, as the file was imported already")
def second_import_loads_nothing(sit: ScenarioContext) -> None:
    """A file the platform imported once is not imported again: its bills are not loaded twice."""
    report = sit.vars["import_again"]
    loaded = [f"{counted('bill')(report.accepted)} from {', '.join(report.files)}"] if report.files else []
    sit.expect("the second import to load {}", [], loaded, "the second import loaded {}", instead="it loaded {}",
               show=listed(str, none="nothing"))


@then("the second import refuses the file as the same as the first, loading nothing")
def second_import_refuses_the_duplicate(sit: ScenarioContext) -> None:
    """A file the partner sent twice is refused by its content (its SHA-256), naming the first one."""
    report, again, first = sit.vars["import_again"], sit.vars["again"], sit.vars["file"]["path"]
    wanted = f"{again} as the same file as {first}"
    refused = any(r.startswith(f"{again}: the same file as {first} ") for r in report.rejected)
    seen = (wanted if refused else "nothing") + (f" and loaded {counted('bill')(report.accepted)}"
                                                 if report.accepted else "")
    sit.expect("the second import to refuse {}, loading nothing", wanted, seen, "the second import refused {}",
               instead="it refused {}")


@then('the platform refuses the invoice file whole, naming "{text:Text}"')
def refused_whole(sit: ScenarioContext, text: str) -> None:
    """The import refused the file as a whole (nothing of it loads), and what it says names ``text``."""
    report, name = sit.vars["import"], sit.vars["file"]["path"]
    said = [r for r in report.rejected if r.startswith(f"{name}")]
    whole = bool(said) and "the whole file is rejected" in said[0]
    sit.expect("the platform to refuse {} whole", name, name if whole else "nothing", "the platform refused {} whole",
               instead="it refused {} whole" if said else "it refused nothing whole")
    sit.expect(f'the refusal to name "{text}"', True, any(text in r for r in said), f'the refusal {{}} "{text}"',
               instead=f"it says {_rejections(said)}", show={True: "names", False: "does not name"})


@then("the platform received the invoice file intact")
def file_intact(sit: ScenarioContext) -> None:
    """The sFTP server got the file whole: same name, size and SHA-256 as sent."""
    got = [{k: f[k] for k in ("path", "size", "sha256")} for f in sit.partner.files_received()]
    sit.expect("the platform's sFTP server to receive {}", [sit.vars["file"]], got,
               "the platform's sFTP server received {}", instead="it received {}", show=_files)


@then("{count:Count} bills are loaded and none is rejected")
@then("{count:Count} bill is loaded and none is rejected")
def loaded_none_rejected(sit: ScenarioContext, count: int) -> None:
    """The import accepted exactly this many bills and rejected nothing."""
    report = sit.vars["import"]
    # Rejections first: where a file did not load, the reason says why (a count would say only how many).
    sit.expect("the platform to reject {}", [], list(report.rejected), "the platform rejected {}",
               instead="it rejected {}", show=_rejections)
    _loaded(sit, count)


def _loaded(sit: ScenarioContext, count: int) -> None:
    sit.expect("the platform to load {}", count, sit.vars["import"].accepted, "the platform loaded {}",
               instead="it loaded {}", show=counted("bill"))


@then("{count:Count} bills are loaded")
def loaded(sit: ScenarioContext, count: int) -> None:
    """The import accepted exactly this many bills."""
    _loaded(sit, count)


@then("every bill matches its record in the file")
def bills_match(sit: ScenarioContext) -> None:
    """Each loaded bill carries its record's invoice number, amounts, due date and customer name."""
    for record in sit.vars["records"]:
        bills = sit.platform.bills(record["account_number"])
        got = [(b.invoice_number, f"{b.amount_due:.2f}", f"{b.past_due:.2f}", str(b.due_date), b.customer_name)
               for b in bills]
        want = [(record["invoice_number"], record["amount_due"], record["past_due"], record["due_date"],
                 record["customer_name"])]
        sit.expect(f"account {record['account_number']} to have {{}}", want, got,
                   f"account {record['account_number']} has {{}}", instead="it has {}", show=_bills)


@then("the rejected records give these reasons:")
def rejected_reasons(sit: ScenarioContext, datatable: list[list[str]]) -> None:
    """One rejection per row, each naming the reason in the row."""
    rejected = list(sit.vars["import"].rejected)
    sit.expect("the platform to reject {}", len(datatable) - 1, len(rejected), "the platform rejected {}",
               instead="it rejected {}", show=counted("record"))
    for (reason,) in datatable[1:]:
        sit.expect(f"a rejection to say '{reason}'", True, any(reason in r for r in rejected),
                   f"{{}} rejection says '{reason}'", show={True: "a", False: "no"})


@then("the payer's bill shows {amount:Money} due of which {past_due:Money} is past due")
def bill_shows(sit: ScenarioContext, amount: Decimal, past_due: Decimal) -> None:
    """The bill the payer sees carries the amount due and the past due part."""
    (bill,) = sit.platform.bills(sit.vars["records"][0]["account_number"])
    sit.expect("the payer's bill to show {} due", amount, bill.amount_due, "the payer's bill shows {} due",
               instead="it shows {}")
    sit.expect("the payer's bill to show {} past due", past_due, bill.past_due, "the payer's bill shows {} past due",
               instead="it shows {}")


@then("the payer is presented {count:Count} bills totalling {total:Money}")
@then("the payer is presented {count:Count} bill totalling {total:Money}")
def presented(sit: ScenarioContext, count: int, total: Decimal) -> None:
    """How many bills the payer sees for the account, and their sum."""
    bills = sit.platform.bills(sit.vars["records"][0]["account_number"])
    sit.expect("the payer to be presented {}", count, len(bills), "the payer is presented {}",
               instead="they are presented {}", show=counted("bill"))
    sit.expect("the bills presented to total {}", total, sum((b.amount_due for b in bills), Decimal(0)),
               "the bills presented total {}", instead="they total {}")


@then("the payer is presented only the open items")
def presented_open_items(sit: ScenarioContext) -> None:
    """The account's bills are its open items, each once; no closed item of the file is among them."""
    closed = sit.vars.get("closed", set())
    records = sit.vars["records"]
    want = [(r["invoice_number"], Decimal(r["amount_due"])) for i, r in enumerate(records) if i not in closed]
    account = records[0]["account_number"]
    got = [(b.invoice_number, b.amount_due) for b in sit.platform.bills(account)]
    sit.expect(f"the payer of account {account} to be presented {{}}", want, got,
               f"the payer of account {account} is presented {{}}", instead="they are presented {}", show=_presented)


@then("each account is presented its bills as the partner's billing model says")
def presented_by_billing_model(sit: ScenarioContext) -> None:
    """Balance forward: each account's latest bill only (it carries the balance forward); open items:
    every bill of the account. The model is the partner profile's ``billing_model``."""
    model = sit.biller.partner.billing_model
    words, presented = _BILLING_MODELS[model]
    by_account: dict[str, list[tuple[str, Decimal]]] = {}
    for record in sit.vars["records"]:
        by_account.setdefault(record["account_number"], []).append(
            (record["invoice_number"], Decimal(record["amount_due"])))
    for account, bills in by_account.items():
        got = [(b.invoice_number, b.amount_due) for b in sit.platform.bills(account)]
        sit.expect(f"account {account} to be presented {words}: {{}}", presented(bills), got,
                   f"account {account} is presented {{}}", instead="it is presented {}", show=_presented)
