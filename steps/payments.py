"""Payments, credits, ACH returns and voids through the data pump, and partner faults."""

from __future__ import annotations

from decimal import Decimal

from harness.catalogue import given, then, when
from harness.platform import TxStatus
from harness.scenario import PartnerCall, ScenarioContext
from steps.common import arrange_account

POSCONNECT = "POSConnect"


def _calls(sit: ScenarioContext, role: str) -> list[PartnerCall]:
    """The scenario's requests of one role for its account."""
    return sit.partner.calls(role, account=sit.vars["account"])


@when("the payer pays {amount:Money} by {method:Method}")
def pays(sit: ScenarioContext, amount: Decimal, method: str) -> None:
    """A payment on the platform's payment route."""
    sit.vars["payment"] = sit.platform.pay(sit.vars["account"], amount, method)


@when("the payer pays {amount:Money} by {method:Method} at a POSConnect terminal")
def pays_posconnect(sit: ScenarioContext, amount: Decimal, method: str) -> None:
    """A payment taken at a POSConnect point-of-sale terminal."""
    sit.vars["payment"] = sit.platform.pay(sit.vars["account"], amount, method, channel=POSCONNECT)


@when("the biller credits {amount:Money} to the account")
def credits(sit: ScenarioContext, amount: Decimal) -> None:
    """The biller issues a credit to the account."""
    sit.vars["credit"] = sit.platform.credit(sit.vars["account"], amount)


@given("a posted {method:Method} payment of {amount:Money}")
def posted_payment(sit: ScenarioContext, method: str, amount: Decimal) -> None:
    """An account, a payment on it, and a pump run that posted it."""
    arrange_account(sit, balance=amount)
    key = sit.platform.pay(sit.vars["account"], amount, method)
    sit.platform.run_pump()
    sit.vars["payment"] = key
    sit.expect(f"payment {key} posted", TxStatus.POSTED.value, sit.platform.transaction(key).status.value)


@when("the bank returns the payment with code {code}")
def bank_returns(sit: ScenarioContext, code: str) -> None:
    """The payer's bank sends back the ACH payment with a NACHA code (R-code or C-code)."""
    sit.vars["ach_return"] = sit.platform.return_ach(sit.vars["payment"], code)


@when("the biller voids the payment")
def voids(sit: ScenarioContext) -> None:
    """The biller cancels the payment."""
    sit.vars["void"] = sit.platform.void(sit.vars["payment"])


@given("the partner's {role:Role} posting times out once")
def times_out(sit: ScenarioContext, role: str) -> None:
    """The partner takes the posting but answers after the platform's timeout, once."""
    sit.partner.fails(role, "timeout", 1)


@given("the partner's {role:Role} posting drops the connection {count:Count} times")
@given("the partner's {role:Role} posting drops the connection {count:Count} time")
def drops(sit: ScenarioContext, role: str, count: int) -> None:
    """The partner resets the connection without taking the posting, this many times."""
    sit.partner.fails(role, "reset", count)


@given("the partner's {role:Role} posting answers with a server error until it recovers")
def server_error(sit: ScenarioContext, role: str) -> None:
    """The partner answers HTTP 503 to every such posting until it recovers."""
    sit.partner.fails(role, "server_error", None)


@when("the partner recovers")
def recovers(sit: ScenarioContext) -> None:
    """Every fault the scenario gave the partner is gone."""
    sit.partner.recovers()


@then("the partner received the payment of {amount:Money} by {method:Method} for the account")
def received_payment(sit: ScenarioContext, amount: Decimal, method: str) -> None:
    """One payment posting for the account, with this amount and method."""
    got = [(c.fields.get("amount"), c.fields.get("method")) for c in _calls(sit, "payment")]
    sit.expect("payment postings for the account (amount, method)", [(f"{amount:.2f}", method)], got)


@then("the partner received a credit of {amount:Money} coded as the partner's credit transaction type")
def received_credit(sit: ScenarioContext, amount: Decimal) -> None:
    """One credit posting for the account, with this amount and the partner's credit type code."""
    code = sit.biller.partner.codes.get("credit_transaction_type")
    got = [(c.fields.get("amount"), c.fields.get("type_code")) for c in _calls(sit, "credit")]
    sit.expect("credit postings for the account (amount, type code)", [(f"{amount:.2f}", code)], got)


@then("the partner received the payment {count:Count} times, always with the same reference")
def received_times(sit: ScenarioContext, count: int) -> None:
    """Every attempt at the payment carried its one idempotency key."""
    refs = [c.fields.get("reference") for c in _calls(sit, "payment")]
    sit.expect("payment postings received", count, len(refs))
    sit.expect("references used", [sit.vars["payment"]], sorted(set(refs)))


@then('the payment is parked with a reason naming "{text:Text}"')
def parked(sit: ScenarioContext, text: str) -> None:
    """The payment is kept for the next pump run, with the partner's fault as its reason."""
    tx = sit.platform.transaction(sit.vars["payment"])
    sit.expect("payment status", TxStatus.PARKED.value, tx.status.value)
    sit.expect(f"parking reason names '{text}' ({tx.reason})", True, text in tx.reason)


@then("the POSConnect payment is pumped or held back exactly as the partner profile says")
def posconnect(sit: ScenarioContext) -> None:
    """Held back with the profile's reason when the partner posts POSConnect payments itself,
    else posted like any other payment."""
    tx = sit.platform.transaction(sit.vars["payment"])
    reason = sit.biller.pump.excluded_channels.get(POSCONNECT)
    expected = TxStatus.EXCLUDED if reason else TxStatus.POSTED
    sit.expect("POSConnect payment status", expected.value, tx.status.value)
    sit.expect("payment postings the partner received", 0 if reason else 1, len(_calls(sit, "payment")))
    if reason:
        sit.expect("reason held back", True, reason in tx.reason)


@then("the partner received the return of {amount:Money} with code {code} for the original payment")
def received_return(sit: ScenarioContext, amount: Decimal, code: str) -> None:
    """One return posting with the amount, the return code and the original payment's reference."""
    got = [(c.fields.get("amount"), c.fields.get("return_code"), c.fields.get("original"))
           for c in _calls(sit, "ach_return")]
    sit.expect("return postings (amount, code, original)", [(f"{amount:.2f}", code, sit.vars["payment"])], got)


@then("the partner received no return")
def no_return(sit: ScenarioContext) -> None:
    """No return posting reached the partner."""
    sit.expect("return postings", 0, len(sit.partner.calls("ach_return")))


@then("the platform recorded {code} as a notification of change")
def notice_recorded(sit: ScenarioContext, code: str) -> None:
    """The C-code is kept as a notification of change; nothing moves."""
    tx = sit.platform.transaction(sit.vars["ach_return"])
    sit.expect("recorded as", ("ach_notice", code, TxStatus.RECORDED.value), (tx.kind, tx.code, tx.status.value))


@then("the partner received {count:Count} void for the payment's reference")
@then("the partner received {count:Count} voids for the payment's reference")
def received_voids(sit: ScenarioContext, count: int) -> None:
    """Void postings that name the original payment."""
    voids = [c for c in _calls(sit, "void") if c.fields.get("original") == sit.vars["payment"]]
    sit.expect("voids for the payment", count, len(voids))


@then("the partner received no payment and no void")
def nothing_sent(sit: ScenarioContext) -> None:
    """Neither the payment nor its void reached the partner."""
    sit.expect("payment and void postings", (0, 0),
               (len(sit.partner.calls("payment")), len(sit.partner.calls("void"))))
