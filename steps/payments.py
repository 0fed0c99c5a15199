"""Payments and credits through the data pump, on one account or several, and partner faults."""

from __future__ import annotations

from decimal import Decimal

from harness.catalogue import given, then, when
from harness.errors import SitError
from harness.platform import TxStatus
from harness.scenario import PartnerCall, ScenarioContext, counted, times
from steps import postings
from steps.common import (
    Tried,
    account_named,
    attempt,
    because,
    method_name,
    money_cell,
    pump,
    references,
    remember,
    rows,
    status,
)

POSCONNECT = "POSConnect"


def _calls(sit: ScenarioContext, role: str) -> list[PartnerCall]:
    """The scenario's requests of one role for its account."""
    return sit.partner.calls(role, account=sit.vars["account"])


def method_cell(row: dict[str, str]) -> str:
    """A table's method column: card or ACH, as the platform codes them."""
    method = {"card": "CC", "ACH": "ACH"}.get(row.get("method", ""))
    if method is None:
        raise SitError(f"the table's method column holds {row.get('method', '')!r}: write card or ACH")
    return method


def pay(sit: ScenarioContext, account: str, amount: Decimal, method: str, channel: str = "web") -> str:
    """A payment the scenario makes, remembered with what the partner must receive for it."""
    return remember(sit, "payment", sit.platform.pay(account, amount, method, channel=channel), amount, account)


def give_credit(sit: ScenarioContext, account: str, amount: Decimal) -> str:
    return remember(sit, "credit", sit.platform.credit(account, amount), amount, account)


def payment_on(sit: ScenarioContext, name: str) -> str:
    """The one payment the scenario made on the account it named ``name``."""
    account = account_named(sit, name)
    made, account_of = sit.vars.get("made", {}).get("payment", []), sit.vars.get("account_of", {})
    keys = [key for key in made if account_of.get(key) == account]
    if len(keys) != 1:
        raise SitError(f"the scenario made {len(keys)} payments on account {name}; to name 'the payment on account "
                       f"{name}' make exactly one there")
    return keys[0]


@when("the payer pays {amount:Money} by {method:Method}")
def pays(sit: ScenarioContext, amount: Decimal, method: str) -> None:
    """A payment on the platform's payment route."""
    pay(sit, sit.vars["account"], amount, method)


@when("the payer pays {amount:Money} by {method:Method} on account {name:Name}")
def pays_on(sit: ScenarioContext, amount: Decimal, method: str, name: str) -> None:
    """A payment on one of the accounts the scenario named."""
    pay(sit, account_named(sit, name), amount, method)


@when("the payer makes these payments:")
def pays_each(sit: ScenarioContext, datatable: list[list[str]]) -> None:
    """One payment per row: its ``account`` (a name the scenario gave), ``amount`` and ``method`` (card or ACH)."""
    for row in rows(datatable, ("account", "amount", "method")):
        pay(sit, account_named(sit, row["account"]), money_cell(row, "amount"), method_cell(row))


@when("the payer pays {amount:Money} by {method:Method} at a POSConnect terminal")
def pays_posconnect(sit: ScenarioContext, amount: Decimal, method: str) -> None:
    """A payment taken at a POSConnect point-of-sale terminal."""
    pay(sit, sit.vars["account"], amount, method, channel=POSCONNECT)
    sit.vars["posconnect"] = postings.payment(sit, amount, method, channel=POSCONNECT)


@when("the biller credits {amount:Money} to the account")
def credits(sit: ScenarioContext, amount: Decimal) -> None:
    """The biller issues a credit to the account."""
    give_credit(sit, sit.vars["account"], amount)


@when("the payer pays the largest amount the partner takes by {method:Method}")
def pays_largest(sit: ScenarioContext, method: str) -> None:
    """A payment of the partner profile's ``max_amount``: the largest its amount field holds."""
    pay(sit, sit.vars["account"], largest(sit), method)


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


@given("the partner refuses the {role:Role} posting as a bad request")
def bad_request(sit: ScenarioContext, role: str) -> None:
    """The partner answers HTTP 400 to every such posting: it refuses the request itself, which no retry mends."""
    sit.partner.fails(role, "bad_request", None)


@given("the partner refuses the platform's credentials for the {role:Role} posting")
def credentials_refused(sit: ScenarioContext, role: str) -> None:
    """The partner answers HTTP 403 to every such posting: the credentials are refused until someone fixes them."""
    sit.partner.fails(role, "forbidden", None)


@when("the partner recovers")
def recovers(sit: ScenarioContext) -> None:
    """Every fault the scenario gave the partner is gone."""
    sit.partner.recovers()


@when("the payer tries to pay {amount:Money} by {method:Method}")
def tries_to_pay(sit: ScenarioContext, amount: Decimal, method: str) -> None:
    """A payment the platform may refuse: its refusal, or the payment it took instead, is kept for a
    later step to judge (a refusal here is evidence, not a broken step)."""
    attempt(sit, "payment", f"a payment of {amount} by {method_name(method)}",
            lambda: pay(sit, sit.vars["account"], amount, method))


@when("the biller tries to credit {amount:Money} to the account")
def tries_to_credit(sit: ScenarioContext, amount: Decimal) -> None:
    """A credit the platform may refuse, kept like a payment the payer tries."""
    attempt(sit, "credit", f"a credit of {amount}", lambda: give_credit(sit, sit.vars["account"], amount))


@then("the platform refused every payment the payer tried")
@then("the platform refused every credit the biller tried")
def refused_every_try(sit: ScenarioContext) -> None:
    """Each payment or credit the scenario tried was refused by the platform, with its reason; none
    was taken (what is taken is pumped to the partner)."""
    for tried in sit.vars.get("tried", []):
        if tried.role in ("payment", "credit"):
            _refused(sit, tried)


def _refused(sit: ScenarioContext, tried: Tried) -> None:
    """The platform refused what the scenario tried, saying why; taken, it says what it became."""
    taken = ""
    if tried.key:
        tx = sit.platform.transaction(tried.key)
        taken = f"taken as {tx.kind} {tried.key} of {tx.amount}{because(tx.reason)}"
    sit.expect(f"{tried.what} to be {{}}", True, not tried.key, f"{tried.what} is {{}}", instead="it was {}",
               show={True: f"refused{because(tried.refusal)}", False: taken})


@then("the partner received the payment of {amount:Money} by {method:Method} for the account")
def received_payment(sit: ScenarioContext, amount: Decimal, method: str) -> None:
    """The account's postings are this one payment: amount, method and the codes the profiles give it."""
    postings.expect_postings(sit, [postings.payment(sit, amount, method)], sit.vars["account"])


@then("the partner received a credit of {amount:Money} coded as the partner's credit transaction type")
def received_credit(sit: ScenarioContext, amount: Decimal) -> None:
    """The account's postings are this one credit, with the partner's credit transaction type."""
    postings.expect_postings(sit, [postings.credit(sit, amount)], sit.vars["account"])


@then("the partner received the largest amount the partner takes by {method:Method} for the account")
def received_largest(sit: ScenarioContext, method: str) -> None:
    """The account's postings are one payment of the partner profile's ``max_amount``, to the cent."""
    postings.expect_postings(sit, [postings.payment(sit, largest(sit), method)], sit.vars["account"])


@then("the partner received exactly these postings:")
def received_table(sit: ScenarioContext, datatable: list[list[str]]) -> None:
    """Exactly the rows' postings, nothing more or less: ``posting`` (payment or credit), ``amount``,
    ``method`` for payments, and ``account`` (a name the scenario gave) when it has several; each
    compared with the codes the profiles give it."""
    table = rows(datatable, ("posting", "amount"))
    named = "account" in table[0] if table else False
    wanted: dict[str, list[postings.Posting]] = {name: [] for name in sit.vars.get("accounts", {})} if named else {}
    for row in table:
        wanted.setdefault(row["account"] if named else "", []).append(_posting(sit, row))
    for name, expected in wanted.items():
        if name:
            postings.expect_postings(sit, expected, account_named(sit, name), f"for account {name}")
        else:
            postings.expect_postings(sit, expected, sit.vars["account"])


def _posting(sit: ScenarioContext, row: dict[str, str]) -> postings.Posting:
    amount = money_cell(row, "amount")
    match row["posting"]:
        case "payment":
            return postings.payment(sit, amount, method_cell(row))
        case "credit":
            return postings.credit(sit, amount)
    raise SitError(f"the table's posting column holds {row['posting']!r}: write payment or credit")


@then("a payment of one cent more than the partner takes is refused")
def over_largest_refused(sit: ScenarioContext) -> None:
    """The platform refuses a payment above the partner's ``max_amount``; nothing more reaches the partner."""
    before = len(postings.received(sit, sit.vars["account"]))
    amount = largest(sit) + Decimal("0.01")
    tried = attempt(sit, "payment", f"a payment of {amount} by ACH",
                    lambda: sit.platform.pay(sit.vars["account"], amount, "ACH"))
    pump(sit)
    _refused(sit, tried)
    sit.expect("the partner to receive {} more", 0, len(postings.received(sit, sit.vars["account"])) - before,
               "the partner received {} more", instead="it received {} more", show=counted("posting"))


def largest(sit: ScenarioContext) -> Decimal:
    top = sit.biller.partner.max_amount
    if top is None:
        raise SitError(f"fixtures/partners/{sit.biller.partner.name}.yaml: field 'max_amount': not set; "
                       "name the largest amount the partner's amount field takes")
    return top


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
    postings.expect_postings(sit, [] if reason else [sit.vars["posconnect"]], sit.vars["account"])
    if reason:
        sit.expect(f"the payment to be held back for the partner profile's reason ({reason})", True,
                   reason in tx.reason, f"the payment {{}}{because(tx.reason)}",
                   show={True: "is held back for the partner profile's reason",
                         False: "is held back for another reason than the partner profile's"})
