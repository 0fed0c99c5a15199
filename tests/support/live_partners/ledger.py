"""What a live partner holds: its accounts (from its data file) and every posting it took.

One ledger per server process, shared by the request threads under one lock. It behaves as a
partner's books do: a payment or a credit lowers the balance (the past due part first), a
return or a void puts the original amount back, and a reference already taken is taken only
once: the second time the caller hears which item took it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

_AMOUNT = re.compile(r"\d+\.\d{2}")
LOWERS = ("payment", "credit")  # what lowers the balance; a return or void of one puts it back
REVERSES = ("return", "void")


class DataError(ValueError):
    """The data file is not what a partner could hold: names the file and the field."""


@dataclass
class Account:
    number: str
    customer_name: str
    balance: Decimal
    past_due: Decimal = Decimal("0.00")
    block_indicator: str = ""
    budget_amount: Decimal | None = None
    paperless: bool = False
    autopay: bool = False


@dataclass
class Item:
    """One posting the partner took, under the number it gave it (its AR item or receipt number)."""

    number: str
    reference: str
    account: str
    kind: str  # payment, credit, return, void, change
    amount: Decimal | None = None
    original: str | None = None
    reversed_by: str | None = None


@dataclass
class Ledger:
    name: str
    accounts: dict[str, Account]
    numbering: str  # a format with {n}: how the partner numbers what it takes
    next_number: int
    codes: dict[str, list[str]] = field(default_factory=dict)  # codes the partner has set up, by kind
    items: dict[str, Item] = field(default_factory=dict)  # by the caller's reference
    lock: threading.Lock = field(default_factory=threading.Lock)

    def account(self, number: str) -> Account | None:
        return self.accounts.get(number)

    def taken(self, reference: str) -> Item | None:
        return self.items.get(reference)

    def take(self, reference: str, account: Account, kind: str, amount: Decimal | None = None,
             original: Item | None = None) -> Item:
        """Book one posting (the caller checked it) and apply it to the account."""
        item = Item(self.numbering.format(n=self.next_number), reference, account.number, kind, amount,
                    original.reference if original else None)
        self.next_number += 1
        self.items[reference] = item
        if kind in LOWERS and amount is not None:
            account.balance -= amount
            account.past_due = max(Decimal("0.00"), account.past_due - amount)
        elif kind in REVERSES and original is not None:
            original.reversed_by = reference
            account.balance += original.amount or Decimal("0.00")
        return item


def load_ledger(path: Path) -> Ledger:
    """The partner's books as its data file (YAML) holds them; a one-line DataError for bad data."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: cannot be read as YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list) or not data["accounts"]:
        raise DataError(f"{path}: field 'accounts' must list the partner's accounts")
    allowed = [str(code) for code in data.get("block_indicators") or []]
    accounts: dict[str, Account] = {}
    for index, raw in enumerate(data["accounts"]):
        account = _account(path, f"accounts[{index}]", raw, allowed)
        if account.number in accounts:
            raise DataError(f"{path}: accounts[{index}].number: {account.number} is listed twice")
        accounts[account.number] = account
    numbering = data.get("numbering") or {}
    codes = {str(kind): [str(code) for code in values] for kind, values in (data.get("codes") or {}).items()}
    return Ledger(str(data.get("name") or path.stem), accounts, str(numbering.get("format", "{n}")),
                  int(numbering.get("first", 1)), codes)


def _account(path: Path, where: str, raw: Any, allowed: list[str]) -> Account:
    if not isinstance(raw, dict) or not str(raw.get("number") or "").strip():
        raise DataError(f"{path}: {where}.number: every account needs a number (as text, leading zeros kept)")
    indicator = str(raw.get("block_indicator") or (allowed[0] if allowed else ""))
    if allowed and indicator not in allowed:
        raise DataError(f"{path}: {where}.block_indicator: '{indicator}' is not one of {', '.join(allowed)}")
    budget = raw.get("budget_amount")
    return Account(
        number=str(raw["number"]), customer_name=str(raw.get("customer_name") or ""),
        balance=_amount(path, f"{where}.balance", raw.get("balance")),
        past_due=_amount(path, f"{where}.past_due", raw.get("past_due", "0.00")),
        block_indicator=indicator,
        budget_amount=None if budget is None else _amount(path, f"{where}.budget_amount", budget),
    )


def _amount(path: Path, where: str, value: Any) -> Decimal:
    # Amounts are text in the file: a YAML float would lose the cents' zeros, or worse.
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise DataError(f"{path}: {where}: {value!r} is not an amount as text with two decimals, e.g. \"45.10\"")
    return Decimal(value)
