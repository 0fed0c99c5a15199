"""A file partner's side of its files: what it sends the platform and how it reads what it fetches.

A partner whose integration is files (STW/OpenGov) has no API to stub: its adapter is a ``FileCodec``
(registered like any adapter, ``Adapter(files=...)``). The layouts are data in the profiles; the
codec says what the partner means by a line: which posting a payment file line is, in the
platform's words, and what an adjustment record holds. Both sides state a file's header and
trailer the same way (``control_values``), so the reader on either side checks what the writer wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from harness import layouts
from harness.errors import ProfileError
from harness.layouts.values import Raw, Value
from harness.profiles import Biller
from harness.profiles.models import FileSpec

# The posting roles a payment file line may carry, each written with its transaction code.
POSTING_ROLES = ("payment", "credit", "ach_return", "void", "paperless_change", "autopay_change", "phone_change",
                 "email_change")
OUTBOX = "outbox"  # the folder of the platform's sFTP account the partner fetches its files from
PAYMENT_FILE_CALL = "payment file"  # how a line the partner read is named where an API partner names its call
REVERSING_ROLES = ("ach_return", "void")  # their amounts take a payment's money back: negative where signed


def transaction_code(biller: Biller, role: str) -> str:
    """The code a posting role is written with in the payment file: the biller's or partner's ``codes``
    entry of the role's name, else the role itself."""
    return biller.code(role) or role


def control_values(spec: FileSpec, biller: Biller, day: date, name: str) -> dict[str, dict[str, Value]]:
    """The header and trailer values the sender states itself (the business date, the BID, the file's
    name), for the fields the layout has; record counts and control totals the writer computes."""
    known: dict[str, Value] = {"date": day, "bid": str(biller.profile.bid), "file": name}
    out: dict[str, dict[str, Value]] = {}
    for kind, record in (("header", spec.layout.header), ("trailer", spec.layout.trailer)):
        if record is not None:
            out[kind] = {f.name: known[f.name] for f in record.fields if not f.control and f.name in known}
    return out


def typed(spec: FileSpec, record: Mapping[str, str]) -> dict[str, Value]:
    """A record given as text (ISO dates, plain amounts) as the layout's values; text that is no value of
    its field's type is written as it is (``Raw``), as a partner that got it wrong would."""
    fields = {f.name: f for f in spec.layout.detail.fields}
    out: dict[str, Value] = {}
    for name, text in record.items():
        field = fields.get(name)
        kind = field.type if field else "text"
        signed = field is not None and field.signed
        try:
            out[name] = (Decimal(text) if kind == "amount" and _plain_amount(text, signed) else
                         date.fromisoformat(text) if kind == "date" and text else
                         text if kind == "text" or not text else Raw(text))
        except ValueError:
            out[name] = Raw(_as_written(text, field.date_format or spec.layout.date_format) if field else text)
    return out


def _as_written(text: str, date_format: str) -> str:
    """An ISO date that is no date (2026-13-45) as the layout would write it (13/45/2026, 13452026); other
    text as it is."""
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if match is None:
        return text
    year, month, day = match.groups()
    return date_format.replace("%Y", year).replace("%y", year[2:]).replace("%m", month).replace("%d", day)


def _plain_amount(text: str, signed: bool) -> bool:
    digits = text[1:] if signed and text.startswith("-") else text
    return digits.replace(".", "", 1).isdigit() and len(digits.partition(".")[2]) <= 2


def _text(value: Value) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


class FileCodec:
    """The partner's reading of the platform's files and writing of its own, for one biller."""

    def __init__(self, biller: Biller) -> None:
        self.biller = biller
        self._roles = {transaction_code(biller, role): role for role in POSTING_ROLES}

    def decode(self, spec: FileSpec, values: Mapping[str, Value]) -> tuple[str, dict[str, str]]:
        """A payment file line as the call name and fields the steps read (``role``, ``account``,
        ``amount``, ``reference``, ``method``, ``original``, ``return_code``, ``value``...); a transaction
        code the partner does not know reads as no role, so the line is no posting the steps expect.
        Where the amount is signed, a return or void takes money back: its amount is the negative one it
        books, so one written positive reads as what it would do (-52.00 taken back)."""
        code = str(values.get("transaction") or "")
        role = self._roles.get(code, "")
        amount = values.get("amount")
        if isinstance(amount, Decimal) and spec.signed("amount") and role in REVERSING_ROLES:
            values = {**values, "amount": -amount}
        fields = {name: text for name, value in values.items() if name != "transaction" and (text := _text(value))}
        return PAYMENT_FILE_CALL, {**fields, "code": code, "role": role}

    def adjustment(self, spec: FileSpec, account: str, held: Mapping[str, Decimal | str]) -> dict[str, str]:
        """The adjustment file record that says ``account`` holds ``held`` (by balance role); a role the
        layout has no field for is a profile fault, naming the file."""
        fields = {f.name for f in spec.layout.detail.fields}
        missing = sorted(set(held) - fields)
        if missing:
            raise ProfileError(f"the balance adjustment file's layout has no '{missing[0]}' field (files, in the "
                               f"biller or partner profile of {self.biller.profile.name}); the scenario cannot be "
                               "arranged")
        return {"account_number": account,
                **{role: f"{value:.2f}" if isinstance(value, Decimal) else value for role, value in held.items()}}

    def file(self, spec: FileSpec, records: list[Mapping[str, str]], name: str, day: date, *,
             bom: bool = False, trailer: Mapping[str, Value] | None = None) -> bytes:
        """A file the partner sends (invoices, adjustments), its records given as text, with the header and
        trailer it states (``trailer``: values that override what it would state, a count that is wrong)."""
        controls = control_values(spec, self.biller, day, name)
        fields = {f.name for f in spec.layout.detail.fields}  # what its layout does not carry, a partner never writes
        details = [typed(spec, {k: v for k, v in r.items() if k in fields}) for r in records]
        return layouts.render(spec.layout, details, header=controls.get("header"),
                              trailer={**controls.get("trailer", {}), **(trailer or {})}, bom=bom)


def control_field(spec: FileSpec, control: str) -> str:
    """The name of the trailer's control field of this kind (count, total); a layout without one is the
    scenario's to avoid (tag it @layout:trailer)."""
    fields = spec.layout.trailer.fields if spec.layout.trailer else []
    found = next((f.name for f in fields if f.control == control), None)
    if found is None:
        raise ProfileError(f"the file's layout has no trailer {control} field: tag the scenario @layout:trailer")
    return found
