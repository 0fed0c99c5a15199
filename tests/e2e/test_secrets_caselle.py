"""Caselle's secrets never reach anything a run writes: the OAuth client id and secret, the issued
token and the biller's API keys (``BK=``), with the same search and negative control as for Cayenta.

The scenarios chosen use every one of them: an expired token makes the platform fetch a new one
with the client credentials, the callbacks carry the API keys, a payment carries the bearer
token and an invoice upload the sFTP password.
"""

from __future__ import annotations

import sys

import pytest
from runs import SIT, Run
from test_secrets import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    RETIRED_KEY,
    TOKEN,
    UNCHECKED,
    UNREDACTED,
    ReportedRun,
    _files,
    _run,
    assert_the_leak_check_caught,
    leaks,
    report_leaks,
)

BILLER = "newport-or"
USES_EVERY_SECRET = "expired_oauth or callback or card_payment_posts or days_invoice_file"
# Without redaction, the scenarios that check the masking itself fail by design: leave them out.
UNMASKED = "expired_oauth or billers_api_key_refreshes or card_payment_posts"


@pytest.fixture(scope="module")
def redacted(tmp_path_factory: pytest.TempPathFactory) -> ReportedRun:
    return _run(tmp_path_factory.mktemp("caselle-secrets") / "redacted", SIT, USES_EVERY_SECRET, BILLER)


@pytest.fixture(scope="module")
def leak_checked(tmp_path_factory: pytest.TempPathFactory) -> ReportedRun:
    """Redaction off, the product's leak checks on: the bearer token of a payment reaches the log."""
    return _run(tmp_path_factory.mktemp("caselle-secrets") / "leak-checked", [sys.executable, "-c", UNREDACTED],
                "card_payment_posts", BILLER, expect=3)


@pytest.fixture(scope="module")
def unredacted(tmp_path_factory: pytest.TempPathFactory) -> ReportedRun:
    return _run(tmp_path_factory.mktemp("caselle-secrets") / "unredacted", [sys.executable, "-c", UNCHECKED],
                UNMASKED, BILLER)


def test_the_run_used_every_secret(redacted: Run) -> None:
    assert redacted.started()["demo_secrets"] == []
    calls = {x["call"] for x in redacted.exchanges()}
    assert {"OAuthToken", "PostPayment"} <= calls  # client credentials sent, bearer tokens carried
    assert any(e.kind == "platform.callback_received" for e in redacted.events)  # a valid BK key
    assert any(e.kind == "file.transferred" for e in redacted.events)  # the sFTP password


def test_no_secret_in_output_files_or_reports(redacted: ReportedRun) -> None:
    assert redacted.pack is not None
    for output in (redacted.result.stdout, redacted.result.stderr, redacted.pack.stdout, redacted.pack.stderr):
        assert leaks(output.encode()) == []
    found = {path.relative_to(redacted.root).as_posix(): bad for path in _files(redacted.root)
             if (bad := leaks(path.read_bytes()))}
    assert found == {}
    assert report_leaks(redacted.reports) == {}


def test_negative_control_without_redaction_every_secret_is_found(unredacted: ReportedRun) -> None:
    store = unredacted.store.read_bytes() + b"".join(p.read_bytes() for p in unredacted.root.glob("events.sqlite-*"))
    assert {CLIENT_ID, CLIENT_SECRET, TOKEN, API_KEY} <= set(leaks(store))
    assert RETIRED_KEY not in leaks(store)  # the retired key was not used by these scenarios
    assert report_leaks(unredacted.reports)


def test_a_caselle_secret_in_an_exchange_fails_the_run_naming_the_event(leak_checked: ReportedRun) -> None:
    leaked = assert_the_leak_check_caught(leak_checked, {"SIT_CASELLE_OAUTH_TOKEN", "SIT_CASELLE_CLIENT_ID",
                                                         "SIT_CASELLE_CLIENT_SECRET"})
    assert leaked.kind == "partner.exchange"
    assert leaked.data["request_headers"]["Authorization"] == f"Bearer {TOKEN}"  # the payment's bearer token
