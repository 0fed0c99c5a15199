"""`sit diff` as a projection: two small synthetic runs in a real event store, compared."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from rich.console import Console

from harness.events import SQLiteStore, write_jsonl
from harness.profiles import load_biller
from harness.reports.diff import CallChange, FieldChange, RunDiff, ScenarioDiff, diff_runs, render_diff, volatile_fields
from harness.reports.log import RunLog, open_run
from harness.run_identity import recorded_profiles
from tests.conftest import PROJECT

VOLATILE = ("REFERENCE_NO", "reference")
FORM = "application/x-www-form-urlencoded"
PARAMS = "XMLREQUEST/Request/AddARItem/Params"
# (SIT ID, status or None for a scenario that never finished, its partner calls)
Scenario = tuple[str, str | None, Sequence[dict[str, Any]]]


def cayenta(call: str, reference: str = "r1", amount: str = "45.10", **overrides: Any) -> dict[str, Any]:
    """A partner.exchange as Cayenta's adapter records it: XML posted in the form field XMLREQUEST."""
    params = f"<REFERENCE_NO>{reference}</REFERENCE_NO><AMOUNT>{amount}</AMOUNT>"
    xml = f"<Request><{call}><Params>{params}</Params></{call}></Request>"
    return {
        "call": call, "fields": {"amount": amount, "reference": reference}, "method": "POST",
        "url": "/CayentaAPI/XMLRequest", "request_headers": {"content-type": FORM, "Content-Length": "99"},
        "request_body": f"XMLREQUEST={quote(xml)}", "status": 200,
        "response_headers": {"Content-Type": "application/xml"},
        "response_body": f"<Reply><{call}><STATUS>0</STATUS></{call}></Reply>",
        "matched": True, "stub": f"{call} ok", "fault": None, "journal_id": "j-1",
        "logged_at": "2026-01-01T00:00:00Z", "timing_ms": 3,
    } | overrides


def graphql(amount: str, reference: str = "r1") -> dict[str, Any]:
    """A GraphQL-like JSON call, as a partner speaking GraphQL (Caselle) would record it."""
    body = {"query": "mutation Pay($input: PaymentInput!) { pay(input: $input) { id } }",
            "variables": {"input": {"amount": amount, "reference": reference}}}
    return {"call": "pay", "fields": {"amount": amount}, "method": "POST", "url": "/graphql",
            "request_headers": {"Content-Type": "application/json"}, "request_body": json.dumps(body),
            "status": 200, "response_headers": {"Content-Type": "application/json"},
            "response_body": '{"data": {"pay": {"id": "1"}}}', "matched": True, "stub": "pay", "fault": None}


def write_run(store: Path, run_id: str, scenarios: Sequence[Scenario]) -> RunLog:
    profiles = recorded_profiles(PROJECT, load_biller(PROJECT, "clayton-county-water"))
    with SQLiteStore(store) as events:
        events.append(run_id, "run.started", {"partner": "cayenta", "biller": "clayton-county-water",
                                              "profiles": profiles})
        events.append(run_id, "run.workbook", {"cases": []})
        for sit_id, status, exchanges in scenarios:
            events.append(run_id, "scenario.started", {"sit_id": sit_id, "name": sit_id, "feature": "f"})
            for exchange in exchanges:
                events.append(run_id, "partner.exchange", exchange)
            if status is not None:
                events.append(run_id, "scenario.finished", {"sit_id": sit_id, "status": status})
    return open_run(run_id, store)


def diff(tmp_path: Path, a: Sequence[Scenario], b: Sequence[Scenario]) -> RunDiff:
    store = tmp_path / "events.sqlite"
    return diff_runs(write_run(store, "run-a", a), write_run(store, "run-b", b), VOLATILE)


def only_call_change(result: RunDiff) -> CallChange:
    (scenario,) = result.scenarios
    (call,) = scenario.calls
    return call


BASE: list[Scenario] = [("SIT-PAY-001", "passed", [cayenta("AddARItem")]), ("SIT-BAL-001", "passed", [])]


def test_identical_runs_do_not_differ(tmp_path: Path) -> None:
    result = diff(tmp_path, BASE, BASE)
    assert result.identical and result.scenarios == ()
    assert (result.sit_ids, result.calls_compared) == (2, 1)


def test_volatile_fields_and_run_bookkeeping_are_ignored(tmp_path: Path) -> None:
    other = cayenta("AddARItem", reference="r2", journal_id="j-2", logged_at="2027-01-01T00:00:00Z", timing_ms=9,
                    request_headers={"Content-Type": FORM, "Content-Length": "120"})
    result = diff(tmp_path, BASE, [("SIT-PAY-001", "passed", [other]), BASE[1]])
    assert result.identical, result.scenarios
    assert result.volatile == ("REFERENCE_NO", "reference")


def test_without_the_volatile_rule_the_reference_differs(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    a = write_run(store, "run-a", BASE)
    b = write_run(store, "run-b", [("SIT-PAY-001", "passed", [cayenta("AddARItem", reference="r2")]), BASE[1]])
    call = only_call_change(diff_runs(a, b, ()))
    assert {f.label for f in call.fields} == {"fields reference", f"request {PARAMS}/REFERENCE_NO"}


def test_a_changed_xml_field_is_reported_with_its_path_and_values(tmp_path: Path) -> None:
    result = diff(tmp_path, BASE, [("SIT-PAY-001", "passed", [cayenta("AddARItem", amount="45.11")]), BASE[1]])
    call = only_call_change(result)
    assert (call.call, call.number, call.change) == ("AddARItem", 1, "changed")
    assert call.fields == (FieldChange("fields", "amount", "45.10", "45.11"),
                           FieldChange("request", f"{PARAMS}/AMOUNT", "45.10", "45.11"))


def test_a_changed_json_field_is_reported(tmp_path: Path) -> None:
    result = diff(tmp_path, [("SIT-PAY-001", "passed", [graphql("10.00")])],
                  [("SIT-PAY-001", "passed", [graphql("12.00", reference="other")])])
    call = only_call_change(result)
    assert call.fields == (FieldChange("fields", "amount", "10.00", "12.00"),
                           FieldChange("request", "variables.input.amount", "10.00", "12.00"))


def test_call_attributes_and_content_type_are_compared(tmp_path: Path) -> None:
    changed = cayenta("AddARItem", status=500, matched=False, fault="CONNECTION_RESET_BY_PEER",
                      response_headers={"CONTENT-TYPE": "text/plain"}, response_body="")
    call = only_call_change(diff(tmp_path, BASE[:1], [("SIT-PAY-001", "passed", [changed])]))
    assert {f.label: (f.before, f.after) for f in call.fields} == {
        "status": ("200", "500"), "matched": ("true", "false"), "fault": ("null", "CONNECTION_RESET_BY_PEER"),
        "response Content-Type": ("application/xml", "text/plain"),
        "response Reply/AddARItem/STATUS": ("0", None),
    }


def test_an_extra_call_is_added_and_the_next_call_still_paired(tmp_path: Path) -> None:
    a: list[Scenario] = [("SIT-VOID-001", "passed", [cayenta("AddARItem"), cayenta("VoidARItem")])]
    b: list[Scenario] = [("SIT-VOID-001", "passed",
                          [cayenta("AddARItem"), cayenta("AddARItem", amount="1.00"), cayenta("VoidARItem")])]
    (scenario,) = diff(tmp_path, a, b).scenarios
    assert scenario.calls == (CallChange("AddARItem", 2, "added"),)
    assert diff(tmp_path / "back", b, a).scenarios[0].calls == (CallChange("AddARItem", 2, "removed"),)


def test_an_extra_call_before_a_changed_one_is_added_and_the_changed_one_paired(tmp_path: Path) -> None:
    a: list[Scenario] = [("SIT-VOID-001", "passed", [cayenta("AddARItem"), cayenta("VoidARItem")])]
    b: list[Scenario] = [("SIT-VOID-001", "passed", [cayenta("AddARItem"), cayenta("GetAccountBalance"),
                                                     cayenta("VoidARItem", amount="9.99")])]
    (scenario,) = diff(tmp_path, a, b).scenarios
    added, changed = scenario.calls
    assert added == CallChange("GetAccountBalance", 1, "added")
    assert (changed.call, changed.change, changed.fields[0].after) == ("VoidARItem", "changed", "9.99")


def test_a_call_replaced_by_another_is_removed_and_added(tmp_path: Path) -> None:
    result = diff(tmp_path, [("SIT-PAY-007", "passed", [cayenta("VoidARItem")])],
                  [("SIT-PAY-007", "passed", [cayenta("AddARItem")])])
    (scenario,) = result.scenarios
    assert scenario.calls == (CallChange("VoidARItem", 1, "removed"), CallChange("AddARItem", 1, "added"))


def test_a_status_change_is_reported(tmp_path: Path) -> None:
    result = diff(tmp_path, BASE, [BASE[0], ("SIT-BAL-001", "failed", [])])
    assert result.scenarios == (ScenarioDiff("SIT-BAL-001", "passed", "failed"),)


def test_an_unfinished_scenario_is_interrupted(tmp_path: Path) -> None:
    result = diff(tmp_path, BASE, [BASE[0], ("SIT-BAL-001", None, [])])
    assert result.scenarios == (ScenarioDiff("SIT-BAL-001", "passed", "interrupted"),)


def test_a_sit_id_in_one_run_only_is_absent_in_the_other(tmp_path: Path) -> None:
    result = diff(tmp_path, BASE[:1], BASE[1:])
    assert result.scenarios == (ScenarioDiff("SIT-BAL-001", "absent", "passed"),
                                ScenarioDiff("SIT-PAY-001", "passed", "absent"))
    assert (result.sit_ids, result.calls_compared) == (2, 0)


def test_a_store_run_and_a_jsonl_export_compare(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    write_run(store, "run-a", BASE)
    with SQLiteStore(store) as events:
        write_jsonl(events.events("run-a"), tmp_path / "a.jsonl")
    assert diff_runs(open_run(str(tmp_path / "a.jsonl"), store), open_run("run-a", store), VOLATILE).identical


def test_volatile_fields_come_from_the_partner_profile_the_run_recorded(tmp_path: Path) -> None:
    run = write_run(tmp_path / "events.sqlite", "run-a", BASE)
    names = volatile_fields([run, run])
    assert {"REFERENCE_NO", "AR_ITEM_NO", "reference"} <= set(names)
    assert list(names) == sorted(set(names))


def rendered(result: RunDiff) -> list[str]:
    out = io.StringIO()
    render_diff(result, Console(file=out, width=300, no_color=True, highlight=False))
    return out.getvalue().splitlines()


def test_rendered_lines_name_sit_id_call_field_and_values(tmp_path: Path) -> None:
    b: list[Scenario] = [("SIT-PAY-001", "failed", [cayenta("AddARItem", amount="[1]"), cayenta("VoidARItem")])]
    lines = rendered(diff(tmp_path, BASE[:1], b))
    assert lines[2:] == [
        "SIT-PAY-001  status passed -> failed",
        "SIT-PAY-001  AddARItem #1 changed",
        "    fields amount: '45.10' -> '[1]'",  # square brackets print as they are, not as markup
        f"    request {PARAMS}/AMOUNT: '45.10' -> '[1]'",
        "SIT-PAY-001  + VoidARItem #1 (added)",
        "1 SIT ID differs (1 SIT IDs, 1 calls compared; volatile fields ignored: REFERENCE_NO, reference)",
    ]


@pytest.mark.parametrize("volatile", [VOLATILE, ()])
def test_rendered_summary_when_nothing_differs(tmp_path: Path, volatile: tuple[str, ...]) -> None:
    store = tmp_path / "events.sqlite"
    result = diff_runs(write_run(store, "run-a", BASE), write_run(store, "run-b", BASE), volatile)
    ignored = ", ".join(volatile) or "none"
    assert rendered(result)[-1] == f"no differences (2 SIT IDs, 1 calls compared; volatile fields ignored: {ignored})"
