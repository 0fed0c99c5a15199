"""The live partners the tests start: separate HTTPS processes speaking Cayenta's and Caselle's protocols.

Plain httpx over verified TLS (the partner's own CA) shows what each partner answers from its
books: found and not found, a reference taken once, a balance that moves, credentials checked,
TLS refused without the CA, and the one field a drifted partner answers differently. Then the
harness's own partner clients talk to them unchanged (trusting the CA through SSL_CERT_FILE),
which is what a run in live mode will do.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from harness.partners import AccountNotFound, Outcome, PartnerRejected, Posting, PostingKind
from harness.partners.caselle import CaselleClient, _document
from harness.partners.cayenta import CayentaClient, request_xml
from harness.profiles import Biller, load_biller
from tests.support.live_partners.fixtures import PROJECT, LivePartner, demo_credentials, start_partner
from tests.support.processes import alive

CAYENTA_AUTH = tuple(demo_credentials("cayenta").values())
CLIENT_ID, CLIENT_SECRET, ISSUED = demo_credentials("caselle").values()


@pytest.fixture(scope="module")
def cayenta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePartner]:
    with start_partner("cayenta", tmp_path_factory.mktemp("cayenta")) as partner:
        yield partner


@pytest.fixture(scope="module")
def caselle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePartner]:
    with start_partner("caselle", tmp_path_factory.mktemp("caselle")) as partner:
        yield partner


def https(partner: LivePartner, **options: Any) -> httpx.Client:
    return httpx.Client(base_url=partner.base_url, verify=ssl.create_default_context(cafile=partner.ca), timeout=10,
                        **options)


# -- Cayenta ------------------------------------------------------------------------------------
def cayenta_call(partner: LivePartner, method: str, **params: str) -> dict[str, str]:
    """The function-level fields of a Cayenta reply (STATUS, STATUS_DESC and the call's own)."""
    with https(partner, auth=CAYENTA_AUTH) as http:
        response = http.post("/CayentaAPI/XMLRequest", data={"XMLREQUEST": request_xml(method, params)})
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    assert (root.tag, root.findtext(f"{method}/STATUS")) == ("Reply", "0"), response.text
    return {str(p.tag): p.text or "" for p in root.find(f"{method}/Params")}


def test_cayenta_answers_a_balance_from_its_books_and_not_found_for_an_unknown_account(cayenta: LivePartner) -> None:
    found = cayenta_call(cayenta, "GetAccountBalance", ACCOUNT_NO="0041870021")
    assert found == {"STATUS": "0", "STATUS_DESC": "OK", "ACCOUNT_NO": "0041870021", "CUSTOMER_NAME": "HOLLOWAY, JUNE",
                     "BALANCE": "182.40", "PASTDUE_AMT": "40.00", "BLOCK_EFT_IND": "N"}
    missing = cayenta_call(cayenta, "GetAccountBalance", ACCOUNT_NO="41870021")  # the number without its zeros
    assert (missing["STATUS"], missing["STATUS_DESC"]) == ("-3", "ACCOUNT 41870021 NOT FOUND")


def test_cayenta_takes_a_reference_once_and_the_payment_lowers_the_balance(cayenta: LivePartner) -> None:
    payment = {"ACCOUNT_NO": "0041870047", "REFERENCE_NO": "LP-PAY-1", "AMOUNT": "45.10", "TRAN_TYPE": "1",
               "PAY_METHOD": "ACH"}
    first = cayenta_call(cayenta, "AddARItem", **payment)
    again = cayenta_call(cayenta, "AddARItem", **payment)
    assert first["STATUS"] == "0" and first["AR_ITEM_NO"].isdigit()
    assert again == {"STATUS": "-7", "STATUS_DESC": f"REFERENCE_NO LP-PAY-1 ALREADY POSTED AS {first['AR_ITEM_NO']}",
                     "AR_ITEM_NO": first["AR_ITEM_NO"]}
    assert cayenta_call(cayenta, "GetAccountBalance", ACCOUNT_NO="0041870047")["BALANCE"] == "74.90"  # once


def test_cayenta_reverses_only_what_it_took(cayenta: LivePartner) -> None:
    account = "1041870644"
    cayenta_call(cayenta, "AddARItem", ACCOUNT_NO=account, REFERENCE_NO="LP-PAY-2", AMOUNT="52.00", TRAN_TYPE="1",
                 PAY_METHOD="ACH")
    noc = cayenta_call(cayenta, "AddReturnedCheck", ACCOUNT_NO=account, REFERENCE_NO="LP-RET-0", AMOUNT="52.00",
                       ORIG_REFERENCE_NO="LP-PAY-2", RETURN_CODE="C01")
    unknown = cayenta_call(cayenta, "VoidARItem", ACCOUNT_NO=account, REFERENCE_NO="LP-VOID-0", AMOUNT="52.00",
                           ORIG_REFERENCE_NO="NEVER-SENT")
    returned = cayenta_call(cayenta, "AddReturnedCheck", ACCOUNT_NO=account, REFERENCE_NO="LP-RET-1", AMOUNT="52.00",
                            ORIG_REFERENCE_NO="LP-PAY-2", RETURN_CODE="R01")
    voided = cayenta_call(cayenta, "VoidARItem", ACCOUNT_NO=account, REFERENCE_NO="LP-VOID-1", AMOUNT="52.00",
                          ORIG_REFERENCE_NO="LP-PAY-2")
    assert [noc["STATUS"], unknown["STATUS"], returned["STATUS"], voided["STATUS"]] == ["-5", "-6", "0", "-8"]
    assert cayenta_call(cayenta, "GetAccountBalance", ACCOUNT_NO=account)["BALANCE"] == "52.00"  # paid, then returned


def test_cayenta_refuses_wrong_or_missing_credentials(cayenta: LivePartner) -> None:
    form = {"XMLREQUEST": request_xml("GetAccountBalance", {"ACCOUNT_NO": "0041870021"})}
    with https(cayenta, auth=(CAYENTA_AUTH[0], "not-the-password")) as http:
        wrong = http.post("/CayentaAPI/XMLRequest", data=form)
    with https(cayenta) as http:
        missing = http.post("/CayentaAPI/XMLRequest", data=form)
    assert (wrong.status_code, wrong.headers["WWW-Authenticate"]) == (401, 'Basic realm="Cayenta API"')
    assert missing.status_code == 401 and "HOLLOWAY" not in wrong.text + missing.text


def test_tls_is_refused_without_the_partners_ca_and_plain_http_gets_nothing(cayenta: LivePartner) -> None:
    with httpx.Client(base_url=cayenta.base_url, timeout=10) as public, pytest.raises(httpx.ConnectError) as no_ca:
        public.post("/CayentaAPI/XMLRequest", auth=CAYENTA_AUTH)
    assert "CERTIFICATE_VERIFY_FAILED" in str(no_ca.value)
    with httpx.Client(timeout=10) as plain, pytest.raises(httpx.TransportError):
        plain.post(cayenta.base_url.replace("https://", "http://") + "/CayentaAPI/XMLRequest", auth=CAYENTA_AUTH)


def test_a_drifted_cayenta_answers_balance_without_its_trailing_zeros(cayenta: LivePartner, tmp_path: Path) -> None:
    with start_partner("cayenta", tmp_path, drift=True) as drifted:
        before = {n: cayenta_call(cayenta, "GetAccountBalance", ACCOUNT_NO=n) for n in ("0041870021", "0041870209")}
        after = {n: cayenta_call(drifted, "GetAccountBalance", ACCOUNT_NO=n) for n in before}
    changed = {(n, name, before[n][name], after[n][name]) for n in before for name in before[n]
               if before[n][name] != after[n][name]}
    assert changed == {("0041870021", "BALANCE", "182.40", "182.4"), ("0041870209", "BALANCE", "50.00", "50")}


# -- Caselle ------------------------------------------------------------------------------------
def graphql(partner: LivePartner, path: str, operation: str, variables: dict[str, Any],
            token: str = ISSUED) -> dict[str, Any]:
    with https(partner) as http:
        response = http.post(path, headers={"Authorization": f"Bearer {token}"},
                             json={"operationName": operation, "query": _document(operation), "variables": variables})
    assert response.status_code == 200, response.text
    return dict(response.json())


def account(partner: LivePartner, number: str) -> dict[str, Any]:
    return graphql(partner, "/tp/api/ar0/graphql", "AccountBalance", {"accountNumber": number})


def pay(partner: LivePartner, number: str, reference: str, amount: str, code: str = "ACH") -> dict[str, Any]:
    given = {"accountNumber": number, "reference": reference, "amount": amount, "paymentCode": code,
             "categoryCode": "UB", "distributionCode": "101-1100", "paymentDate": "2026-11-30"}
    return graphql(partner, "/tp/api/cr0/graphql", "PostPayment", {"input": given})


def test_caselle_answers_an_account_from_its_books_and_not_found_for_an_unknown_one(caselle: LivePartner) -> None:
    assert account(caselle, "004417-001") == {"data": {"account": {
        "accountNumber": "004417-001", "customerName": "Marisol Okafor", "balance": "182.40", "pastDue": "40.00",
        "paymentRestriction": "NONE", "budgetAmount": None}}}
    assert account(caselle, "004510-001")["data"]["account"]["budgetAmount"] == "95.00"
    missing = account(caselle, "4417-001")
    assert missing["data"] == {"account": None}
    assert [(e["message"], e["extensions"]["code"]) for e in missing["errors"]] == [
        ("Account 4417-001 was not found", "NOT_FOUND")]


def test_caselle_takes_a_reference_once_and_the_payment_lowers_the_balance(caselle: LivePartner) -> None:
    first = pay(caselle, "004419-002", "LP-PAY-1", "45.10")["data"]["postPayment"]
    again = pay(caselle, "004419-002", "LP-PAY-1", "45.10")["data"]["postPayment"]
    assert first["status"] == "POSTED" and first["receiptNumber"].startswith("OLP-")
    assert again == {"status": "DUPLICATE", "receiptNumber": first["receiptNumber"],
                     "message": f"Reference LP-PAY-1 was received before as {first['receiptNumber']}"}
    assert account(caselle, "004419-002")["data"]["account"]["balance"] == "74.90"


def test_caselle_refuses_codes_it_has_not_set_up_and_documents_outside_its_schema(caselle: LivePartner) -> None:
    before = account(caselle, "004419-002")["data"]["account"]["balance"]  # whatever earlier tests paid
    obd = pay(caselle, "004419-002", "LP-PAY-OBD", "10.00", code="OBD")
    assert obd["data"] == {"postPayment": None}
    assert obd["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "'OBD' is not set up" in obd[
        "errors"][0]["message"]
    wrong_api = graphql(caselle, "/tp/api/cr0/graphql", "AccountBalance", {"accountNumber": "004417-001"})
    assert wrong_api["data"] is None and wrong_api["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert account(caselle, "004419-002")["data"]["account"]["balance"] == before  # nothing of that was taken


def test_caselle_checks_client_credentials_and_bearer_tokens(caselle: LivePartner) -> None:
    with https(caselle) as http:
        refused = http.post("/tp/oauth/token", data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                     "client_secret": "not-the-secret"})
        issued = http.post("/tp/oauth/token", data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                    "client_secret": CLIENT_SECRET})
        bare = http.post("/tp/api/ar0/graphql", json={"query": "{ __typename }"})
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert issued.status_code == 200 and issued.json()["token_type"] == "Bearer"
    assert (bare.status_code, bare.json()["error"]) == (401, "invalid_token")
    fetched = graphql(
        caselle, "/tp/api/ar0/graphql", "AccountBalance", {"accountNumber": "004417-001"},
        token=issued.json()["access_token"])
    assert fetched["data"]["account"]["balance"] == "182.40"
    with https(caselle) as http:
        stale = http.post("/tp/api/ar0/graphql", headers={"Authorization": "Bearer made-up"}, json={"query": "{x}"})
    assert (stale.status_code, stale.json()["error"]) == (401, "invalid_token")


def test_a_drifted_caselle_answers_no_restriction_as_null(caselle: LivePartner, tmp_path: Path) -> None:
    with start_partner("caselle", tmp_path, drift=True) as drifted:
        before = {n: account(caselle, n)["data"]["account"] for n in ("004417-001", "004441-001")}
        after = {n: account(drifted, n)["data"]["account"] for n in before}
    changed = {(n, name, before[n][name], after[n][name]) for n in before for name in before[n]
               if before[n][name] != after[n][name]}
    assert changed == {("004417-001", "paymentRestriction", "NONE", None)}  # NO_CC is still NO_CC


# -- the harness's own clients, as a live-mode run will use them ---------------------------------
@pytest.fixture(scope="module")
def clayton() -> Biller:
    return load_biller(PROJECT, "clayton-county-water")


@pytest.fixture(scope="module")
def newport() -> Biller:
    return load_biller(PROJECT, "newport-or")


def test_the_harness_cayenta_client_works_against_the_live_partner(
        cayenta: LivePartner, clayton: Biller, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(cayenta.ca))  # httpx's default context trusts the partner's CA
    client = CayentaClient(clayton.partner, cayenta.base_url, *CAYENTA_AUTH, 5.0, codes=clayton.codes)
    try:
        assert client.balance("1041870128")["BALANCE"] == "80.00"
        credit = Posting(key="LP-CR-1", kind=PostingKind.CREDIT, account="1041870128", amount=Decimal("12.50"))
        posted, again = client.post(credit), client.post(credit)
        assert (posted.outcome, again.outcome, again.partner_ref) == (Outcome.POSTED, Outcome.ALREADY_POSTED,
                                                                      posted.partner_ref)
        assert client.balance("1041870128")["BALANCE"] == "67.50"
        assert client.post(Posting(key="LP-VOID-C", kind=PostingKind.VOID, account="1041870128",
                                   amount=Decimal("12.50"), original_key="LP-CR-1")).outcome is Outcome.POSTED
        pay = Posting(key="LP-PAY-C", kind=PostingKind.PAYMENT, account="1041870128", amount=Decimal("30.00"),
                      method="ACH", posted_on="2026-11-30")
        back = Posting(key="LP-RET-C", kind=PostingKind.ACH_RETURN, account="1041870128", amount=Decimal("30.00"),
                       original_key="LP-PAY-C", return_code="R01")
        autopay = Posting(key="LP-CHG-C", kind=PostingKind.CHANGE, account="1041870128", program="autopay", value="Y")
        assert [client.post(p).outcome for p in (pay, back, autopay)] == [Outcome.POSTED] * 3
        assert client.balance("1041870128")["BALANCE"] == "80.00"  # credit voided, payment returned
        assert client.statement_pdf("1041870128", "INV-202611-000001").startswith(b"%PDF-1.4")
        with pytest.raises(AccountNotFound):
            client.balance("999")
    finally:
        client.close()
    wrong = CayentaClient(clayton.partner, cayenta.base_url, CAYENTA_AUTH[0], "wrong", 5.0)
    with pytest.raises(PartnerRejected, match="credentials refused"):
        wrong.balance("1041870128")
    wrong.close()


def test_the_harness_caselle_client_works_against_the_live_partner(
        caselle: LivePartner, newport: Biller, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(caselle.ca))
    client = CaselleClient(newport.partner, caselle.base_url, CLIENT_ID, CLIENT_SECRET, 5.0, token="expired-long-ago",
                           codes=newport.codes)
    try:
        assert client.balance("004441-001")["paymentRestriction"] == "NO_CC"
        assert client.tokens_fetched == 1  # the stale token was refused, one was fetched with the client credentials
        payment = Posting(key="LP-PAY-H", kind=PostingKind.PAYMENT, account="004441-001", amount=Decimal("20.00"),
                          method="ACH", channel="web", posted_on="2026-11-30")
        posted, again = client.post(payment), client.post(payment)
        assert (posted.outcome, again.outcome, again.partner_ref) == (Outcome.POSTED, Outcome.ALREADY_POSTED,
                                                                      posted.partner_ref)
        void = Posting(key="LP-VOID-H", kind=PostingKind.VOID, account="004441-001", amount=Decimal("20.00"),
                       original_key="LP-PAY-H")
        assert client.post(void).outcome is Outcome.POSTED
        assert client.balance("004441-001")["balance"] == "50.00"  # paid, then voided
        pay = Posting(key="LP-PAY-R", kind=PostingKind.PAYMENT, account="004441-001", amount=Decimal("50.00"),
                      method="CC", channel="IVR", posted_on="2026-11-30")
        back = Posting(key="LP-RET-R", kind=PostingKind.ACH_RETURN, account="004441-001", amount=Decimal("50.00"),
                       original_key="LP-PAY-R", return_code="R01")
        paperless = Posting(key="LP-CHG-R", kind=PostingKind.CHANGE, account="004441-001", program="paperless",
                            value="Y")
        assert [client.post(p).outcome for p in (pay, back, paperless)] == [Outcome.POSTED] * 3
        assert client.balance("004441-001")["balance"] == "50.00"  # paid, then returned
        with pytest.raises(AccountNotFound):
            client.balance("999")
    finally:
        client.close()


# -- the process ----------------------------------------------------------------------------------
def test_a_partner_stops_on_sigterm_and_when_its_starter_is_killed(tmp_path: Path) -> None:
    with start_partner("cayenta", tmp_path / "one") as partner:
        pid = partner.pid
    assert not alive(pid)
    starter = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from tests.support.live_partners import start_partner\n"
         f"with start_partner('caselle', Path({str(tmp_path / 'two')!r})) as p:\n"
         "    print(p.pid, flush=True); time.sleep(120)"],
        cwd=PROJECT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert starter.stdout is not None
        orphan = int(starter.stdout.readline())
        os.kill(starter.pid, signal.SIGKILL)  # no finally, no atexit: only the server's own watch can stop it
        starter.wait()
        deadline = time.monotonic() + 10
        while alive(orphan) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(orphan), (tmp_path / "two" / "caselle.log").read_text()
    finally:
        starter.kill()
        starter.wait()


def test_bad_partner_data_is_one_line_naming_the_field(tmp_path: Path) -> None:
    data = tmp_path / "bad.yaml"
    data.write_text('accounts:\n  - {number: "1", balance: 12.5}\n')
    done = subprocess.run([sys.executable, "-m", "tests.support.live_partners", "cayenta", "--cert",
                           str(tmp_path / "certs"), "--data", str(data)], cwd=PROJECT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **demo_credentials("cayenta")})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip().splitlines() == [
        f"error: {data}: accounts[0].balance: 12.5 is not an amount as text with two decimals, e.g. \"45.10\""]
