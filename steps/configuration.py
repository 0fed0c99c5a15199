"""The biller's configuration on the platform, checked against what the partner's integration needs."""

from __future__ import annotations

from typing import Any

from harness.catalogue import then, when
from harness.profiles.models import Required
from harness.profiles.scope import out_of_scope
from harness.scenario import ScenarioContext, listed

NOT_SET = "not set"


@when("the platform's configuration of the biller is read")
def read_configuration(sit: ScenarioContext) -> None:
    """The biller's platform options and advanced settings, as the platform holds them."""
    sit.vars["configuration"] = sit.platform.configuration()


@then("every option and setting the partner's integration needs has the value it needs")
def required_configuration(sit: ScenarioContext) -> None:
    """Each option and setting the partner profile requires (``required_configuration``) where its
    capability is in scope, named with its number and the value the platform holds."""
    configuration = sit.vars["configuration"]
    needed = [r for r in sit.biller.required_configuration if r.when is None
              or out_of_scope(sit.biller, r.when) is None]
    held = [(configuration.options if r.kind == "option" else configuration.settings).get(r.number) for r in needed]
    wanted = [_said(r, r.value if r.value is not None else "set") for r in needed]
    actual = [_said(r, _shown(r, value)) for r, value in zip(needed, held, strict=True)]
    sit.expect("the biller's configuration to have {}", wanted, actual, "the biller's configuration has {}",
               instead="it has {}", show=listed(none="nothing the partner requires"))


def _shown(required: Required, value: Any) -> Any:
    """The value as a requirement compares it: "set" for any value where none is required."""
    if value is None:
        return NOT_SET
    return "set" if required.value is None else value


def _said(required: Required, value: Any) -> str:
    words = {True: "ON", False: "OFF"}.get(value, value) if isinstance(value, bool) else value
    return f"{required.kind} {required.number} ({required.name}) {words}"
