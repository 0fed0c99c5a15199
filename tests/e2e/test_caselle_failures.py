"""Newport OR on Caselle Connect in one real `sit run`: the whole workbook, and Caselle's known
failure modes (features/caselle_failures.feature).

The workbook's features are the ones Clayton County runs on Cayenta: only the profile, the stub
pack and the adapter differ.

Each scenario states what the platform does, and the log must prove it: COWS down parks the
payment and it posts once when COWS is back; the generic cr0 error comes with the profile's
hint; an expired token is replaced once; a missing licence is named. For a Cayenta biller
the same scenarios are outside its workbook, by their partner tag.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from runs import Run, sit_run

from harness.events import MASK, SQLiteStore
from tests.conftest import na_sit_ids, reads_like_python, sit_ids

CASELLE_BILLER = "newport-or"
SIT_IDS = [f"SIT-CSL-00{n}" for n in range(1, 7)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return sit_run(tmp_path_factory.mktemp("caselle") / "events.sqlite", CASELLE_BILLER)


def platform(run: Run, sit_id: str, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in run.scenario(sit_id) if e.kind == f"platform.{kind}"]


def test_the_same_features_pass_for_a_caselle_biller(run: Run) -> None:
    statuses = run.statuses()
    assert statuses.keys() == sit_ids(CASELLE_BILLER)
    assert {sit_id for sit_id, status in statuses.items() if status == "na"} == na_sit_ids(CASELLE_BILLER)
    assert set(statuses.values()) == {"passed", "na"}


def test_every_call_goes_to_the_billers_host_with_a_bearer_token(run: Run) -> None:
    api = [x for x in run.exchanges() if x["url"].startswith("/tp/api/")]
    assert len(api) > 20
    assert {x["request_headers"]["Host"] for x in api} == {"newportor.caselleconnect.com"}
    assert {x["request_headers"].get("Authorization") for x in api} == {MASK}  # present, and masked
    payments = [x["fields"] for x in api if x["call"] == "PostPayment" and x["status"] == 200]
    assert payments and {(p["category"], p["distribution"]) for p in payments} == {("UB", "101-1100")}


def test_every_caselle_failure_scenario_passes(run: Run) -> None:
    statuses = run.statuses()
    assert {sit_id: statuses.get(sit_id) for sit_id in SIT_IDS} == dict.fromkeys(SIT_IDS, "passed")


def test_cows_down_parks_the_payment_and_it_posts_once_when_cows_is_back(run: Run) -> None:
    kinds = [e.kind for e in run.scenario("SIT-CSL-001")]
    assert kinds.index("partner.offline") < kinds.index("platform.pump_parked") < kinds.index("partner.online")
    assert kinds.index("partner.online") < kinds.index("platform.pump_posted")
    failed = platform(run, "SIT-CSL-001", "pump_attempt_failed")
    assert len(failed) == 3 and all("COWS" in d["error"] and "cannot connect" in d["error"] for d in failed)
    (parked,) = platform(run, "SIT-CSL-001", "pump_parked")
    assert "COWS" in parked["reason"]
    (posted,) = platform(run, "SIT-CSL-001", "pump_posted")
    assert posted["key"] == parked["key"] and posted["already_posted"] is False
    # Nothing reached Caselle while COWS was down; the one posting after it is back succeeded.
    sent = [(x["call"], x["status"]) for x in run.exchanges("SIT-CSL-001") if x["call"] == "PostPayment"]
    assert sent == [("PostPayment", 200)]


def test_the_generic_cr0_error_fails_the_payment_with_the_workspace_hint(run: Run) -> None:
    (failed,) = platform(run, "SIT-CSL-002", "pump_failed")
    assert "unexpected error" in failed["reason"] and failed["attempts"] == 1
    assert '"use for online payments"' in failed["hint"] and failed["hint"] in failed["reason"]
    assert platform(run, "SIT-CSL-002", "pump_parked") == []


def test_an_expired_token_is_replaced_once_and_the_payment_posts_once(run: Run) -> None:
    calls = [(x["call"], x["status"]) for x in run.exchanges("SIT-CSL-003")]
    assert calls == [("PostPayment", 401), ("OAuthToken", 200), ("PostPayment", 200)]
    assert len(platform(run, "SIT-CSL-003", "pump_posted")) == 1


def test_the_token_is_fetched_once_after_it_expired_and_kept(run: Run) -> None:
    """On the wire (not the scenario's own count): no fetch while the token held is valid; after it
    expired one refused call, one fetch, and every later call accepted with the token fetched."""
    calls = [(x["call"], x["status"]) for x in run.exchanges("SIT-CSL-006")]
    valid = [("AccountBalance", 200), ("PostPayment", 200), ("PostPayment", 200)]
    assert calls == [*valid, ("AccountBalance", 401), ("OAuthToken", 200), *valid]


def test_a_missing_licence_is_named(run: Run) -> None:
    (refused,) = platform(run, "SIT-CSL-004", "refused")
    assert refused["action"] == "open_account" and "ARW4000" in refused["reason"]
    assert platform(run, "SIT-CSL-004", "balance_observed") == []
    (failed,) = platform(run, "SIT-CSL-005", "pump_failed")
    assert "CRW40000" in failed["reason"] and failed["code"] == "LICENSE_REQUIRED" and failed["attempts"] == 1
    assert platform(run, "SIT-CSL-005", "pump_parked") == []


def test_for_a_cayenta_biller_the_caselle_scenarios_are_outside_its_workbook(
    demo_run: tuple[str, Path, subprocess.CompletedProcess[str]],
) -> None:
    run_id, store, _ = demo_run
    with SQLiteStore(store) as events:
        recorded = [e.data for e in events.events(run_id) if e.kind in ("run.workbook", "scenario.started")]
    cases = {case["sit_id"] for case in recorded[0]["cases"]}
    started = {d["sit_id"] for d in recorded[1:]}
    assert cases and not cases & set(SIT_IDS)  # not N/A rows: not rows at all
    assert started == cases and not started & set(SIT_IDS)


def test_every_expectation_reads_as_a_sentence(run: Run) -> None:
    """Newport's run says what it saw in words, for the Caselle-only checks too (no alert codes, tokens)."""
    found = [e.data for e in run.events if e.kind == "expectation"]
    assert len(found) > 50
    for data in found:
        assert data["sentence"] == data["actual_sentence"] and not reads_like_python(data["sentence"]), data
    said = {d["actual_sentence"] for d in found}
    assert {"the partner received a paperless change enrolling for the account",
            "the platform fetched 1 new OAuth token", "the logged URL shows the key masked",
            "the key appears nowhere in the scenario's log"} <= said
