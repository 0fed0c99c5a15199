"""The payer's side: CloudPay v1's redirect in, the hosted payment page, the receipt or decline."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from harness.cloudpay.answers import Response, html, redirect
from harness.cloudpay.api import created
from harness.cloudpay.cards import authorize, read_card
from harness.cloudpay.config import V1
from harness.cloudpay.context import Context
from harness.cloudpay.ledger import Payment, Settlement
from harness.cloudpay.pages import error_page, outcome_page, payment_page
from harness.cloudpay.postback import money, postback_fields
from harness.cloudpay.wire import RequestError, v1_request


def v1_redirect(ctx: Context, params: Mapping[str, str]) -> Response:
    """CloudPay v1: the vendor sends the payer's browser here with the payment in the parameters."""
    if V1 not in ctx.biller.versions:
        return html(HTTPStatus.FORBIDDEN, error_page(ctx.biller, "CloudPay v1 is not enabled for this biller."),
                    "CloudPay v1 is not enabled for this biller")
    guid = params.get("BillerGUID") or params.get("billerguid") or ""
    if guid and guid.upper() != ctx.biller.guid:
        return html(HTTPStatus.NOT_FOUND, error_page(ctx.biller, "No such biller."), "unknown BillerGUID")
    try:
        request = v1_request(params)
    except RequestError as exc:
        return html(HTTPStatus.BAD_REQUEST, error_page(ctx.biller, f"The payment link is invalid: {exc}."), str(exc))
    if (foreign := ctx.biller.foreign_type(request.type_ids)) is not None:
        return html(HTTPStatus.BAD_REQUEST, error_page(ctx.biller, f"The payment link is invalid: {foreign}."),
                    foreign)
    payment = ctx.ledger.create(request, V1, ctx.now())
    ctx.observe("cloudpay.payment_created", created(payment))
    return redirect(ctx.page_url(payment.guid), "redirected to the hosted payment page")


def _payment(ctx: Context, guid: str) -> Payment | Response:
    payment = ctx.ledger.get(guid)
    if payment is None:
        return html(HTTPStatus.NOT_FOUND, error_page(ctx.biller, "There is no such payment."), "no such payment")
    return payment


def show_page(ctx: Context, guid: str) -> Response:
    found = _payment(ctx, guid)
    if isinstance(found, Response):
        return found
    if found.settlement is not None:  # paid or declined already: the page is not offered again
        return redirect(f"{ctx.base_url}/cloudpay/receipt/{found.guid}", "already settled")
    ctx.observe("cloudpay.page_viewed", {"payment": found.guid, "page": "payment"})
    return html(HTTPStatus.OK, payment_page(found, ctx.biller))


def show_outcome(ctx: Context, guid: str) -> Response:
    found = _payment(ctx, guid)
    if isinstance(found, Response):
        return found
    if found.settlement is None:
        return redirect(ctx.page_url(found.guid), "not paid yet")
    page = "receipt" if found.settlement.approved else "declined"
    ctx.observe("cloudpay.page_viewed", {"payment": found.guid, "page": page})
    return html(HTTPStatus.OK, outcome_page(found, ctx.biller))


def submit(ctx: Context, guid: str, form: Mapping[str, str], remote_ip: str) -> Response:
    """The payer pressed Pay: authorize once, post back, and send the browser to the outcome."""
    found = _payment(ctx, guid)
    if isinstance(found, Response):
        return found
    receipt = f"{ctx.base_url}/cloudpay/receipt/{found.guid}"
    if found.settlement is not None:
        ctx.observe("cloudpay.duplicate_submit", {"payment": found.guid})
        return redirect(receipt, "already settled: not charged again")
    now = ctx.now()
    try:
        card = read_card(form, now.date())
    except ValueError as exc:
        ctx.observe("cloudpay.card_refused", {"payment": found.guid, "reason": str(exc)})
        return html(HTTPStatus.BAD_REQUEST, payment_page(found, ctx.biller, str(exc)), str(exc))
    answer = authorize(card)
    settled, first = ctx.ledger.settle(found.guid, Settlement(
        approved=answer.approved, message=answer.message, card_type=card.brand, last4=card.last4, paid_at=now,
        remote_ip=remote_ip))
    if not first:  # a second submit raced the first one and lost: it charges nothing
        ctx.observe("cloudpay.duplicate_submit", {"payment": found.guid})
        return redirect(receipt, "already settled: not charged again")
    outcome = settled.settlement
    assert outcome is not None
    ctx.observe("cloudpay.payment", {"payment": settled.guid, "approved": outcome.approved,
                                     "message": outcome.message, "amount": money(settled.request.amount),
                                     "card_type": outcome.card_type, "last4": outcome.last4,
                                     "confirmation": outcome.confirmation})
    ctx.postbacks.send(settled.request.postback_url, postback_fields(settled, ctx.biller))
    return redirect(receipt, "approved" if outcome.approved else "declined")
