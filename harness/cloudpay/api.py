"""The CloudPay v2 API: a vendor's server (or its page, through CORS) creates a payment, or asks the
biller's status, authenticated by the application API key in HTTP Basic."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from harness.cloudpay.answers import Response, envelope
from harness.cloudpay.config import V2
from harness.cloudpay.context import Context
from harness.cloudpay.credentials import authenticated
from harness.cloudpay.ledger import Payment
from harness.cloudpay.postback import money
from harness.cloudpay.wire import PaymentRequest, RequestError, parse_json, v2_request

UNAUTHORIZED = "Authorization has been denied for this request."


def _unauthorized(ctx: Context, authorization: str | None) -> Response | None:
    if authenticated(authorization, ctx.keys):
        return None
    # The challenge only to a client that sent nothing (some send credentials only when challenged):
    # one that sent a wrong key needs no prompt, and a browser's fetch must not pop a login dialog.
    challenge = {} if authorization else {"WWW-Authenticate": 'Basic realm="CloudPay"'}
    return envelope(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED, headers=challenge)


def _refusal(ctx: Context, authorization: str | None) -> Response | None:
    """The answer to a request that is not authenticated, or to a biller without CloudPay v2; else None."""
    unauthorized = _unauthorized(ctx, authorization)
    if unauthorized is not None:
        return unauthorized
    if V2 not in ctx.biller.versions:
        return envelope(HTTPStatus.FORBIDDEN, "CloudPay v2 is not enabled for this biller.")
    return None


def create_payment(ctx: Context, authorization: str | None, body: bytes) -> Response:
    refused = _refusal(ctx, authorization)
    if refused is not None:
        return refused
    try:
        request = v2_request(parse_json(body))
    except RequestError as exc:
        return envelope(HTTPStatus.BAD_REQUEST, f"The request is invalid: {exc}.")
    if (foreign := ctx.biller.foreign_type(request.type_ids)) is not None:
        return envelope(HTTPStatus.BAD_REQUEST, f"The request is invalid: {foreign}.")
    payment = ctx.ledger.create(request, V2, ctx.now())
    ctx.observe("cloudpay.payment_created", created(payment))
    return envelope(HTTPStatus.OK, "Success", {"CloudPaymentURL": ctx.page_url(payment.guid)})


def biller_status(ctx: Context, authorization: str | None) -> Response:
    unauthorized = _unauthorized(ctx, authorization)
    if unauthorized is not None:
        return unauthorized
    active = V2 in ctx.biller.versions
    data = {"BillerGUID": ctx.biller.guid, "BillerName": ctx.biller.name, "Active": active,
            "CloudPayVersions": list(ctx.biller.versions)}
    return envelope(HTTPStatus.OK, "The biller is active." if active else "CloudPay v2 is not enabled for this biller.",
                    data)


def created(payment: Payment) -> dict[str, Any]:
    """What the evidence keeps of a new payment: amounts and references, not the payer's details."""
    request: PaymentRequest = payment.request
    return {"payment": payment.guid, "version": payment.version, "amount": money(request.amount),
            "convenience_fee": money(request.convenience_fee), "biller_reference": request.biller_reference,
            "invoices": [{"number": i.number, "type_id": i.type_id, "balance_due": money(i.balance_due)}
                         for i in request.invoices],
            "return_url": request.return_url, "postback_url": request.postback_url}
