"""Expectations read as sentences: what a step expected and what it saw, in a person's words.

``ScenarioContext.expect`` is driven with a real recorder on a real SQLite store; the session
around it is a stand-in holding only that recorder (expect touches nothing else).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faker import Faker

from harness.events import Event, Recorder, Redactor, SQLiteStore
from harness.scenario import ScenarioContext, counted, listed, say, times
from steps.common import references, status
from steps.postings import posting_said, postings_said
from tests.conftest import reads_like_python


@pytest.fixture
def sit(tmp_path: Path) -> ScenarioContext:
    store = SQLiteStore(tmp_path / "events.sqlite")
    session: Any = SimpleNamespace(recorder=Recorder(store, "run-1", Redactor()))
    return ScenarioContext("SIT-PAY-001", "A card payment posts", session, platform=None, fake=Faker())  # type: ignore[arg-type]


def recorded(sit: ScenarioContext) -> Event:
    (event,) = sit.session.recorder.scope_events("expectation")
    return event


@pytest.mark.parametrize(("value", "said"), [
    (Decimal("45.1"), "45.10"), (None, "nothing"), ([], "nothing"), ((), "nothing"), (set(), "nothing"),
    (["a"], "a"), (["a", "b"], "a and b"), (["a", "b", "c"], "a, b and c"), ({"b", "a"}, "a and b"),
    (True, "yes"), (False, "no"), (3, "3"), ("posted", "posted"), ([Decimal("1"), None], "1.00 and nothing"),
])
def test_say_speaks_values_not_python(value: Any, said: str) -> None:
    assert say(value) == said


def test_counts_times_and_lists() -> None:
    assert [counted("payment")(n) for n in (0, 1, 2)] == ["no payments", "1 payment", "2 payments"]
    assert counted("OAuth token request")(1) == "1 OAuth token request"
    assert counted("child", "children")(2) == "2 children"
    assert [times(n) for n in (0, 1, 2, 3)] == ["0 times", "once", "twice", "3 times"]
    assert listed(str.upper, none="no codes")(["r01", "c01"]) == "R01 and C01"
    assert listed(str.upper, none="no codes")([]) == "no codes"
    both = "a payment of 45.10 by card and a payment of 45.10 by ACH"
    assert postings_said([pay("45.10", "CC"), pay("45.10", "ACH")]) == both
    assert references(["P1"]) == "reference P1" and references(["P1", ""]) == "references P1 and (blank)"
    assert status("failed") == "marked failed" and status("posted") == "posted"


def pay(amount: str, method: str) -> dict[str, str]:
    return {"role": "payment", "amount": amount, "method": method}


def test_a_met_expectation_records_raw_values_and_its_sentences(sit: ScenarioContext) -> None:
    sit.expect("the partner to receive {}", [pay("45.10", "CC")], [pay("45.10", "CC")], "the partner received {}",
               instead="it received {}", show=postings_said)
    data = recorded(sit).data
    assert data == {
        "sit_id": "SIT-PAY-001", "ok": True, "expected": [pay("45.10", "CC")], "actual": [pay("45.10", "CC")],
        "expected_sentence": "expected the partner to receive a payment of 45.10 by card",
        "actual_sentence": "the partner received a payment of 45.10 by card",
        "sentence": "the partner received a payment of 45.10 by card",
    }


@pytest.mark.parametrize(("actual", "instead"), [
    ([pay("45.10", "ACH")], "it received a payment of 45.10 by ACH"),
    ([], "it received nothing"),
    ([pay("45.10", "CC"), pay("45.10", "CC")], "it received a payment of 45.10 by card and a payment of 45.10 by card"),
])
def test_an_unmet_expectation_fails_with_a_sentence_naming_what_came_instead(
        sit: ScenarioContext, actual: list[dict[str, str]], instead: str) -> None:
    with pytest.raises(AssertionError) as raised:
        sit.expect("the partner to receive {}", [pay("45.10", "CC")], actual, "the partner received {}",
                   instead="it received {}", show=postings_said)
    sentence = f"expected the partner to receive a payment of 45.10 by card; {instead}"
    assert str(raised.value) == sentence
    data = recorded(sit).data
    assert data["ok"] is False and data["sentence"] == sentence
    assert data["actual"] == actual  # the raw value, for sit diff and later checks
    assert data["actual_sentence"] == instead.replace("it received", "the partner received")


@pytest.mark.parametrize(("posting", "said"), [
    ({"role": "credit", "amount": "12.00", "type_code": "6"}, "a credit of 12.00 with type 6"),
    ({"role": "payment", "amount": "12.00", "type_code": "1"}, "a payment of 12.00 with type 1"),
    ({"role": "ach_return", "amount": "88.00", "return_code": "R01", "original": "P1"},
     "a return of 88.00 with code R01 for payment P1"),
    ({"role": "void", "amount": "25.00", "original": ""}, "a void of 25.00 for payment (no reference)"),
    ({"role": "paperless_change", "value": "N", "alert_code": "EBILL"},
     "a paperless change un-enrolling with alert code EBILL"),
    ({"role": "", "amount": "1.00"}, "an unknown call of 1.00"),
    ({"role": "AddARItem", "amount": "1.00"}, "an AddARItem call of 1.00"),
])
def test_a_posting_reads_as_what_the_partner_acts_on(posting: dict[str, str], said: str) -> None:
    assert posting_said(posting) == said


def test_booleans_read_as_the_words_the_step_gives(sit: ScenarioContext) -> None:
    words = {True: "allowed", False: "blocked"}
    sit.expect("card payments to be allowed", True, True, "card payments are {}", instead="they are {}", show=words)
    assert recorded(sit).data["sentence"] == "card payments are allowed"
    with pytest.raises(AssertionError, match=r"^expected ACH payments to be allowed; they are blocked$"):
        sit.expect("ACH payments to be allowed", True, False, "ACH payments are {}", instead="they are {}", show=words)


def test_the_value_goes_where_the_placeholder_is_not_into_quoted_text(sit: ScenarioContext) -> None:
    """A reason quoted into a template may itself hold braces; only the first {} takes the value."""
    reason = 'cr0: {"errors": [{}]}'
    with pytest.raises(AssertionError) as raised:
        sit.expect("the payment to be {}", "posted", "failed", f"the payment is {{}} ({reason})", show=status)
    assert str(raised.value) == f"expected the payment to be posted; the payment is marked failed ({reason})"


def test_a_label_without_sentences_still_says_its_values(sit: ScenarioContext) -> None:
    """The form from before sentences (a label; no ``saw``): its values are said, never printed as Python."""
    with pytest.raises(AssertionError, match=r"^biller setting 32: expected yes, got no$"):
        sit.expect("biller setting 32", True, False)
    data = recorded(sit).data
    assert data["what"] == "biller setting 32" and data["actual_sentence"] == "biller setting 32: no"
    assert (data["expected"], data["actual"]) == (True, False)


def test_reads_like_python_catches_the_old_rendering() -> None:
    """Negative control for the check the e2e tests apply to whole runs."""
    assert reads_like_python("payment postings for the account (amount, method): expected [['45.10', 'CC']]")
    assert reads_like_python("card payments allowed: expected True, actual True")
    assert reads_like_python("balance shown: None")
    assert not reads_like_python("the partner received 45.10 by card for the account (as expected)")
    assert not reads_like_python("the payment's reason names 'HTTP 503' (AddARItem: HTTP 503 server error)")
