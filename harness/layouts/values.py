"""Field values read from text and written back: exact amounts, dates, integers.

Shared by every layout and by the invoice loader, so that a value means the same in any file:
amounts are plain decimals parsed by hand (never through float; no exponent, NaN or underscore,
which Decimal would accept), dates go through ``strptime`` once per distinct text.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

Value = str | Decimal | date | int | None


class Raw(str):
    """Text a writer puts in a field as it is, whatever the field's type: how a test writes the value a
    partner got wrong (an amount "abc", a date "13/45/2026") for the reader to reject."""

_AMOUNT = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d*)(?:\.(?P<frac>\d*))?")
_DIGITS = re.compile(r"\d+")
MAX_WHOLE_DIGITS = 12


class Fault(ValueError):
    """One field's problem; its message is the phrase a rejection states."""


def quote(text: str, limit: int = 40) -> str:
    """Quote a value for a reason, cut short: a partner's field may be megabytes long."""
    return f"'{text}'" if len(text) <= limit else f"'{text[:limit]}…'"


@lru_cache(maxsize=8)
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def parse_amount(text: str, label: str, *, signed: bool = False, places: int = 2) -> Decimal:
    """A plain decimal with at most ``places`` decimals, quantized to them; negative only if ``signed``."""
    match = _AMOUNT.fullmatch(text)
    if match is None or not (match["whole"] or match["frac"]):
        raise Fault(f"{label} {quote(text)} {'is not a plain amount' if _is_decimal(text) else 'is not a number'}")
    whole = match["whole"].lstrip("0")
    frac = (match["frac"] or "").rstrip("0")
    negative = match["sign"] == "-" and bool(whole or frac)
    if negative and not signed:
        raise Fault(f"{label} {quote(text)} is negative")
    if len(frac) > places:
        raise Fault(f"{label} {quote(text)} has more than {places} decimals")
    if len(whole) > MAX_WHOLE_DIGITS:
        raise Fault(f"{label} {quote(text)} is too large (more than {MAX_WHOLE_DIGITS} digits)")
    return Decimal(f"{'-' if negative else ''}{whole or 0}.{frac or 0}").quantize(_quantum(places))


def parse_implied(digits: str, label: str, *, negative: bool, places: int) -> Decimal:
    """Digits whose last ``places`` are the fraction (000001234 with 2 places is 12.34)."""
    if not _DIGITS.fullmatch(digits):
        raise Fault(f"{label} {quote(digits)} is not a number (digits only, {places} decimals implied)")
    if len(digits.lstrip("0")) > MAX_WHOLE_DIGITS + places:
        raise Fault(f"{label} {quote(digits)} is too large (more than {MAX_WHOLE_DIGITS} digits)")
    value = Decimal(int(digits)).scaleb(-places)
    return -value if negative and value else value


def parse_integer(text: str, label: str, *, signed: bool = False) -> int:
    body = text[1:] if text[:1] in ("+", "-") else text
    if not _DIGITS.fullmatch(body):
        raise Fault(f"{label} {quote(text)} is not a whole number")
    if text[:1] == "-" and not signed and int(body):
        raise Fault(f"{label} {quote(text)} is negative")
    return -int(body) if text[:1] == "-" else int(body)


@lru_cache(maxsize=1024)
def _strptime(text: str, date_format: str) -> date:
    """strptime is slow and a file repeats a handful of dates, so parse each once."""
    return datetime.strptime(text, date_format).date()


def parse_date(text: str, label: str, date_format: str) -> date:
    try:
        return _strptime(text, date_format)
    except ValueError:
        raise Fault(f"{label} {quote(text)} is not a date (expected {date_shape(date_format)})") from None


_SHAPES = {"%Y": "yyyy", "%y": "yy", "%m": "mm", "%d": "dd", "%b": "Mon", "%j": "ddd"}


def date_shape(date_format: str) -> str:
    """A strftime format as a person reads it: %m/%d/%Y -> mm/dd/yyyy."""
    for code, shape in _SHAPES.items():
        date_format = date_format.replace(code, shape)
    return date_format


def format_amount(value: Decimal, places: int) -> str:
    """``value`` with exactly ``places`` decimals; refuses one it would have to round."""
    exact = value.quantize(_quantum(places))
    if exact != value:
        raise ValueError(f"{value} has more than {places} decimals")
    return f"{exact:f}"


def _is_decimal(text: str) -> bool:
    """Whether Decimal reads ``text`` as a number: 1e3, 1_000, NaN, Infinity are numbers, not money."""
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True
