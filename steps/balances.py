"""Real-time balance (RTDR): what the payer sees when opening an account, and payment blocks."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from harness.catalogue import given, then, when
from harness.errors import SitError
from harness.platform import AccountNotFound, Balance, PlatformRefusal
from harness.scenario import ScenarioContext, counted, listed, times
from steps.common import (
    METHOD_NAMES,
    account_named,
    arrange_account,
    article,
    attempt,
    because,
    method_name,
    no_balance_shown,
)


def block_code(sit: ScenarioContext, method: str) -> str:
    """The partner's block indicator that, by the biller's block-code setting, blocks ``method`` alone.

    Scenarios that need one carry ``@setting:block_codes:METHOD``: N/A for a biller without one."""
    code = sit.biller.sole_code("block_codes", method)
    if code is None:
        raise SitError(f"the scenario needs the tag @setting:block_codes:{method}, so that a biller whose "
                       f"setting has no block code for {method} alone sees it N/A")
    return code


@given("the partner blocks {method:Method} payments for an account", needs="setting:block_codes:{method}")
def partner_blocks(sit: ScenarioContext, method: str) -> None:
    """The partner's balance reply carries the block code that blocks this method only."""
    arrange_account(sit, balance=Decimal("50.00"), block_indicator=block_code(sit, method))


@given("the partner holds an account for each block code of the biller's setting, one without a code and one "
       "for each of these codes of other billers:", needs="setting:block_codes")
def partner_holds_coded_accounts(sit: ScenarioContext, datatable: list[list[str]]) -> None:
    """One account per code the biller's block-code setting lists (card, ACH or both), one whose
    balance reply carries no code, and one per code in the table that the setting does not list
    (codes other billers use, which must block nothing here)."""
    own = _block_codes(sit)
    listed_codes = list(dict.fromkeys(code for codes in own.values() for code in codes))
    foreign = [code for (code, *_) in datatable[1:] if code not in listed_codes]
    sit.vars["coded_accounts"] = [
        *((code, arrange_account(sit, balance=Decimal("50.00"), block_indicator=code)) for code in listed_codes),
        (None, arrange_account(sit, balance=Decimal("50.00"))),
        *((code, arrange_account(sit, balance=Decimal("50.00"), block_indicator=code)) for code in foreign),
    ]


def _block_codes(sit: ScenarioContext) -> dict[str, list[str]]:
    codes = sit.biller.setting("block_codes")
    if not isinstance(codes, dict) or not codes:
        raise SitError("the scenario needs the tag @setting:block_codes, so that a biller without block codes "
                       "sees it N/A")
    return codes


@given("the partner holds an account on budget billing of {amount:Money} a month")
def partner_budget(sit: ScenarioContext, amount: Decimal) -> None:
    """The partner's balance reply carries a monthly budget billing amount."""
    arrange_account(sit, balance=amount * 3, budget_amount=amount)


@given("the biller lets only RTDR set payment blocks", needs="setting:portal_block_lock")
def only_rtdr_blocks(sit: ScenarioContext) -> None:
    """The biller's setting that keeps portal users from setting block flags is on."""
    if not sit.biller.setting("portal_block_lock", False):
        raise SitError("the scenario needs the tag @setting:portal_block_lock, so that a biller with "
                       "the setting off sees it N/A")


@when("the payer opens the account on the payment route")
@when("the payer opens the account on the payment route again")
def open_account(sit: ScenarioContext) -> None:
    """The platform asks the partner for the account's balance (RTDR)."""
    _open(sit, sit.vars["account"])


@when("the partner's balance for the account changes to {amount:Money}")
def balance_changes(sit: ScenarioContext, amount: Decimal) -> None:
    """The partner's balance call answers with the new balance from now on (a payment applied, a new
    charge); the platform sees it only by asking again."""
    sit.partner.balance_changes(sit.vars["account"], balance=amount)


@when("the payer opens an account the partner does not hold")
def open_unknown_account(sit: ScenarioContext) -> None:
    """As above, for an account number the partner has never heard of."""
    sit.vars["account"] = sit.account_number()
    _open(sit, sit.vars["account"])


@when("the payer opens account {name:Name} on the payment route")
def open_named_account(sit: ScenarioContext, name: str) -> None:
    """As above, for one of the accounts the scenario named."""
    _open(sit, account_named(sit, name))


def _open(sit: ScenarioContext, account: str) -> None:
    try:
        sit.vars["balance"] = sit.platform.open_account(account)
    except AccountNotFound as exc:
        sit.vars["not_found"] = str(exc)
    except PlatformRefusal as exc:  # the partner refused or could not be reached
        sit.vars["refusal"] = str(exc)


@when("the payer opens each of those accounts on the payment route")
def open_coded_accounts(sit: ScenarioContext) -> None:
    """The platform asks the partner for each account's balance (RTDR), one after the other."""
    opened: dict[str, Balance | str] = {}
    for _, account in sit.vars["coded_accounts"]:
        try:
            opened[account] = sit.platform.open_account(account)
        except PlatformRefusal as exc:  # AccountNotFound too: the account cannot be shown, for this reason
            opened[account] = str(exc)
    sit.vars["opened"] = opened


@when("a biller portal user tries to block {method:Method} payments for the account")
def portal_block(sit: ScenarioContext, method: str) -> None:
    """A biller-portal user sets a block flag by hand."""
    try:
        sit.platform.portal_block(sit.vars["account"], method)
    except PlatformRefusal as exc:
        sit.vars["refusal"] = str(exc)


@then("the payment route shows a balance of {amount:Money}")
def shows_balance(sit: ScenarioContext, amount: Decimal) -> None:
    """The balance the payer sees."""
    sit.expect("the payment route to show a balance of {}", amount, sit.vars["balance"].balance,
               "the payment route shows a balance of {}", instead="it shows {}")


@then("the payment route shows {amount:Money} past due")
def shows_past_due(sit: ScenarioContext, amount: Decimal) -> None:
    """The past due amount the payer sees."""
    sit.expect("the payment route to show {} past due", amount, sit.vars["balance"].past_due,
               "the payment route shows {} past due", instead="it shows {}")


@then("the payment route shows a budget amount of {amount:Money}")
def shows_budget(sit: ScenarioContext, amount: Decimal) -> None:
    """The budget billing amount the payer sees."""
    sit.expect("the payment route to show {} as the budget amount", amount, sit.vars["balance"].budget_amount,
               "the payment route shows {} as the budget amount", instead="it shows {}")


@then("the platform asked the partner for that account's balance {count:Count} time")
@then("the platform asked the partner for that account's balance {count:Count} times")
def balance_calls(sit: ScenarioContext, count: int) -> None:
    """How many balance calls for this account reached the partner."""
    calls = sit.partner.calls("balance", account=sit.vars["account"])
    sit.expect("the platform to ask the partner for the account's balance {}", count, len(calls),
               "the platform asked the partner for the account's balance {}", instead="it asked {}", show=times)


@then("{blocked:Method} payments are blocked and {allowed:Method} payments are allowed")
def blocks_shown(sit: ScenarioContext, blocked: str, allowed: str) -> None:
    """Which payment methods the platform blocks for the account."""
    shown = sit.vars["balance"].blocked
    sit.expect("the platform to block {} payments", [blocked], sorted(shown), "the platform blocks {} payments",
               instead="it blocks {} payments", show=listed(method_name, none="no"))
    sit.expect(f"{METHOD_NAMES[allowed]} payments to be allowed", True, allowed not in shown,
               f"{METHOD_NAMES[allowed]} payments are {{}}", instead="they are {}",
               show={True: "allowed", False: "blocked"})


@then("each account blocks exactly the payment methods whose block codes list its code")
def blocks_by_code(sit: ScenarioContext) -> None:
    """For each account, the methods the platform blocks are those whose list in the biller's
    block-code setting holds the account's code: none for no code or a code the setting does not list."""
    own = _block_codes(sit)
    for code, account in sit.vars["coded_accounts"]:
        expected = [method for method, codes in own.items() if code in codes]
        seen = sit.vars["opened"][account]
        shown = _in_order(seen.blocked, own) if isinstance(seen, Balance) else seen
        which = _coded(code, own)
        sit.expect(f"{which} to block {{}}", expected, shown, f"{which} blocks {{}}", instead="it blocks {}",
                   show=_blocks)


def _in_order(methods: Iterable[str], own: dict[str, list[str]]) -> list[str]:
    """Methods in the setting's order (card before ACH as the setting lists them); others after, by name."""
    order = list(own)
    return sorted(methods, key=lambda method: (order.index(method) if method in order else len(order), method))


def _coded(code: str | None, own: dict[str, list[str]]) -> str:
    """The account as said in an expectation: by its code, and whose code it is."""
    if code is None:
        return "an account without a block code"
    listed_by = any(code in codes for codes in own.values())
    return f"block code {code}" if listed_by else f"block code {code} (not in the biller's setting)"


def _blocks(shown: list[str] | str) -> str:
    """Blocked methods as said after "blocks": "card and ACH payments", "no payments", or why none was shown."""
    if isinstance(shown, str):
        return f"nothing: the account cannot be shown ({shown})"
    return f"{listed(method_name, none='no')(shown)} payments"


@then("a {method:Method} payment of {amount:Money} is refused as blocked")
@then("an {method:Method} payment of {amount:Money} is refused as blocked")
def payment_refused(sit: ScenarioContext, method: str, amount: Decimal) -> None:
    """The platform refuses a payment by a blocked method, and nothing reaches the partner."""
    payment = f"{article(METHOD_NAMES[method])} {METHOD_NAMES[method]} payment of {amount:.2f}"
    refused = attempt(sit, "payment", payment, lambda: sit.platform.pay(sit.vars["account"], amount, method)).refusal
    sit.expect(f"{payment} to be refused as blocked", True, "blocked" in refused, f"{payment} {{}}", instead="it {}",
               show={True: f"is refused as blocked ({refused})",
                     False: f"is refused for another reason ({refused})" if refused else "is taken"})
    sit.expect("the partner to receive {}", 0, len(sit.partner.calls("payment")), "the partner received {}",
               instead="it received {}", show=counted("payment"))


@then("the platform refuses the portal user's block")
def portal_refused(sit: ScenarioContext) -> None:
    """The portal user's block flag was refused with the reason."""
    refusal = sit.vars.get("refusal", "")
    sit.expect("the platform to refuse the portal user's block, as only RTDR sets blocks", True, "RTDR" in refusal,
               "the platform {}", instead="it {}",
               show={True: f"refuses the portal user's block ({refusal})",
                     False: f"refuses the portal user's block without naming RTDR ({refusal})" if refusal
                     else "lets the portal user set the block"})


@then("the payment route says the account was not found")
def not_found(sit: ScenarioContext) -> None:
    """The payer is told the account is unknown, rather than shown a zero balance."""
    said = sit.vars.get("not_found") or sit.vars.get("refusal", "")
    sit.expect("the payment route to say the account was not found", True, "not found" in sit.vars.get("not_found", ""),
               "the payment route {}", instead="it {}",
               show={True: f"says the account was not found ({said})",
                     False: f"does not say the account was not found{because(said)}"})
    no_balance_shown(sit)

