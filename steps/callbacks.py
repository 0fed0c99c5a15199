"""Partner callbacks: the partner tells the platform an account changed, authenticated by the
biller's API key (BK); the platform refreshes the account, or refuses and changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal

from harness.catalogue import then, when
from harness.events import MASK, Event
from harness.scenario import ScenarioContext, counted, listed

ACCEPTED, UNAUTHORIZED = 200, 401
_http_status = "HTTP {}".format


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
    _answered(sit, ACCEPTED)
    received = [e.data.get("account") for e in _platform_events(sit, "platform.callback_received")]
    sit.expect("the platform to record {}", [sit.vars["account"]], received, "the platform recorded {}",
               instead="it recorded {}", show=listed(lambda account: f"a callback for account {account}",
                                                     none="no callback"))


def _answered(sit: ScenarioContext, status: int) -> None:
    sit.expect("the platform to answer the callback with {}", status, sit.vars["callback"].status,
               "the platform answered the callback with {}", instead="it answered {}", show=_http_status)


@then("the platform refreshed the account to a balance of {amount:Money}")
def callback_refreshed(sit: ScenarioContext, amount: Decimal) -> None:
    """After the callback the platform holds the partner's current balance: what the payer now sees."""
    seen = [e.data["balance"] for e in _platform_events(sit, "platform.balance_observed")
            if e.data.get("account") == sit.vars["account"]]
    sit.expect("the platform to hold {} for the account", f"{amount:.2f}", seen[-1] if seen else None,
               "the platform holds {} for the account", instead="it holds {}",
               show=lambda balance: "no balance" if balance is None else f"a balance of {balance}")


@then("the platform refuses the callback as unauthorized and processes nothing")
def callback_refused(sit: ScenarioContext) -> None:
    """A 401; no request to the partner, and no platform event but the refusal."""
    _answered(sit, UNAUTHORIZED)
    sit.expect("the partner to receive {}", 0, len(sit.partner.calls()), "the partner received {}",
               instead="it received {}", show=counted("request"))
    kinds = sorted({e.kind for e in _platform_events(sit)})
    sit.expect("the platform's only action to be: {}", ["platform.callback_refused"], kinds,
               "the platform's actions: {}",
               show=listed(lambda kind: kind.removeprefix("platform.").replace("_", " "), none="nothing"))


@then('the log shows the callback refused as "{reason:Text}"')
@then('the log shows the callback refused as "{reason:Text}" with the key masked')
def refusal_logged(sit: ScenarioContext, reason: str) -> None:
    """The refused attempt is in the log with its reason; the key never is, only ``BK=***``."""
    refused = _platform_events(sit, "platform.callback_refused")
    sit.expect("the log to show {}", 1, len(refused), "the log shows {}", instead="it shows {}",
               show=counted("refused callback"))
    sit.expect("the log to give the reason {}", reason, refused[0].data.get("reason"), "the log gives the reason {}",
               instead="it gives {}", show=lambda text: f'"{text}"' if text else "no reason")
    key = sit.vars["callback_key"]
    if key is not None:
        # Booleans only: an expectation is logged, so it must not carry the key either.
        # Not "BK=" in a sentence: the log's redaction would take what follows it for a key.
        sit.expect("the logged URL to show the key masked", True, f"BK={MASK}" in refused[0].data.get("url", ""),
                   "the logged URL shows the key {}", show={True: "masked", False: "unmasked"})
        logged = json.dumps([e.data for e in sit.session.recorder.scope_events()])
        sit.expect("the key to appear nowhere in the scenario's log", False, key in logged,
                   "the key appears {} in the scenario's log", show={False: "nowhere", True: "in the clear"})


def _platform_events(sit: ScenarioContext, kind: str | None = None) -> list[Event]:
    events = sit.session.recorder.scope_events(kind)
    return events if kind else [e for e in events if e.kind.startswith("platform.")]
