"""Payments, credits, ACH returns and voids through the data pump, and partner faults."""

from __future__ import annotations

from decimal import Decimal

from harness.catalogue import given, then, when
from harness.platform import TxStatus
from harness.scenario import PartnerCall, ScenarioContext, counted, listed, say, times
from steps.common import arrange_account, because, method_name, references, status

POSCONNECT = "POSConnect"
KIND_NAMES = {"ach_notice": "a notification of change", "ach_return": "an ACH return", "payment": "a payment",
              "credit": "a credit", "void": "a void"}

# Postings as the partner received them, said: "45.10 by card and 45.10 by ACH", "nothing".
payment_postings = listed(lambda p: f"{say(p[0])} by {method_name(p[1])}")
credit_postings = listed(lambda c: f"a credit of {say(c[0])} coded {say(c[1])}")
return_postings = listed(lambda r: f"a return of {say(r[0])} with code {say(r[1])} for payment {say(r[2])}")


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
    tx = sit.platform.transaction(key)
    sit.expect(f"payment {key} to be {{}}", TxStatus.POSTED.value, tx.status.value,
               f"payment {key} is {{}}{because(tx.reason)}", instead=f"it is {{}}{because(tx.reason)}", show=status)


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
    sit.expect("the partner to receive {} for the account", [(f"{amount:.2f}", method)], got,
               "the partner received {} for the account", instead="it received {}", show=payment_postings)


@then("the partner received a credit of {amount:Money} coded as the partner's credit transaction type")
def received_credit(sit: ScenarioContext, amount: Decimal) -> None:
    """One credit posting for the account, with this amount and the partner's credit type code."""
    code = sit.biller.partner.codes.get("credit_transaction_type")
    got = [(c.fields.get("amount"), c.fields.get("type_code")) for c in _calls(sit, "credit")]
    sit.expect("the partner to receive {} for the account", [(f"{amount:.2f}", code)], got,
               "the partner received {} for the account", instead="it received {}", show=credit_postings)


@then("every payment the payer made is posted")
def every_payment_posted(sit: ScenarioContext) -> None:
    """Each payment the platform took in this scenario was posted to the partner (not parked, failed or pending)."""
    keys = [e.data["key"] for e in sit.session.recorder.scope_events("platform.tx_created")
            if e.data.get("kind") == "payment"]
    for key in keys:
        tx = sit.platform.transaction(key)
        sit.expect(f"payment {key} of {say(tx.amount)} to be {{}}", TxStatus.POSTED.value, tx.status.value,
                   f"payment {key} of {say(tx.amount)} is {{}}{because(tx.reason)}",
                   instead=f"it is {{}}{because(tx.reason)}", show=status)


@then("the partner received the payment {count:Count} times, always with the same reference")
def received_times(sit: ScenarioContext, count: int) -> None:
    """Every attempt at the payment carried its one idempotency key."""
    refs = [c.fields.get("reference") for c in _calls(sit, "payment")]
    sit.expect("the partner to receive the payment {}", count, len(refs), "the partner received the payment {}",
               instead="it received it {}", show=times)
    sit.expect("every attempt to carry {}", [sit.vars["payment"]], sorted(set(refs)), "the attempts carried {}",
               show=references)


@then('the payment is parked with a reason naming "{text:Text}"')
def parked(sit: ScenarioContext, text: str) -> None:
    """The payment is kept for the next pump run, with the partner's fault as its reason."""
    tx = sit.platform.transaction(sit.vars["payment"])
    sit.expect("the payment to be {}", TxStatus.PARKED.value, tx.status.value, "the payment is {}",
               instead=f"it is {{}}{because(tx.reason)}", show=status)
    sit.expect(f"the payment's reason to name '{text}'", True, text in tx.reason,
               f"the payment's reason {{}} '{text}'{because(tx.reason)}",
               show={True: "names", False: "does not name"})


@then("the POSConnect payment is pumped or held back exactly as the partner profile says")
def posconnect(sit: ScenarioContext) -> None:
    """Held back with the profile's reason when the partner posts POSConnect payments itself,
    else posted like any other payment."""
    tx = sit.platform.transaction(sit.vars["payment"])
    reason = sit.biller.pump.excluded_channels.get(POSCONNECT)
    expected = TxStatus.EXCLUDED if reason else TxStatus.POSTED
    sit.expect("the POSConnect payment to be {}", expected.value, tx.status.value,  # its reason follows
               "the POSConnect payment is {}", instead=f"it is {{}}{because(tx.reason)}", show=status)
    sit.expect("the partner to receive {}", 0 if reason else 1, len(_calls(sit, "payment")),
               "the partner received {}", instead="it received {}", show=counted("payment posting"))
    if reason:
        sit.expect(f"the payment to be held back for the partner profile's reason ({reason})", True,
                   reason in tx.reason, f"the payment {{}}{because(tx.reason)}",
                   show={True: "is held back for the partner profile's reason",
                         False: "is held back for another reason than the partner profile's"})


@then("the partner received the return of {amount:Money} with code {code} for the original payment")
def received_return(sit: ScenarioContext, amount: Decimal, code: str) -> None:
    """One return posting with the amount, the return code and the original payment's reference."""
    got = [(c.fields.get("amount"), c.fields.get("return_code"), c.fields.get("original"))
           for c in _calls(sit, "ach_return")]
    sit.expect("the partner to receive {}", [(f"{amount:.2f}", code, sit.vars["payment"])], got,
               "the partner received {}", instead="it received {}", show=return_postings)


@then("the partner received no return")
def no_return(sit: ScenarioContext) -> None:
    """No return posting reached the partner."""
    sit.expect("the partner to receive {}", 0, len(sit.partner.calls("ach_return")), "the partner received {}",
               instead="it received {}", show=counted("return posting"))


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
    """Void postings that name the original payment."""
    voids = [c for c in _calls(sit, "void") if c.fields.get("original") == sit.vars["payment"]]
    sit.expect("the partner to receive {} for the payment's reference", count, len(voids),
               "the partner received {} for the payment's reference", instead="it received {}", show=counted("void"))


@then("the partner received no payment and no void")
def nothing_sent(sit: ScenarioContext) -> None:
    """Neither the payment nor its void reached the partner."""
    sit.expect("the partner to receive {}", (0, 0),
               (len(sit.partner.calls("payment")), len(sit.partner.calls("void"))), "the partner received {}",
               instead="it received {}", show=lambda n: f"{counted('payment')(n[0])} and {counted('void')(n[1])}")
