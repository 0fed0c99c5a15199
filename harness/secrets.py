"""Secrets come from the environment, named by the profiles; never from a file in the repo.

Against the embedded stubs a variable left unset takes the documented demo value
``demo-<variable name in lower case>`` so that `make demo` runs on a fresh clone. Every
value, demo or real, is registered with the redactor before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from harness.events import Redactor
from harness.profiles import Biller


def demo_value(env_name: str) -> str:
    return f"demo-{env_name.lower()}"


@dataclass
class Secrets:
    values: dict[str, str] = field(default_factory=dict)
    demo: list[str] = field(default_factory=list)

    def get(self, env_name: str) -> str:
        return self.values[env_name]


def resolve(biller: Biller, redactor: Redactor) -> Secrets:
    """Read the biller's and partner's secrets and teach the redactor every one of them."""
    creds = biller.partner.credentials
    names = [creds.user_env, creds.secret_env, *([creds.token_env] if creds.token_env else []),
             biller.profile.sftp.password_env, *(key.env for key in biller.profile.api_keys)]
    secrets = Secrets()
    for name in names:
        value = os.environ.get(name)
        if not value:
            value = demo_value(name)
            secrets.demo.append(name)
        secrets.values[name] = value
        redactor.add_secret(value)
    return secrets
