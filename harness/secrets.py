"""Secrets come from the environment, named by the profiles; never from a file in the repo.

Against the embedded stubs a variable left unset takes the documented demo value
``demo-<variable name in lower case>`` so that `make demo` runs on a fresh clone. Every
value, demo or real, is registered with the redactor before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.events import Redactor, StoreUrl
from harness.profiles import Biller

# The leak check's name for the store's password: a finding names it, never its value.
STORE_PASSWORD = "the event store's password (--store / $SIT_STORE)"


def demo_value(env_name: str) -> str:
    return f"demo-{env_name.lower()}"


@dataclass
class Secrets:
    values: dict[str, str] = field(default_factory=dict)
    demo: list[str] = field(default_factory=list)

    def get(self, env_name: str) -> str:
        return self.values[env_name]


def secret_names(partner: Mapping[str, Any], biller: Mapping[str, Any]) -> list[str]:
    """The environment variables that hold a run's secrets, as the profiles (loaded or recorded) name them."""
    creds = partner.get("credentials") or {}
    names = [creds.get("user_env"), creds.get("secret_env"), creds.get("token_env"),
             (biller.get("sftp") or {}).get("password_env"), (biller.get("partner_sftp") or {}).get("password_env"),
             *(key.get("env") for key in biller.get("api_keys") or [])]
    return [name for name in names if name]


def recorded_secrets(profiles: Mapping[str, Any], demo: Iterable[str]) -> dict[str, str]:
    """The secret values of a recorded run that this environment knows: each variable the run's profiles
    name, as set here, and the demo values the run used (``demo``). What a report must never show."""
    data = {which: (profiles.get(which) or {}).get("data") or {} for which in ("partner", "biller")}
    values = {name: os.environ[name] for name in secret_names(data["partner"], data["biller"]) if os.environ.get(name)}
    return values | {f"{name} (demo value)": demo_value(name) for name in demo}


def resolve(biller: Biller, redactor: Redactor) -> Secrets:
    """Read the biller's and partner's secrets and teach the redactor every one of them."""
    names = secret_names(biller.partner.model_dump(), biller.profile.model_dump())
    secrets = Secrets()
    for name in names:
        value = os.environ.get(name)
        if not value:
            value = demo_value(name)
            secrets.demo.append(name)
        secrets.values[name] = value
        redactor.add_secret(value)
    return secrets


def add_store_password(secrets: Secrets, store: StoreUrl, redactor: Redactor) -> None:
    """A password in the store's URL is one of the run's secrets: masked in its events, looked for by its leak check."""
    if store.password:
        secrets.values[STORE_PASSWORD] = store.password
        redactor.add_secret(store.password)
