"""What a CloudPay server is configured with: the biller it plays, and how it posts back."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# Called for every request, page view, payment and postback: ``observe(kind, data)``. ``data`` never
# holds an API key's value, a card number beyond its last four digits, or a CVV.
Observe = Callable[[str, dict[str, Any]], None]

V1, V2 = "v1", "v2"
VERSIONS = (V1, V2)

# BillerGUID is derived from the BID, so the same biller has the same GUID in every run (evidence compares).
_GUID_NAMESPACE = uuid.UUID("6f1c5f8e-2c3b-4f0a-9d1e-7a5b3c2d1e0f")


@dataclass(frozen=True)
class CloudPayBiller:
    """The biller the platform plays: its BID, name, the CloudPay versions it has, the vendor's name."""

    bid: int
    name: str
    versions: tuple[str, ...] = (V2,)
    vendor: str = "the vendor"  # shown on the receipt's "Return to ..." link
    invoice_types: tuple[str, ...] = ()  # the TypeIDs a payment may carry (none: any)

    def __post_init__(self) -> None:
        unknown = [v for v in self.versions if v not in VERSIONS]
        if unknown:
            raise ValueError(f"CloudPay versions {unknown} unknown: use {', '.join(VERSIONS)}")

    def foreign_type(self, type_ids: Iterable[str]) -> str | None:
        """The first of ``type_ids`` that is not one of the biller's invoice types, as the platform says it."""
        for type_id in type_ids:
            if self.invoice_types and type_id not in self.invoice_types:
                return (f"TypeID {type_id or '(none)'} is not an invoice type of {self.name} "
                        f"({', '.join(self.invoice_types)})")
        return None

    @property
    def guid(self) -> str:
        return str(uuid.uuid5(_GUID_NAMESPACE, str(self.bid))).upper()


@dataclass(frozen=True)
class PostbackPolicy:
    """How the platform posts back: ``attempts`` in all, waiting ``backoff_s`` doubled after each failure."""

    attempts: int = 5
    backoff_s: float = 2.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_s < 0 or self.timeout_s <= 0:
            raise ValueError("a postback policy needs attempts >= 1, backoff_s >= 0 and timeout_s > 0")

    def delay(self, attempt: int) -> float:
        """The wait before attempt ``attempt`` + 1 (attempts count from 1)."""
        return float(self.backoff_s * 2 ** (attempt - 1))
