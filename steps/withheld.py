"""What the biller did not take, proven absent: the platform makes the transaction, holds it back
for the profile's rule, and the partner receives nothing (scenarios tagged ``@withheld:``)."""

from __future__ import annotations

from harness.catalogue import then
from harness.platform import TxStatus
from harness.profiles import withheld_rule
from harness.scenario import ScenarioContext
from steps import postings
from steps.common import ROLE_NAMES, because, status


@then("the {what:Role} is held back, naming the rule that keeps it from the partner")
def role_held_back(sit: ScenarioContext, what: str) -> None:
    """The platform never pumps it: it is held back with a reason naming the profile's rule (the
    capability's reason, or the number of the setting that is off)."""
    _held_back(sit, ROLE_NAMES.get(what, what), sit.vars[what], what)


@then("the {program:Program} change is held back, naming the rule that keeps it from the partner")
def change_held_back(sit: ScenarioContext, program: str) -> None:
    """As above, for an account change the partner does not take."""
    _held_back(sit, f"{program} change", sit.vars["changes"][program], f"{program}_change")


def _held_back(sit: ScenarioContext, noun: str, key: str, role: str) -> None:
    rule = withheld_rule(sit.biller, role)
    named = rule if rule.startswith("setting ") else f"the profile's rule ({rule})"
    wanted = f"held back from the data pump, naming {named}"
    tx = sit.platform.transaction(key)
    held = tx.status is TxStatus.EXCLUDED and rule in tx.reason
    actual = wanted if held else f"{status(tx.status.value)}{because(tx.reason)}"
    sit.expect(f"{noun} {key} to be {{}}", wanted, actual, f"{noun} {key} is {{}}", instead="it is {}")


@then("the partner received nothing for the account")
@then("the partner received no payment and no void")
def received_nothing(sit: ScenarioContext) -> None:
    """No posting of any kind reached the partner for the account."""
    postings.expect_postings(sit, [], sit.vars["account"])
