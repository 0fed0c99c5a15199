"""`sit stubs record` on small synthetic runs in a real event store: the masking, the generalised
matchers, the order of answers, the scoping by SIT scenario, and writing all or nothing.

The profiles and adapters are the real ones; WireMock's acceptance of the pack is tested end to end
(tests/e2e/test_recorded_pack.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from harness.errors import InputError
from harness.events import SQLiteStore
from harness.partners import load_adapter
from harness.profiles import load_biller, load_partner
from harness.reports.leaks import LeakFound
from harness.reports.log import RunLog, open_run
from harness.run_identity import recorded_profiles
from harness.stubs import StubSide, load_pack
from harness.stubs.record import record_pack
from tests.conftest import PROJECT

FORM = "application/x-www-form-urlencoded"
NAME, EMAIL = "Evangeline Marchbanks", "evangeline.marchbanks@example.org"
Scenario = tuple[str, Sequence[dict[str, Any]]]


def cayenta(call: str, account: str, reply: str, reference: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A partner.exchange as a Cayenta run logs it: XML in the form field XMLREQUEST, credentials masked."""
    ref = f"<REFERENCE_NO>{reference}</REFERENCE_NO>" if reference else ""
    xml = f"<Request><{call}><Params><ACCOUNT_NO>{account}</ACCOUNT_NO>{ref}</Params></{call}></Request>"
    return {
        "call": call, "fields": {"account": account}, "method": "POST", "url": "/CayentaAPI/XMLRequest",
        "request_headers": {"Content-Type": FORM, "Authorization": "***"},
        "request_body": f"XMLREQUEST={quote(xml)}", "status": 200,
        "response_headers": {"Content-Type": "application/xml", "Matched-Stub-Id": "x-1", "Set-Cookie": "s=abc123"},
        "response_body": f"<Reply><{call}><STATUS>0</STATUS><Params>{reply}</Params></{call}></Reply>",
        "matched": True, "stub": f"{call} answer", "fault": None, "timing_ms": 2,
    } | overrides


def balance(account: str, amount: str, name: str = NAME) -> dict[str, Any]:
    return cayenta("GetAccountBalance", account,
                   f"<ACCOUNT_NO>{account}</ACCOUNT_NO><CUSTOMER_NAME>{name}</CUSTOMER_NAME>"
                   f"<EMAIL>{EMAIL}</EMAIL><BALANCE>{amount}</BALANCE>")


def posted(account: str, reference: str) -> dict[str, Any]:
    return cayenta("AddARItem", account, f"<STATUS>0</STATUS><AR_ITEM_NO>AR-{reference}</AR_ITEM_NO>", reference)


def write_run(store: Path, scenarios: Sequence[Scenario], biller: str = "clayton-county-water",
              run_id: str = "run-a") -> RunLog:
    profiles = recorded_profiles(PROJECT, load_biller(PROJECT, biller))
    with SQLiteStore(store) as events:
        events.append(run_id, "run.started", {"biller": biller, "partner": profiles["partner"]["data"]["name"],
                                              "seed": 7, "profiles": profiles})
        events.append(run_id, "run.workbook", {"cases": []})
        for sit_id, exchanges in scenarios:
            events.append(run_id, "scenario.started", {"sit_id": sit_id, "name": sit_id})
            for exchange in exchanges:
                events.append(run_id, "partner.exchange", exchange)
            events.append(run_id, "scenario.finished", {"sit_id": sit_id, "status": "passed"})
        events.append(run_id, "run.finished", {"status": "passed"})
    return open_run(run_id, store)


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def mappings(root: Path) -> list[dict[str, Any]]:
    return [m for path in sorted((root / "mappings").glob("*.json")) for m in json.loads(path.read_text())["mappings"]]


RUN: list[Scenario] = [
    ("SIT-BAL-009", [balance("001234567", "80.00"), posted("001234567", "ab12-BAL-009-P001"),
                     balance("001234567", "22.00")]),
    ("SIT-PAY-008", [posted("007654321", "ab12-PAY-008-P001"), posted("007654321", "ab12-PAY-008-P002")]),
]


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    out = tmp_path / "pack"
    record_pack(write_run(tmp_path / "events.sqlite", RUN), out, project=PROJECT)
    return out


def test_personal_values_are_masked_in_every_file_the_same_way(pack: Path) -> None:
    written = files(pack)
    for value in (NAME, EMAIL, quote(NAME), NAME.replace(" ", "+")):
        assert all(value.encode() not in content for content in written.values()), value
    bodies = [content.decode() for name, content in written.items() if name.startswith("__files/getaccountbalance")]
    assert len(bodies) == 2  # two balances, each masked alike: the masked name is one text everywhere
    assert all("<CUSTOMER_NAME>[personal data]</CUSTOMER_NAME><EMAIL>[personal data]</EMAIL>" in b for b in bodies)


def test_no_credential_reaches_the_pack(pack: Path) -> None:
    everything = b"".join(files(pack).values())
    assert b"s=abc123" not in everything and b"Set-Cookie" not in everything
    for mapping in mappings(pack):
        assert mapping["request"]["headers"] == {"Authorization": {"matches": ".+"}}  # presence, never a value
        assert set(mapping["response"]["headers"]) == {"Content-Type"}  # WireMock's own headers dropped too


def test_a_token_in_an_answer_is_never_written(tmp_path: Path) -> None:
    answer = cayenta("GetAccountBalance", "001234567", "<BALANCE>1.00</BALANCE>",
                     response_body='{"access_token": "tok-9f8e7d6c5b4a", "expires_in": 3600}',
                     response_headers={"Content-Type": "application/json"})
    out = tmp_path / "pack"
    record_pack(write_run(tmp_path / "events.sqlite", [("SIT-BAL-001", [answer])]), out, project=PROJECT)
    (body,) = [content for name, content in files(out).items() if name.startswith("__files/")]
    assert json.loads(body) == {"access_token": "***", "expires_in": 3600}


def test_the_matcher_names_the_call_and_account_never_the_reference(pack: Path) -> None:
    everything = b"".join(files(pack).values())
    assert b"ab12-" not in everything  # no recorded reference anywhere: matchers, bodies, names
    xpaths = {m["request"]["formParameters"]["XMLREQUEST"]["matchesXPath"] for m in mappings(pack)}
    assert xpaths == {"/Request/GetAccountBalance/Params[ACCOUNT_NO='001234567']",
                      "/Request/AddARItem/Params[ACCOUNT_NO='001234567']",
                      "/Request/AddARItem/Params[ACCOUNT_NO='007654321']"}


def test_an_echoed_reference_is_templated_from_the_request(pack: Path) -> None:
    (mapping, *_) = [m for m in mappings(pack) if "AddARItem" in json.dumps(m["request"])]
    assert mapping["response"]["transformers"] == ["response-template"]
    body = (pack / "__files" / mapping["response"]["bodyFileName"]).read_text()
    assert body.startswith("{{#formData request.body 'form' urlDecode=true}}{{/formData}}")
    echo = "{{xPath form.XMLREQUEST '/Request/AddARItem/Params/REFERENCE_NO/text()'}}"
    assert f"<AR_ITEM_NO>AR-{echo}</AR_ITEM_NO>" in body


def test_one_call_answered_differently_keeps_its_order_and_alike_answers_are_one_mapping(pack: Path) -> None:
    found = mappings(pack)
    balances = [m for m in found if "GetAccountBalance" in m["name"]]
    assert [(m["requiredScenarioState"], m.get("newScenarioState")) for m in balances] == [
        ("Started", "answer 2"), ("answer 2", None)]
    assert balances[0]["scenarioName"] == balances[1]["scenarioName"]
    first, second = ((pack / "__files" / m["response"]["bodyFileName"]).read_text() for m in balances)
    assert "<BALANCE>80.00</BALANCE>" in first and "<BALANCE>22.00</BALANCE>" in second
    two_payments = [m for m in found if m["metadata"]["sit_id"] == "SIT-PAY-008"]
    assert len(two_payments) == 1 and "scenarioName" not in two_payments[0]  # templated: both answers alike


def test_each_mapping_belongs_to_the_sit_scenario_it_was_recorded_in(tmp_path: Path) -> None:
    run = [("SIT-BAL-001", [balance("001", "1.00")]), ("SIT-BAL-001", [balance("001", "2.00")])]
    out = tmp_path / "pack"
    record_pack(write_run(tmp_path / "events.sqlite", run), out, project=PROJECT)
    assert sorted(p.name for p in (out / "mappings").iterdir()) == ["001-sit-bal-001.json", "002-sit-bal-001-2.json"]
    assert [(m["metadata"]["sit_id"], m["metadata"]["sit_occurrence"], m["priority"]) for m in mappings(out)] == [
        ("SIT-BAL-001", 1, 1), ("SIT-BAL-001", 2, 1)]
    description = json.loads((out / "pack.json").read_text())
    assert description | {"head_hash": ""} == description | {
        "recorded": True, "run_id": "run-a", "biller": "clayton-county-water", "partner": "cayenta", "seed": 7,
        "identity_fields": ["ACCOUNT_NO"], "head_hash": ""}


def test_the_same_run_gives_the_same_bytes(tmp_path: Path, pack: Path) -> None:
    again = tmp_path / "again"
    record_pack(open_run("run-a", tmp_path / "events.sqlite"), again, project=PROJECT)
    assert files(again) == files(pack)


def test_the_pack_loads_as_a_recorded_pack(pack: Path) -> None:
    loaded = load_pack(pack)
    assert loaded.recorded and loaded.recording["run_id"] == "run-a"
    assert all("body" in m["response"] and "bodyFileName" not in m["response"] for m in loaded.mappings)
    assert not load_pack(PROJECT / "stubs" / "cayenta").recorded


def test_a_folder_with_something_in_it_is_replaced_only_with_force(tmp_path: Path, pack: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="taken: not empty; name a new folder, or add --force"):
        record_pack(open_run("run-a", tmp_path / "events.sqlite"), tmp_path / "taken", project=PROJECT)
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    record_pack(open_run("run-a", tmp_path / "events.sqlite"), tmp_path / "taken", force=True, project=PROJECT)
    assert files(tmp_path / "taken") == files(pack)


def test_a_pack_that_would_hold_personal_data_is_not_written_at_all(tmp_path: Path) -> None:
    # A customer "named" like an account: the matcher would carry it, so nothing is written.
    run = [("SIT-BAL-001", [balance("001234567", "1.00", name="001234567")])]
    log = write_run(tmp_path / "events.sqlite", run)
    with pytest.raises(LeakFound, match=re.escape("stub pack refused, nothing written: mappings/001-sit-bal-001.json")):
        record_pack(log, tmp_path / "pack", project=PROJECT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.sqlite"]  # no pack, no staging folder


def test_caselle_matches_operation_and_account_wherever_the_variables_hold_it() -> None:
    partner = load_partner(PROJECT, "caselle")
    stubs = load_adapter(partner).stubs(partner)
    query = json.dumps({"operationName": "AccountBalance", "query": "...", "variables": {"accountNumber": "0042"}})
    mutation = json.dumps({"operationName": "PostPayment", "query": "...",
                           "variables": {"input": {"accountNumber": "0042", "reference": "ab12-PAY-001-P001"}}})
    identity = partner.evidence.identity_fields
    assert stubs.replay_request("POST", "/tp/api/ar0/graphql", query, identity)["bodyPatterns"] == [
        {"matchesJsonPath": "$[?(@.operationName == 'AccountBalance' && @.variables.accountNumber == '0042')]"}]
    posting = stubs.replay_request("POST", "/tp/api/cr0/graphql", mutation, identity)
    assert "ab12" not in json.dumps(posting) and posting["urlPath"] == "/tp/api/cr0/graphql"
    assert posting["bodyPatterns"] == [{"matchesJsonPath":
                                        "$[?(@.operationName == 'PostPayment' && @.variables.input.accountNumber == "
                                        "'0042')]"}]
    token = "grant_type=client_credentials&client_id=***&client_secret=***"
    assert stubs.replay_request("POST", "/tp/oauth/token", token, identity) == {"method": "POST",
                                                                                 "urlPath": "/tp/oauth/token"}
    assert stubs.echoes("/tp/api/cr0/graphql", mutation, partner.evidence.volatile_fields).values == {
        "ab12-PAY-001-P001": "{{jsonPath request.body '$.variables.input.reference'}}"}


class Admin:
    """WireMock's admin API as StubSide uses it, keeping what it was asked (StubSide's own logic under test)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args[0] if args else None))


def test_a_recorded_pack_loads_each_sit_scenarios_answers_when_it_opens(tmp_path: Path) -> None:
    run = [("SIT-BAL-001", [balance("001", "1.00")]), ("SIT-BAL-001", [balance("001", "2.00")]),
           ("SIT-PAY-001", [posted("002", "ab12-PAY-001-P001")])]
    record_pack(write_run(tmp_path / "events.sqlite", run), tmp_path / "pack", project=PROJECT)
    admin = Admin()
    side = StubSide(admin, load_pack(tmp_path / "pack"), recorder=None, decode=None)  # type: ignore[arg-type]
    side.load()
    assert admin.calls == [("reset", None), ("import_mappings", [])]  # nothing was recorded outside scenarios

    def opened(sit_id: str) -> list[str]:
        admin.calls.clear()
        side.reset(sit_id)
        imported = [m for name, arg in admin.calls if name == "import_mappings" for m in arg]
        assert all(m["metadata"]["sit"] == "scenario" for m in imported)  # removed at the next reset
        return [m["metadata"]["sit_id"] + f"#{m['metadata']['sit_occurrence']}" for m in imported]

    assert opened("SIT-BAL-001") == ["SIT-BAL-001#1"]
    assert opened("SIT-BAL-001") == ["SIT-BAL-001#2"]  # an outline's second example: the second recorded
    assert ("remove_by_metadata", "sit") in admin.calls
    assert opened("SIT-INV-001") == []
    assert opened("SIT-PAY-001") == ["SIT-PAY-001#1"]
