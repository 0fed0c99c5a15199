"""The port: what SIT needs from the platform under test.

The reference engine implements it as the playbooks describe the platform; a real
connector or a platform test environment plugs in through the same methods. Steps reach
the platform only through this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

METHODS = ("CC", "ACH")


class TxStatus(StrEnum):
    PENDING = "pending"  # waiting for the data pump
    BATCHED = "batched"  # in the day's payment file, which is written at batch close
    POSTED = "posted"
    PARKED = "parked"  # the partner kept failing; retried at the next pump run
    FAILED = "failed"  # the partner refused it; needs a person
    EXCLUDED = "excluded"  # never pumped, by rule (channel, capability, setting)
    CANCELLED = "cancelled"  # voided before it was pumped
    RECORDED = "recorded"  # nothing to pump (a notification of change)


class PlatformRefusal(Exception):
    """The platform refused what a payer, biller or partner asked of it."""


class AccountNotFound(PlatformRefusal):
    """The partner does not hold the account."""


@dataclass(frozen=True)
class Balance:
    account: str
    balance: Decimal
    past_due: Decimal
    blocked: frozenset[str]
    customer_name: str = ""
    budget_amount: Decimal | None = None


@dataclass(frozen=True)
class Bill:
    account: str
    invoice_number: str
    amount_due: Decimal
    past_due: Decimal
    due_date: date | None
    customer_name: str = ""


@dataclass(frozen=True)
class ImportReport:
    files: tuple[str, ...]
    accepted: int
    rejected: tuple[str, ...]


@dataclass(frozen=True)
class Transaction:
    """One platform transaction and where it stands with the partner."""

    key: str
    kind: str
    account: str
    amount: Decimal | None
    status: TxStatus
    method: str | None = None
    channel: str | None = None
    original: str | None = None
    code: str | None = None
    program: str | None = None
    value: str | None = None
    reason: str = ""
    attempts: int = 0
    partner_ref: str | None = None


@dataclass(frozen=True)
class Configuration:
    """How the platform has the biller configured: its platform options and advanced settings, by number."""

    options: dict[int, Any]
    settings: dict[int, Any]


@dataclass(frozen=True)
class PumpReport:
    posted: tuple[str, ...] = ()
    parked: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    batched: tuple[str, ...] = ()  # in the day's payment file, written at batch close
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchReport:
    """What batch close wrote: the payment file (None when the day had nothing for one) and its postings."""

    file: str | None = None
    keys: tuple[str, ...] = ()
    total: Decimal = Decimal("0.00")


class Platform(ABC):
    """The system under test, as SIT drives and observes it."""

    name: str

    @abstractmethod
    def import_inbox(self) -> ImportReport:
        """Pick up the invoice files the partner dropped on the platform's sFTP inbox."""

    @abstractmethod
    def bills(self, account: str) -> list[Bill]:
        """The bills the payer is presented for ``account``."""

    @abstractmethod
    def open_account(self, account: str) -> Balance:
        """The payer opens the account: the platform asks the partner (RTDR)."""

    @abstractmethod
    def pay(self, account: str, amount: Decimal, method: str, channel: str = "web") -> str:
        """Take a payment; returns its key. Refused when the method is blocked."""

    @abstractmethod
    def credit(self, account: str, amount: Decimal) -> str:
        """The biller issues a credit to the account; returns its key."""

    @abstractmethod
    def return_ach(self, payment_key: str, code: str) -> str:
        """The payer's bank returns an ACH payment (R-code) or notifies a change (C-code)."""

    @abstractmethod
    def void(self, payment_key: str) -> str:
        """Cancel a payment; returns the void's key."""

    @abstractmethod
    def change_account(self, account: str, program: str, value: str) -> str:
        """An account change (paperless, autopay: Y/N; phone, email: the new value)."""

    @abstractmethod
    def portal_block(self, account: str, method: str) -> None:
        """A biller-portal user sets a payment block flag."""

    @abstractmethod
    def run_pump(self) -> PumpReport:
        """Run the data pump: send every pending and parked transaction to the partner."""

    @abstractmethod
    def close_batch(self) -> BatchReport:
        """Close the day's batch: where postings travel in a payment file, write it with every
        transaction the pump batched, for the partner to fetch. Nothing to do where they travel by API."""

    @abstractmethod
    def transaction(self, key: str) -> Transaction: ...

    @abstractmethod
    def bill_image(self, account: str, invoice_number: str) -> bytes:
        """The bill image (PDF) the payer opens for an invoice."""

    @abstractmethod
    def configuration(self) -> Configuration:
        """The biller's platform options and advanced settings as the platform holds them."""

    @abstractmethod
    def start_cloudpay(self, account: str, amount: Decimal) -> str:
        """A partner application hands a payer over (CloudPay); returns the hosted page URL."""
