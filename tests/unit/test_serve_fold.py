"""A served run's exchanges as the reports' one fold sees them: a row each, by workbook section, with its verdict;
exchanges of a scenario run stay evidence of their steps."""

from __future__ import annotations

from typing import Any

from harness.events import Event
from harness.reports.fold import RunRecord, fold
from harness.reports.summary import partner_mode, run_facts


def event(seq: int, kind: str, **data: Any) -> Event:
    return Event(run_id="r1", seq=seq, kind=kind, ts=f"2026-11-30T10:00:{seq:02d}+00:00", data=data, prev_hash="",
                 hash=f"h{seq}")


def exchange(seq: int, number: int, verdict: str, **extra: Any) -> Event:
    fields = {"role": "payment", "account": "700100200", "amount": "45.10", "reference": "P1"}
    return event(seq, "partner.exchange", call="AddARItem", method="POST", url="/CayentaAPI/XMLRequest", status=200,
                 matched=True, fields=fields, exchange=number, section="Payment posting (data pump)",
                 verdict=verdict, **extra)


def test_each_served_exchange_is_a_row_of_its_section_with_its_verdict() -> None:
    served = {"api_base_url": "http://127.0.0.1:8089"}
    broke = [{"rule": "reference once", "field": "rules.reference_once", "sentence": "reference P1 was already posted"}]
    run = RunRecord()
    rows = list(fold([event(1, "run.started", partner_mode="serve", served=served, biller="b"),
                      event(2, "run.workbook", cases=[]), exchange(3, 1, "ok", broken=[]),
                      exchange(4, 2, "broken", broken=broke),
                      event(5, "run.finished", status="failed", counts={"passed": 1, "failed": 1})], run))
    assert [(r.sit_id, r.feature, r.status) for r in rows] == [
        ("EXCH-001", "Payment posting (data pump)", "passed"), ("EXCH-002", "Payment posting (data pump)", "failed")]
    assert rows[0].name == "AddARItem: payment 700100200 45.10 P1"
    assert rows[1].error == "reference P1 was already posted (rule: reference once; profile field rules.reference_once)"
    assert rows[1].category == "platform" and rows[1].steps[0].evidence[0].seq == 4
    assert (rows[1].first_seq, rows[1].last_seq) == (4, 4)
    assert run.status == "failed"
    assert partner_mode(run.facts) == "serve: served to a real platform"
    assert ("Partner mode", partner_mode(run.facts)) in run_facts(run, "product")
    side = dict(run_facts(run, "product"))["Partner side"]
    assert "served at http://127.0.0.1:8089 to a platform test environment" in side


def test_exchanges_outside_a_scenario_of_a_stub_run_are_no_rows() -> None:
    run = RunRecord()
    rows = list(fold([event(1, "run.started", partner_mode="stub"), exchange(2, 1, "ok"),
                      event(3, "run.finished", status="passed", counts={})], run))
    assert rows == [] and run.status == "passed" and partner_mode(run.facts) == "stub: stubbed"
    assert partner_mode({}) == "stub: stubbed"  # a run from before modes were recorded
