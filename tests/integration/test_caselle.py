"""The Caselle adapter against its stub pack in the real WireMock: OAuth, GraphQL, host, codes.

Both halves of the protocol meet here: what the client sends must be what the pack's
mappings accept, and what the stubs decode must be what the client meant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from harness.events import Redactor
from harness.partners import AccountNotFound, Outcome, PartnerRejected, Posting, PostingKind
from harness.partners.caselle import CaselleClient, CaselleStubs
from harness.profiles import Biller, load_biller
from harness.stubs import ProcessWireMock, WireMockAdmin, load_pack

PROJECT = Path(__file__).resolve().parents[2]
ISSUED = "issued-token-7f3a"


@pytest.fixture(scope="module")
def newport() -> Biller:
    return load_biller(PROJECT, "newport-or")


@pytest.fixture(scope="module")
def wiremock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WireMockAdmin]:
    tmp = tmp_path_factory.mktemp("wiremock")
    server = ProcessWireMock(PROJECT, tmp, tmp / "wiremock.log", Redactor().scrub)
    server.start()
    admin = WireMockAdmin(server.base_url)
    yield admin
    admin.close()
    server.stop()


@pytest.fixture
def admin(wiremock: WireMockAdmin) -> WireMockAdmin:
    wiremock.reset()
    wiremock.import_mappings(list(load_pack(PROJECT / "stubs" / "caselle").mappings))
    return wiremock


def client(admin: WireMockAdmin, newport: Biller, host: str | None = None, token: str = ISSUED) -> CaselleClient:
    return CaselleClient(newport.partner, admin.base_url, "client-id", "client-secret", 2.0, token=token,
                         host=host or newport.partner_host, codes=newport.codes)


def calls(admin: WireMockAdmin, newport: Biller) -> list[tuple[str, dict[str, str], str]]:
    """(call, decoded fields, Authorization) of every request, oldest first."""
    stubs = CaselleStubs(newport.partner, newport.codes)
    out = []
    for entry in admin.journal():
        request = entry["request"]
        call, fields = stubs.decode(request["method"], request["url"], request.get("headers", {}), request["body"])
        out.append((call, fields, request.get("headers", {}).get("Authorization", "")))
    return out


def payment(key: str, method: str = "ACH", channel: str = "web") -> Posting:
    return Posting(key=key, kind=PostingKind.PAYMENT, account="300400500", amount=Decimal("45.10"), method=method,
                   channel=channel, posted_on="2026-11-23")


def test_balance_of_the_demo_account_and_of_an_unknown_one(admin: WireMockAdmin, newport: Biller) -> None:
    made = client(admin, newport)
    assert made.balance("300400500")["balance"] == "84.20"
    with pytest.raises(AccountNotFound, match="Account not found"):
        made.balance("999")
    [(call, fields, auth), _] = calls(admin, newport)
    assert (call, fields["account"], fields["role"], auth) == ("AccountBalance", "300400500", "balance",
                                                               f"Bearer {ISSUED}")


def test_payments_carry_their_codes_and_obd_falls_back_to_ach(admin: WireMockAdmin, newport: Biller) -> None:
    made = client(admin, newport)
    assert made.post(payment("K1")).outcome is Outcome.POSTED  # online ACH: OBD, which Newport lacks
    assert made.post(payment("K2", "CC")).partner_ref == "R-K2"
    made.post(payment("K3", channel="IVR"))
    sent = [fields for call, fields, _ in calls(admin, newport)]
    assert [(f["payment_code"], f["method"]) for f in sent] == [("ACH", "ACH"), ("CC", "CC"), ("ACH", "ACH")]
    assert {(f["category"], f["distribution"], f["amount"]) for f in sent} == {("UB", "101-1100", "45.10")}


def test_the_host_is_the_billers_subdomain(admin: WireMockAdmin, newport: Biller) -> None:
    with pytest.raises(PartnerRejected, match="HTTP 404"):
        client(admin, newport, host="elsewhere.example.com").balance("300400500")


def test_a_refused_token_is_replaced_once_and_the_call_sent_again(admin: WireMockAdmin, newport: Biller) -> None:
    expired = {"name": "issued token expired", "priority": 1,
               "request": {"method": "POST", "urlPath": newport.partner.endpoint_path,
                           "headers": {"Authorization": {"equalTo": f"Bearer {ISSUED}"}}},
               "response": {"status": 401, "jsonBody": {"error": "invalid_token"}}}
    admin.add_mapping(expired)
    made = client(admin, newport)
    assert made.post(payment("K9")).outcome is Outcome.POSTED
    seen = calls(admin, newport)
    assert [call for call, _, _ in seen] == ["PostPayment", "OAuthToken", "PostPayment"]
    assert seen[2][2].startswith("Bearer cc-") and made.tokens_fetched == 1


def test_a_client_without_an_issued_token_fetches_one_first(admin: WireMockAdmin, newport: Biller) -> None:
    client(admin, newport, token="").post(payment("K5"))
    assert [call for call, _, _ in calls(admin, newport)] == ["OAuthToken", "PostPayment"]


def test_arranged_accounts_and_faults_are_mappings_the_pack_accepts(admin: WireMockAdmin, newport: Biller) -> None:
    stubs = CaselleStubs(newport.partner, newport.codes)
    admin.add_mapping(stubs.account("123", {"balance": "10.00", "paymentRestriction": "NO_CC"}))
    for mapping in stubs.fault("payment", "timeout", None, 3000):
        admin.add_mapping(mapping)
    made = client(admin, newport)
    assert made.balance("123")["paymentRestriction"] == "NO_CC"
    late = CaselleClient(newport.partner, admin.base_url, "id", "secret", 0.5, token=ISSUED,
                         host=newport.partner_host, codes=newport.codes)
    with pytest.raises(Exception, match="no answer within"):
        late.post(payment("K7"))
    assert made.post(payment("K7")).outcome is Outcome.ALREADY_POSTED
    body = json.loads(admin.journal()[-1]["request"]["body"])
    assert body["operationName"] == "PostPayment" and body["variables"]["input"]["reference"] == "K7"


def test_a_bad_request_is_a_refusal_not_a_fault_to_retry(admin: WireMockAdmin, newport: Biller) -> None:
    for mapping in CaselleStubs(newport.partner, newport.codes).fault("payment", "bad_request", None, 0):
        admin.add_mapping(mapping)
    with pytest.raises(PartnerRejected, match="PostPayment: HTTP 400") as refused:
        client(admin, newport).post(payment("K8"))
    assert refused.value.code == "400"
    assert [call for call, _, _ in calls(admin, newport)] == ["PostPayment"]
