"""The platform's files with a partner whose integration is files: what comes in (invoices, balance
adjustments) and the payment file that goes out at batch close.

Every file is read and written by ``harness.layouts`` with the layout the biller's or partner's
profile gives it, and is taken whole or not at all. Field names are the platform's (``FILE_FIELDS``):
a layout says where each sits in the partner's file, never what it means.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

from harness import layouts
from harness.layouts.values import Value
from harness.partners import PostingKind
from harness.partners.files import REVERSING_ROLES, transaction_code
from harness.platform.bif import BifRecord
from harness.platform.port import Transaction
from harness.profiles import Biller
from harness.profiles.models import FileSpec

T = TypeVar("T")


def role_of(tx: Transaction) -> str:
    """The posting role of a transaction: payment, credit, ach_return, void, <program>_change."""
    return f"{tx.program}_change" if tx.kind == PostingKind.CHANGE else tx.kind


def posting_record(tx: Transaction, biller: Biller, spec: FileSpec, posted_on: date) -> dict[str, Value]:
    """One payment file detail record for ``tx``, holding the fields the layout has."""
    amount = tx.amount
    if amount is not None and spec.signed("amount") and tx.kind in REVERSING_ROLES:
        amount = -amount
    role = role_of(tx)
    values: dict[str, Value] = {
        "transaction": transaction_code(biller, role), "reference": tx.key, "account": tx.account,
        "amount": amount, "method": tx.method, "original": tx.original, "return_code": tx.code, "date": posted_on,
        "program": tx.program, "value": tx.value, "channel": tx.channel,
        "payment_code": _payment_code(biller, tx),
    }
    return {f.name: values.get(f.name) for f in spec.layout.detail.fields}


def _payment_code(biller: Biller, tx: Transaction) -> str | None:
    if tx.kind != PostingKind.PAYMENT or tx.method is None:
        return None
    online = tx.channel in ("web", "mobile")
    return biller.code("payment_cc" if tx.method == "CC" else "payment_obd" if online else "payment_ach")


def write_payment_file(outbox: Path, spec: FileSpec, name: str, details: list[dict[str, Value]],
                       controls: Mapping[str, Mapping[str, Value]]) -> Path:
    """The payment file, written beside its place and renamed into it (never half-written)."""
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / name
    layouts.write(path, spec.layout, details, header=controls.get("header"), trailer=controls.get("trailer"))
    return path


def bill(values: Mapping[str, Value], bid: int, invoice_type: int) -> BifRecord:
    """An invoice file's detail record as a BIF bill (the layout's fields carry BIF names)."""
    fields: dict[str, Any] = {name: value for name, value in values.items() if value is not None}
    for amount in ("amount_due", "past_due"):
        fields.setdefault(amount, Decimal("0.00"))
    return BifRecord(bid=bid, invoice_type=invoice_type, **fields)


@dataclass
class Taken(Generic[T]):
    """A file of the biller's layout as the platform takes it: whole (its records, each with the line it was
    read from, and the records it rejected) or refused whole (``refusal``), with no record at all."""

    file: str
    records: list[tuple[int, T]] = field(default_factory=list)
    rejected: list[layouts.Rejection] = field(default_factory=list)
    refusal: layouts.Rejection | None = None


def _taken(path: Path, spec: FileSpec) -> tuple[layouts.LoadedFile, Taken[Any] | None]:
    """The file read whole; with the Taken that refuses it, where it does not stand."""
    loaded = layouts.load(path, spec.layout)
    if loaded.accepted:
        return loaded, None
    refusal = next(r for r in loaded.rejected if r.whole_file)
    return loaded, Taken(path.name, rejected=[r for r in loaded.rejected if not r.whole_file], refusal=refusal)


def read_bills(path: Path, spec: FileSpec, bid: int, invoice_type: int) -> Taken[BifRecord]:
    """The bills of an invoice file in the layout ``spec``, as a run loads them (and `sit invoices check`):
    a record repeating an earlier one's invoice number is rejected, naming the first."""
    loaded, refused_whole = _taken(path, spec)
    if refused_whole is not None:
        return refused_whole
    refused = dict(duplicates(loaded.records, "invoice_number", path.name))
    bills = [(record.line, bill(record.values, bid, invoice_type)) for index, record in enumerate(loaded.records)
             if index not in refused]
    return Taken(path.name, bills, [*loaded.rejected, *refused.values()])


def read_adjustments(path: Path, spec: FileSpec) -> Taken[Mapping[str, Value]]:
    """The records of a balance adjustment file in the layout ``spec``: each account's balance as it says."""
    loaded, refused_whole = _taken(path, spec)
    if refused_whole is not None:
        return refused_whole
    return Taken(path.name, [(record.line, record.values) for record in loaded.records], loaded.rejected)


def duplicates(records: Iterable[layouts.Record], field: str, file: str) -> Iterator[tuple[int, layouts.Rejection]]:
    """The records (by index) whose ``field`` repeats an earlier record's: each rejected, naming the first."""
    first: dict[Value, int] = {}
    for index, record in enumerate(records):
        value = record.values.get(field)
        if value in (None, ""):
            continue
        seen = first.setdefault(value, record.line)
        if seen != record.line:
            yield index, layouts.Rejection(file, record.line, field, f"duplicate {field.replace('_', ' ')} "
                                           f"'{value}' (first on line {seen})", "the record is not loaded")
