"""The reference platform: the system under test as the playbooks describe it.

It reaches the partner only through the partner's adapter and never names a partner:
what differs between partners comes from the profiles.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from harness.events import Recorder
from harness.partners import AccountNotFound as PartnerAccountNotFound
from harness.partners import PartnerClient, PartnerUnavailable
from harness.partners import PartnerRejected as PartnerRefused
from harness.platform import nacha
from harness.platform.invoices import Rejection, iter_invoice_file
from harness.platform.port import (
    METHODS,
    AccountNotFound,
    Balance,
    Bill,
    Configuration,
    ImportReport,
    Platform,
    PlatformRefusal,
    PumpReport,
    Transaction,
    TxStatus,
)
from harness.platform.reference.pump import DataPump, explained
from harness.platform.reference.state import PlatformState, money
from harness.profiles import Biller

CHANGE_PROGRAMS = ("paperless", "autopay", "phone", "email")
VOIDABLE = ("payment", "credit")


def _reversed_by(earlier: Transaction) -> str:
    """Why a transaction is not reversed again: the reversal that already took its money back."""
    what = "void" if earlier.kind == "void" else f"ACH return {earlier.code}"
    return f"{earlier.original} was already reversed by {what} {earlier.key}"


class ReferenceEngine(Platform):
    name = "reference"

    def __init__(self, biller: Biller, client: PartnerClient, recorder: Recorder, inbox: Path, *,
                 key_prefix: str, today: date, sleep: Callable[[float], None] = time.sleep) -> None:
        self.biller, self._client, self._recorder, self._inbox = biller, client, recorder, inbox
        self._prefix, self._today = key_prefix, today
        self.state = PlatformState()
        self._pump = DataPump(biller, client, self._emit, sleep)

    def _emit(self, kind: str, /, **data: Any) -> None:
        self.state.apply(self._recorder.append(f"platform.{kind}", **data))

    def _new_key(self, letter: str) -> str:
        return f"{self._prefix}{letter}{len(self.state.txs) + 1:03d}"

    # -- invoices -------------------------------------------------------------------------
    def import_inbox(self) -> ImportReport:
        layout, files, accepted = self.biller.partner.invoice_file, [], 0
        rejected: list[str] = []
        invoice_type = self.biller.profile.invoice_types[0].id
        for path in sorted(self._inbox.glob(layout.name_glob)):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if (first := self.state.imported.get(digest)) is not None:
                if first != path.name:  # the partner sent the same file again: refused, its bills load once
                    rejected.append(self._duplicate(path, digest, first))
                continue  # a file taken at an earlier import is still on the inbox
            file_rejects: list[Rejection] = []
            for item in iter_invoice_file(path, layout, self.biller.profile.bid, invoice_type):
                if isinstance(item, Rejection):
                    file_rejects.append(item)
                    self._emit("invoice_rejected", file=path.name, record=item.record, line=item.line,
                               invoice_number=item.invoice_number, reason=item.reason)
                else:
                    accepted += 1
                    self._emit("bill_loaded", file=path.name, bill=item.to_dict())
            self._emit("file_imported", file=path.name, sha256=digest, size=path.stat().st_size,
                       rejected=len(file_rejects))
            files.append(path.name)
            rejected.extend(str(r) for r in file_rejects)
        return ImportReport(tuple(files), accepted, tuple(rejected))

    def _duplicate(self, path: Path, digest: str, first: str) -> str:
        reason = (f"the same file as {first} (sha256 {digest[:12]}...), which was imported already; nothing is "
                  "loaded from it: ask the partner whether it meant to send another file")
        self._emit("file_rejected", file=path.name, sha256=digest, duplicate_of=first, reason=reason)
        return f"{path.name}: {reason}"

    def bills(self, account: str) -> list[Bill]:
        loaded = self.state.bills.get(account, [])
        if self.biller.partner.billing_model == "balance_forward":
            loaded = loaded[-1:]  # each new bill carries the balance forward and replaces the last
        return [Bill(b.account_number, b.invoice_number, b.amount_due, b.past_due, b.due_date, b.customer_name)
                for b in loaded]

    # -- RTDR -----------------------------------------------------------------------------
    def open_account(self, account: str) -> Balance:
        try:
            reply = self._client.balance(account)
        except PartnerAccountNotFound as exc:
            self._emit("refused", action="open_account", account=account, reason=str(exc))
            raise AccountNotFound(f"account {account} not found at the partner") from None
        except (PartnerRefused, PartnerUnavailable) as exc:
            # The partner refused or could not be reached: the payer is told so, never shown a balance.
            why = explained(self.biller.partner, str(exc))
            self._emit("refused", action="open_account", account=account, **why)
            raise PlatformRefusal(f"account {account} cannot be shown: {why['reason']}") from None
        indicator = reply.get(self.biller.balance_field("block_indicator") or "", "")
        codes: dict[str, list[str]] = self.biller.setting("block_codes", {}) or {}
        blocked = sorted(m for m, blocking in codes.items() if indicator in blocking)
        budget_field = self.biller.balance_field("budget_amount")
        self._emit(
            "balance_observed", account=account,
            balance=money(self._decimal(reply, "balance")), past_due=money(self._decimal(reply, "past_due")),
            blocked=blocked, block_indicator=indicator,
            customer_name=reply.get(self.biller.balance_field("customer_name") or "", ""),
            budget_amount=money(self._decimal(reply, "budget_amount")) if budget_field in reply else None,
        )
        return self.state.balances[account]

    def _decimal(self, reply: dict[str, str], role: str) -> Decimal:
        name = self.biller.balance_field(role)
        raw = reply.get(name or "", "0") or "0"
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise PlatformRefusal(f"partner balance reply: {name} '{raw}' is not an amount") from None

    def portal_block(self, account: str, method: str) -> None:
        if self.biller.setting("portal_block_lock", False):
            reason = "block flags are set by RTDR only for this biller (portal users may not set them)"
            self._emit("refused", action="portal_block", account=account, reason=reason)
            raise PlatformRefusal(reason)
        self._emit("portal_block_set", account=account, method=method)

    # -- partner callbacks (reached through harness.platform.reference.callback) -----------
    def account_changed(self, account: str, url: str) -> None:
        """The partner says the account changed: refresh it through RTDR, so the payer sees it."""
        self._emit("callback_received", url=url, event="account.updated", account=account)
        self.open_account(account)

    def callback_refused(self, url: str, reason: str) -> None:
        """A callback refused before anything was processed (``url`` is masked by the recorder)."""
        self._emit("callback_refused", url=url, reason=reason)

    # -- money and changes ----------------------------------------------------------------
    def _create(self, letter: str, kind: str, account: str, **fields: Any) -> str:
        key = self._new_key(letter)
        self._emit("tx_created", key=key, kind=kind, account=account, **fields)
        return key

    def pay(self, account: str, amount: Decimal, method: str, channel: str = "web") -> str:
        self._check_amount("pay", account, amount)
        if method not in METHODS:
            raise PlatformRefusal(f"unknown payment method {method!r} (use one of {', '.join(METHODS)})")
        if method in self.state.blocked(account):
            reason = f"{method} payments are blocked for account {account}"
            self._emit("refused", action="pay", account=account, reason=reason)
            raise PlatformRefusal(reason)
        return self._create("P", "payment", account, amount=money(amount), method=method, channel=channel)

    def credit(self, account: str, amount: Decimal) -> str:
        self._check_amount("credit", account, amount)
        return self._create("C", "credit", account, amount=money(amount))

    def _check_amount(self, action: str, account: str, amount: Decimal) -> None:
        """Refuse, and log why, an amount the partner cannot be sent to the cent or at all."""
        reason, decimals = "", self.biller.partner.rules.amount_decimals
        if amount <= 0 or amount != amount.quantize(Decimal(1).scaleb(-decimals)):
            reason = f"amount {amount} must be positive with at most {decimals} decimals"
        elif (top := self.biller.partner.max_amount) is not None and amount > top:
            reason = f"amount {amount} is more than {self.biller.partner.display_name} takes ({top})"
        if reason:
            self._emit("refused", action=action, account=account, amount=str(amount), reason=reason)
            raise PlatformRefusal(reason)

    def return_ach(self, payment_key: str, code: str) -> str:
        payment = self.transaction(payment_key)
        if payment.method != "ACH":
            raise PlatformRefusal(f"{payment_key} is a {payment.method} payment; only ACH payments are returned")
        fields = {"amount": money(payment.amount or Decimal(0)), "original": payment_key, "code": code}
        rules = self.biller.partner.rules
        if nacha.is_change_notice(code, rules):
            # A notification of change corrects account data; no money moved back, nothing to post.
            return self._create("N", "ach_notice", payment.account, status=TxStatus.RECORDED.value,
                                reason=f"{code} is a notification of change, not a return", **fields)
        if not nacha.is_return(code, rules):
            raise PlatformRefusal(f"{code!r} is not a NACHA return code ({', '.join(rules.return_codes)}) or change "
                                  f"code ({', '.join(rules.notice_codes)})")
        reason = f"{code}: {nacha.RETURN_REASONS.get(code, 'returned by the bank')}"
        if earlier := self.state.reversal_of(payment_key):
            # The bank's return is a fact to keep, but the partner already reversed the payment once:
            # posting this too would take the money back twice.
            return self._create("R", "ach_return", payment.account, status=TxStatus.RECORDED.value,
                                reason=f"{reason}; not posted: {_reversed_by(earlier)}", **fields)
        return self._create("R", "ach_return", payment.account, reason=reason, **fields)

    def void(self, payment_key: str) -> str:
        payment = self.transaction(payment_key)
        if refused := self._unvoidable(payment):
            self._emit("refused", action="void", account=payment.account, key=payment_key, reason=refused)
            raise PlatformRefusal(refused)
        fields = {"amount": money(payment.amount or Decimal(0)), "original": payment_key}
        if payment.status in (TxStatus.PENDING, TxStatus.PARKED):
            self._emit("tx_cancelled", key=payment_key, reason="voided before it reached the partner")
            return self._create("V", "void", payment.account, status=TxStatus.RECORDED.value,
                                reason="nothing to void at the partner: the payment was never posted", **fields)
        if payment.status is not TxStatus.POSTED:
            raise PlatformRefusal(f"{payment_key} is {payment.status.value}; only posted payments are voided")
        return self._create("V", "void", payment.account, **fields)

    def _unvoidable(self, tx: Transaction) -> str | None:
        """Why ``tx`` cannot be voided (a payment or credit is reversed at most once), or None."""
        if tx.kind not in VOIDABLE:
            return f"{tx.key} is not a payment or a credit; only payments and credits are voided"
        if earlier := self.state.reversal_of(tx.key):
            return f"{tx.key} cannot be voided: {_reversed_by(earlier)}"
        return None

    def change_account(self, account: str, program: str, value: str) -> str:
        if program not in CHANGE_PROGRAMS:
            raise PlatformRefusal(f"unknown account change {program!r} (one of {', '.join(CHANGE_PROGRAMS)})")
        return self._create("A", "change", account, program=program, value=value)

    # -- the data pump --------------------------------------------------------------------
    def run_pump(self) -> PumpReport:
        outcome: dict[str, list[str]] = {"posted": [], "parked": [], "failed": [], "excluded": []}
        for tx in self.state.open_txs():
            outcome[self._pump.send(tx, self._today.isoformat())].append(tx.key)
        return PumpReport(tuple(outcome["posted"]), tuple(outcome["parked"]), tuple(outcome["failed"]),
                          tuple(outcome["excluded"]))

    def transaction(self, key: str) -> Transaction:
        try:
            return self.state.txs[key]
        except KeyError:
            raise PlatformRefusal(f"no transaction {key}") from None

    # -- bill images and CloudPay ---------------------------------------------------------
    def bill_image(self, account: str, invoice_number: str) -> bytes:
        try:
            pdf = self._client.statement_pdf(account, invoice_number)
        except PartnerRefused as exc:
            raise PlatformRefusal(f"bill image for {invoice_number}: {exc}") from None
        self._emit("image_fetched", account=account, invoice_number=invoice_number, size=len(pdf),
                   sha256=hashlib.sha256(pdf).hexdigest(), is_pdf=pdf.startswith(b"%PDF-"))
        return pdf

    def configuration(self) -> Configuration:
        """The reference platform is configured as the biller profile says (a real one answers from the BID)."""
        profile = self.biller.profile
        return Configuration(options=dict(profile.options), settings=dict(profile.settings))

    def start_cloudpay(self, account: str, amount: Decimal) -> str:
        if "CloudPay" not in self.biller.profile.products:
            raise PlatformRefusal(f"CloudPay is not enabled for {self.biller.profile.name}")
        self._check_amount("start_cloudpay", account, amount)
        key = self._create("W", "cloudpay", account, amount=money(amount), status=TxStatus.RECORDED.value)
        return f"/cloudpay/{self.biller.profile.bid}/pay/{key}"
