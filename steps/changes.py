"""Account changes (change log): paperless, autopay, phone and email, each on its own call."""

from __future__ import annotations

import re

from harness.catalogue import then, when
from harness.platform import TxStatus
from harness.scenario import PartnerCall, ScenarioContext, listed
from steps import postings
from steps.common import because, references, status


def _change(sit: ScenarioContext, program: str, value: str) -> None:
    """Make the change, keeping its key and its value (what the partner must receive)."""
    sit.vars.setdefault("changes", {})[program] = sit.platform.change_account(sit.vars["account"], program, value)
    sit.vars.setdefault("change_values", {})[program] = value


@when("the payer enrolls the account in {program:Program}")
def enrolls(sit: ScenarioContext, program: str) -> None:
    """Paperless billing or autopay enrollment on the platform."""
    _change(sit, program, "Y")


@when("the payer cancels {program:Program} for the account")
def cancels(sit: ScenarioContext, program: str) -> None:
    """The payer un-enrolls the account from paperless billing or autopay."""
    _change(sit, program, "N")


@when("the payer changes the account's phone number")
def changes_phone(sit: ScenarioContext) -> None:
    """A new phone number for the account."""
    _change(sit, "phone", sit.fake.numerify("###-###-####"))


@when("the payer changes the account's email address")
def changes_email(sit: ScenarioContext) -> None:
    """A new email address for the account."""
    _change(sit, "email", sit.fake.email())


def _alert_code(code: str | None) -> str:
    return f"alert code {code}" if code else "no alert code"


def _accepted(sit: ScenarioContext, program: str) -> None:
    tx = sit.platform.transaction(sit.vars["changes"][program])
    sit.expect(f"the {program} change to be {{}}", TxStatus.POSTED.value, tx.status.value,
               f"the {program} change is {{}}{because(tx.reason)}", instead=f"it is {{}}{because(tx.reason)}",
               show=status)
    wanted = postings.change(sit, program, sit.vars["change_values"][program])
    postings.expect_postings(sit, [wanted], sit.vars["account"])


@then("the partner accepted the {program:Program} change")
def accepted(sit: ScenarioContext, program: str) -> None:
    """The change was posted, on one call to the partner, carrying the change's value (enrol or
    un-enrol, the new phone number or email address)."""
    _accepted(sit, program)


@then("the partner accepted the {program:Program} change with its alert code")
def accepted_with_code(sit: ScenarioContext, program: str) -> None:
    """As above, and the call carried the program's alert code from the partner profile."""
    _accepted(sit, program)


def _the_call(sit: ScenarioContext, program: str, key: str) -> PartnerCall:
    """The one call that carried the change under its reference; else what the partner received
    for the account instead (no call, a call under another reference, the change sent twice)."""
    calls = postings.received(sit, sit.vars["account"])
    mine = [c for c in calls if c.fields.get("reference") == key]
    wanted = f"one call carrying reference {key}"
    if len(mine) == 1:
        actual = wanted
    elif mine:
        actual = f"{len(mine)} calls carrying reference {key}"
    else:
        arrived = [f"{c.call} under {references([c.fields.get('reference') or ''])}" for c in calls]
        actual = f"no call carrying reference {key} ({_arrived(arrived)})"
    sit.expect(f"the {program} change to reach the partner on {{}}", wanted, actual,
               f"the {program} change reached the partner on {{}}", instead="the partner received {}")
    return mine[0]


def _arrived(calls: list[str]) -> str:
    return f"it received {listed()(calls)} for the account" if calls else "nothing reached it for the account"


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


@then("each change reached the partner on its own program's call with that program's alert code")
def calls_match_codes(sit: ScenarioContext) -> None:
    """Catches a call name and alert code that disagree (as the Cayenta page lists them): each
    change must arrive on a call that names its program, carrying that program's code, and
    the partner must accept it."""
    profile = f"fixtures/partners/{sit.biller.partner.name}.yaml"
    for program, key in sit.vars["changes"].items():
        call = _the_call(sit, program, key)
        expected_code = sit.biller.partner.change_log[program].alert_code
        sit.expect(f"the {program} change to arrive on a call that names {program}", True,
                   _letters(program) in _letters(call.call), f"the {program} change arrived on {call.call}, {{}}",
                   instead=f"it arrived on {call.call}, {{}} (check change_log in {profile})",
                   show={True: f"which names {program}", False: f"which does not name {program}"})
        sit.expect(f"the {program} change on {call.call} to carry {{}}", expected_code, call.fields.get("alert_code"),
                   f"the {program} change on {call.call} carried {{}}", instead="it carried {}", show=_alert_code)
        tx = sit.platform.transaction(key)
        sit.expect(f"the {program} change on {call.call} to be {{}}", TxStatus.POSTED.value, tx.status.value,
                   f"the {program} change on {call.call} is {{}}{because(tx.reason)}",
                   instead=f"it is {{}}{because(tx.reason)}", show=status)
