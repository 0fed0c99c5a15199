"""Steps shared by every workbook section: the partner's accounts, the pump, postings."""

from __future__ import annotations

from decimal import Decimal

from harness.catalogue import given, then, when
from harness.platform import TxStatus
from harness.scenario import ScenarioContext


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
    key = sit.vars[what]
    tx = sit.platform.transaction(key)
    sit.expect(f"{what} {key} status ({tx.reason or 'no reason'})", TxStatus.POSTED.value, tx.status.value)
    posted = [e for e in sit.session.recorder.scope_events("platform.pump_posted") if e.data["key"] == key]
    sit.expect(f"times the platform recorded {what} {key} as posted", 1, len(posted))
    refs = {c.fields.get("reference") for c in sit.partner.calls(what, account=tx.account)}
    sit.expect(f"references the partner saw for the account's {what}", [key], sorted(r or "" for r in refs))
