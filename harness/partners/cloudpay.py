"""CloudPay from the vendor's side: in a run the harness plays the vendor's application.

The vendor's PostBackURL and ReturnURL are WireMock stubs (``stubs/cloudpay/``): ``CloudPayStubs``
reads what reached them and makes the postback fail on purpose. ``VendorApp`` is the application
itself: it asks the platform whether the biller is active, starts payments (v2 through the API with the
biller's API key, v1 by sending the payer's browser with the payment in the link), and sends the
postbacks a forger or a replay would send to the vendor.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from lxml import html

from harness.cloudpay import probes
from harness.errors import SitError
from harness.partners.base import Adapter, PartnerStubs

POSTBACK, RETURN = "postback", "return"
API_PATH = "/cloudpaymentsapi/v2"
STATUS_PATH = "/cloudpaymentsapi/v2/billerstatus"
V1_PATH = "/cloudpay/v1"


class CloudPayStubs(PartnerStubs):
    """The vendor's URLs as WireMock serves them: the postback (form-encoded) and the payer's return."""

    def _path(self, role: str) -> str:
        return self.partner.endpoints[role]

    def decode(self, method: str, url: str, headers: Mapping[str, str], body: str) -> tuple[str, dict[str, str]]:
        parts = urlsplit(url)
        if method == "POST" and parts.path == self._path(POSTBACK):
            return POSTBACK, {"role": POSTBACK, **dict(parse_qsl(body, keep_blank_values=True))}
        if method == "GET" and parts.path == self._path(RETURN):
            return RETURN, {"role": RETURN, **dict(parse_qsl(parts.query, keep_blank_values=True))}
        return f"{method} {parts.path}", {}

    def account(self, account: str, fields: Mapping[str, str]) -> dict[str, Any]:
        raise SitError("a CloudPay vendor holds no accounts the platform asks about: the amount due is in the "
                       "payment request (a scenario about balances is N/A for CloudPay)")

    def fault_request(self, role: str) -> tuple[str, dict[str, Any]]:
        if role != POSTBACK:
            raise SitError(f"a CloudPay vendor takes only postbacks from the platform, not '{role}'")
        return POSTBACK, {"method": "POST", "urlPath": self._path(POSTBACK)}

    def posted_answer(self, call: str, again: bool) -> dict[str, Any]:
        return {"status": 204}  # what a vendor answers a postback it took (the public handlers do)


ADAPTER = Adapter(stubs=CloudPayStubs)


@dataclass(frozen=True)
class Invoice:
    number: str
    type_id: int
    amount: Decimal


@dataclass(frozen=True)
class Started:
    """The platform's answer to a payment the vendor started: ``page`` is the hosted page (None: refused)."""

    status: int
    message: str
    page: str | None


@dataclass
class VendorApp:
    """The vendor's application, as the harness plays it against the platform's CloudPay side at ``platform``."""

    platform: str  # the platform's CloudPay base URL
    version: int  # 1 or 2
    biller_guid: str
    postback_url: str
    return_url: str
    client: httpx.Client

    def biller_status(self, key: str | None) -> tuple[int, dict[str, Any]]:
        """Whether the biller is active for CloudPay v2: the answer's status and its envelope."""
        answer = self.client.get(self.platform + STATUS_PATH, headers=_basic(key))
        return answer.status_code, _envelope(answer)

    def start(self, key: str | None, invoices: Sequence[Invoice], customer: Mapping[str, str],
              reference: str, amounts_as_text: bool = False) -> Started:
        """Start a payment of ``invoices`` as the vendor's version does: v2 creates it through the API
        (``key`` in HTTP Basic), v1 sends the payer's browser with the payment in the link."""
        if self.version == 1:
            return self._redirect(invoices[0], customer, reference)
        body = {
            "CreateCustomerRecord": False, "AllowCCPayment": True, "AllowACHPayment": False, "AllowSwipe": False,
            "ReturnURL": self.return_url, "PostBackURL": self.postback_url, "BillerReference": reference,
            "ViewMode": 0,
            "Customers": [{**customer, "Invoices": [
                {"InvoiceNumber": i.number, "TypeID": i.type_id,
                 "BalanceDue": f"{i.amount:.2f}" if amounts_as_text else float(i.amount)} for i in invoices]}]}
        answer = self.client.post(self.platform + API_PATH, json=body, headers=_basic(key))
        envelope = _envelope(answer)
        data = envelope.get("Data") or {}
        return Started(answer.status_code, str(envelope.get("Message", "")),
                       data.get("CloudPaymentURL") if answer.is_success else None)

    def _redirect(self, invoice: Invoice, customer: Mapping[str, str], reference: str) -> Started:
        params = {"BillerGUID": self.biller_guid, "InvoiceNumber": invoice.number, "TypeID": str(invoice.type_id),
                  "Amount": f"{invoice.amount:.2f}", "AccountNumber": customer.get("AccountNumber", ""),
                  "CustomerName": customer.get("Name", ""), "EmailAddress": customer.get("EmailAddress", ""),
                  "BillerReference": reference, "ReturnURL": self.return_url, "PostBackURL": self.postback_url}
        answer = self.client.get(f"{self.platform}{V1_PATH}?{urlencode(params)}", follow_redirects=False)
        if answer.is_redirect:
            return Started(answer.status_code, answer.reason_phrase, answer.headers.get("location"))
        shown = html.fromstring(answer.text or "<html/>").xpath('string(//*[@id="error"])')
        return Started(answer.status_code, " ".join(str(shown).split()) or answer.reason_phrase, None)

    def post_back(self, fields: Mapping[str, str]) -> int:
        """A postback sent to the vendor's PostBackURL by someone other than the platform: its status (0: none)."""
        return probes.send(self.client, self.postback_url, fields)


def _basic(key: str | None) -> dict[str, str]:
    """HTTP Basic as the public clients build it: the API key alone, base64 encoded."""
    return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()} if key is not None else {}


def _envelope(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
