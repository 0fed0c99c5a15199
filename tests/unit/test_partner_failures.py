"""The seams for a partner's known failure modes: rerouting the client, the stubs' named failures."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from harness.partners import PartnerRejected, PartnerUnavailable, Posting, PostingKind, load_adapter
from harness.partners.caselle import CaselleClient, CaselleStubs
from harness.partners.cayenta import CayentaStubs
from harness.profiles import Biller, load_biller

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def newport() -> Biller:
    return load_biller(PROJECT, "newport-or")


@pytest.fixture
def refusing() -> Iterator[str]:
    """A loopback address bound but not listening: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
        yield f"http://{host}:{port}"


def test_a_rerouted_client_meets_a_refused_connection_naming_cows_and_comes_back(
    newport: Biller, refusing: str
) -> None:
    client = CaselleClient(newport.partner, "http://127.0.0.1:9/", "id", "secret", 1.0, token="t",
                           host=newport.partner_host, codes=newport.codes)
    client.reroute(refusing)
    assert str(client._http.base_url).rstrip("/") == refusing
    payment = Posting(key="K1", kind=PostingKind.PAYMENT, account="1", amount=Decimal("1.00"), method="ACH")
    with pytest.raises(PartnerUnavailable, match="COWS"):
        client.post(payment)
    client.reroute(None)
    assert str(client._http.base_url).rstrip("/") == "http://127.0.0.1:9"
    client.close()


def test_caselle_failures_are_priority_one_mappings_on_the_right_endpoints(newport: Biller) -> None:
    stubs = CaselleStubs(newport.partner, newport.codes)
    (workspace,) = stubs.failure("workspace_not_for_online_payments", "payment")
    assert workspace["priority"] == 1 and workspace["request"]["urlPath"] == "/tp/api/cr0/graphql"
    assert "PostPayment" in workspace["request"]["bodyPatterns"][0]["matchesJsonPath"]
    assert workspace["response"]["jsonBody"]["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    (ar0,) = stubs.failure("licence_missing:ARW4000")
    (cr0,) = stubs.failure("licence_missing:CRW40000")
    assert (ar0["request"]["urlPath"], cr0["request"]["urlPath"]) == ("/tp/api/ar0/graphql", "/tp/api/cr0/graphql")
    assert cr0["response"]["jsonBody"]["errors"][0]["extensions"] == {"code": "LICENSE_REQUIRED",
                                                                      "license": "CRW40000"}
    expired = stubs.failure("token_expired", token="issued-1")
    assert {m["request"]["urlPath"] for m in expired} == {"/tp/api/ar0/graphql", "/tp/api/cr0/graphql"}
    assert all(m["request"]["headers"]["Authorization"] == {"equalTo": "Bearer issued-1"} for m in expired)
    assert all(m["response"]["status"] == 401 for m in expired)


def test_unknown_failures_are_named_with_the_known_ones(newport: Biller) -> None:
    stubs = CaselleStubs(newport.partner, newport.codes)
    with pytest.raises(ValueError, match="licence_missing:ARW4000"):
        stubs.failure("licence_missing:XYZ1")
    with pytest.raises(ValueError, match="needs the OAuth token"):
        stubs.failure("token_expired")
    cayenta = load_biller(PROJECT, "clayton-county-water")
    with pytest.raises(ValueError, match=r"no known failure 'token_expired' \(known: none\)"):
        CayentaStubs(cayenta.partner, cayenta.codes).failure("token_expired")


@pytest.mark.parametrize("slug", ["clayton-county-water", "newport-or"])
def test_a_change_the_profile_names_no_call_for_is_refused_naming_the_field(slug: str) -> None:
    """A phone change pumped to a partner whose change log has no phone call is a refusal the platform
    marks failed with this reason (not a KeyError that breaks the pump), and nothing is sent."""
    biller = load_biller(PROJECT, slug)
    client = load_adapter(biller.partner).client(biller.partner, "http://127.0.0.1:9/", "id", "secret", 1.0,
                                                 token="t", host=biller.partner_host, codes=biller.codes)
    change = Posting(key="K1", kind=PostingKind.CHANGE, account="1", program="phone", value="555-0100")
    field = f"fixtures/partners/{biller.partner.name}.yaml field 'change_log' names no call for phone"
    with pytest.raises(PartnerRejected, match=f"takes no phone changes: {field} \\(it has "):
        client.post(change)
    assert client.requests_sent == 0
    client.close()
