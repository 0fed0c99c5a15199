"""Reversals of a posted payment or credit: ACH returns (and notifications of change) and voids.
A payment or credit is reversed at most once: a second reversal is refused or kept unposted."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from harness.catalogue import given, then, when
from harness.platform import TxStatus
from harness.profiles import out_of_scope
from harness.scenario import ScenarioContext
from steps import postings
from steps.common import (
    ROLE_NAMES,
    Tried,
    account_named,
    arrange_account,
    attempt,
    because,
    last_tried,
    pump,
    remember,
    status,
)
from steps.payments import give_credit, pay, payment_on

KIND_NAMES = {"ach_notice": "a notification of change", "ach_return": "an ACH return", "payment": "a payment",
              "credit": "a credit", "void": "a void"}


@given("a posted {method:Method} payment of {amount:Money}")
def posted_payment(sit: ScenarioContext, method: str, amount: Decimal) -> None:
    """An account, a payment on it, and a pump run that posted it."""
    _posted(sit, "payment", pay(sit, arrange_account(sit, balance=amount), amount, method))


@given("a posted credit of {amount:Money}")
def posted_credit(sit: ScenarioContext, amount: Decimal) -> None:
    """An account, a credit the biller gave it, and a pump run that posted it."""
    _posted(sit, "credit", give_credit(sit, arrange_account(sit, balance=amount), amount))


def _posted(sit: ScenarioContext, what: str, key: str) -> None:
    pump(sit)
    tx = sit.platform.transaction(key)
    sit.expect(f"{what} {key} to be {{}}", TxStatus.POSTED.value, tx.status.value,
               f"{what} {key} is {{}}{because(tx.reason)}", instead=f"it is {{}}{because(tx.reason)}", show=status)


@when("the bank returns the payment with code {code}")
def bank_returns(sit: ScenarioContext, code: str) -> None:
    """The payer's bank sends back the ACH payment with a NACHA code (R-code or C-code)."""
    _taken(sit, "ach_return", "the return", lambda: sit.platform.return_ach(sit.vars["payment"], code))


@when("the bank returns the payment on account {name:Name} with code {code}")
def bank_returns_on(sit: ScenarioContext, name: str, code: str) -> None:
    """As above, for the one payment the scenario made on the account it named (not the latest)."""
    key = payment_on(sit, name)
    _taken(sit, "ach_return", "the return", lambda: sit.platform.return_ach(key, code))


@when("the bank tries to return the payment with code {code}")
def tries_to_return(sit: ScenarioContext, code: str) -> None:
    """The bank sends back a payment the platform may refuse to take back; a refusal is kept for the steps after."""
    _tried(sit, "ach_return", "the return", lambda: sit.platform.return_ach(sit.vars["payment"], code))


@when("the biller voids the {what:Original}")
def voids(sit: ScenarioContext, what: str) -> None:
    """The biller cancels the payment or credit; a refusal fails the step, saying why it was refused."""
    _taken(sit, "void", "the void", lambda: sit.platform.void(sit.vars[what]))


@when("the biller voids the payment on account {name:Name}")
def voids_on(sit: ScenarioContext, name: str) -> None:
    """As above, for the one payment the scenario made on the account it named (not the latest)."""
    key = payment_on(sit, name)
    _taken(sit, "void", "the void", lambda: sit.platform.void(key))


@when("the biller tries to void the {what:Original} again")
@when("the biller tries to void the {what:Original}")
def tries_to_void(sit: ScenarioContext, what: str) -> None:
    """The biller asks for a void the platform may refuse; a refusal is kept for the steps after."""
    _tried(sit, "void", "the void", lambda: sit.platform.void(sit.vars[what]))


def _taken(sit: ScenarioContext, role: str, noun: str, ask: Callable[[], str]) -> None:
    """A reversal the scenario needs taken: a refusal is a failed expectation that says why, not a crash."""
    tried = _tried(sit, role, noun, ask)
    actual = "taken" if tried.key else f"refused: {tried.refusal}"
    sit.expect(f"{noun} to be {{}}", "taken", actual, f"{noun} was {{}}{f' as {tried.key}' if tried.key else ''}",
               instead="it was {}")


def _tried(sit: ScenarioContext, role: str, noun: str, ask: Callable[[], str]) -> Tried:
    """A reversal asked of the platform: remembered when taken, its refusal kept when not."""
    return attempt(sit, role, noun, lambda: remember(sit, role, ask()))


def _reversals(sit: ScenarioContext, wanted: list[postings.Posting], what: str = "payment") -> None:
    """The account's postings beside the payment or credit itself (checked when it was posted) are ``wanted``."""
    postings.expect_postings(sit, wanted, sit.vars["account"], f"for the account besides the {what}",
                             besides=sit.vars[what])


def _amount(sit: ScenarioContext, what: str = "payment") -> Decimal:
    return Decimal(sit.vars["amount_of"][sit.vars[what]])


@then("the partner received the return of {amount:Money} with code {code} for the original payment")
def received_return(sit: ScenarioContext, amount: Decimal, code: str) -> None:
    """One return posting: the amount, the return code and the original payment's reference."""
    _reversals(sit, [postings.ach_return(amount, code, sit.vars["payment"])])


@then("the partner received the return of {amount:Money} with code {code} for the payment on account {name:Name}")
def received_return_on(sit: ScenarioContext, amount: Decimal, code: str, name: str) -> None:
    """Beside the payment on the named account: one return of this amount and code, naming that payment."""
    key = payment_on(sit, name)
    postings.expect_postings(sit, [postings.ach_return(amount, code, key)], account_named(sit, name),
                             f"for account {name} besides its payment", besides=key)


@then("the partner received the void of {amount:Money} for the payment on account {name:Name}")
def received_void_on(sit: ScenarioContext, amount: Decimal, name: str) -> None:
    """Beside the payment on the named account: one void of this amount, naming that payment."""
    key = payment_on(sit, name)
    postings.expect_postings(sit, [postings.void(amount, key)], account_named(sit, name),
                             f"for account {name} besides its payment", besides=key)


@then("the partner received nothing but its payment for account {name:Name}")
def only_its_payment(sit: ScenarioContext, name: str) -> None:
    """No return, void or other posting reached the named account beside its one payment."""
    postings.expect_postings(sit, [], account_named(sit, name), f"for account {name} besides its payment",
                             besides=payment_on(sit, name))


@then("the partner received no return")
@then("the partner received no void")
def no_return(sit: ScenarioContext) -> None:
    """Nothing but the payment itself reached the partner for the account."""
    _reversals(sit, [])


@then("the payment is cancelled and was never posted")
def cancelled(sit: ScenarioContext) -> None:
    """The void cancelled the payment on the platform: the pump never sends it again."""
    tx = sit.platform.transaction(sit.vars["payment"])
    sit.expect(f"payment {tx.key} to be {{}}", TxStatus.CANCELLED.value, tx.status.value,
               f"payment {tx.key} is {{}}{because(tx.reason)}", instead=f"it is {{}}{because(tx.reason)}", show=status)


@then("the partner received no void, and the return of {amount:Money} with code {code} where the biller posts returns")
def no_void_return_as_profiled(sit: ScenarioContext, amount: Decimal, code: str) -> None:
    """Beside the payment: the return where the biller's profile posts ACH returns, nothing where it
    does not, and no void either way."""
    posts_returns = out_of_scope(sit.biller, "ach_reject_posting") is None
    _reversals(sit, [postings.ach_return(amount, code, sit.vars["payment"])] if posts_returns else [])


@then("the platform recorded {code} as a notification of change")
def notice_recorded(sit: ScenarioContext, code: str) -> None:
    """The C-code is kept as a notification of change; nothing moves."""
    tx = sit.platform.transaction(sit.vars["ach_return"])
    sit.expect("the platform to hold {}", ("ach_notice", code, TxStatus.RECORDED.value),
               (tx.kind, tx.code, tx.status.value), "the platform holds {}", instead="it holds {}",
               show=lambda t: f"{t[1]} as {KIND_NAMES.get(t[0], t[0])}, {t[2]}")


@then("the return is recorded, not posted, because the payment was already voided")
def return_after_void(sit: ScenarioContext) -> None:
    """The bank's return is kept on the platform but never pumped: its reason names the void that
    already reversed the payment (not a capability the biller lacks)."""
    tx, void = sit.platform.transaction(sit.vars["ach_return"]), sit.vars["void"]
    wanted = f"recorded, not posted, naming void {void}"
    held = tx.status is TxStatus.RECORDED and void in tx.reason
    actual = wanted if held else f"{status(tx.status.value)}{because(tx.reason)}"
    sit.expect(f"return {tx.key} to be {{}}", wanted, actual, f"return {tx.key} is {{}}", instead="it is {}")


@then("the void is refused, naming the payment's return")
def void_refused_after_return(sit: ScenarioContext) -> None:
    """The platform refused to void a payment the bank returned, and said which return reversed it."""
    _refused(sit, "void", "the void", f"return {sit.vars['ach_return']}", [sit.vars["ach_return"]])


@then("the second void is refused, naming the first void")
def second_void_refused(sit: ScenarioContext) -> None:
    """The platform refused a second void of one payment or credit, and said which void reversed it."""
    first = sit.vars["made"]["void"][0]
    _refused(sit, "void", "the second void", f"void {first}", [first])


@then("the return is refused, naming the card payment")
def return_of_card_refused(sit: ScenarioContext) -> None:
    """The platform refused the bank's return of a card payment (only ACH payments come back from
    the bank), and its reason named the payment and that it was made by card."""
    key = sit.vars["payment"]
    _refused(sit, "ach_return", "the return", f"card payment {key}", [key], ("card", "CC"))


def _refused(sit: ScenarioContext, role: str, noun: str, earlier: str, keys: list[str],
             any_of: tuple[str, ...] = ()) -> None:
    """The attempt was refused, and the refusal named ``keys`` and one of ``any_of`` (the why)."""
    tried = last_tried(sit, role)
    if tried is None:
        actual = "never asked for"
    elif tried.key:
        actual = f"taken as {ROLE_NAMES.get(role, role)} {tried.key}"
    else:
        refusal = tried.refusal
        named = all(k in refusal for k in keys) and (not any_of or any(w in refusal for w in any_of))
        actual = f"refused, naming {earlier}" if named else f"refused without naming {earlier} ({refusal})"
    sit.expect(f"{noun} to be {{}}", f"refused, naming {earlier}", actual, f"{noun} was {{}}", instead="it was {}")


@then("the partner received {count:Count} void for the {what:Original}'s reference")
@then("the partner received {count:Count} voids for the {what:Original}'s reference")
def received_voids(sit: ScenarioContext, count: int, what: str) -> None:
    """Void postings naming the original's reference and amount, and nothing else after the original."""
    _reversals(sit, [postings.void(_amount(sit, what), sit.vars[what])] * count, what)
