"""CloudPay: the harness plays the vendor's application and the payer against the platform's CloudPay side;
the vendor's PostBackURL and ReturnURL are WireMock's, so what reached them is evidence."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from harness.catalogue import given, then, when
from harness.cloudpay import APPROVING_CARD, DECLINING_CARD
from harness.cloudpay.probes import FORGED, REPLAYED, accepted, flag, forged
from harness.events import Event
from harness.partners.cloudpay import POSTBACK, RETURN, Invoice
from harness.scenario import PartnerCall, ScenarioContext, counted, listed, times

POSTBACK_WAIT_S = 20.0  # longer than every attempt of the profile's postback schedule together
UNAUTHORIZED = "Authorization has been denied for this request."


# -- the vendor's application starts a payment ----------------------------------------------------------------


def _types(sit: ScenarioContext) -> list[int]:
    """The invoice types the vendor's application pays for the biller."""
    app = sit.biller.profile.cloudpay
    return list(app.invoice_types if app else []) or [t.id for t in sit.biller.profile.invoice_types]


def _start(sit: ScenarioContext, amounts: list[tuple[int, Decimal]], key: str | None = "",
           amounts_as_text: bool = False) -> None:
    """The vendor's application starts one payment of an invoice per (type, amount); ``key`` "" is the biller's
    active API key (v2), None none at all."""
    invoices = [Invoice(sit.fake.numerify("INV-######"), type_id, amount) for type_id, amount in amounts]
    customer = {"AccountNumber": sit.account_number(), "Name": sit.fake.name(),
                "Address": sit.fake.street_address(), "City": sit.fake.city(), "State": sit.fake.state_abbr(),
                "Zip": sit.fake.zipcode(), "EmailAddress": sit.fake.email()}
    reference = f"{sit.biller.setting('vendor_prefix', '')}{sit.fake.numerify('2026-#####')}"
    api_key = sit.partner.api_key() if key == "" and sit.biller.cloudpay_version == 2 else key or None
    sit.vars.update(invoices=invoices, reference=reference, payer_name=customer["Name"])
    sit.vars["started"] = sit.session.vendor_app.start(api_key, invoices, customer, reference, amounts_as_text)


@given("the vendor's application started a payment of {amount:Money} for an invoice of the biller")
def started_payment(sit: ScenarioContext, amount: Decimal) -> None:
    """The vendor's Pay Now: a payment of one invoice of the biller's first CloudPay invoice type, created
    through the v2 API with the biller's API key, or (v1) as the link the payer's browser follows."""
    _start(sit, [(_types(sit)[0], amount)])
    _on_page(sit)


@when("the vendor's application starts a payment of {amount:Money} for an invoice of the biller")
def starts_payment(sit: ScenarioContext, amount: Decimal) -> None:
    """As above, the step under test."""
    _start(sit, [(_types(sit)[0], amount)])


@when("the vendor's application starts a payment of {amount:Money} for an invoice of the biller, the amount as text")
def starts_payment_text(sit: ScenarioContext, amount: Decimal) -> None:
    """As above, each BalanceDue sent as a JSON string ("19.99"), as some public clients send it."""
    _start(sit, [(_types(sit)[0], amount)], amounts_as_text=True)


@given("the vendor's application started one payment of {amount:Money} for an invoice of each of the biller's "
       "invoice types")
def started_each_type(sit: ScenarioContext, amount: Decimal) -> None:
    """One payment carrying an invoice of ``amount`` for each invoice type the vendor's application pays."""
    _start(sit, [(type_id, amount) for type_id in _types(sit)])
    _on_page(sit)


@when("the vendor's application starts a payment of {amount:Money} for an invoice of the biller with an unknown "
      "API key")
def starts_unknown_key(sit: ScenarioContext, amount: Decimal) -> None:
    """A v2 payment whose Basic credential is a key the biller never issued."""
    _start(sit, [(_types(sit)[0], amount)], key=sit.unknown_api_key())


@when("the vendor's application starts a payment of {amount:Money} for an invoice of the biller with the biller's "
      "retired API key")
def starts_retired_key(sit: ScenarioContext, amount: Decimal) -> None:
    """A v2 payment with a key the biller retired (inactive in its profile)."""
    _start(sit, [(_types(sit)[0], amount)], key=sit.partner.api_key(active=False))


@when("the vendor's application starts a payment of {amount:Money} for an invoice of the biller with no API key")
def starts_no_key(sit: ScenarioContext, amount: Decimal) -> None:
    """A v2 payment with no Authorization header at all."""
    _start(sit, [(_types(sit)[0], amount)], key=None)


@when("the vendor's application starts a payment of {amount:Money} for an invoice of a type the biller does not "
      "have")
def starts_foreign_type(sit: ScenarioContext, amount: Decimal) -> None:
    """A payment whose invoice carries a TypeID that is none of the biller's (a vendor configured wrongly)."""
    known = {t.id for t in sit.biller.profile.invoice_types}
    sit.vars["foreign_type"] = foreign = next(n for n in range(1, 1000) if n not in known)
    _start(sit, [(foreign, amount)])


def _on_page(sit: ScenarioContext) -> None:
    started = sit.vars["started"]
    sit.expect("the platform to hand the payer {}", True, started.page is not None, "the platform handed the payer {}",
               show={True: "a hosted payment page", False: f"no page: {started.status} {started.message}"})


@when("the vendor's application asks the platform whether the biller is active")
def asks_status(sit: ScenarioContext) -> None:
    """The biller-status call some applications make before they offer Pay Now."""
    sit.vars["status"] = sit.session.vendor_app.biller_status(sit.partner.api_key())


@then("the platform answers that the biller is active for CloudPay v2")
def biller_active(sit: ScenarioContext) -> None:
    """HTTP 200, the biller active, and CloudPay v2 among its versions."""
    status, envelope = sit.vars["status"]
    data = envelope.get("Data") or {}
    sit.expect("the platform to answer {}", (200, True, True),
               (status, data.get("Active"), "v2" in (data.get("CloudPayVersions") or [])),
               "the platform answered {}", show=lambda answer: f"HTTP {answer[0]}, active {answer[1]}, "
               f"CloudPay v2 {'enabled' if answer[2] else 'not enabled'}")


# -- the payer ---------------------------------------------------------------------------------------------------


@then("the payer is on the platform's hosted payment page for {amount:Money}")
def on_hosted_page(sit: ScenarioContext, amount: Decimal) -> None:
    """The page the vendor handed the payer to is the platform's payment form, for the payment's amount."""
    _on_page(sit)
    page = sit.session.payer.open(sit.vars["started"].page)
    sit.expect("the payer to see {}", (200, f"${amount:.2f}", True),
               (page.status, page.shown.get("amount"), "CardNumber" in page.shown),
               "the payer saw {}", show=lambda seen: f"HTTP {seen[0]}, the amount {seen[1]}, "
               f"{'a card form' if seen[2] else 'no card form'}")


def _pay(sit: ScenarioContext, card: str) -> None:
    sit.vars["card"] = card
    sit.vars["outcome"] = sit.session.payer.pay(sit.vars["started"].page, card, sit.vars["payer_name"])


@when("the payer pays with the approving test card")
@given("the payer paid with the approving test card")
def pays_approving(sit: ScenarioContext) -> None:
    """On the hosted page: the approving test card, a future expiry, a CVV and a name, then Pay."""
    _pay(sit, APPROVING_CARD)


@when("the payer pays with the declining test card")
def pays_declining(sit: ScenarioContext) -> None:
    """As above, with the test card the processor declines."""
    _pay(sit, DECLINING_CARD)


@when("the payer presses Pay again")
def pays_again(sit: ScenarioContext) -> None:
    """The payment form sent a second time, as a double click or the back button sends it."""
    sit.vars["again"] = sit.session.payer.submit_again(sit.vars["outcome"], sit.vars["card"], sit.vars["payer_name"])


@then("the payer sees a printable receipt for {amount:Money} with a confirmation number")
def sees_receipt(sit: ScenarioContext, amount: Decimal) -> None:
    """The receipt page: approved, the amount, a confirmation number, the card by its last four digits."""
    page = sit.vars["outcome"]
    confirmation = page.shown.get("confirmation", "")
    sit.expect("the payer to see {}", ("Payment approved", f"${amount:.2f}", True, f"ending {sit.vars['card'][-4:]}"),
               (page.title, page.shown.get("amount"), confirmation.isdigit(), (page.shown.get("card") or "")[-11:]),
               "the payer saw {}", show=lambda seen: f'"{seen[0]}", the amount {seen[1]}, '
               f"{'a' if seen[2] else 'no'} confirmation number, the card {seen[3] or 'not shown'}")


@then("the payer sees that the payment was declined")
def sees_declined(sit: ScenarioContext) -> None:
    """The decline page, telling the payer the card was not charged."""
    page = sit.vars["outcome"]
    sit.expect("the payer to see {}", ("Payment declined", True), (page.title, "not charged" in
               page.shown.get("message", "")), "the payer saw {}",
               show=lambda seen: f'"{seen[0]}", {"told" if seen[1] else "not told"} the card was not charged')


@when("the payer returns to the vendor's application")
def returns(sit: ScenarioContext) -> None:
    """The receipt's "Return to ..." link, followed."""
    sit.vars["returned"] = sit.session.payer.follow(sit.vars["outcome"], "return").status_code


@then("the vendor's application sees the payer come back")
def came_back(sit: ScenarioContext) -> None:
    """The ReturnURL the vendor gave is where the link led: the vendor's side received the payer's GET."""
    sit.observe(force=True)
    returned = sit.partner.calls(RETURN)
    sit.expect("the vendor's application to see the payer come back {}", (200, 1), (sit.vars["returned"],
               len(returned)), "the vendor's application saw the payer come back {}",
               show=lambda seen: f"{times(seen[1])} (HTTP {seen[0]})")


# -- the postback ------------------------------------------------------------------------------------------------


def _payment(sit: ScenarioContext) -> str:
    created = sit.session.recorder.scope_events("cloudpay.payment_created")
    assert created, "the scenario started no payment"
    return str(created[-1].data["payment"])


def _attempts(sit: ScenarioContext, guid: str) -> list[Event]:
    """The platform's postback attempts for payment ``guid``, once every postback sent so far has its outcome."""
    sit.session.wait_postbacks(POSTBACK_WAIT_S)
    return [e for e in sit.session.recorder.scope_events("cloudpay.postback") if e.data["payment"] == guid]


def _received(sit: ScenarioContext, guid: str) -> list[PartnerCall]:
    """The postbacks for ``guid`` that reached the vendor's PostBackURL (WireMock's journal)."""
    _attempts(sit, guid)
    sit.observe(force=True)
    return [c for c in sit.partner.calls(POSTBACK) if c.fields.get("PaymentGUID") == guid]


def _postbacks(sit: ScenarioContext, count: int, approved: bool, attempt: int | None = None) -> None:
    guid = _payment(sit)
    received = _received(sit, guid)
    verdict = "True" if approved else "False"
    sit.expect("the vendor to receive {}", [verdict] * count, [c.fields.get("Approved") for c in received],
               "the vendor received {}", show=listed(lambda said: f"a postback with Approved={said}",
                                                     none="no postback"))
    if attempt is not None:
        delivered = [e.data["attempt"] for e in _attempts(sit, guid) if e.data["outcome"] == "delivered"]
        sit.expect("the platform to deliver the postback {}", [attempt], delivered,
                   "the platform delivered the postback {}", show=listed(lambda n: f"at attempt {n}",
                                                                         none="at no attempt"))


@then("the vendor receives one postback approving the payment")
def one_postback_approving(sit: ScenarioContext) -> None:
    """Once the platform's postback settled, the vendor's PostBackURL received one, with Approved=True."""
    _postbacks(sit, 1, approved=True)


@then("the vendor receives one postback declining the payment")
def one_postback_declining(sit: ScenarioContext) -> None:
    """As above with Approved=False, and no convenience fee charged."""
    _postbacks(sit, 1, approved=False)
    fee = [c.fields.get("ConvenienceFee") for c in _received(sit, _payment(sit))]
    sit.expect("the declined postback to charge {}", ["0.00"], fee, "the declined postback charges {}",
               show=listed(lambda value: f"a convenience fee of {value}"))


@then("the vendor receives one postback approving the payment, at attempt {attempt:Count}")
def postback_at_attempt(sit: ScenarioContext, attempt: int) -> None:
    """The vendor's 5xx answers were retried: of all the attempts, the vendor took the one numbered ``attempt``."""
    guid = _payment(sit)
    sent = len(_attempts(sit, guid))
    sit.expect("the platform to send the postback {}", attempt, sent, "the platform sent it {}",
               show=times)
    _postbacks(sit, attempt, approved=True, attempt=attempt)


@then("the vendor receives {count:Count} postbacks approving the payment, each with the payment's GUID")
def postbacks_same_guid(sit: ScenarioContext, count: int) -> None:
    """A postback answered too late was sent again: the vendor has each, by the one GUID it can tell them by."""
    _postbacks(sit, count, approved=True)


@then("the postback carries the payment's invoices, amount, reference and GUID")
def postback_fields(sit: ScenarioContext) -> None:
    """The postback the vendor received names the payment's invoices (comma-joined), its amount (their sum), the
    vendor's reference, the payment's GUID, the biller's GUID and the card payment type."""
    guid = _payment(sit)
    received = _received(sit, guid)
    invoices: list[Invoice] = sit.vars["invoices"]
    wanted = {"InvoiceNumber": ",".join(i.number for i in invoices),
              "PaymentAmount": f"{sum((i.amount for i in invoices), Decimal(0)):.2f}",
              "BillerReference": sit.vars["reference"], "PaymentGUID": guid,
              "BillerGUID": sit.session.vendor_app.biller_guid, "PaymentTypeID": "1"}
    got = {name: received[0].fields.get(name) for name in wanted} if received else {}
    sit.expect("the postback to carry {}", wanted, got, "the postback carries {}", show=_fields)


def _fields(fields: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value!r}" for name, value in fields.items()) or "nothing: no postback"


# -- postbacks the platform did not send --------------------------------------------------------------------------


def _probe(sit: ScenarioContext, probe: str, fields: dict[str, str]) -> None:
    """Send the vendor a postback the platform did not send, and keep what the vendor answered: an unauthenticated
    postback the vendor takes is a finding the sign-off flags."""
    status = sit.session.vendor_app.post_back(fields)
    sit.vars["probe"] = status
    sit.session.recorder.append("cloudpay.postback_probe", probe=probe, status=status, accepted=accepted(status),
                                payment=fields.get("PaymentGUID"))
    if (text := flag(probe, status)) is not None:
        sit.session.recorder.append("finding", sit_id=sit.sit_id, text=text)


@when("someone sends the vendor a postback approving a payment the platform never took")
def forged_postback(sit: ScenarioContext) -> None:
    """A postback shaped like the platform's, for a GUID the platform never issued: anyone who knows the
    PostBackURL can send one, since the postback carries no credential."""
    _probe(sit, FORGED, forged({"BillerGUID": sit.session.vendor_app.biller_guid, "PaymentAmount": "80.00",
                                "PaymentTypeID": "1", "ConvenienceFee": "0.00"}))


@when("someone sends the vendor the same postback again")
def replayed_postback(sit: ScenarioContext) -> None:
    """The platform's own postback for the payment, sent again by someone who saw it."""
    received = _received(sit, _payment(sit))
    assert received, "the platform's postback never reached the vendor: nothing to replay"
    fields = {k: v for k, v in received[0].fields.items() if k != "role"}
    _probe(sit, REPLAYED, fields)


def _answered(sit: ScenarioContext, probe: str) -> None:
    status = sit.vars["probe"]
    verdict = "ACCEPTED it (flagged in the sign-off)" if 200 <= status < 300 else "refused it"
    sit.expect(f"the vendor to answer the {probe} postback {{}}", True, status > 0,
               f"the vendor answered the {probe} postback {{}}",
               show={True: f"with HTTP {status}: it {verdict}", False: "not at all"})


@then("the vendor's answer to the forged postback is in the workbook")
def forged_answer(sit: ScenarioContext) -> None:
    """The vendor answered (any HTTP status): accepted, it is flagged in the sign-off; refused, it is not."""
    _answered(sit, "forged")


@then("the vendor's answer to the replayed postback is in the workbook")
def replayed_answer(sit: ScenarioContext) -> None:
    """As above, for the replayed postback."""
    _answered(sit, "replayed")


@then("the platform took no payment and sent no postback")
def took_nothing(sit: ScenarioContext) -> None:
    """The platform neither took a payment nor sent a postback in the scenario: the forgery was not its."""
    kinds = [e.kind for e in sit.session.recorder.scope_events() if e.kind in ("cloudpay.payment",
                                                                               "cloudpay.postback")]
    sit.expect("the platform to {}", [], kinds, "the platform did {}", instead="it did {}",
               show=listed(lambda kind: "take a payment" if kind == "cloudpay.payment" else "send a postback",
                           none="nothing"))


@then("the platform took the payment once and posted it back once")
def once_and_once(sit: ScenarioContext) -> None:
    """One settlement of the payment and one postback delivered for it, whatever else arrived."""
    guid = _payment(sit)
    attempts = _attempts(sit, guid)
    paid = [e for e in sit.session.recorder.scope_events("cloudpay.payment") if e.data["payment"] == guid]
    delivered = [e for e in attempts if e.data["outcome"] == "delivered"]
    sit.expect("the platform to {}", (1, 1), (len(paid), len(delivered)), "the platform did {}",
               show=lambda n: f"take the payment {times(n[0])} and deliver its postback {times(n[1])}")


# -- refusals ----------------------------------------------------------------------------------------------------


@then("the platform refuses it as unauthorized in its error shape, and takes no payment")
def refused_unauthorized(sit: ScenarioContext) -> None:
    """HTTP 401 with the platform's error envelope and message, no payment page, and no payment created."""
    started = sit.vars["started"]
    sit.expect("the platform to answer {}", (401, UNAUTHORIZED, None), (started.status, started.message, started.page),
               "the platform answered {}", show=lambda a: f'HTTP {a[0]}, "{a[1]}"' + (", a payment page" if a[2]
                                                                                        else ""))
    _no_payment(sit)


@then("the platform refuses the payment, naming the invoice type, and takes no payment")
def refused_type(sit: ScenarioContext) -> None:
    """HTTP 400 naming the TypeID the biller does not have (the API's envelope, or v1's error page); no payment."""
    started, type_id = sit.vars["started"], sit.vars["foreign_type"]
    sit.expect("the platform to refuse the payment {}", (400, True), (started.status,
               f"TypeID {type_id}" in started.message), "the platform answered {}",
               show=lambda a: f"HTTP {a[0]}, {'naming' if a[1] else 'not naming'} TypeID {type_id}")
    _no_payment(sit)


def _no_payment(sit: ScenarioContext) -> None:
    created = sit.session.recorder.scope_events("cloudpay.payment_created")
    sit.expect("the platform to create {}", 0, len(created), "the platform created {}", show=counted("payment"))


# -- the vendor's PostBackURL failing ----------------------------------------------------------------------------


@given("the vendor's application answers the postback with a server error {times:Count} times")
def postback_server_error(sit: ScenarioContext, times: int) -> None:
    """The vendor's PostBackURL answers HTTP 503 to the first ``times`` postbacks, then takes them."""
    sit.partner.fails(POSTBACK, "server_error", times)


@given("the vendor's application answers the postback later than the platform waits, once")
def postback_late(sit: ScenarioContext) -> None:
    """The vendor takes the first postback but answers after the platform stopped waiting, then answers at once."""
    sit.partner.fails(POSTBACK, "timeout", 1)
