"""The platform's postback: form-encoded, server to server, to the vendor's PostBackURL, retried.

A 2xx is delivered; a 4xx is the vendor's refusal (not retried: sending it again would not change
its mind); a 5xx, a timeout or a refused connection is retried with backoff up to the policy's attempts.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import httpx

from harness.cloudpay.config import CloudPayBiller, Observe, PostbackPolicy
from harness.cloudpay.ledger import Payment

# Fields that carry the payer's personal data: sent to the vendor, never put into what is observed.
PERSONAL = ("CustomerName", "CustomerAddress", "CustomerCity", "CustomerState", "CustomerZip", "RemoteIP")
PAYMENT_TYPE_CARD = "1"


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def postback_fields(payment: Payment, biller: CloudPayBiller) -> dict[str, str]:
    """The documented postback fields for a settled ``payment``, in the platform's exact formats."""
    settled = payment.settlement
    assert settled is not None, "only a settled payment is posted back"
    request, customer = payment.request, payment.request.customer
    numbers = [invoice.number for invoice in request.invoices if invoice.number]
    return {
        "BillerGUID": biller.guid,
        "PaymentDate": settled.paid_at.strftime("%m/%d/%Y %I:%M:%S %p"),
        "InvoiceNumber": ",".join(numbers),
        "Approved": "True" if settled.approved else "False",
        "CustomerName": customer.name,
        "CustomerAddress": customer.address,
        "CustomerCity": customer.city,
        "CustomerState": customer.state,
        "CustomerZip": customer.zip,
        "PaymentGUID": payment.guid,
        "PaymentAmount": money(request.amount),
        "PaymentDescription": f"{biller.name}: invoice {', '.join(numbers)}" if numbers else biller.name,
        "PaymentTypeID": PAYMENT_TYPE_CARD,
        "CardType": settled.card_type,
        "PaymentMessage": settled.message,
        "BillerReference": request.biller_reference,
        "ConvenienceFee": money(request.convenience_fee if settled.approved else Decimal("0.00")),
        "RemoteIP": settled.remote_ip,
    }


class Postbacks:
    """Sends postbacks on threads of their own, so the payer's page never waits on the vendor."""

    def __init__(self, policy: PostbackPolicy, observe: Observe) -> None:
        self.policy, self.observe = policy, observe
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def send(self, url: str, fields: dict[str, str]) -> None:
        thread = threading.Thread(target=self._deliver, args=(url, fields), name="cloudpay-postback", daemon=True)
        self._threads.append(thread)
        thread.start()

    def wait(self, timeout_s: float) -> bool:
        """Wait until every postback sent so far has its last outcome (at most ``timeout_s``): whether all have."""
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop retrying (a waiting postback is abandoned, and observed so) and wait for the senders."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._threads.clear()

    def _deliver(self, url: str, fields: dict[str, str]) -> None:
        shown = {name: value for name, value in fields.items() if name not in PERSONAL}
        with httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False) as client:
            for attempt in range(1, self.policy.attempts + 1):
                outcome, detail = _attempt(client, url, fields)
                last = attempt == self.policy.attempts
                if outcome == "failed" and not last:
                    outcome = "retrying"
                elif outcome == "failed":
                    outcome = "gave_up"
                self.observe("cloudpay.postback", {"payment": fields["PaymentGUID"], "url": url, "attempt": attempt,
                                                   "outcome": outcome, **detail, "fields": shown})
                if outcome != "retrying":
                    return
                if self._stopping.wait(self.policy.delay(attempt)):
                    self.observe("cloudpay.postback", {"payment": fields["PaymentGUID"], "url": url,
                                                       "attempt": attempt, "outcome": "abandoned", "fields": shown})
                    return


def _attempt(client: httpx.Client, url: str, fields: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """One POST: ("delivered" | "refused" | "failed", what the vendor answered or what went wrong)."""
    try:
        response = client.post(url, data=fields)
    except httpx.TimeoutException:
        return "failed", {"error": "timeout"}
    except httpx.HTTPError as exc:
        return "failed", {"error": f"{type(exc).__name__}: {exc}"}
    detail: dict[str, Any] = {"status": response.status_code}
    if response.status_code >= 500:
        return "failed", detail
    return ("delivered" if response.is_success else "refused"), detail
