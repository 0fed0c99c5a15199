"""The Cayenta adapter's codec, reply statuses and stub builders."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from harness.partners import AccountNotFound, Outcome, PartnerRejected, PartnerUnavailable, Posting, PostingKind
from harness.partners.cayenta import CayentaClient, CayentaStubs, parse_request, request_xml
from harness.profiles import PartnerProfile, load_partner

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cayenta() -> PartnerProfile:
    return load_partner(PROJECT, "cayenta")


def reply(method: str, status: str = "0", params: str = "", system: str = "0") -> bytes:
    return (f"<Reply><{method}><STATUS>{system}</STATUS><Params><STATUS>{status}</STATUS>{params}</Params>"
            f"</{method}></Reply>").encode()


def client(cayenta: PartnerProfile, answer: Callable[[httpx.Request], httpx.Response]) -> CayentaClient:
    made = CayentaClient(cayenta, "http://cayenta.test", "user", "secret", 1.0)
    made._http = httpx.Client(base_url="http://cayenta.test", transport=httpx.MockTransport(answer))
    return made


def test_request_round_trip_escapes_xml() -> None:
    body = urlencode({"XMLREQUEST": request_xml("AddARItem", {"ACCOUNT_NO": "1<2&3", "AMOUNT": "5.00"})})
    assert parse_request(body) == ("AddARItem", {"ACCOUNT_NO": "1<2&3", "AMOUNT": "5.00"})


@pytest.mark.parametrize("body", ["", "XMLREQUEST=not xml", "other=1", "XMLREQUEST=<Reply/>"])
def test_anything_else_decodes_to_nothing(body: str) -> None:
    assert parse_request(body) == ("", {})


def test_decode_names_roles_in_the_platforms_words(cayenta: PartnerProfile) -> None:
    stubs = CayentaStubs(cayenta)

    def decode(method: str, params: dict[str, str]) -> tuple[str, dict[str, str]]:
        return stubs.decode("POST", "/", {}, urlencode({"XMLREQUEST": request_xml(method, params)}))

    assert decode("AddARItem", {"TRAN_TYPE": "6", "AMOUNT": "1.00"}) == (
        "AddARItem", {"type_code": "6", "amount": "1.00", "role": "credit"})
    assert decode("AddARItem", {"TRAN_TYPE": "1"})[1]["role"] == "payment"
    assert decode("_PostAutopayChangeXML", {"ALERT_CODE": "AUTOP"})[1] == {"alert_code": "AUTOP",
                                                                           "role": "autopay_change"}
    assert decode("AddReturnedCheck", {"RETURN_CODE": "R01"})[1]["role"] == "ach_return"


def test_postings_carry_the_profiles_codes_and_the_key(cayenta: PartnerProfile) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        method, params = parse_request(request.content.decode())
        seen.append((method, params))
        ref = params["REFERENCE_NO"]
        return httpx.Response(200, content=reply(method, params=f"<AR_ITEM_NO>AR-{ref}</AR_ITEM_NO>"))

    made = client(cayenta, answer)
    result = made.post(Posting("K1", PostingKind.CREDIT, "42", Decimal("7.5")))
    made.post(Posting("K2", PostingKind.CHANGE, "42", program="paperless", value="Y"))
    assert result.outcome is Outcome.POSTED and result.partner_ref == "AR-K1"
    assert seen[0] == ("AddARItem", {"ACCOUNT_NO": "42", "REFERENCE_NO": "K1", "AMOUNT": "7.50", "TRAN_TYPE": "6"})
    assert seen[1] == ("_PostPaperLessChangeXML",
                       {"ACCOUNT_NO": "42", "REFERENCE_NO": "K2", "ALERT_CODE": "EBILL", "VALUE": "Y"})


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (httpx.Response(503), PartnerUnavailable, "HTTP 503"),
        (httpx.Response(401), PartnerRejected, "credentials refused"),
        (httpx.Response(200, content=b"<html/>"), PartnerRejected, "no <Reply><AddARItem>"),
        (httpx.Response(200, content=b"not xml"), PartnerRejected, "not XML"),
        (httpx.Response(200, content=reply("AddARItem", system="-1")), PartnerRejected, "system status -1"),
        (httpx.Response(200, content=reply("AddARItem", status="-2")), PartnerRejected, "status -2"),
        (httpx.Response(200, content=reply("AddARItem", status="-3")), AccountNotFound, "not found"),
    ],
)
def test_reply_statuses(cayenta: PartnerProfile, response: httpx.Response, error: type[Exception], text: str) -> None:
    made = client(cayenta, lambda request: response)
    with pytest.raises(error, match=text):
        made.post(Posting("K", PostingKind.PAYMENT, "42", Decimal("1.00"), "CC"))


def test_already_posted_and_transport_faults(cayenta: PartnerProfile) -> None:
    made = client(cayenta, lambda request: httpx.Response(200, content=reply("AddARItem", status="-7")))
    assert made.post(Posting("K", PostingKind.PAYMENT, "42", Decimal("1.00"), "CC")).outcome is Outcome.ALREADY_POSTED

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset by peer")

    with pytest.raises(PartnerUnavailable, match="connection failed"):
        client(cayenta, reset).post(Posting("K", PostingKind.PAYMENT, "42", Decimal("1.00"), "CC"))


def test_fault_builders(cayenta: PartnerProfile) -> None:
    stubs = CayentaStubs(cayenta)
    late, duplicate = stubs.fault("payment", "timeout", 1, 1500)
    assert late["response"]["fixedDelayMilliseconds"] == 1500
    assert (late["requiredScenarioState"], late["newScenarioState"]) == ("Started", duplicate["requiredScenarioState"])
    assert "<STATUS>-7</STATUS>" in duplicate["response"]["body"]
    chain = stubs.fault("void", "reset", 3, 0)
    assert [m["requiredScenarioState"] for m in chain] == ["Started", "reset-1", "reset-2"]
    assert chain[-1]["newScenarioState"] == "recovered"
    (always,) = stubs.fault("credit", "server_error", None, 0)
    assert always["response"]["status"] == 503 and "scenarioName" not in always
    assert "TRAN_TYPE='6'" in always["request"]["formParameters"]["XMLREQUEST"]["matchesXPath"]
    (refusing,) = stubs.fault("payment", "bad_request", None, 0)
    assert refusing["response"]["status"] == 400 and "scenarioName" not in refusing


@pytest.mark.parametrize(("status", "said"), [(400, "AddARItem: HTTP 400"), (403, "credentials refused (HTTP 403)")])
def test_a_4xx_is_a_refusal_not_a_fault_to_retry(cayenta: PartnerProfile, status: int, said: str) -> None:
    made = client(cayenta, lambda request: httpx.Response(status, content=b"Bad Request"))
    with pytest.raises(PartnerRejected, match=re.escape(said)) as refused:
        made.post(Posting("K", PostingKind.PAYMENT, "42", Decimal("1.00"), "CC"))
    assert refused.value.code == str(status)
