"""The platform's Bill Import Format (BIF): one bill as the platform stores it.

Partner invoice files are mapped to ``BifRecord``s (see ``harness.platform.invoices``);
the partner profile says which element feeds which of ``BIF_FIELDS``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

BIF_FIELDS = (
    "account_number",
    "invoice_number",
    "customer_name",
    "email",
    "service_address",
    "bill_date",
    "due_date",
    "amount_due",
    "past_due",
)

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class BifRecord:
    """One imported bill for biller ``bid`` under invoice type ``invoice_type``."""

    bid: int
    invoice_type: int
    account_number: str
    invoice_number: str
    customer_name: str = ""
    email: str = ""
    service_address: str = ""
    bill_date: date | None = None
    due_date: date | None = None
    amount_due: Decimal = Decimal("0.00")
    past_due: Decimal = Decimal("0.00")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: amounts as strings with two places (no float rounding), dates ISO."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = str(value.quantize(_CENT))
            elif isinstance(value, date):
                value = value.isoformat()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BifRecord:
        """Inverse of ``to_dict``; keys it does not know are an error, not silently dropped."""
        unknown = data.keys() - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown BIF keys: {', '.join(sorted(unknown))}")
        values = dict(data)
        for name in ("bill_date", "due_date"):
            if isinstance(values.get(name), str):
                values[name] = date.fromisoformat(values[name])
        for name in ("amount_due", "past_due"):
            if name in values:
                values[name] = Decimal(str(values[name])).quantize(_CENT)
        return cls(**values)
