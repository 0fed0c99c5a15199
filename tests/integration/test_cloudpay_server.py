"""The platform's CloudPay side, over real HTTP: what vendors send, what the payer does, what is posted back."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.cloudpay import APPROVING_CARD, DECLINING_CARD, CloudPayBiller, CloudPayServer, PostbackPolicy
from tests.support.cloudpay_vendor import Vendor, running_vendor

KEY = "ak_test_4d1f0c9e7b"
FAST = PostbackPolicy(attempts=4, backoff_s=0.05, timeout_s=0.5)
CARD = {"Expiry": "12/39", "CVV": "123", "NameOnCard": "Pat Payer"}


class Platform:
    def __init__(self, server: CloudPayServer, seen: list[tuple[str, dict[str, Any]]]) -> None:
        self.server, self.seen = server, seen
        self.url = server.base_url

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [data for seen_kind, data in list(self.seen) if seen_kind == kind]


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    with running_vendor() as running:
        yield running


def start(versions: tuple[str, ...] = ("v1", "v2"), policy: PostbackPolicy = FAST,
          keys: tuple[str, ...] = ()) -> Platform:
    seen: list[tuple[str, dict[str, Any]]] = []
    server = CloudPayServer(CloudPayBiller(1368, "Clayton County Water", versions, vendor="Permits Online"),
                            [KEY, "ak_other", *keys], lambda kind, data: seen.append((kind, data)), policy)
    server.start()
    return Platform(server, seen)


@pytest.fixture
def platform() -> Iterator[Platform]:
    started = start()
    yield started
    started.server.stop()


def basic(credential: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credential.encode()).decode()}


def body(vendor: Vendor, balance: Any = "80.00", **extra: Any) -> dict[str, Any]:
    return {"CreateCustomerRecord": True,
            "Customers": [{"AccountNumber": "P-1001", "Name": "Pat Payer", "Address": "1 Main St", "City": "Jonesboro",
                           "State": "GA", "Zip": "30236",
                           "Invoices": [{"InvoiceNumber": "PRM-2024-0042", "TypeID": 43, "BalanceDue": balance,
                                         "CCServiceFee": "2.50"}]}],
            "AllowCCPayment": True, "ReturnURL": vendor.return_url, "PostBackURL": vendor.postback_url,
            "BillerReference": "PERMIT-42", "ViewMode": 0, **extra}


def create(platform: Platform, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return httpx.post(f"{platform.url}/cloudpaymentsapi/v2", content=content,
                      headers={"Content-Type": "application/json", **(basic(KEY) if headers is None else headers)})


def payment_url(platform: Platform, vendor: Vendor, **extra: Any) -> str:
    answer = create(platform, body(vendor, **extra))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["Data"]["CloudPaymentURL"])


def pay(url: str, number: str) -> httpx.Response:
    return httpx.post(url, data={"CardNumber": number, **CARD})


# --- the v2 API: authentication -------------------------------------------------------------------


@pytest.mark.parametrize("credential", [f"{KEY}:", KEY, f":{KEY}", f"anyuser:{KEY}"])
def test_every_way_clients_build_the_basic_credential_is_accepted(platform: Platform, vendor: Vendor,
                                                                  credential: str) -> None:
    answer = create(platform, body(vendor), basic(credential))
    assert answer.status_code == 200, answer.text
    assert answer.json()["Status"] == "Success"
    assert answer.json()["Data"]["CloudPaymentURL"].startswith(f"{platform.url}/cloudpay/pay/")


def test_perls_base64_of_a_long_key_wrapped_at_76_characters_is_accepted(vendor: Vendor) -> None:
    """MIME::Base64's encode_base64, as a public Perl client calls it, wraps at 76 characters and ends in a
    newline; sent raw (as LWP may), the header carries the token with whitespace inside and after it."""
    long_key = "ak_" + "7" * 70
    platform = start(keys=(long_key,))
    try:
        token = base64.encodebytes(long_key.encode()).decode()
        assert "\n" in token.strip()
        payload = json.dumps(body(vendor)).encode()
        host, port = platform.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(b"POST /cloudpaymentsapi/v2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(payload)}\r\n".encode()
                         + b"Authorization: Basic " + token.replace("\n", " ").encode() + b"\t\r\n\r\n" + payload)
            reply = conn.makefile("rb").read()
        assert reply.startswith(b"HTTP/1.0 200"), reply[:200]
    finally:
        platform.server.stop()


@pytest.mark.parametrize("headers", [{}, basic("not-a-key"), basic("anyuser:wrong"), {"Authorization": f"Bearer {KEY}"},
                                     {"Authorization": "Basic %%%"}])
def test_an_unauthenticated_request_gets_the_error_shape_and_creates_nothing(platform: Platform, vendor: Vendor,
                                                                             headers: dict[str, str]) -> None:
    answer = create(platform, body(vendor), headers)
    assert answer.status_code == 401
    assert answer.json() == {"Status": "Error", "Message": "Authorization has been denied for this request.",
                             "Data": None}
    assert ("www-authenticate" in answer.headers) == (not headers)  # challenged only when nothing was sent
    assert platform.kinds("cloudpay.payment_created") == []


# --- the v2 API: liberal in what it reads ------------------------------------------------------------


def test_field_names_are_read_whatever_their_casing(platform: Platform, vendor: Vendor) -> None:
    payload = {"customers": [{"invoices": [{"invoiceNumber": "INV-7", "typeId": 57, "balanceDue": 12.5}]}],
               "returnUrl": vendor.return_url, "post_back_url": vendor.postback_url, "BILLERREFERENCE": "R-7"}
    answer = create(platform, payload)
    assert answer.status_code == 200, answer.text
    created = platform.kinds("cloudpay.payment_created")[-1]
    assert created["amount"] == "12.50" and created["biller_reference"] == "R-7"
    assert created["invoices"] == [{"number": "INV-7", "type_id": "57", "balance_due": "12.50"}]


@pytest.mark.parametrize(("balance", "amount"), [("80", "80.00"), (80, "80.00"), (80.0, "80.00"), ("80.00", "80.00"),
                                                 (80.1, "80.10"), (" 0.07 ", "0.07"), (1234.56, "1234.56")])
def test_amounts_as_numbers_or_strings_are_the_same_amount(platform: Platform, vendor: Vendor, balance: Any,
                                                           amount: str) -> None:
    assert create(platform, body(vendor, balance)).status_code == 200
    assert platform.kinds("cloudpay.payment_created")[-1]["amount"] == amount


@pytest.mark.parametrize("balance", ["eighty", -5, 0, "0.00", "80.001", True, None, [], "NaN", "1e30"])
def test_a_bad_amount_is_refused_naming_the_field(platform: Platform, vendor: Vendor, balance: Any) -> None:
    answer = create(platform, body(vendor, balance))
    assert answer.status_code == 400
    assert answer.json()["Status"] == "Error" and answer.json()["Data"] is None
    assert "Customers[0].Invoices[0].BalanceDue" in answer.json()["Message"]


@pytest.mark.parametrize(("drop", "named"), [("ReturnURL", "ReturnURL"), ("PostBackURL", "PostBackURL"),
                                             ("Customers", "Customers")])
def test_a_missing_required_field_is_refused_by_name(platform: Platform, vendor: Vendor, drop: str,
                                                     named: str) -> None:
    payload = body(vendor)
    del payload[drop]
    answer = create(platform, payload)
    assert answer.status_code == 400
    assert named in answer.json()["Message"] and "missing" in answer.json()["Message"]


@pytest.mark.parametrize(("payload", "message"), [(b"{not json", "not JSON"), (b"[1, 2]", "not a JSON object"),
                                                  (b"", "not JSON")])
def test_a_malformed_body_gets_the_error_shape(platform: Platform, payload: bytes, message: str) -> None:
    answer = create(platform, payload)
    assert answer.status_code == 400
    assert message in answer.json()["Message"]


def test_a_relative_return_url_is_refused(platform: Platform, vendor: Vendor) -> None:
    answer = create(platform, body(vendor, ReturnURL="/permits/return"))
    assert answer.status_code == 400 and "ReturnURL" in answer.json()["Message"]


def test_a_browsers_cors_preflight_and_the_call_after_it(platform: Platform, vendor: Vendor) -> None:
    origin = "http://permits.example.test"
    preflight = httpx.options(f"{platform.url}/cloudpaymentsapi/v2", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "authorization,content-type"
    answer = create(platform, body(vendor), {**basic(KEY), "Origin": origin})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == origin


# --- the biller-status check ---------------------------------------------------------------------------


def test_the_biller_status_check(platform: Platform) -> None:
    answer = httpx.get(f"{platform.url}/CloudPaymentsAPI/v2/BillerStatus", headers=basic(KEY))
    assert answer.status_code == 200
    data = answer.json()["Data"]
    assert data["Active"] is True and data["BillerName"] == "Clayton County Water"
    assert data["BillerGUID"] == CloudPayBiller(1368, "x").guid and data["CloudPayVersions"] == ["v1", "v2"]
    assert httpx.get(f"{platform.url}/cloudpaymentsapi/v2/billerstatus").status_code == 401


def test_a_biller_without_v2_says_so_and_takes_no_v2_payment(vendor: Vendor) -> None:
    v1_only = start(versions=("v1",))
    try:
        status = httpx.get(f"{v1_only.url}/cloudpaymentsapi/v2/billerstatus", headers=basic(KEY)).json()
        assert status["Data"]["Active"] is False
        answer = create(v1_only, body(vendor))
        assert answer.status_code == 403 and "not enabled" in answer.json()["Message"]
    finally:
        v1_only.server.stop()


# --- CloudPay v1: the payer's browser redirected in ------------------------------------------------------


def v1_params(vendor: Vendor, **extra: str) -> dict[str, str]:
    return {"BillerGUID": CloudPayBiller(1368, "x").guid, "InvoiceNumber": "REC-9", "TypeID": "93",
            "Amount": "45.5", "BillerReference": "RES-9", "ReturnURL": vendor.return_url,
            "PostBackURL": vendor.postback_url, **extra}


def test_v1_redirects_the_payer_to_the_hosted_page(platform: Platform, vendor: Vendor) -> None:
    answer = httpx.get(f"{platform.url}/cloudpay/v1", params=v1_params(vendor))
    assert answer.status_code == 303
    page = httpx.get(answer.headers["location"])
    assert page.status_code == 200 and "$45.50" in page.text and "RES-9" in page.text
    assert platform.kinds("cloudpay.payment_created")[-1]["version"] == "v1"
    posted = httpx.post(f"{platform.url}/cloudpay/v1", data=v1_params(vendor))  # a form post works the same
    assert posted.status_code == 303


def test_v1_refuses_a_bad_link_and_a_biller_without_v1(platform: Platform, vendor: Vendor) -> None:
    missing = httpx.get(f"{platform.url}/cloudpay/v1", params=v1_params(vendor, Amount=""))
    assert missing.status_code == 400 and "Amount" in missing.text
    wrong = httpx.get(f"{platform.url}/cloudpay/v1", params=v1_params(vendor, BillerGUID="0" * 8))
    assert wrong.status_code == 404
    v2_only = start(versions=("v2",))
    try:
        assert httpx.get(f"{v2_only.url}/cloudpay/v1", params=v1_params(vendor)).status_code == 403
    finally:
        v2_only.server.stop()


# --- the hosted page, the payment and the postback ---------------------------------------------------------


def test_an_approved_payment_shows_a_receipt_and_posts_back_every_field(platform: Platform, vendor: Vendor) -> None:
    url = payment_url(platform, vendor)
    page = httpx.get(url)
    assert "Clayton County Water" in page.text and "PERMIT-42" in page.text and "$80.00" in page.text
    paid = pay(url, APPROVING_CARD)
    assert paid.status_code == 303
    receipt = httpx.get(paid.headers["location"])
    assert "Payment approved" in receipt.text and f'href="{vendor.return_url}"' in receipt.text.replace("&amp;", "&")
    assert "Return to Permits Online" in receipt.text and "VISA ending 1111" in receipt.text
    (postback,) = vendor.wait_for(1)
    assert postback.content_type == "application/x-www-form-urlencoded"
    fields = postback.fields
    assert fields["Approved"] == "True" and fields["PaymentAmount"] == "80.00" and fields["ConvenienceFee"] == "2.50"
    assert fields["PaymentGUID"] == url.rsplit("/", 1)[1] and fields["BillerReference"] == "PERMIT-42"
    assert fields["InvoiceNumber"] == "PRM-2024-0042" and fields["BillerGUID"] == CloudPayBiller(1368, "x").guid
    assert fields["CustomerName"] == "Pat Payer" and fields["CustomerZip"] == "30236" and fields["CardType"] == "VISA"
    assert fields["RemoteIP"] == "127.0.0.1" and fields["PaymentTypeID"] == "1"
    payment = platform.kinds("cloudpay.payment")[-1]
    assert payment["confirmation"] in receipt.text and payment["approved"] is True


def test_a_declined_card_posts_back_approved_false(platform: Platform, vendor: Vendor) -> None:
    url = payment_url(platform, vendor)
    declined = httpx.get(pay(url, DECLINING_CARD).headers["location"])
    assert "Payment declined" in declined.text and "not charged" in declined.text
    assert vendor.return_url.split("?")[0] in declined.text
    (postback,) = vendor.wait_for(1)
    assert postback.fields["Approved"] == "False" and postback.fields["ConvenienceFee"] == "0.00"
    assert postback.fields["PaymentMessage"].startswith("Declined")


def test_a_payment_is_paid_once_however_often_the_page_is_submitted(platform: Platform, vendor: Vendor) -> None:
    url = payment_url(platform, vendor)
    first, second = pay(url, APPROVING_CARD), pay(url, APPROVING_CARD)
    assert first.headers["location"] == second.headers["location"]
    assert httpx.get(url).status_code == 303  # the page is not offered again either
    vendor.wait_for(1)
    time.sleep(0.3)  # long enough for a second postback to have arrived, were there one
    assert len(vendor.postbacks) == 1
    assert len(platform.kinds("cloudpay.payment")) == 1
    assert len(platform.kinds("cloudpay.duplicate_submit")) == 1


def test_a_mistyped_card_is_shown_again_and_charges_nothing(platform: Platform, vendor: Vendor) -> None:
    url = payment_url(platform, vendor)
    mistyped = httpx.post(url, data={**CARD, "CardNumber": "4111111111111112"})
    assert mistyped.status_code == 400 and "valid card number" in mistyped.text
    expired = httpx.post(url, data={**CARD, "CardNumber": APPROVING_CARD, "Expiry": "01/20"})
    assert expired.status_code == 400 and "expired" in expired.text
    assert platform.kinds("cloudpay.payment") == [] and vendor.postbacks == []
    assert pay(url, APPROVING_CARD).status_code == 303


def test_a_vendor_answering_5xx_or_timing_out_is_retried_with_backoff(platform: Platform) -> None:
    with running_vendor([503, "hang", 204]) as flaky:
        pay(payment_url(platform, flaky), APPROVING_CARD)
        flaky.wait_for(3)
        time.sleep(FAST.timeout_s + 0.2)
        attempts = platform.kinds("cloudpay.postback")
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "retrying"), (2, "retrying"), (3, "delivered")]
    assert attempts[0]["status"] == 503 and attempts[1]["error"] == "timeout"
    assert len(flaky.postbacks) == 3 and len({p.fields["PaymentGUID"] for p in flaky.postbacks}) == 1


def test_retries_are_bounded_and_a_4xx_is_not_retried(vendor: Vendor) -> None:
    bounded = start(policy=PostbackPolicy(attempts=2, backoff_s=0.05, timeout_s=0.5))
    try:
        with running_vendor([500, 500, 500]) as down:
            pay(payment_url(bounded, down), APPROVING_CARD)
            down.wait_for(2)
            time.sleep(0.3)
            assert len(down.postbacks) == 2
        with running_vendor([400]) as refusing:
            pay(payment_url(bounded, refusing), APPROVING_CARD)
            refusing.wait_for(1)
            time.sleep(0.3)
            assert len(refusing.postbacks) == 1
        outcomes = [a["outcome"] for a in bounded.kinds("cloudpay.postback")]
        assert outcomes == ["retrying", "gave_up", "refused"]
    finally:
        bounded.server.stop()


def test_stopping_abandons_a_waiting_retry_and_says_so(vendor: Vendor) -> None:
    slow = start(policy=PostbackPolicy(attempts=3, backoff_s=30, timeout_s=0.5))
    with running_vendor([503]) as down:
        pay(payment_url(slow, down), APPROVING_CARD)
        down.wait_for(1)
        began = time.monotonic()
        slow.server.stop()
        assert time.monotonic() - began < 5
    assert [a["outcome"] for a in slow.kinds("cloudpay.postback")] == ["retrying", "abandoned"]


# --- the evidence -----------------------------------------------------------------------------------------


def test_every_request_is_observed_and_no_key_or_card_is(platform: Platform, vendor: Vendor) -> None:
    url = payment_url(platform, vendor)
    pay(url, APPROVING_CARD)
    vendor.wait_for(1)
    create(platform, body(vendor), basic("wrong-key"))
    requests = platform.kinds("cloudpay.request")
    assert [(r["method"], r["status"]) for r in requests] == [("POST", 200), ("POST", 303), ("POST", 401)]
    assert requests[0]["credential"] == "***"
    time.sleep(0.1)
    shown = json.dumps(platform.seen)
    for secret in (KEY, APPROVING_CARD, "wrong-key", "Pat Payer", "1 Main St"):
        assert secret not in shown
