"""The remembered step lookup finds what pytest-bdd's own finds, for every step, in its order."""

from __future__ import annotations

import pytest

from harness import step_lookup

pytest_plugins = ("pytester",)

FEATURE = """\
Feature: Lookup
  Scenario: Amounts
    Given an account with 10.00
    When it pays 3.50
    Then it holds 6.50

  Scenario: Another amount
    Given an account with 20.00
    When it pays 1.00
    Then it holds 19.00
"""

# The conftest's definitions are seen by both modules; test_override.py defines its own "it pays".
CONFTEST = """\
from pytest_bdd import given, parsers, then, when
from harness import step_lookup

@given(parsers.parse("an account with {amount:f}"), target_fixture="account")
def account(amount):
    return {"balance": amount}

@when(parsers.parse("it pays {amount:f}"))
def pays(account, amount):
    account["balance"] -= amount

@then(parsers.parse("it pays {amount:f}"))
def pays_as_outcome(account, amount):  # the same text as a Then: a When step must not find it
    raise AssertionError("a When step ran a Then definition")

@then(parsers.parse("it holds {amount:f}"))
def holds(account, amount):
    assert round(account["balance"], 2) == amount

def pytest_bdd_before_step(request, feature, scenario, step, step_func):
    manager, node = request._fixturemanager, request.node
    ours = list(step_lookup.remembered(step=step, fixturemanager=manager, node=node))
    theirs = list(step_lookup.original(step=step, fixturemanager=manager, node=node))
    verdict = "same" if ours == theirs and ours else f"DIFFERENT {ours} {theirs}"
    with open("lookups.txt", "a") as out:
        print(f"{node.nodeid} {step.name}: {verdict}", file=out)
"""

PLAIN = """\
from pytest_bdd import scenarios
scenarios("lookup.feature")
"""

OVERRIDE = """\
from pytest_bdd import parsers, scenarios, when
scenarios("lookup.feature")

@when(parsers.parse("it pays {amount:f}"))
def pays_twice(account, amount):  # this module's own "it pays": it charges double, so its Then steps fail
    account["balance"] -= 2 * amount
"""


def _run(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".feature", lookup=FEATURE)
    pytester.makepyfile(test_plain=PLAIN, test_override=OVERRIDE)
    step_lookup.install()
    # Without the harness's plugin: these scenarios are not a biller's workbook.
    return pytester.runpytest_inprocess("-p", "no:sit_harness", "-p", "no:cacheprovider", "-rA")


def test_every_step_finds_what_pytest_bdd_finds(pytester: pytest.Pytester) -> None:
    assert step_lookup.original is not None, "pytest-bdd no longer has find_fixturedefs_for_step"
    _run(pytester).assert_outcomes(passed=2, failed=2)
    lookups = (pytester.path / "lookups.txt").read_text().splitlines()
    assert len(lookups) == 12, lookups  # 4 scenarios of 3 steps each
    assert all(line.endswith(": same") for line in lookups), lookups


def test_each_module_finds_the_definitions_it_sees(pytester: pytest.Pytester) -> None:
    result = _run(pytester)
    # The plain module's scenarios pass on the conftest's steps; the overriding module's fail on its own.
    result.stdout.fnmatch_lines([
        "PASSED test_plain.py::test_amounts", "PASSED test_plain.py::test_another_amount",
        "FAILED test_override.py::test_amounts*", "FAILED test_override.py::test_another_amount*",
    ])
