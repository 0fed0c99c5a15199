"""CloudPay billers as an SE runs them: `sit run` of the Accela (v2) and RecDesk (v1) demo billers, the
harness serving the platform's CloudPay side and playing the vendor's application and the payer, the
vendor's PostBackURL and ReturnURL on WireMock. What the vendor received is evidence; what it accepted
without authentication is flagged in the sign-off; the payer's data never reaches the partner pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from runs import explain, sit, sit_run
from test_secrets import _contents, _files

CLOUDPAY_BILLERS = {"lakemont-permits": 2, "cedar-bluff-recreation": 1}
V2_ONLY = {"SIT-CP-001", "SIT-CP-005", "SIT-CP-011", "SIT-CP-013"}


@pytest.mark.parametrize("biller", sorted(CLOUDPAY_BILLERS))
def test_a_cloudpay_biller_runs_its_workbook_with_every_postback_evidence(biller: str, tmp_path: Path) -> None:
    run = sit_run(tmp_path / "events.sqlite", biller, report=True)
    statuses = run.statuses()
    cases = {sit_id: status for sit_id, status in statuses.items() if sit_id.startswith("SIT-CP-")}
    v2 = CLOUDPAY_BILLERS[biller] == 2
    assert cases == {sit_id: "passed" if v2 or sit_id not in V2_ONLY else "na" for sit_id in cases}
    assert len(cases) == 13
    assert statuses["SIT-CFG-001"] == "passed"
    assert {status for sit_id, status in statuses.items() if not sit_id.startswith(("SIT-CP-", "SIT-CFG-"))} == \
        {"na"}
    started = run.started()
    assert started["cloudpay"]["version"] == CLOUDPAY_BILLERS[biller] and started["wiremock_version"]
    # The approved payment: the platform's postback delivered, and the same postback in WireMock's journal.
    sent = [e.data for e in run.scenario("SIT-CP-003") if e.kind == "cloudpay.postback"]
    received = [x["fields"] for x in run.exchanges("SIT-CP-003") if x["fields"].get("role") == "postback"]
    assert [(s["outcome"], s["status"]) for s in sent] == [("delivered", 204)]
    assert [r["PaymentGUID"] for r in received] == [sent[0]["payment"]] and received[0]["Approved"] == "True"
    assert [x["fields"]["role"] for x in run.exchanges("SIT-CP-003")] == ["postback", "return"]
    # The retried postback: two 503s, then taken; every attempt is an event.
    retried = [(e.data["attempt"], e.data["outcome"], e.data.get("status")) for e in run.scenario("SIT-CP-006")
               if e.kind == "cloudpay.postback"]
    assert retried == [(1, "retrying", 503), (2, "retrying", 503), (3, "delivered", 204)]
    # The stub pack takes any postback: both probes are findings, and the sign-off flags them.
    findings = [(e.data["sit_id"], e.data["text"]) for e in run.events if e.kind == "finding"]
    assert [sit_id for sit_id, _ in findings] == ["SIT-CP-008", "SIT-CP-009"]
    signoff = (tmp_path / run.run_id / "signoff.html").read_text()
    assert "<h2>Flags</h2>" in signoff and "2 flags: see Flags" in signoff
    assert "The vendor accepted a forged postback (HTTP 204)" in signoff
    verified = sit("verify", run.run_id, "--store", str(run.store))
    assert verified.returncode == 0, explain(verified)


def test_the_payers_data_never_reaches_the_partner_pack(tmp_path: Path) -> None:
    """The postbacks the vendor received carry the payer's name and address (what the platform sends); the
    partner pack masks them, in every document of it."""
    run = sit_run(tmp_path / "events.sqlite", "lakemont-permits", "-k", "SIT-CP-003 or SIT-CP-004")
    payers = {x["fields"][name] for x in run.exchanges() for name in ("CustomerName", "CustomerAddress")
              if x["fields"].get(name)}
    assert len(payers) == 4, payers  # two payers, each with a name and an address: the search is not vacuous
    out = tmp_path / "pack"
    made = sit("report", run.run_id, "--partner-pack", "-o", str(out), "--store", str(run.store))
    assert made.returncode == 0, explain(made)
    leaks = [f"{path.relative_to(out)}{part}: {value}" for path in _files(out) for part, data in _contents(path)
             for value in payers if value.lower().encode() in data.lower()]
    assert leaks == []
