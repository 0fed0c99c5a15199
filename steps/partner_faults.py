"""A partner's own known failure modes: its service down, its settings or licences missing, its token expired.

What the partner does wrong is arranged through ``sit.partner`` (its adapter knows how each
failure looks on the wire); what the platform does about it is read from the platform and
the event log, in business words.
"""

from __future__ import annotations

from typing import Any

from harness.catalogue import given, then, when
from harness.platform import Transaction, TxStatus
from harness.scenario import ScenarioContext, counted, times
from steps.common import because, no_balance_shown, status


def _events(sit: ScenarioContext, kind: str) -> list[dict[str, Any]]:
    """The data of this scenario's platform events of one kind for its payment."""
    key = sit.vars["payment"]
    return [e.data for e in sit.session.recorder.scope_events(f"platform.{kind}") if e.data.get("key") == key]


@given("Caselle's COWS is not running")
@given("the partner's web service is not running")
def service_down(sit: ScenarioContext) -> None:
    """The partner's service (Caselle: COWS on the biller's server) is down: every connection is refused."""
    sit.partner.goes_offline()


@when("COWS is running again")
@when("the partner's web service is running again")
def service_back(sit: ScenarioContext) -> None:
    """The partner's service runs again."""
    sit.partner.comes_back()


@given('the online-payments workspace is not marked "use for online payments"')
def workspace_not_online(sit: ScenarioContext) -> None:
    """Caselle's cash receipting workspace for online payments lacks its "use for online payments"
    checkbox: cr0 answers every payment with its generic error."""
    sit.partner.has_failure("workspace_not_for_online_payments", "payment")


@given("the OAuth token the partner issued has expired")
@when("the OAuth token the platform holds expires")
def token_expired(sit: ScenarioContext) -> None:
    """The partner refuses, from now on, the OAuth token the platform holds (the one it issued, or one
    the platform fetched earlier) with HTTP 401; a token fetched anew with the client credentials is accepted."""
    sit.partner.has_failure("token_expired")


@given("the partner lacks the security licence {licence}")
def licence_missing(sit: ScenarioContext, licence: str) -> None:
    """The partner refuses every call the named licence covers (Caselle: ARW4000 for RTDR on ar0,
    CRW40000 for the data pump on cr0)."""
    sit.partner.has_failure(f"licence_missing:{licence}")


@then('every pump attempt failed with a reason naming "{text:Text}"')
def attempts_failed(sit: ScenarioContext, text: str) -> None:
    """The pump made all the attempts its policy allows, each failing for the named reason."""
    errors = [str(d.get("error", "")) for d in _events(sit, "pump_attempt_failed")]
    sit.expect("the pump to make {}", sit.biller.pump.attempts, len(errors), "the pump made {}",
               instead="it made {}", show=counted("failed attempt"))
    sit.expect(f"{{}} of the failed attempts to name '{text}'", len(errors), sum(text in e for e in errors),
               f"{{}} of the failed attempts named '{text}'{because(errors[0] if errors else '')}",
               instead=f"{{}} named it{because(errors[0] if errors else '')}")


@then('the payment failed with a hint naming "{text:Text}"')
def failed_with_hint(sit: ScenarioContext, text: str) -> None:
    """The pump marked the payment failed (not retried) and showed the partner profile's likely
    cause of the partner's error with it."""
    tx = _failed_once(sit)
    hints = [str(d.get("hint") or "") for d in _events(sit, "pump_failed")]
    hint = hints[-1] if hints else ""
    sit.expect(f"the hint shown with the failure to name '{text}'", True, text.casefold() in hint.casefold(),
               f"the hint shown with the failure {{}} '{text}'{because(hint)}",
               show={True: "names", False: "does not name" if hint else "is missing: it cannot name"})
    sit.expect("the hint to be shown in the payment's reason", True, bool(hint) and hint in tx.reason,
               "the hint {} in the payment's reason", instead="it {}", show={True: "is shown", False: "is not shown"})


@then('the payment failed with a reason naming "{text:Text}"')
def failed_with_reason(sit: ScenarioContext, text: str) -> None:
    """The pump marked the payment failed (not parked, not retried), naming the cause."""
    tx = _failed_once(sit)
    sit.expect(f"the failure reason to name '{text}'", True, text in tx.reason,
               f"the failure reason {{}} '{text}'{because(tx.reason)}", show={True: "names", False: "does not name"})


def _failed_once(sit: ScenarioContext) -> Transaction:
    tx = sit.platform.transaction(sit.vars["payment"])
    sit.expect("the payment to be {}", TxStatus.FAILED.value, tx.status.value,
               f"the payment is {{}}{because(tx.reason)}", instead=f"it is {{}}{because(tx.reason)}", show=status)
    sit.expect("the pump to try {}, as a refusal is not retried", 1, tx.attempts, "the pump tried {}",
               instead="it tried {}", show=times)
    return tx


@then("the platform fetched {count:Count} new OAuth token")
@then("the platform fetched {count:Count} new OAuth tokens")
def tokens_fetched(sit: ScenarioContext, count: int) -> None:
    """OAuth token requests (client credentials) that reached the partner in this scenario."""
    sit.expect("the platform to fetch {}", count, len(sit.partner.calls("token")), "the platform fetched {}",
               instead="it fetched {}", show=counted("new OAuth token"))


@then("the platform fetched no new OAuth token")
def no_token_fetched(sit: ScenarioContext) -> None:
    """No OAuth token request reached the partner in this scenario: the token held was used."""
    tokens_fetched(sit, 0)


@then('the payment route says the account cannot be shown, naming "{text:Text}"')
def account_refused(sit: ScenarioContext, text: str) -> None:
    """The payer is told the account cannot be shown, with the cause; no balance is shown."""
    refusal = sit.vars.get("refusal", "")
    sit.expect(f"the payment route to refuse the account, naming '{text}'", True, text in refusal,
               "the payment route {}", instead="it {}",
               show={True: f"refuses the account ({refusal})",
                     False: f"refuses the account without naming '{text}' ({refusal})" if refusal
                     else "does not refuse the account"})
    no_balance_shown(sit)
