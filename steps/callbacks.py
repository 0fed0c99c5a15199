"""Partner callbacks: the partner tells the platform an account changed, authenticated by the
biller's API key (BK); the platform refreshes the account, or refuses and changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal

from harness.catalogue import then, when
from harness.events import MASK, Event
from harness.scenario import ScenarioContext

ACCEPTED, UNAUTHORIZED = 200, 401


def _call_back(sit: ScenarioContext, key: str | None) -> None:
    sit.vars["callback_key"] = key  # kept in memory only, to look for it in the log
    sit.vars["callback"] = sit.partner.calls_back(sit.vars["account"], key)


@when("the partner calls the platform back about the account with the biller's API key")
def callback_active_key(sit: ScenarioContext) -> None:
    """A real HTTP callback to the platform carrying the biller's active API key."""
    _call_back(sit, sit.partner.api_key(active=True))


@when("the partner calls the platform back about the account with the biller's retired API key")
def callback_retired_key(sit: ScenarioContext) -> None:
    """As above, with a key the biller retired (inactive in the biller profile)."""
    _call_back(sit, sit.partner.api_key(active=False))


@when("the partner calls the platform back about the account with an unknown API key")
def callback_unknown_key(sit: ScenarioContext) -> None:
    """As above, with a key the biller never issued."""
    _call_back(sit, sit.unknown_api_key())


@when("the partner calls the platform back about the account without an API key")
def callback_no_key(sit: ScenarioContext) -> None:
    """As above, with no BK parameter at all."""
    _call_back(sit, None)


@then("the platform accepts the callback")
def callback_accepted(sit: ScenarioContext) -> None:
    """The platform answered 200 and recorded the callback for the account."""
    sit.expect("callback answer status", ACCEPTED, sit.vars["callback"].status)
    received = [e.data.get("account") for e in _platform_events(sit, "platform.callback_received")]
    sit.expect("callbacks the platform received for the account", [sit.vars["account"]], received)


@then("the platform refreshed the account to a balance of {amount:Money}")
def callback_refreshed(sit: ScenarioContext, amount: Decimal) -> None:
    """After the callback the platform holds the partner's current balance: what the payer now sees."""
    seen = [e.data["balance"] for e in _platform_events(sit, "platform.balance_observed")
            if e.data.get("account") == sit.vars["account"]]
    sit.expect("balance the platform holds for the account", f"{amount:.2f}", seen[-1] if seen else None)


@then("the platform refuses the callback as unauthorized and processes nothing")
def callback_refused(sit: ScenarioContext) -> None:
    """A 401; no request to the partner, and no platform event but the refusal."""
    sit.expect("callback answer status", UNAUTHORIZED, sit.vars["callback"].status)
    sit.expect("requests to the partner", 0, len(sit.partner.calls()))
    kinds = sorted({e.kind for e in _platform_events(sit)})
    sit.expect("what the platform did", ["platform.callback_refused"], kinds)


@then('the log shows the callback refused as "{reason:Text}"')
@then('the log shows the callback refused as "{reason:Text}" with the key masked')
def refusal_logged(sit: ScenarioContext, reason: str) -> None:
    """The refused attempt is in the log with its reason; the key never is, only ``BK=***``."""
    refused = _platform_events(sit, "platform.callback_refused")
    sit.expect("refused callbacks in the log", 1, len(refused))
    sit.expect("reason logged", reason, refused[0].data.get("reason"))
    key = sit.vars["callback_key"]
    if key is not None:
        # Booleans only: an expectation is logged, so it must not carry the key either.
        sit.expect("the logged URL shows the key masked", True, f"BK={MASK}" in refused[0].data.get("url", ""))
        logged = json.dumps([e.data for e in sit.session.recorder.scope_events()])
        sit.expect("the key appears in the scenario's log", False, key in logged)


def _platform_events(sit: ScenarioContext, kind: str | None = None) -> list[Event]:
    events = sit.session.recorder.scope_events(kind)
    return events if kind else [e for e in events if e.kind.startswith("platform.")]
