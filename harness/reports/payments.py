"""A run of `sit serve` as rows: one per payment the vendor's application created, with what the platform
saw of it (the hosted page, the card, the postback), and the run's verdict, from the log alone.

The vendor's application is the system under test: a payment passes when it was settled on the hosted
page (approved or declined) and the vendor took its postback (2xx). A postback the vendor refused, or
never took before the run ended, fails it; a payment the payer never paid is not run. Payments are held
until the log ends (a postback may arrive after later payments): a manual session has a handful.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.events import Event
from harness.reports.fold import SERVED_PLATFORM, Evidence, ScenarioRecord, StepRecord

__all__ = ["SECTION", "SERVED_PLATFORM", "ServedPayments", "step_text"]

SECTION = "CloudPay payments (the vendor's application)"
KIND = "cloudpay."
# Requests the vendor's application (or the payer's browser, for v1) sends: refused ones are its faults.
VENDOR_PATHS = ("/cloudpaymentsapi/", "/cloudpay/v1")
NOT_PAID = "the payer did not pay: the hosted page was never submitted with a card"
INTERRUPTED = "the run stopped before the payment was settled"


@dataclass
class _Payment:
    row: ScenarioRecord
    name: str  # the row's name before its outcome is added
    settled: str = ""  # approved | declined
    postback: dict[str, Any] = field(default_factory=dict)  # the last postback observed


@dataclass
class ServedPayments:
    """The payments of a served run, in the order they were created; ``add`` every ``cloudpay.*`` event."""

    payments: dict[str, _Payment] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)  # requests, refused (vendor's, 4xx), server_errors
    first_error: str = ""  # the first request the platform answered 5xx

    def add(self, event: Event) -> None:
        d = event.data
        if event.kind == "cloudpay.request":
            self._request(d)
            return
        guid = str(d.get("payment") or "")
        if event.kind == "cloudpay.payment_created":
            row = _open(event, len(self.payments) + 1)
            self.payments[guid] = _Payment(row, row.name)
        payment = self.payments.get(guid)
        if payment is None:  # an event of a payment this log does not hold: evidence, not a row
            return
        row = payment.row
        row.last_seq, row.last_ts, row.stop = event.seq, event.ts, event.ts
        if event.kind == "cloudpay.payment":
            payment.settled = "approved" if d.get("approved") else "declined"
        elif event.kind == "cloudpay.postback":
            payment.postback = d
        if event.kind != "cloudpay.payment_created":
            row.steps.append(_step(event, step_text(event.kind, d)))

    def _request(self, d: dict[str, Any]) -> None:
        self.requests["requests"] += 1
        status, path = int(d.get("status") or 0), str(d.get("path") or "").lower()
        if status >= 500:
            self.requests["server_errors"] += 1
            self.first_error = self.first_error or f"{d.get('method')} {d.get('path')} answered {status}"
        elif status >= 400 and path.startswith(VENDOR_PATHS) and d.get("method") != "OPTIONS":
            self.requests["refused"] += 1

    def rows(self, interrupted: bool) -> list[ScenarioRecord]:
        """Every payment as a row, its status settled by how the run ended (``interrupted``: did not finish)."""
        return [_judge(payment, interrupted) for payment in self.payments.values()]

    def verdict(self, interrupted: bool = False) -> tuple[str, dict[str, int], str]:
        """(status, counts by row status, error): passed when a payment was settled and posted back, none failed
        and the platform answered no request with a 5xx (that is the harness's fault: the evidence is in doubt)."""
        counts = Counter(row.status for row in self.rows(interrupted))
        error = (f"the platform (the harness) answered {self.requests['server_errors']} request(s) with a 5xx, "
                 f"first: {self.first_error}") if self.first_error else ""
        passed = counts["passed"] > 0 and not counts["failed"] and not error
        kept = ("passed", "failed", "not_run", "interrupted") if interrupted else ("passed", "failed", "not_run")
        return ("passed" if passed else "failed"), {k: counts[k] for k in kept}, error


def _open(event: Event, number: int) -> ScenarioRecord:
    d = event.data
    invoices = [i for i in d.get("invoices") or [] if isinstance(i, dict)]
    numbers = ", ".join(str(i.get("number")) for i in invoices if i.get("number")) or "no invoice number"
    name = (f"{d.get('amount')} for {len(invoices)} invoice{'' if len(invoices) == 1 else 's'} ({numbers}), "
            f"CloudPay {d.get('version')}")
    if d.get("biller_reference"):
        name += f", reference {d.get('biller_reference')}"
    row = ScenarioRecord(sit_id=f"PAY-{number:03d}", name=name, feature=SECTION, feature_file="", line=0,
                         tags=["served", "cloudpay"], start=event.ts, first_seq=event.seq, last_seq=event.seq,
                         last_ts=event.ts, stop=event.ts)
    row.steps.append(_step(event, step_text(event.kind, d)))
    return row


def _step(event: Event, text: str) -> StepRecord:
    return StepRecord(keyword="", text=text, line=0, start=event.ts, first_seq=event.seq, stop=event.ts,
                      status="passed", evidence=[Evidence(event.seq, event.kind, event.ts, event.data)])


def step_text(kind: str, d: dict[str, Any]) -> str:
    """One observation of a payment in words: what the platform saw or did."""
    if kind == "cloudpay.payment_created":
        how = "through the v2 API" if d.get("version") == "v2" else "by the v1 redirect"
        return f"the vendor's application created a payment of {d.get('amount')} {how}"
    if kind == "cloudpay.page_viewed":
        return f"the payer was shown the {d.get('page')} page"
    if kind == "cloudpay.card_refused":
        return f"the hosted page refused the card: {d.get('reason')}"
    if kind == "cloudpay.payment":
        card = f"{d.get('card_type')} ...{d.get('last4')}"
        return (f"the payer paid {d.get('amount')} by {card}: approved" if d.get("approved") else
                f"the payer's {card} was declined for {d.get('amount')}: {d.get('message')}")
    if kind == "cloudpay.duplicate_submit":
        return "the hosted page was submitted again: nothing charged, nothing posted back"
    if kind == "cloudpay.postback":
        answer = d.get("status") or d.get("error") or ""
        return f"the platform posted back to {d.get('url')} (attempt {d.get('attempt')}): {d.get('outcome')} {answer}"
    if kind == "cloudpay.postback_probe":
        verdict = "accepted it: flagged" if d.get("accepted") else "refused it"
        answer = d.get("status") or "no answer"
        return f"a {d.get('probe')} postback was sent to the vendor (HTTP {answer}): it {verdict}"
    return kind


def _judge(payment: _Payment, interrupted: bool) -> ScenarioRecord:
    row, postback = payment.row, payment.postback
    outcome = str(postback.get("outcome") or "")
    answer = postback.get("status") or postback.get("error") or ""
    if not payment.settled:
        row.status = "interrupted" if interrupted else "not_run"
        row.reason, row.error = ("", INTERRUPTED) if interrupted else (NOT_PAID, "")
        row.category = "interrupted" if interrupted else ""
    elif outcome == "delivered":
        row.status, row.error, row.category = "passed", "", ""
        sentence = f"the vendor's application took the postback ({answer}): the payment {payment.settled}"
        row.steps[-1].expectations = [{"what": "the postback", "expected": "delivered", "actual": outcome, "ok": True,
                                       "sentence": "the vendor took the postback", "actual_sentence": sentence}]
    else:
        row.status, row.category = "failed", "partner"
        row.error = {
            "refused": f"the vendor's PostBackURL refused the postback ({answer})",
            "gave_up": f"the postback was never taken: {postback.get('attempt')} attempts, the last answered {answer}",
            "abandoned": "the postback was still being retried when the run ended",
            "retrying": "the postback was still being retried when the run ended",
        }.get(outcome, "the payment was settled but no postback was sent")
        if row.steps:
            row.steps[-1].status, row.steps[-1].error, row.steps[-1].category = "failed", row.error, "partner"
    row.name = f"{payment.name}: {payment.settled or 'not paid'}"
    return row
