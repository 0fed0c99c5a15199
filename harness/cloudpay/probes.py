"""Postbacks the platform did not send: the postback carries no credential, so anyone who knows a vendor's
PostBackURL can send one. A forged postback names a payment the platform never took; a replayed one is a
real postback sent again. Whether the vendor takes them is what SIT records, and a sign-off flags."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import httpx

FORGED, REPLAYED = "forged", "replayed"
# What it means that the vendor took one: the sign-off's flag.
_TOOK = {
    FORGED: "The vendor accepted a forged postback (HTTP {}) for a payment the platform never took: its "
            "PostBackURL takes postbacks nobody authenticated, so anyone who knows it can mark an invoice paid. "
            "Agree with the vendor how it checks each postback (its PaymentGUID and amount against the payments "
            "its application started) before go-live.",
    REPLAYED: "The vendor accepted a replayed postback (HTTP {}) of a payment it had already been told of: unless "
              "it takes each PaymentGUID once, a replay marks the payment twice. Agree with the vendor that it "
              "does before go-live.",
}


def forged(fields: Mapping[str, str]) -> dict[str, str]:
    """A postback shaped like ``fields`` (a real one) for a payment GUID the platform never issued."""
    return {**fields, "PaymentGUID": str(uuid.uuid4()).upper(), "Approved": "True",
            "InvoiceNumber": f"FORGED-{uuid.uuid4().hex[:6].upper()}", "BillerReference": "forged"}


def send(client: httpx.Client, url: str, fields: Mapping[str, str]) -> int:
    """POST ``fields`` form-encoded to ``url`` as the platform would: the vendor's status (0: no answer)."""
    try:
        return client.post(url, data=dict(fields)).status_code
    except httpx.HTTPError:
        return 0


def accepted(status: int) -> bool:
    return 200 <= status < 300


def flag(probe: str, status: int) -> str | None:
    """The sign-off's flag when the vendor took the ``probe`` postback (answered ``status``), else None."""
    return _TOOK[probe].format(status) if accepted(status) else None
