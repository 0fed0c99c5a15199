"""One field's text <-> value, compiled once per layout: the reader and the writer share it,
so whatever the writer puts in a field the reader takes back as the same value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from harness.layouts.models import NUMERIC, LayoutField
from harness.layouts.values import (
    Fault,
    Raw,
    Value,
    format_amount,
    parse_amount,
    parse_date,
    parse_implied,
    parse_integer,
)


@dataclass(frozen=True, slots=True)
class Codec:
    spec: LayoutField
    label: str  # the field as a rejection names it: name and where it sits
    decode: Callable[[str], Value]  # raises Fault
    encode: Callable[[Value], str]  # raises ValueError: the caller's value does not fit the layout


def plain_codec(spec: LayoutField, label: str, date_format: str) -> Codec:
    """A field whose text is the value alone (csv, xml): empty text is a missing value."""
    fmt = spec.date_format or date_format

    def decode(text: str) -> Value:
        if not text:
            if spec.required:
                raise Fault(f"missing {label}")
            return "" if spec.type == "text" else None
        return _value(spec, label, fmt, text)

    def encode(value: Value) -> str:
        if value is None or value == "":
            return ""
        sign, body = _text(spec, fmt, value)
        if spec.sign == "trailing":
            return body + (sign or "+")
        return sign + body

    return Codec(spec, label, decode, encode)


def fixed_codec(spec: LayoutField, label: str, date_format: str, length: int) -> Codec:
    """A field at fixed positions: padded with ``spec.fill`` on the side away from its alignment;
    a blank field is a missing value, a number of all zeros is zero."""
    fmt, fill, right, numeric = spec.date_format or date_format, spec.fill, spec.right, spec.type in NUMERIC
    trailing = spec.sign == "trailing"

    def decode(raw: str) -> Value:
        if not raw.strip():
            if spec.required:
                raise Fault(f"missing {label}")
            return "" if spec.type == "text" else None
        text, sign = raw, ""
        if trailing:
            sign, text = raw[-1], raw[:-1]
            if sign not in ("+", "-"):
                raise Fault(f"{label} '{raw}' has no trailing sign (+ or -)")
        elif numeric and text[:1] in ("+", "-"):
            sign, text = text[0], text[1:]
        text = text.lstrip(fill) if right else text.rstrip(fill)
        if numeric and not trailing and not sign and text[:1] in ("+", "-"):  # a sign after space padding
            sign, text = text[0], text[1:]
        if numeric and not text:
            text = "0"
        return _value(spec, label, fmt, ("-" if sign == "-" else "") + text if numeric else text)

    def encode(value: Value) -> str:
        if value is None or value == "":
            return " " * length
        sign, body = _text(spec, fmt, value)
        if trailing:
            text = (body.rjust if right else body.ljust)(length - 1, fill) + (sign or "+")
        elif right and fill == "0":
            text = sign + body.rjust(length - len(sign), "0")
        else:
            text = ((sign + body).rjust if right else (sign + body).ljust)(length, fill)
        if len(text) > length or "\n" in text or "\r" in text:
            raise ValueError(f"{spec.name} {value!r} does not fit in {length} characters")
        return text

    return Codec(spec, label, decode, encode)


def _value(spec: LayoutField, label: str, fmt: str, text: str) -> Value:
    if spec.type in NUMERIC and spec.sign == "trailing" and text[-1:] in ("+", "-"):
        text = text[-1] + text[:-1]  # csv: 1234.50- is -1234.50
    if spec.type == "amount":
        if spec.implied_decimals:
            negative = text[:1] == "-"
            if negative and not spec.signed:
                raise Fault(f"{label} '{text}' is negative")
            digits = text[1:] if text[:1] in ("+", "-") else text
            return parse_implied(digits, label, negative=negative, places=spec.decimals)
        return parse_amount(text, label, signed=spec.signed, places=spec.decimals)
    if spec.type == "integer":
        return parse_integer(text, label, signed=spec.signed)
    if spec.type == "date":
        return parse_date(text, label, fmt)
    return text


def _text(spec: LayoutField, fmt: str, value: Value) -> tuple[str, str]:
    """The sign ("-" or "") and the digits or text of a value, as the layout writes it."""
    if isinstance(value, Raw):
        return "", str(value)
    if spec.type == "amount":
        if not isinstance(value, Decimal | int):
            raise ValueError(f"{spec.name}: {value!r} is not an amount")
        amount = Decimal(value)
        if amount < 0 and not spec.signed:
            raise ValueError(f"{spec.name}: {amount} is negative and the field is not signed")
        body = format_amount(abs(amount), spec.decimals)
        return ("-" if amount < 0 else ""), body.replace(".", "") if spec.implied_decimals else body
    if spec.type == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{spec.name}: {value!r} is not a whole number")
        if value < 0 and not spec.signed:
            raise ValueError(f"{spec.name}: {value} is negative and the field is not signed")
        return ("-" if value < 0 else ""), str(abs(value))
    if spec.type == "date":
        if not isinstance(value, date):
            raise ValueError(f"{spec.name}: {value!r} is not a date")
        return "", value.strftime(fmt)
    if not isinstance(value, str):
        raise ValueError(f"{spec.name}: {value!r} is not text")
    return "", value
