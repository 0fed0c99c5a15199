"""The reference platform's state: a fold over its ``platform.*`` events.

The engine changes state only by appending an event and applying it here, so the same
state can be rebuilt from the event log at any time (``PlatformState.replay``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from harness.events import Event
from harness.platform.bif import BifRecord
from harness.platform.port import Balance, Transaction, TxStatus

PREFIX = "platform."
REVERSALS = ("void", "ach_return")  # the transactions that take a payment's money back


def money(amount: Decimal) -> str:
    """An amount as platform events hold it: two decimals as text, never a float."""
    return f"{amount:.2f}"


def _amount(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@dataclass
class PlatformState:
    bills: dict[str, list[BifRecord]] = field(default_factory=dict)
    imported: dict[str, str] = field(default_factory=dict)  # sha256 of each file imported -> its name
    balances: dict[str, Balance] = field(default_factory=dict)
    portal_blocks: dict[str, set[str]] = field(default_factory=dict)
    txs: dict[str, Transaction] = field(default_factory=dict)

    @classmethod
    def replay(cls, events: Iterable[Event]) -> PlatformState:
        state = cls()
        for event in events:
            state.apply(event)
        return state

    def apply(self, event: Event) -> None:
        handler = _HANDLERS.get(event.kind.removeprefix(PREFIX)) if event.kind.startswith(PREFIX) else None
        if handler is not None:
            handler(self, event.data)

    def blocked(self, account: str) -> set[str]:
        """Payment methods blocked for the account: by the partner (RTDR) or a portal user."""
        rtdr = self.balances[account].blocked if account in self.balances else frozenset()
        return set(rtdr) | self.portal_blocks.get(account, set())

    def batched(self) -> list[Transaction]:
        """What the next batch close writes in the payment file, oldest first."""
        return [t for t in self.txs.values() if t.status is TxStatus.BATCHED]

    def open_txs(self) -> list[Transaction]:
        """What the next pump run sends: pending and parked transactions, oldest first."""
        return [t for t in self.txs.values() if t.status in (TxStatus.PENDING, TxStatus.PARKED)]

    def reversal_of(self, key: str) -> Transaction | None:
        """The void or ACH return that already reversed transaction ``key`` (the first), or None.
        A notification of change moves no money: it reverses nothing."""
        return next((t for t in self.txs.values() if t.original == key and t.kind in REVERSALS), None)

    def _update(self, key: str, **changes: Any) -> None:
        self.txs[key] = replace(self.txs[key], **changes)


def _file_imported(state: PlatformState, data: dict[str, Any]) -> None:
    if "sha256" in data:
        state.imported.setdefault(data["sha256"], data["file"])


def _bill_loaded(state: PlatformState, data: dict[str, Any]) -> None:
    bill = BifRecord.from_dict(data["bill"])
    state.bills.setdefault(bill.account_number, []).append(bill)


def _balance_observed(state: PlatformState, data: dict[str, Any]) -> None:
    state.balances[data["account"]] = Balance(
        account=data["account"], balance=Decimal(data["balance"]), past_due=Decimal(data["past_due"]),
        blocked=frozenset(data["blocked"]), customer_name=data.get("customer_name", ""),
        budget_amount=_amount(data.get("budget_amount")),
    )


def _portal_block_set(state: PlatformState, data: dict[str, Any]) -> None:
    state.portal_blocks.setdefault(data["account"], set()).add(data["method"])


def _tx_created(state: PlatformState, data: dict[str, Any]) -> None:
    fields = {k: v for k, v in data.items() if k in Transaction.__dataclass_fields__}
    state.txs[data["key"]] = Transaction(
        **{**fields, "amount": _amount(data.get("amount")), "status": TxStatus(data.get("status", "pending"))}
    )


def _status(status: TxStatus) -> Callable[[PlatformState, dict[str, Any]], None]:
    def apply(state: PlatformState, data: dict[str, Any]) -> None:
        changes = {k: data[k] for k in ("reason", "attempts", "partner_ref") if k in data}
        state._update(data["key"], status=status, **changes)

    return apply


def _attempt(state: PlatformState, data: dict[str, Any]) -> None:
    state._update(data["key"], attempts=data["attempt"], reason=data["error"])


_HANDLERS: dict[str, Callable[[PlatformState, dict[str, Any]], None]] = {
    "file_imported": _file_imported,
    "bill_loaded": _bill_loaded,
    "balance_observed": _balance_observed,
    "balance_updated": _balance_observed,  # a balance adjustment file's record: the file counterpart of RTDR
    "file_rejected": _file_imported,  # taken, and refused whole: the same file is not read again
    "tx_batched": _status(TxStatus.BATCHED),
    "portal_block_set": _portal_block_set,
    "tx_created": _tx_created,
    "pump_attempt_failed": _attempt,
    "pump_posted": _status(TxStatus.POSTED),
    "pump_parked": _status(TxStatus.PARKED),
    "pump_failed": _status(TxStatus.FAILED),
    "pump_excluded": _status(TxStatus.EXCLUDED),
    "tx_cancelled": _status(TxStatus.CANCELLED),
}
