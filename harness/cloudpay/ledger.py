"""The payments the platform holds: created by a vendor's request, settled once by the payer."""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from harness.cloudpay.wire import PaymentRequest


@dataclass(frozen=True)
class Settlement:
    """What became of a payment when the payer submitted the page."""

    approved: bool
    message: str
    card_type: str
    last4: str
    paid_at: datetime
    remote_ip: str
    confirmation: str = ""  # only an approved payment has one


@dataclass(frozen=True)
class Payment:
    guid: str
    version: str  # "v1" or "v2": how the vendor created it
    request: PaymentRequest
    created_at: datetime
    settlement: Settlement | None = None


class Ledger:
    """Payments by GUID; thread-safe, and a payment settles once however often the page is submitted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payments: dict[str, Payment] = {}

    def create(self, request: PaymentRequest, version: str, now: datetime) -> Payment:
        payment = Payment(guid=str(uuid.uuid4()).upper(), version=version, request=request, created_at=now)
        with self._lock:
            self._payments[payment.guid] = payment
        return payment

    def get(self, guid: str) -> Payment | None:
        with self._lock:
            return self._payments.get(guid.upper())

    def settle(self, guid: str, settlement: Settlement) -> tuple[Payment, bool]:
        """The payment after settling, and whether this call settled it (False: it was already settled)."""
        with self._lock:
            payment = self._payments[guid.upper()]
            if payment.settlement is not None:
                return payment, False
            if settlement.approved:
                settlement = replace(settlement, confirmation=f"{secrets.randbelow(10**10):010d}")
            payment = replace(payment, settlement=settlement)
            self._payments[payment.guid] = payment
            return payment, True
