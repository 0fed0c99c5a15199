"""A payer in a real browser (Playwright driving Debian's Chromium) on the platform's hosted CloudPay page.

No skip: ``make test`` installs Chromium (scripts/system-packages.sh); a browser that cannot start fails
the test, saying why.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Error, Page, sync_playwright

from harness.cloudpay import APPROVING_CARD, DECLINING_CARD, CloudPayBiller, CloudPayServer, PostbackPolicy
from tests.support.cloudpay_vendor import Vendor, running_vendor

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
KEY = "ak_browser_test_91c2"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-packages.sh (make test does) to install Chromium")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        except Error as exc:
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {str(exc).splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture
def platform() -> Iterator[tuple[CloudPayServer, list[tuple[str, dict[str, Any]]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    server = CloudPayServer(CloudPayBiller(1368, "Clayton County Water", ("v2",), vendor="Permits Online"), [KEY],
                            lambda kind, data: seen.append((kind, data)),
                            PostbackPolicy(attempts=3, backoff_s=0.1, timeout_s=2))
    with server:
        yield server, seen


def cloud_payment_url(server: CloudPayServer, vendor: Vendor) -> str:
    """What the vendor's application does first: create the payment through the v2 API."""
    answer = httpx.post(f"{server.base_url}/cloudpaymentsapi/v2",
                        headers={"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()},
                        json={"Customers": [{"AccountNumber": "P-1001", "Name": "Pat Payer",
                                             "Invoices": [{"InvoiceNumber": "PRM-42", "TypeID": 43,
                                                           "BalanceDue": 80}]}],
                              "ReturnURL": vendor.return_url, "PostBackURL": vendor.postback_url,
                              "BillerReference": "PERMIT-42"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["Data"]["CloudPaymentURL"])


def fill_and_pay(page: Page, card: str) -> None:
    page.fill("#CardNumber", card)
    page.fill("#Expiry", "12/39")
    page.fill("#CVV", "123")
    page.fill("#NameOnCard", "Pat Payer")
    page.click("#pay")


def test_the_payer_pays_sees_the_receipt_and_returns_to_the_vendor(platform: Any, page: Page) -> None:
    server, seen = platform
    with running_vendor() as vendor:
        page.goto(cloud_payment_url(server, vendor))
        assert page.text_content("#biller") == "Clayton County Water"
        assert page.text_content("#reference") == "PERMIT-42" and page.text_content("#amount") == "$80.00"
        fill_and_pay(page, APPROVING_CARD)
        page.wait_for_selector("#confirmation")
        assert page.text_content("#outcome") == "Payment approved"
        confirmation = page.text_content("#confirmation") or ""
        assert confirmation.isdigit() and page.text_content("#amount") == "$80.00"
        assert page.text_content("#return") == "Return to Permits Online"
        page.click("#return")
        page.wait_for_selector("#back")
        assert page.url == vendor.return_url and "/permits/return?token=abc" in vendor.returns
        (postback,) = vendor.wait_for(1)
    assert postback.fields["Approved"] == "True" and postback.fields["PaymentAmount"] == "80.00"
    assert postback.fields["BillerReference"] == "PERMIT-42"
    payments = [data for kind, data in seen if kind == "cloudpay.payment"]
    assert [p["confirmation"] for p in payments] == [confirmation]


def test_a_declined_card_says_so_and_posts_back_approved_false(platform: Any, page: Page) -> None:
    server, seen = platform
    with running_vendor() as vendor:
        url = cloud_payment_url(server, vendor)
        page.goto(url)
        fill_and_pay(page, DECLINING_CARD)
        page.wait_for_selector("#outcome")
        assert page.text_content("#outcome") == "Payment declined"
        assert "not charged" in (page.text_content("#message") or "")
        page.click("#return")
        page.wait_for_selector("#back")
        (postback,) = vendor.wait_for(1)
    assert postback.fields["Approved"] == "False" and url.endswith(postback.fields["PaymentGUID"])
    assert [data["page"] for kind, data in seen if kind == "cloudpay.page_viewed"] == ["payment", "declined"]
