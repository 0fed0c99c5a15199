"""Steps shared by every workbook section: the partner's accounts, the pump, postings."""

from __future__ import annotations

from decimal import Decimal

from harness.catalogue import given, then, when
from harness.platform import TxStatus
from harness.scenario import ScenarioContext, counted, listed, say

METHOD_NAMES = {"CC": "card", "ACH": "ACH"}
ROLE_NAMES = {"ach_return": "return"}
# A transaction's status after "is" / "to be": the platform's word, where that reads.
STATUS_WORDS = {"failed": "marked failed", "excluded": "held back from the data pump", "pending": "still pending"}


def references(refs: list[str]) -> str:
    """Transaction references as said: "reference X", "references X and Y", "no reference"."""
    if not refs:
        return "no reference"
    said = listed(lambda ref: ref or "(blank)")(refs)
    return f"reference {said}" if len(refs) == 1 else f"references {said}"


def method_name(code: str | None) -> str:
    """A payment method as the payer says it: card or ACH (the platform's CC and ACH)."""
    return METHOD_NAMES.get(code or "", code or "no method")


def status(value: str) -> str:
    """A transaction status as said after "is": posted, parked, marked failed, held back from the data pump."""
    return STATUS_WORDS.get(value, value)


def article(word: str) -> str:
    """The indefinite article before ``word`` as it is read: a card, an ACH."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def because(reason: str | None) -> str:
    """A transaction's reason, to follow what is said of it: " (reason)", or nothing when it has none."""
    return f" ({reason})" if reason else ""


def no_balance_shown(sit: ScenarioContext) -> None:
    """The payment route shows the account no balance (the evidence keeps the amount, not the payer's record)."""
    shown = sit.vars.get("balance")
    sit.expect("the payment route to show {}", None, shown.balance if shown else None, "the payment route shows {}",
               instead="it shows {}", show=_a_balance)


def _a_balance(amount: Decimal | None) -> str:
    return "no balance" if amount is None else f"a balance of {say(amount)}"


def arrange_account(sit: ScenarioContext, **values: Decimal | str) -> str:
    account = sit.account_number()
    sit.partner.holds_account(account, **values)
    sit.vars["account"] = account
    return account


@given("the partner holds an account with a balance of {balance:Money}")
def partner_holds_account(sit: ScenarioContext, balance: Decimal) -> None:
    """The partner's balance call knows a new account with this balance."""
    arrange_account(sit, balance=balance)


@given("the partner holds an account with a balance of {balance:Money} of which {past_due:Money} is past due")
def partner_holds_account_past_due(sit: ScenarioContext, balance: Decimal, past_due: Decimal) -> None:
    """As above, with a past due part in the partner's past due field."""
    arrange_account(sit, balance=balance, past_due=past_due)


@when("the data pump runs")
def pump_runs(sit: ScenarioContext) -> None:
    """The platform sends every pending and parked transaction to the partner."""
    sit.vars["pump"] = sit.platform.run_pump()


@then("the {what:Role} is posted exactly once")
def posted_exactly_once(sit: ScenarioContext, what: str) -> None:
    """The platform posted it once, and the partner only ever saw it under that one reference."""
    key, noun = sit.vars[what], ROLE_NAMES.get(what, what)
    tx = sit.platform.transaction(key)
    sit.expect(f"{noun} {key} to be {{}}", TxStatus.POSTED.value, tx.status.value,
               f"{noun} {key} is {{}}{because(tx.reason)}", instead=f"it is {{}}{because(tx.reason)}", show=status)
    posted = [e for e in sit.session.recorder.scope_events("platform.pump_posted") if e.data["key"] == key]
    sit.expect(f"the platform to record {{}} of {noun} {key}", 1, len(posted),
               f"the platform recorded {{}} of {noun} {key}", instead="it recorded {}", show=counted("posting"))
    refs = {c.fields.get("reference") for c in sit.partner.calls(what, account=tx.account)}
    sit.expect(f"the partner to see the account's {noun} under {{}} only", [key], sorted(r or "" for r in refs),
               f"the partner saw the account's {noun} under {{}}", instead="it saw it under {}", show=references)
