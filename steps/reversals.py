"""Reversals of a posted payment: ACH returns (and notifications of change) and voids."""

from __future__ import annotations

from decimal import Decimal

from harness.catalogue import given, then, when
from harness.platform import TxStatus
from harness.scenario import ScenarioContext
from steps import postings
from steps.common import arrange_account, because, remember, status
from steps.payments import pay

KIND_NAMES = {"ach_notice": "a notification of change", "ach_return": "an ACH return", "payment": "a payment",
              "credit": "a credit", "void": "a void"}


@given("a posted {method:Method} payment of {amount:Money}")
def posted_payment(sit: ScenarioContext, method: str, amount: Decimal) -> None:
    """An account, a payment on it, and a pump run that posted it."""
    key = pay(sit, arrange_account(sit, balance=amount), amount, method)
    sit.platform.run_pump()
    tx = sit.platform.transaction(key)
    sit.expect(f"payment {key} to be {{}}", TxStatus.POSTED.value, tx.status.value,
               f"payment {key} is {{}}{because(tx.reason)}", instead=f"it is {{}}{because(tx.reason)}", show=status)


@when("the bank returns the payment with code {code}")
def bank_returns(sit: ScenarioContext, code: str) -> None:
    """The payer's bank sends back the ACH payment with a NACHA code (R-code or C-code)."""
    remember(sit, "ach_return", sit.platform.return_ach(sit.vars["payment"], code))


@when("the biller voids the payment")
def voids(sit: ScenarioContext) -> None:
    """The biller cancels the payment."""
    remember(sit, "void", sit.platform.void(sit.vars["payment"]))


def _reversals(sit: ScenarioContext, wanted: list[postings.Posting]) -> None:
    """The account's postings beside the payment itself (checked when it was posted) are ``wanted``."""
    postings.expect_postings(sit, wanted, sit.vars["account"], "for the account besides the payment",
                             besides=sit.vars["payment"])


def _paid(sit: ScenarioContext) -> Decimal:
    return Decimal(sit.vars["amount_of"][sit.vars["payment"]])


@then("the partner received the return of {amount:Money} with code {code} for the original payment")
def received_return(sit: ScenarioContext, amount: Decimal, code: str) -> None:
    """One return posting: the amount, the return code and the original payment's reference."""
    _reversals(sit, [postings.ach_return(amount, code, sit.vars["payment"])])


@then("the partner received no return")
def no_return(sit: ScenarioContext) -> None:
    """Nothing but the payment itself reached the partner for the account."""
    _reversals(sit, [])


@then("the platform recorded {code} as a notification of change")
def notice_recorded(sit: ScenarioContext, code: str) -> None:
    """The C-code is kept as a notification of change; nothing moves."""
    tx = sit.platform.transaction(sit.vars["ach_return"])
    sit.expect("the platform to hold {}", ("ach_notice", code, TxStatus.RECORDED.value),
               (tx.kind, tx.code, tx.status.value), "the platform holds {}", instead="it holds {}",
               show=lambda t: f"{t[1]} as {KIND_NAMES.get(t[0], t[0])}, {t[2]}")


@then("the partner received {count:Count} void for the payment's reference")
@then("the partner received {count:Count} voids for the payment's reference")
def received_voids(sit: ScenarioContext, count: int) -> None:
    """Void postings naming the original payment's reference and amount, and nothing else after the payment."""
    _reversals(sit, [postings.void(_paid(sit), sit.vars["payment"])] * count)


@then("the partner received no payment and no void")
def nothing_sent(sit: ScenarioContext) -> None:
    """Nothing at all reached the partner for the account."""
    postings.expect_postings(sit, [], sit.vars["account"])
