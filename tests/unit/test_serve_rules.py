"""The partner's rules `sit stubs serve` checks each exchange against, one rule at a time, read from the
profiles: a rule broken names itself and the profile field that states it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from harness.platform import nacha
from harness.profiles import Biller, load_biller
from harness.profiles.models import PostingRules
from harness.serve.rules import PartnerRules, Verdict

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clayton() -> Biller:
    return load_biller(PROJECT, "clayton-county-water")


@pytest.fixture(scope="module")
def harbor() -> Biller:
    return load_biller(PROJECT, "harbor-falls-utilities")


@pytest.fixture(scope="module")
def newport() -> Biller:
    return load_biller(PROJECT, "newport-or")


def check(biller: Biller, status: int | None = 200, **fields: str) -> Verdict:
    return PartnerRules(biller).check(1, fields, status)


def broken(verdict: Verdict) -> list[tuple[str, str]]:
    return [(b.rule, b.field) for b in verdict.broken]


def test_a_payment_as_the_engine_posts_it_keeps_every_rule(clayton: Biller) -> None:
    verdict = check(clayton, role="payment", account="100200300", amount="45.10", type_code="1", method="ACH",
                    channel="web", reference="P001")
    assert verdict.ok and verdict.record() == {"verdict": "ok", "broken": []}


@pytest.mark.parametrize("amount", ["45.1", "45.105", "0.00", "-5.00", "45", "1,000.00", "abc"])
def test_an_amount_is_positive_with_the_profiles_decimals(clayton: Biller, amount: str) -> None:
    verdict = check(clayton, role="payment", amount=amount, type_code="1")
    assert broken(verdict) == [("amount", "rules.amount_decimals")]
    assert f"'{amount}'" in verdict.broken[0].sentence and "2 decimals" in verdict.broken[0].sentence


def test_an_amount_above_the_partners_largest_names_max_amount(clayton: Biller) -> None:
    top = clayton.partner.max_amount
    assert top is not None
    assert broken(check(clayton, role="payment", amount=f"{top + Decimal('0.01')}", type_code="1")) == [
        ("amount", "max_amount")]
    assert check(clayton, role="payment", amount=f"{top}", type_code="1").ok


def test_a_c_code_is_never_posted_as_a_return(harbor: Biller) -> None:
    verdict = check(harbor, role="ach_return", amount="88.00", return_code="C01", reference="R001", original="P001")
    assert broken(verdict) == [("C-code never a return", "rules.notice_codes")]
    assert "C01 is a notification of change, not a return" in verdict.broken[0].sentence
    assert check(harbor, role="ach_return", amount="88.00", return_code="R01", reference="R002").ok
    assert broken(check(harbor, role="ach_return", amount="88.00", return_code="X99")) == [
        ("return code", "rules.return_codes")]


def test_the_engine_reads_the_same_return_and_notice_codes(clayton: Biller) -> None:
    rules = clayton.partner.rules
    assert nacha.is_return("R85", rules) and not nacha.is_return("R86", rules) and not nacha.is_return("C01", rules)
    assert nacha.is_change_notice("C13", rules) and not nacha.is_change_notice("C14", rules)
    narrowed = PostingRules(return_codes=["R01", "R02-R03"], notice_codes=[])
    assert [nacha.is_return(code, narrowed) for code in ("R01", "R03", "R04")] == [True, True, False]
    with pytest.raises(ValueError, match="'R1-C2' is not a code or a range"):
        PostingRules(return_codes=["R1-C2"])


def test_a_posting_carries_its_transaction_type(clayton: Biller) -> None:
    assert check(clayton, role="credit", amount="12.00", type_code="6").ok
    verdict = check(clayton, role="payment", amount="12.00", type_code="2")
    assert broken(verdict) == [("transaction type", "codes.payment_transaction_type")]
    assert verdict.broken[0].sentence == ("a payment carries transaction type 2: not the payment type 1 "
                                          "nor the credit type 6")


def test_a_credit_reaches_only_a_biller_that_took_credits(harbor: Biller) -> None:
    verdict = check(harbor, role="credit", amount="12.00", type_code="6", reference="C001")
    assert broken(verdict) == [("in scope", "capabilities.credit_posting")]
    assert "setting 114 is off" in verdict.broken[0].sentence


def test_an_alert_code_matches_its_change_log_call(clayton: Biller) -> None:
    assert check(clayton, role="autopay_change", alert_code="AUTOP", value="Y", reference="A001").ok
    verdict = check(clayton, role="autopay_change", alert_code="EBILL", value="Y")
    assert broken(verdict) == [("alert code", "change_log.autopay.alert_code")]
    assert verdict.broken[0].sentence == ("_PostAutopayChangeXML carries alert code EBILL; the autopay change "
                                          "log's code is AUTOP")


def test_a_posconnect_payment_never_reaches_cayenta(clayton: Biller, newport: Biller) -> None:
    verdict = check(clayton, role="payment", amount="20.00", type_code="1", channel="POSConnect")
    assert broken(verdict) == [("channel never pumped", "pump.excluded_channels.POSConnect")]
    assert "Cayenta posts POSConnect payments itself" in verdict.broken[0].sentence
    # Caselle takes them: the same payment keeps its rules there.
    assert check(newport, role="payment", amount="20.00", payment_code="CC", channel="POSConnect").ok


def test_obd_falls_back_to_the_ach_code(newport: Biller) -> None:
    assert newport.code("payment_obd") == newport.code("payment_ach") == "ACH"  # Newport has no OBD code
    assert check(newport, role="payment", amount="30.00", payment_code="ACH").ok
    verdict = check(newport, role="payment", amount="30.00", payment_code="OBD")
    assert broken(verdict) == [("payment code", "code_fallbacks")]
    assert verdict.broken[0].sentence == ("payment code 'OBD' is none of the biller's (payment_ach ACH, payment_cc "
                                          "CC, payment_obd ACH; payment_obd falls back to payment_ach)")


def test_one_reference_is_never_posted_twice(clayton: Biller) -> None:
    rules = PartnerRules(clayton)
    payment = {"role": "payment", "amount": "45.10", "type_code": "1", "reference": "P001"}
    assert rules.check(1, payment, None).ok  # no answer: a retry with the same reference is what keys are for
    assert rules.check(2, payment, 200).ok
    again = rules.check(3, payment, 200)
    assert broken(again) == [("reference once", "rules.reference_once")]
    assert again.broken[0].sentence == "reference P001 was already posted (exchange 2): the partner would post it twice"
    assert rules.check(4, {**payment, "reference": "P002"}, 200).ok
    assert rules.check(5, {"role": "balance", "account": "1", "reference": "P001"}, 200).ok  # not a posting


def test_a_call_the_profile_names_no_role_for_is_not_taken(clayton: Biller) -> None:
    assert broken(check(clayton, role="")) == [("known call", "calls")]
    assert check(clayton, role="balance", account="100200300").ok
