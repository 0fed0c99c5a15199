"""A `sit serve` run's payments as the reports' one fold sees them: a row each, judged by its postback; and the
run's verdict (`harness.reports.payments`), the one `sit serve` records at finish."""

from __future__ import annotations

from typing import Any

from harness.events import Event
from harness.reports.fold import RunRecord, fold
from harness.reports.payments import ServedPayments
from harness.reports.summary import partner_mode, partner_side

GUIDS = [f"0000000{n}-0000-0000-0000-000000000000" for n in range(1, 5)]


class Log:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, kind: str, **data: Any) -> None:
        seq = len(self.events) + 1
        self.events.append(Event(run_id="r1", seq=seq, kind=kind, ts=f"2026-11-30T10:00:{seq:02d}+00:00", data=data,
                                 prev_hash="", hash=f"h{seq}"))

    def payment(self, guid: str, approved: bool | None, *postbacks: tuple[str, Any]) -> None:
        self.add("cloudpay.payment_created", payment=guid, version="v2", amount="80.00", biller_reference="R1",
                 invoices=[{"number": "BP-1", "type_id": "43", "balance_due": "80.00"}])
        self.add("cloudpay.request", method="POST", path="/cloudpaymentsapi/v2", status=200, credential="***")
        if approved is None:
            return
        self.add("cloudpay.payment", payment=guid, approved=approved, amount="80.00", card_type="VISA", last4="1111",
                 message="Approved" if approved else "Declined")
        for attempt, (outcome, status) in enumerate(postbacks, start=1):
            self.add("cloudpay.postback", payment=guid, url="http://vendor/pb", attempt=attempt, outcome=outcome,
                     status=status)


def served_log() -> Log:
    log = Log()
    log.add("run.started", partner_mode="serve-platform", biller="lakemont-permits",
            served={"base_url": "http://127.0.0.1:8443"}, partner_name="Accela (CloudPay v2)")
    log.add("run.workbook", cases=[])
    return log


def test_each_payment_is_a_row_judged_by_its_postback() -> None:
    log = served_log()
    log.payment(GUIDS[0], True, ("retrying", 503), ("delivered", 204))  # the vendor failed once, then took it
    log.payment(GUIDS[1], False, ("refused", 400))  # a declined payment's postback refused: the vendor's fault
    log.payment(GUIDS[2], None)  # the payer never paid
    log.add("cloudpay.request", method="POST", path="/cloudpaymentsapi/v2", status=401, credential="***")
    log.payment(GUIDS[3], True, ("retrying", None), ("gave_up", None))
    log.add("run.finished", status="failed", counts={})
    run = RunRecord()
    rows = list(fold(log.events, run))
    assert [(r.sit_id, r.status, r.category) for r in rows] == [
        ("PAY-001", "passed", ""), ("PAY-002", "failed", "partner"), ("PAY-003", "not_run", ""),
        ("PAY-004", "failed", "partner")]
    assert rows[0].name == "80.00 for 1 invoice (BP-1), CloudPay v2, reference R1: approved"
    assert rows[0].steps[-1].expectations[0]["actual_sentence"].startswith("the vendor's application took the postback")
    assert rows[1].error == "the vendor's PostBackURL refused the postback (400)"
    assert rows[1].steps[-1].status == "failed" and rows[1].name.endswith(": declined")
    assert rows[2].reason.startswith("the payer did not pay")
    assert rows[3].error.startswith("the postback was never taken: 2 attempts")
    assert (rows[0].first_seq, rows[0].last_seq) == (3, 7)
    assert partner_mode(run.facts) == "serve-platform: the vendor's application, real"
    assert "the vendor's application, Accela (CloudPay v2), under test" in partner_side(run.facts)

    payments = ServedPayments()
    for event in log.events:
        if event.kind.startswith("cloudpay."):
            payments.add(event)
    assert payments.verdict() == ("failed", {"passed": 1, "failed": 2, "not_run": 1}, "")
    assert payments.requests == {"requests": 5, "refused": 1}


def test_a_run_passes_on_a_settled_posted_back_payment_and_no_5xx() -> None:
    log = served_log()
    log.payment(GUIDS[0], False, ("delivered", 204))  # a decline posted back and taken passes
    payments = ServedPayments()
    for event in log.events[2:]:
        payments.add(event)
    assert payments.verdict() == ("passed", {"passed": 1, "failed": 0, "not_run": 0}, "")
    assert payments.verdict() == payments.verdict()  # judging twice changes nothing
    payments.add(log.events[3])  # the request again, now answered 500 by the platform
    payments.add(Event(run_id="r1", seq=99, kind="cloudpay.request", ts="2026-11-30T10:01:00+00:00",
                       data={"method": "GET", "path": "/cloudpay/pay/x", "status": 500}, prev_hash="", hash="h"))
    status, _, error = payments.verdict()
    assert status == "failed" and error.endswith("first: GET /cloudpay/pay/x answered 500")


def test_an_unpaid_payment_of_an_interrupted_run_is_interrupted_and_nothing_is_a_pass() -> None:
    log = served_log()
    log.payment(GUIDS[0], None)
    log.add("run.interrupted", reason="SIGHUP", counts={})
    run = RunRecord()
    (row,) = fold(log.events, run)
    assert (row.sit_id, row.status, row.category) == ("PAY-001", "interrupted", "interrupted")
    assert run.status == "interrupted"
    empty = ServedPayments()
    assert empty.verdict() == ("failed", {"passed": 0, "failed": 0, "not_run": 0}, "")  # nothing to sign off
