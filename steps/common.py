"""Steps shared by every workbook section: the partner's accounts, the pump, postings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from harness.catalogue import given, then, when
from harness.errors import SitError
from harness.platform import PlatformRefusal, PumpReport, TxStatus
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


def arrange_account(sit: ScenarioContext, name: str | None = None, **values: Decimal | str) -> str:
    """A new account the partner holds with ``values``; the scenario's account from now on, and
    known by ``name`` when given (scenarios with several accounts name them: A, B...)."""
    account = sit.partner.holds_account(sit.account_number(), **values)
    sit.vars["account"] = account
    if name is not None:
        sit.vars.setdefault("accounts", {})[name] = account
    return account


@dataclass(frozen=True)
class Tried:
    """Something the scenario asked of the platform that it may refuse: taken (its key) or refused (why)."""

    role: str  # payment, credit, void, ach_return
    what: str  # "a payment of 10.005 by card", as said in the expectation
    key: str = ""
    refusal: str = ""


def attempt(sit: ScenarioContext, role: str, what: str, ask: Callable[[], str]) -> Tried:
    """Ask the platform; its refusal is kept as evidence for a later step to judge, not a broken step."""
    try:
        tried = Tried(role, what, key=ask())
    except PlatformRefusal as exc:
        tried = Tried(role, what, refusal=str(exc))
    sit.vars.setdefault("tried", []).append(tried)
    return tried


def last_tried(sit: ScenarioContext, role: str) -> Tried | None:
    """The scenario's latest attempt of this kind, if it made one."""
    return next((t for t in reversed(sit.vars.get("tried", [])) if t.role == role), None)


def account_named(sit: ScenarioContext, name: str) -> str:
    """The number of the account the scenario named ``name``."""
    accounts: dict[str, str] = sit.vars.get("accounts", {})
    if name not in accounts:
        known = ", ".join(accounts) or "none yet"
        raise SitError(f"no account {name} in this scenario (named so far: {known}); arrange it first with "
                       "'the partner holds these accounts:'")
    return accounts[name]


def remember(sit: ScenarioContext, role: str, key: str, amount: Decimal | None = None,
             account: str | None = None) -> str:
    """Note a transaction the scenario made: "the payment" is the latest, "each payment" all of them;
    its amount and account as the scenario asked (not as the platform under test recorded them)."""
    sit.vars[role] = key
    sit.vars.setdefault("made", {}).setdefault(role, []).append(key)
    if amount is not None:
        sit.vars.setdefault("amount_of", {})[key] = amount
    if account is not None:
        sit.vars.setdefault("account_of", {})[key] = account
    return key


def money_cell(row: dict[str, str], column: str) -> Decimal:
    """A table cell holding an amount; anything else is the scenario's fault, named."""
    text = row[column]
    if not re.fullmatch(r"\d+\.\d{2}", text):
        raise SitError(f"the table's {column} column holds {text!r}: write an amount such as 45.10")
    return Decimal(text)


def rows(datatable: list[list[str]], required: tuple[str, ...]) -> list[dict[str, str]]:
    """A step's table as one dict per row, by the header's names; a missing column is the scenario's fault."""
    header = [cell.strip().lower() for cell in datatable[0]]
    if missing := [name for name in required if name not in header]:
        raise SitError(f"the table needs the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                       f"(it has {', '.join(header)})")
    return [dict(zip(header, (cell.strip() for cell in row), strict=True)) for row in datatable[1:]]


@given("the partner holds an account with a balance of {balance:Money}")
def partner_holds_account(sit: ScenarioContext, balance: Decimal) -> None:
    """The partner's balance call knows a new account with this balance."""
    arrange_account(sit, balance=balance)


@given("the partner holds these accounts:")
def partner_holds_accounts(sit: ScenarioContext, datatable: list[list[str]]) -> None:
    """One new account per row, named by its ``account`` column (A, B...), with its ``balance``."""
    for row in rows(datatable, ("account", "balance")):
        arrange_account(sit, row["account"], balance=money_cell(row, "balance"))


@given("the partner holds an account with a balance of {balance:Money} of which {past_due:Money} is past due")
def partner_holds_account_past_due(sit: ScenarioContext, balance: Decimal, past_due: Decimal) -> None:
    """As above, with a past due part in the partner's past due field."""
    arrange_account(sit, balance=balance, past_due=past_due)


def pump(sit: ScenarioContext) -> PumpReport:
    """The platform sends every pending and parked transaction to the partner: each by a call where
    postings travel by API; where they travel in a file, into the day's batch, and the batch closes
    with the payment file the partner fetches."""
    report = sit.platform.run_pump()
    sit.vars["batch"] = sit.platform.close_batch()
    return report


@when("the data pump runs")
def pump_runs(sit: ScenarioContext) -> None:
    """See ``pump``."""
    sit.vars["pump"] = pump(sit)


@then("the {what:Role} is posted exactly once")
def posted_exactly_once(sit: ScenarioContext, what: str) -> None:
    """The platform posted it once, and the partner only ever saw it under that one reference."""
    _posted_once(sit, what, sit.vars[what])


@then("each {what:Role} is posted exactly once")
def each_posted_once(sit: ScenarioContext, what: str) -> None:
    """Every such transaction of the scenario, on whichever account: posted once, under its own reference."""
    for key in sit.vars.get("made", {}).get(what, []):
        _posted_once(sit, what, key)


def _posted_once(sit: ScenarioContext, what: str, key: str) -> None:
    noun = ROLE_NAMES.get(what, what)
    tx = sit.platform.transaction(key)
    sit.expect(f"{noun} {key} to be {{}}", TxStatus.POSTED.value, tx.status.value,
               f"{noun} {key} is {{}}{because(tx.reason)}", instead=f"it is {{}}{because(tx.reason)}", show=status)
    posted = [e for e in sit.session.recorder.scope_events("platform.pump_posted") if e.data["key"] == key]
    sit.expect(f"the platform to record {{}} of {noun} {key}", 1, len(posted),
               f"the platform recorded {{}} of {noun} {key}", instead="it recorded {}", show=counted("posting"))
    account = sit.vars.get("account_of", {}).get(key, tx.account)  # as the scenario made it, where it did
    refs = [c.fields.get("reference") for c in sit.partner.calls(what, account=account)]
    mine = sorted({r or "" for r in refs if r == key or r not in _made(sit, what)})
    sit.expect(f"the partner to see {noun} {key} under {{}} only", [key], mine,
               f"the partner saw {noun} {key} under {{}}", instead="it saw it under {}", show=references)


def _made(sit: ScenarioContext, what: str) -> list[str]:
    """The keys of the scenario's other transactions of this kind (their postings are theirs, not a duplicate)."""
    return sit.vars.get("made", {}).get(what, [])
