"""The data pump's retry, parking and idempotency rules, against a scripted partner client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from harness.events import Recorder, Redactor, SQLiteStore
from harness.partners import (
    Outcome,
    PartnerClient,
    PartnerRejected,
    PartnerUnavailable,
    Posting,
    PostResult,
)
from harness.platform import AccountNotFound, PlatformRefusal, TxStatus
from harness.platform.reference import PlatformState, ReferenceEngine
from harness.profiles import Biller, load_biller

PROJECT = Path(__file__).resolve().parents[2]


class ScriptedClient(PartnerClient):
    """Answers each post with the next scripted outcome; records every posting it got."""

    def __init__(self, biller: Biller, script: list[Exception | Outcome]) -> None:
        super().__init__(biller.partner, "http://unused", "u", "s", 1.0)
        self.script, self.posted = list(script), []

    def balance(self, account: str) -> dict[str, str]:
        return {"STATUS": "0", "BALANCE": "10.00", "PASTDUE_AMT": "2.50", "BLOCK_EFT_IND": "E"}

    def post(self, posting: Posting) -> PostResult:
        self.posted.append(posting)
        step = self.script.pop(0) if self.script else Outcome.POSTED
        if isinstance(step, Exception):
            raise step
        return PostResult(step, f"AR-{posting.key}")

    def statement_pdf(self, account: str, invoice_number: str) -> bytes:
        return b"%PDF-1.4"

    def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def biller() -> Biller:
    return load_biller(PROJECT, "clayton-county-water")


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    with SQLiteStore(tmp_path / "events.sqlite") as store:
        yield Recorder(store, "run", Redactor())


def engine(biller: Biller, recorder: Recorder, client: ScriptedClient, sleeps: list[float]) -> ReferenceEngine:
    return ReferenceEngine(biller, client, recorder, Path("/nonexistent"), key_prefix="T-", today=date(2026, 11, 1),
                           sleep=sleeps.append)


def test_transient_faults_are_retried_with_backoff_and_the_same_key(biller: Biller, recorder: Recorder) -> None:
    client, sleeps = ScriptedClient(biller, [PartnerUnavailable("timeout"), PartnerUnavailable("reset")]), []
    platform = engine(biller, recorder, client, sleeps)
    key = platform.pay("100", Decimal("45.10"), "CC")
    report = platform.run_pump()
    assert report.posted == (key,)
    assert [p.key for p in client.posted] == [key, key, key]
    assert sleeps == [biller.pump.backoff_seconds, biller.pump.backoff_seconds * 2]
    assert platform.transaction(key).status is TxStatus.POSTED


def test_a_partner_that_keeps_failing_parks_the_payment_and_the_next_run_posts_it_once(
    biller: Biller, recorder: Recorder
) -> None:
    attempts = biller.pump.attempts
    client = ScriptedClient(biller, [PartnerUnavailable("HTTP 503 server error")] * attempts)
    platform = engine(biller, recorder, client, [])
    key = platform.pay("100", Decimal("10.00"), "ACH")
    assert platform.run_pump().parked == (key,)
    tx = platform.transaction(key)
    assert tx.status is TxStatus.PARKED and "HTTP 503" in tx.reason and tx.attempts == attempts
    assert platform.run_pump().posted == (key,)
    assert platform.run_pump().posted == ()  # nothing left: posted once, never again
    assert len(client.posted) == attempts + 1


def test_an_answer_lost_after_the_partner_took_it_counts_as_posted(biller: Biller, recorder: Recorder) -> None:
    client = ScriptedClient(biller, [PartnerUnavailable("timeout"), Outcome.ALREADY_POSTED])
    platform = engine(biller, recorder, client, [])
    key = platform.pay("100", Decimal("10.00"), "ACH")
    assert platform.run_pump().posted == (key,)
    posted = recorder.scope_events("platform.pump_posted")
    assert len(posted) == 1 and posted[0].data["already_posted"] is True


def test_a_refusal_is_not_retried(biller: Biller, recorder: Recorder) -> None:
    client = ScriptedClient(biller, [PartnerRejected("AddARItem: status -2 INVALID", code="-2")])
    platform = engine(biller, recorder, client, [])
    key = platform.pay("100", Decimal("10.00"), "CC")
    assert platform.run_pump().failed == (key,)
    assert len(client.posted) == 1
    assert platform.transaction(key).reason == "AddARItem: status -2 INVALID"


def test_excluded_channels_and_capabilities_never_reach_the_partner(biller: Biller, recorder: Recorder) -> None:
    client = ScriptedClient(biller, [])
    platform = engine(biller, recorder, client, [])
    pos = platform.pay("100", Decimal("30.00"), "CC", channel="POSConnect")
    phone = platform.change_account("100", "phone", "555-0100")
    report = platform.run_pump()
    assert set(report.excluded) == {pos, phone}
    assert client.posted == []
    assert "Cayenta posts POSConnect payments itself" in platform.transaction(pos).reason
    assert "not supported" in platform.transaction(phone).reason.lower()


def test_c_codes_are_notifications_and_r_codes_returns(biller: Biller, recorder: Recorder) -> None:
    platform = engine(biller, recorder, ScriptedClient(biller, []), [])
    payment = platform.pay("100", Decimal("50.00"), "ACH")
    platform.run_pump()
    notice = platform.transaction(platform.return_ach(payment, "C01"))
    ret = platform.transaction(platform.return_ach(payment, "R01"))
    assert (notice.kind, notice.status) == ("ach_notice", TxStatus.RECORDED)
    assert (ret.kind, ret.status, ret.original) == ("ach_return", TxStatus.PENDING, payment)
    assert ret.reason == "R01: insufficient funds"
    with pytest.raises(Exception, match="not a NACHA"):
        platform.return_ach(payment, "X99")


def test_a_voided_payment_the_bank_returns_is_recorded_not_posted(biller: Biller, recorder: Recorder) -> None:
    """Clayton does not post returns either: the reason is the void, not the capability."""
    client = ScriptedClient(biller, [])
    platform = engine(biller, recorder, client, [])
    payment = platform.pay("100", Decimal("52.00"), "ACH")
    platform.run_pump()
    void = platform.void(payment)
    ret = platform.transaction(platform.return_ach(payment, "R01"))
    platform.run_pump()
    assert (ret.kind, ret.status) == ("ach_return", TxStatus.RECORDED)
    assert ret.reason == f"R01: insufficient funds; not posted: {payment} was already reversed by void {void}"
    assert [(p.kind.value, p.key) for p in client.posted] == [("payment", payment), ("void", void)]


def test_a_payment_or_credit_is_voided_at_most_once_and_never_after_a_return(
        biller: Biller, recorder: Recorder) -> None:
    platform = engine(biller, recorder, ScriptedClient(biller, []), [])
    returned, voided = platform.pay("100", Decimal("47.00"), "ACH"), platform.pay("100", Decimal("31.00"), "CC")
    credit = platform.credit("100", Decimal("18.00"))
    platform.run_pump()
    ret = platform.return_ach(returned, "R01")
    with pytest.raises(PlatformRefusal, match=f"{returned} cannot be voided: {returned} was already reversed by "
                                              f"ACH return R01 {ret}"):
        platform.void(returned)
    for key in (voided, credit):
        first = platform.void(key)
        with pytest.raises(PlatformRefusal, match=f"already reversed by void {first}"):
            platform.void(key)
    with pytest.raises(PlatformRefusal, match="only payments and credits are voided"):
        platform.void(ret)
    refusals = [e.data for e in recorder.store.events("run") if e.kind == "platform.refused"]
    assert [(r["action"], r["key"]) for r in refusals] == [("void", returned), ("void", voided), ("void", credit),
                                                           ("void", ret)]
    assert PlatformState.replay(recorder.store.events("run")) == platform.state


def test_rtdr_blocks_come_from_the_billers_block_codes(biller: Biller, recorder: Recorder) -> None:
    platform = engine(biller, recorder, ScriptedClient(biller, []), [])
    balance = platform.open_account("100")  # BLOCK_EFT_IND E: blocks ACH for Clayton (setting 28)
    assert (balance.balance, balance.past_due, balance.blocked) == (Decimal("10.00"), Decimal("2.50"), {"ACH"})
    with pytest.raises(Exception, match="blocked"):
        platform.pay("100", Decimal("5.00"), "ACH")
    platform.pay("100", Decimal("5.00"), "CC")


def test_the_platform_state_is_rebuilt_from_its_events(biller: Biller, recorder: Recorder) -> None:
    client = ScriptedClient(biller, [PartnerUnavailable("reset")] * biller.pump.attempts)
    platform = engine(biller, recorder, client, [])
    platform.open_account("100")
    paid = platform.pay("100", Decimal("12.00"), "CC")
    platform.credit("100", Decimal("3.00"))
    platform.run_pump()
    platform.run_pump()
    platform.void(paid)
    replayed = PlatformState.replay(recorder.store.events("run"))
    assert replayed == platform.state
    assert replayed.txs[paid].status is TxStatus.POSTED


def test_portal_blocks_are_refused_when_only_rtdr_may_set_them(
    biller: Biller, recorder: Recorder, tmp_path: Path
) -> None:
    platform = engine(biller, recorder, ScriptedClient(biller, []), [])
    with pytest.raises(Exception, match="RTDR only"):
        platform.portal_block("100", "CC")  # Clayton's setting 32 is on
    lenient = load_biller(PROJECT, str(_without_setting(tmp_path, 32)))
    platform = engine(lenient, recorder, ScriptedClient(lenient, []), [])
    platform.portal_block("100", "CC")
    with pytest.raises(Exception, match="CC payments are blocked"):
        platform.pay("100", Decimal("5.00"), "CC")
    assert PlatformState.replay(recorder.store.events("run")).portal_blocks == {"100": {"CC"}}


def _without_setting(tmp_path: Path, number: int) -> Path:
    data = yaml.safe_load((PROJECT / "fixtures" / "billers" / "clayton-county-water.yaml").read_text())
    data["settings"].pop(number)
    path = tmp_path / "biller.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


GENERIC = "PostPayment: An Unexpected Error occurred while processing the request."


@pytest.fixture
def newport() -> Biller:
    return load_biller(PROJECT, "newport-or")


def test_a_refusal_the_profile_diagnoses_carries_its_hint(newport: Biller, recorder: Recorder) -> None:
    client = ScriptedClient(newport, [PartnerRejected(GENERIC, code="INTERNAL_SERVER_ERROR")])
    platform = engine(newport, recorder, client, [])
    key = platform.pay("100", Decimal("52.00"), "CC")
    assert platform.run_pump().failed == (key,)
    (failed,) = recorder.scope_events("platform.pump_failed")
    assert '"use for online payments"' in failed.data["hint"]  # matched case-insensitively
    reason = platform.transaction(key).reason
    assert reason.startswith(GENERIC) and reason.endswith(failed.data["hint"]) and ".. " not in reason


def test_a_refusal_without_a_diagnosis_has_no_hint(newport: Biller, recorder: Recorder) -> None:
    client = ScriptedClient(newport, [PartnerRejected("PostPayment: status REJECTED", code="REJECTED")])
    platform = engine(newport, recorder, client, [])
    key = platform.pay("100", Decimal("5.00"), "CC")
    platform.run_pump()
    (failed,) = recorder.scope_events("platform.pump_failed")
    assert "hint" not in failed.data and platform.transaction(key).reason == "PostPayment: status REJECTED"


def test_a_diagnosed_parking_reason_carries_the_hint_too(newport: Biller, recorder: Recorder) -> None:
    client = ScriptedClient(newport, [PartnerUnavailable(f"{GENERIC} (HTTP 503)")] * newport.pump.attempts)
    platform = engine(newport, recorder, client, [])
    key = platform.pay("100", Decimal("5.00"), "CC")
    assert platform.run_pump().parked == (key,)
    (parked,) = recorder.scope_events("platform.pump_parked")
    assert "parked after" in parked.data["reason"] and parked.data["hint"] in parked.data["reason"]


class RefusingBalance(ScriptedClient):
    def __init__(self, biller: Biller, error: Exception) -> None:
        super().__init__(biller, [])
        self.error = error

    def balance(self, account: str) -> dict[str, str]:
        raise self.error


def test_an_rtdr_refusal_is_shown_with_its_cause_and_hint(newport: Biller, recorder: Recorder) -> None:
    refusal = PartnerRejected("AccountBalance: denied (security licence ARW4000 missing)", code="LICENSE_REQUIRED")
    platform = engine(newport, recorder, RefusingBalance(newport, refusal), [])
    with pytest.raises(PlatformRefusal, match=r"cannot be shown: .*ARW4000") as refused:
        platform.open_account("100")
    assert not isinstance(refused.value, AccountNotFound)
    (event,) = recorder.scope_events("platform.refused")
    assert event.data["action"] == "open_account" and "ARW4000" in event.data["hint"]
    assert platform.state.balances == {}


def test_an_unreachable_partner_during_rtdr_is_a_refusal_not_a_crash(newport: Biller, recorder: Recorder) -> None:
    platform = engine(newport, recorder, RefusingBalance(newport, PartnerUnavailable("cannot connect: COWS")), [])
    with pytest.raises(PlatformRefusal, match="COWS"):
        platform.open_account("100")
