"""The reference platform: the system under test as the playbooks describe it.

It reaches the partner only through the partner's adapter and never names a partner:
what differs between partners comes from the profiles.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from harness.errors import TransferError
from harness.events import Recorder
from harness.layouts.values import Value
from harness.partners import AccountNotFound as PartnerAccountNotFound
from harness.partners import PartnerClient, PartnerUnavailable
from harness.partners import PartnerRejected as PartnerRefused
from harness.partners.files import OUTBOX, control_values
from harness.platform import nacha
from harness.platform.bif import BifRecord
from harness.platform.invoices import Rejection, iter_invoice_file
from harness.platform.port import (
    METHODS,
    AccountNotFound,
    Balance,
    BatchReport,
    Bill,
    Configuration,
    ImportReport,
    Platform,
    PlatformRefusal,
    PumpReport,
    Transaction,
    TxStatus,
)
from harness.platform.reference.files import Taken, posting_record, read_adjustments, read_bills, write_payment_file
from harness.platform.reference.pump import DataPump, explained
from harness.platform.reference.state import PlatformState, money
from harness.profiles import Biller, out_of_scope
from harness.profiles.models import FileSpec
from harness.transfer import Account

CHANGE_PROGRAMS = ("paperless", "autopay", "phone", "email")
INBOUND = ("invoice_load", "adjustment_file")  # what the partner sends the platform in files
VOIDABLE = ("payment", "credit")


def _amount(value: Value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(0)


def _reversed_by(earlier: Transaction) -> str:
    """Why a transaction is not reversed again: the reversal that already took its money back."""
    what = "void" if earlier.kind == "void" else f"ACH return {earlier.code}"
    return f"{earlier.original} was already reversed by {what} {earlier.key}"


class ReferenceEngine(Platform):
    name = "reference"

    def __init__(self, biller: Biller, client: PartnerClient | None, recorder: Recorder, inbox: Path, *,
                 key_prefix: str, today: date, sleep: Callable[[float], None] = time.sleep,
                 drop: Account | None = None) -> None:
        """``inbox``: the folder of the platform's sFTP account; ``drop``: the partner's own sFTP account,
        where the platform puts the files a partner does not fetch (delivery: put)."""
        self.biller, self._client, self._recorder, self._inbox = biller, client, recorder, inbox
        self._drop = drop
        self._prefix, self._today = key_prefix, today
        self.state = PlatformState()
        self._pump = DataPump(biller, client, self._emit, sleep)
        self._batches = 0  # payment files written today

    def _emit(self, kind: str, /, **data: Any) -> None:
        self.state.apply(self._recorder.append(f"platform.{kind}", **data))

    @property
    def _api(self) -> PartnerClient:
        """The partner's API client; a partner whose integration is files has none to call."""
        if self._client is None:
            raise PlatformRefusal(f"{self.biller.partner.display_name} has no API: the platform cannot call it")
        return self._client

    def _new_key(self, letter: str) -> str:
        return f"{self._prefix}{letter}{len(self.state.txs) + 1:03d}"

    # -- invoices and adjustments ---------------------------------------------------------
    def import_inbox(self) -> ImportReport:
        """Every file the partner dropped that the platform has not taken yet: invoice files (the XML
        export, or the biller's own layout) and balance adjustment files, in name order."""
        files: list[str] = []
        accepted, rejected = 0, []
        for path, capability in self._inbound():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if (first := self.state.imported.get(digest)) is not None:
                if first != path.name:  # the partner sent the same file again: refused, its records load once
                    rejected.append(self._duplicate(path, digest, first))
                continue  # a file taken at an earlier import is still on the inbox
            spec = self.biller.file_for(capability)
            took, refused = (self._import_export(path, digest) if spec is None
                             else self._import_layout(path, digest, capability, spec))
            files.append(path.name)
            accepted += took
            rejected.extend(refused)
        return ImportReport(tuple(files), accepted, tuple(rejected))

    def _inbound(self) -> list[tuple[Path, str]]:
        """The files on the inbox the platform reads, each with the capability it travels for."""
        found: dict[Path, str] = {}
        for capability in INBOUND:
            if out_of_scope(self.biller, capability) is not None:
                continue
            spec = self.biller.file_for(capability)
            export = self.biller.partner.invoice_file if capability == "invoice_load" else None
            pattern = spec.glob if spec is not None else export.name_glob if export is not None else None
            for path in self._inbox.glob(pattern) if pattern else ():
                found.setdefault(path, capability)
        return sorted(found.items())

    def _import_export(self, path: Path, digest: str) -> tuple[int, list[str]]:
        """The partner's XML invoice export (``invoice_file``): good records load, bad ones are rejected."""
        layout = self.biller.partner.invoice_file
        assert layout is not None  # only listed for a partner that has one
        accepted, file_rejects = 0, []
        for item in iter_invoice_file(path, layout, self.biller.profile.bid, self._invoice_type):
            if isinstance(item, Rejection):
                file_rejects.append(item)
                self._emit("invoice_rejected", file=path.name, record=item.record, line=item.line,
                           invoice_number=item.invoice_number, reason=item.reason)
            else:
                accepted += 1
                self._emit("bill_loaded", file=path.name, bill=item.to_dict())
        self._emit("file_imported", file=path.name, sha256=digest, size=path.stat().st_size,
                   rejected=len(file_rejects))
        return accepted, [str(r) for r in file_rejects]

    def _import_layout(self, path: Path, digest: str, capability: str, spec: FileSpec) -> tuple[int, list[str]]:
        """A file in the biller's layout, taken whole or refused whole (a trailer that disagrees, a record
        type nobody knows, a line cut short): nothing of a refused file loads."""
        taken: Taken[Any] = (read_bills(path, spec, self.biller.profile.bid, self._invoice_type)
                             if capability == "invoice_load" else read_adjustments(path, spec))
        if taken.refusal is not None:  # the file's own fault first, then the records that may have caused it
            records = [str(r) for r in taken.rejected]
            self._emit("file_rejected", file=path.name, sha256=digest, field=taken.refusal.field,
                       line=taken.refusal.line, reason=f"{taken.refusal.reason}; {taken.refusal.hint}", records=records)
            return 0, [str(taken.refusal), *records]
        for _, item in taken.records:
            if isinstance(item, BifRecord):
                self._emit("bill_loaded", file=path.name, bill=item.to_dict())
            else:
                self._balance_updated(path.name, item)
        for reject in taken.rejected:
            self._emit("record_rejected", file=path.name, line=reject.line, field=reject.field,
                       reason=f"{reject.reason}; {reject.hint}")
        self._emit("file_imported", file=path.name, sha256=digest, size=path.stat().st_size,
                   rejected=len(taken.rejected), records=len(taken.records))
        return len(taken.records), [str(r) for r in taken.rejected]

    def _balance_updated(self, file: str, values: Mapping[str, Value]) -> None:
        """One record of a balance adjustment file: what the payer is shown for the account from now on."""
        indicator = str(values.get("block_indicator") or "")
        codes: dict[str, list[str]] = self.biller.setting("block_codes", {}) or {}
        budget = values.get("budget_amount")
        self._emit("balance_updated", file=file, account=values["account_number"],
                   balance=money(_amount(values.get("balance"))), past_due=money(_amount(values.get("past_due"))),
                   blocked=sorted(m for m, blocking in codes.items() if indicator in blocking),
                   block_indicator=indicator, customer_name=str(values.get("customer_name") or ""),
                   budget_amount=money(_amount(budget)) if budget is not None else None)

    @property
    def _invoice_type(self) -> int:
        return self.biller.profile.invoice_types[0].id

    def _duplicate(self, path: Path, digest: str, first: str) -> str:
        reason = (f"the same file as {first} (sha256 {digest[:12]}...), which the platform took already; nothing "
                  "is loaded from it: ask the partner whether it meant to send another file")
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
        if self.biller.transport("rtdr_balance").kind != "api" or out_of_scope(self.biller, "rtdr_balance"):
            return self._adjusted(account)
        try:
            reply = self._api.balance(account)
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

    def _adjusted(self, account: str) -> Balance:
        """Without RTDR the payer is shown what the latest balance adjustment file said of the account."""
        balance = self.state.balances.get(account)
        if balance is None:
            reason = f"account {account} is in no balance adjustment file the platform loaded"
            self._emit("refused", action="open_account", account=account, reason=reason)
            raise AccountNotFound(f"account {account} not found: {reason}")
        self._emit("account_shown", account=account, balance=money(balance.balance), past_due=money(balance.past_due),
                   source="balance adjustment file")
        return balance

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
        if payment.status in (TxStatus.PENDING, TxStatus.PARKED, TxStatus.BATCHED):
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
        outcome: dict[str, list[str]] = {"posted": [], "parked": [], "failed": [], "excluded": [], "batched": []}
        for tx in self.state.open_txs():
            outcome[self._pump.send(tx, self._today.isoformat())].append(tx.key)
        return PumpReport(posted=tuple(outcome["posted"]), parked=tuple(outcome["parked"]),
                          failed=tuple(outcome["failed"]), excluded=tuple(outcome["excluded"]),
                          batched=tuple(outcome["batched"]))

    def close_batch(self) -> BatchReport:
        """Write the day's payment file with every batched transaction, in the order they were made, into
        the outbox the partner fetches from. A file the layout cannot hold is not written: its postings
        are marked failed, naming the field, and none is lost or sent twice."""
        batched = self.state.batched()
        spec = self.biller.file_for("payment_posting")
        if not batched or spec is None:
            return BatchReport()
        self._batches += 1
        name = spec.name(self._today, self._batches)
        details = [posting_record(tx, self.biller, spec, self._today) for tx in batched]
        try:
            path = write_payment_file(self._inbox / OUTBOX, spec, name, details,
                                      control_values(spec, self.biller, self._today, name))
        except ValueError as exc:
            for tx in batched:
                self._emit("pump_failed", key=tx.key, attempts=1, code=None,
                           reason=f"the payment file {name} could not be written: {exc}")
            return BatchReport()
        data = path.read_bytes()
        if spec.delivery == "put" and (undelivered := self._deliver(name, data)) is not None:
            for tx in batched:  # never lost, never sent twice: a person looks at them
                self._emit("pump_failed", key=tx.key, attempts=1, code=None, reason=undelivered)
            return BatchReport()
        total = sum((amount for d in details if isinstance(amount := d.get("amount"), Decimal)), Decimal("0.00"))
        self._emit("batch_closed", file=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                   count=len(batched), total=money(total), keys=[tx.key for tx in batched], schedule=spec.schedule)
        for number, tx in enumerate(batched, 1):
            self._emit("pump_posted", key=tx.key, attempts=1, partner_ref=f"{name} #{number}", already_posted=False,
                       reason="")
        return BatchReport(name, tuple(tx.key for tx in batched), total)

    def _deliver(self, name: str, data: bytes) -> str | None:
        """Put the payment file on the partner's sFTP server; why it could not be, or None."""
        if self._drop is None:
            return f"the payment file {name} is put on the partner's sFTP server, and no account names it"
        try:
            self._drop.put(data, name)
        except TransferError as exc:
            return f"the payment file {name} could not be put on the partner's sFTP server: {exc}"
        self._emit("batch_delivered", file=name, to=f"{self._drop.user}@{self._drop.host}:{self._drop.port}")
        return None

    def transaction(self, key: str) -> Transaction:
        try:
            return self.state.txs[key]
        except KeyError:
            raise PlatformRefusal(f"no transaction {key}") from None

    # -- bill images and CloudPay ---------------------------------------------------------
    def bill_image(self, account: str, invoice_number: str) -> bytes:
        try:
            pdf = self._api.statement_pdf(account, invoice_number)
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
