"""Bill presentment (bill images) and CloudPay hand-over."""

from __future__ import annotations

from decimal import Decimal

from harness.catalogue import then, when
from harness.scenario import ScenarioContext, times


@when("the payer opens the image of the bill")
def opens_image(sit: ScenarioContext) -> None:
    """The platform fetches the bill image of the first bill in the file from the partner."""
    record = sit.vars["records"][0]
    sit.partner.has_image_of(record["account_number"])
    sit.vars["account"], sit.vars["invoice"] = record["account_number"], record["invoice_number"]
    sit.vars["image"] = sit.platform.bill_image(record["account_number"], record["invoice_number"])


@then("the platform shows a PDF document")
def shows_pdf(sit: ScenarioContext) -> None:
    """What the payer gets is a PDF."""
    sit.expect("the bill image to start like a PDF, with {}", "%PDF-", sit.vars["image"][:5].decode("latin-1"),
               "the bill image starts with {}", instead="it starts with {}", show=lambda head: f'"{head}"')


@then("the platform asked the partner for that bill's image {count:Count} time")
@then("the platform asked the partner for that bill's image {count:Count} times")
def image_calls(sit: ScenarioContext, count: int) -> None:
    """How many bill image calls for this invoice reached the partner."""
    calls = [c for c in sit.partner.calls("statement_pdf") if c.fields.get("invoice") == sit.vars["invoice"]]
    sit.expect("the platform to ask the partner for the bill's image {}", count, len(calls),
               "the platform asked the partner for the bill's image {}", instead="it asked {}", show=times)


@when("the partner's application starts a CloudPay payment of {amount:Money} for the account")
def starts_cloudpay(sit: ScenarioContext, amount: Decimal) -> None:
    """A partner application hands the payer over with a Pay Now request."""
    sit.vars["cloudpay_url"] = sit.platform.start_cloudpay(sit.vars["account"], amount)


@then("the platform answers with its hosted payment page for that payment")
def hosted_page(sit: ScenarioContext) -> None:
    """The answer is the biller's hosted payment page."""
    prefix = f"/cloudpay/{sit.biller.profile.bid}/pay/"
    page = f"its hosted payment page ({prefix}...)"
    sit.expect(f"the platform to answer with {page}", True, sit.vars["cloudpay_url"].startswith(prefix),
               "the platform answered with {}", instead="it answered with {}",
               show={True: page, False: "another address than its hosted payment page"})
