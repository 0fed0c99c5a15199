"""What vendors send the platform, read as liberally as the real platform reads it.

Field names match whatever their casing (``ReturnURL``, ``returnUrl``, ``return_url``); amounts may be
JSON numbers or strings (``80``, ``80.0``, ``"80.00"``) and are read as Decimal, never through float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999.99")


class RequestError(ValueError):
    """A request the platform refuses; the message names the field and what is wrong with it."""


@dataclass(frozen=True)
class Invoice:
    number: str
    type_id: str
    balance_due: Decimal
    cc_service_fee: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class Customer:
    account_number: str = ""
    name: str = ""
    address: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    email: str = ""


@dataclass(frozen=True)
class PaymentRequest:
    """One payment a vendor asks the platform to take."""

    invoices: tuple[Invoice, ...]
    customer: Customer
    return_url: str
    postback_url: str
    biller_reference: str = ""

    @property
    def type_ids(self) -> list[str]:
        return [invoice.type_id for invoice in self.invoices]

    @property
    def amount(self) -> Decimal:
        return sum((invoice.balance_due for invoice in self.invoices), Decimal("0.00"))

    @property
    def convenience_fee(self) -> Decimal:
        return sum((invoice.cc_service_fee for invoice in self.invoices), Decimal("0.00"))


def _norm(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def field(obj: Mapping[str, Any], name: str) -> Any:
    """``obj[name]`` matched without regard to casing, underscores or dashes; None when absent."""
    wanted = _norm(name)
    for key, value in obj.items():
        if isinstance(key, str) and _norm(key) == wanted:
            return value
    return None


def text(obj: Mapping[str, Any], name: str) -> str:
    value = field(obj, name)
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def amount(value: Any, name: str, *, positive: bool = True) -> Decimal:
    """A money amount as Decimal with two places; RequestError naming ``name`` when it is not one."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise RequestError(f"{name} is missing or not an amount")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise RequestError(f"{name} {str(value)!r} is not an amount") from None
    if not number.is_finite():
        raise RequestError(f"{name} {str(value)!r} is not an amount")
    if number > MAX_AMOUNT or number < 0 or (positive and number == 0):
        raise RequestError(f"{name} {str(value)!r} must be {'more than' if positive else 'at least'} 0.00"
                           f" and at most {MAX_AMOUNT}")
    if number != number.quantize(CENT):
        raise RequestError(f"{name} {str(value)!r} has more than two decimal places")
    return number.quantize(CENT)


def url(obj: Mapping[str, Any], name: str) -> str:
    value = text(obj, name)
    if not value:
        raise RequestError(f"{name} is missing")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RequestError(f"{name} {value!r} is not an absolute http(s) URL")
    return value


def parse_json(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body (a BOM allowed); numbers with a fraction stay Decimal."""
    try:
        payload = json.loads(body.decode("utf-8-sig"), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RequestError("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise RequestError("the body is not a JSON object")
    return payload


def v2_request(payload: Mapping[str, Any]) -> PaymentRequest:
    """A CloudPay v2 body (``Customers[].Invoices[]``, ``ReturnURL``, ``PostBackURL``, ...)."""
    customers = field(payload, "Customers")
    if isinstance(customers, dict):  # one customer sent as an object, not a list of one
        customers = [customers]
    if not isinstance(customers, list) or not customers or not all(isinstance(c, dict) for c in customers):
        raise RequestError("Customers is missing: send at least one customer with its Invoices")
    invoices = tuple(_invoice(raw, f"Customers[{i}].Invoices[{j}]")
                     for i, customer in enumerate(customers) for j, raw in enumerate(_invoices(customer, i)))
    return PaymentRequest(invoices=invoices, customer=_customer(customers[0]), return_url=url(payload, "ReturnURL"),
                          postback_url=url(payload, "PostBackURL"),
                          biller_reference=text(payload, "BillerReference"))


def _invoices(customer: Mapping[str, Any], index: int) -> list[dict[str, Any]]:
    invoices = field(customer, "Invoices")
    if isinstance(invoices, dict):
        invoices = [invoices]
    if not isinstance(invoices, list) or not invoices or not all(isinstance(i, dict) for i in invoices):
        raise RequestError(f"Customers[{index}].Invoices is missing: send each invoice with its BalanceDue")
    return invoices


def _invoice(raw: Mapping[str, Any], where: str) -> Invoice:
    fee = field(raw, "CCServiceFee")
    return Invoice(number=text(raw, "InvoiceNumber"), type_id=text(raw, "TypeID"),
                   balance_due=amount(field(raw, "BalanceDue"), f"{where}.BalanceDue"),
                   cc_service_fee=Decimal("0.00") if fee in (None, "") else amount(fee, f"{where}.CCServiceFee",
                                                                                 positive=False))


def _customer(raw: Mapping[str, Any]) -> Customer:
    return Customer(account_number=text(raw, "AccountNumber"), name=text(raw, "Name"), address=text(raw, "Address"),
                    city=text(raw, "City"), state=text(raw, "State"), zip=text(raw, "Zip"),
                    email=text(raw, "EmailAddress"))


def v1_request(params: Mapping[str, str]) -> PaymentRequest:
    """CloudPay v1's redirect parameters (query or form): one invoice, its amount and the two URLs."""
    invoice = Invoice(number=text(params, "InvoiceNumber"), type_id=text(params, "TypeID"),
                      balance_due=amount(field(params, "Amount") or field(params, "BalanceDue"), "Amount"))
    customer = Customer(account_number=text(params, "AccountNumber"), name=text(params, "CustomerName"),
                        email=text(params, "EmailAddress"))
    return PaymentRequest(invoices=(invoice,), customer=customer, return_url=url(params, "ReturnURL"),
                          postback_url=url(params, "PostBackURL"), biller_reference=text(params, "BillerReference"))
