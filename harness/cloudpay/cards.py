"""The cards the hosted page takes in test: what the payer types, checked, and the platform's answer.

Test cards (the platform never charges a real card): 4111111111111111 approves, 4000000000000002
declines; any other well-formed number declines as not a test card.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

APPROVING_CARD = "4111111111111111"
DECLINING_CARD = "4000000000000002"
_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


@dataclass(frozen=True)
class Card:
    """A card as the payer typed it. Only ``last4`` and ``brand`` ever leave this object."""

    number: str
    name: str

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def brand(self) -> str:
        if self.number.startswith("4"):
            return "VISA"
        if self.number[:2] in ("34", "37"):
            return "AMEX"
        if self.number.startswith(("6011", "65")):
            return "DISCOVER"
        if 51 <= int(self.number[:2]) <= 55 or 2221 <= int(self.number[:4]) <= 2720:
            return "MASTERCARD"
        return "CARD"


@dataclass(frozen=True)
class Authorization:
    approved: bool
    message: str


def read_card(form: Mapping[str, str], today: date) -> Card:
    """The card the page's form carries; ValueError with what to correct (shown to the payer)."""
    number = re.sub(r"[\s-]", "", form.get("CardNumber", ""))
    if not number.isdigit() or not 13 <= len(number) <= 19 or not _luhn(number):
        raise ValueError("Enter a valid card number.")
    match = _EXPIRY.match(form.get("Expiry", ""))
    if match is None or not 1 <= int(match.group(1)) <= 12:
        raise ValueError("Enter the expiry date as MM/YY.")
    month, year = int(match.group(1)), int(match.group(2))
    year += 2000 if year < 100 else 0
    if (year, month) < (today.year, today.month):
        raise ValueError("The card has expired.")
    if not re.fullmatch(r"\d{3,4}", form.get("CVV", "").strip()):
        raise ValueError("Enter the card's 3 or 4 digit security code.")
    name = form.get("NameOnCard", "").strip()
    if not name:
        raise ValueError("Enter the name on the card.")
    return Card(number=number, name=name)


def authorize(card: Card) -> Authorization:
    """The test processor's answer for ``card``."""
    if card.number == APPROVING_CARD:
        return Authorization(approved=True, message="Approved")
    if card.number == DECLINING_CARD:
        return Authorization(approved=False, message="Declined: insufficient funds")
    return Authorization(approved=False, message="Declined: not a test card")


def _luhn(number: str) -> bool:
    total = 0
    for index, digit in enumerate(int(d) for d in reversed(number)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
