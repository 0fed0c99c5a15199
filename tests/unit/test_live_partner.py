"""A live partner's evidence and trust: the client's tap, test accounts standing for arranged ones, the CA."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from harness.errors import InputError
from harness.partners.tap import NOT_DELIVERED, Tap
from harness.partners.tls import trust
from harness.scenario import _holds
from harness.stubs.journal import exchange_data


def _client(tap: Tap, handler: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(base_url="https://partner.example", transport=tap.transport(handler))


def test_an_answered_exchange_is_a_journal_entry_with_both_sides() -> None:
    tap = Tap()
    answer = httpx.MockTransport(lambda request: httpx.Response(200, text="<Reply/>", headers={"X-Partner": "1"}))
    with _client(tap, answer) as client:
        client.post("/api/xml?v=2", data={"XMLREQUEST": "<Request/>"}, headers={"Authorization": "Basic abc"})
    (entry,) = tap.take()
    data = exchange_data(entry, lambda method, url, headers, body: ("Call", {"url": url, "body": body}))
    assert (data["method"], data["url"], data["status"], data["response_body"]) == (
        "POST", "/api/xml?v=2", 200, "<Reply/>")
    assert data["fields"] == {"url": "/api/xml?v=2", "body": "XMLREQUEST=%3CRequest%2F%3E"}
    assert data["request_headers"]["authorization"] == "Basic abc"  # the run's redactor masks it on append
    assert data["response_headers"]["x-partner"] == "1"
    assert data["matched"] is True and data["fault"] is None and data["timing_ms"] >= 0
    assert tap.take() == []  # each exchange is taken once


@pytest.mark.parametrize(("error", "fault"), [
    (httpx.ConnectError, NOT_DELIVERED), (httpx.ReadTimeout, "NO_ANSWER_IN_TIME"),
    (httpx.RemoteProtocolError, "CONNECTION_FAILED"),
])
def test_a_request_never_answered_is_taken_as_its_fault(error: type[httpx.TransportError], fault: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error("no answer", request=request)

    tap = Tap()
    with _client(tap, httpx.MockTransport(fail)) as client, pytest.raises(error):
        client.get("/balance")
    (entry,) = tap.take()
    data = exchange_data(entry, None)
    assert (data["url"], data["status"], data["fault"]) == ("/balance", None, fault)


def test_a_binary_answer_is_kept_whole() -> None:
    tap = Tap()
    pdf = b"%PDF-1.4\xff\xfe"
    with _client(tap, httpx.MockTransport(lambda request: httpx.Response(200, content=pdf))) as client:
        client.get("/statement")
    assert exchange_data(tap.take()[0], None)["response_body"] == f"<{len(pdf)} bytes of binary content>"


@pytest.mark.parametrize(("held", "wanted", "fits"), [
    ({"balance": "182.40"}, {"balance": "182.40"}, True),
    ({"balance": "182.4", "past_due": "0.00"}, {"balance": "182.40"}, True),  # money compares as money
    ({"balance": "182.40", "customer_name": "R. Côté"}, {"balance": "182.40"}, True),  # a name only when asked
    ({"balance": "182.40"}, {"balance": "182.41"}, False),
    ({"balance": "50.00", "block_indicator": "C"}, {"balance": "50.00"}, False),  # a block changes what happens
    ({"balance": "50.00"}, {"balance": "50.00", "block_indicator": "C"}, False),
    ({"balance": "182.40", "past_due": "40.00"}, {"balance": "182.40"}, False),
    ({"balance": "n/a"}, {"balance": "182.40"}, False),
    ({"balance": "50.00", "block_indicator": "N"}, {"balance": "50.00"}, True),  # N is no block for this biller
    ({"balance": "50.00", "block_indicator": "N"}, {"balance": "50.00", "block_indicator": "C"}, False),
])
def test_a_test_account_stands_for_what_a_scenario_asks_only_when_it_holds_exactly_that(
        held: dict[str, str], wanted: dict[str, str], fits: bool) -> None:
    assert _holds(held, wanted, blocking={"C", "E", "B"}) is fits


def test_a_ca_file_that_is_not_a_certificate_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(InputError, match=r"--partner-ca .*ca\.pem: not a PEM certificate file"):
        trust(bad)
