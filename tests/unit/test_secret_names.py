"""Every secret a profile names is a secret of the run: redacted, and looked for by the end-of-run leak check.

The leak check searches for ``Secrets.values``; these tests walk each demo biller's profiles (its own
and its partner's) for every field naming an environment variable, so that a profile field added
later (another partner's credentials) cannot escape the check unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.events import Event, Redactor
from harness.profiles import load_biller
from harness.reports import find_leaks
from harness.secrets import resolve

ROOT = Path(__file__).resolve().parents[2]
BILLERS = sorted(path.stem for path in (ROOT / "fixtures" / "billers").glob("*.yaml"))


def env_fields(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, variable) of each field that names an environment variable: ``*_env`` or ``env``."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if (key == "env" or str(key).endswith("_env")) and isinstance(value, str):
                yield where, value
            else:
                yield from env_fields(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from env_fields(value, f"{path}[{index}]")


def test_both_partners_are_covered() -> None:
    partners = {load_biller(ROOT, slug).partner.name for slug in BILLERS}
    assert {"cayenta", "caselle"} <= partners


@pytest.mark.parametrize("slug", BILLERS)
def test_every_variable_a_profile_names_is_a_secret_of_the_run(slug: str, monkeypatch: pytest.MonkeyPatch) -> None:
    biller = load_biller(ROOT, slug)
    named = dict(env_fields({"partner": biller.partner.model_dump(), "biller": biller.profile.model_dump()}))
    assert named, "the profiles name no secret at all: the walk above is broken"
    for variable in named.values():
        monkeypatch.setenv(variable, f"CANARY-{variable}-0001")

    secrets = resolve(biller, Redactor())

    assert set(secrets.values) == set(named.values()), named
    assert secrets.demo == []


@pytest.mark.parametrize("slug", BILLERS)
def test_the_leak_check_finds_each_named_secret_in_an_exchange(slug: str, monkeypatch: pytest.MonkeyPatch) -> None:
    biller = load_biller(ROOT, slug)
    names = set(dict(env_fields({"partner": biller.partner.model_dump(), "biller": biller.profile.model_dump()}))
                .values())
    for variable in names:
        monkeypatch.setenv(variable, f"CANARY-{variable}-0001")
    values = resolve(biller, Redactor()).values
    events = [Event("run", seq, "partner.exchange", "2026-11-30T00:00:00+00:00",
                    {"request_headers": {"Authorization": f"Bearer {value}"}}, "0" * 64, "0" * 64)
              for seq, value in enumerate(values.values(), 1)]

    found = {leak.name: leak.seq for leak in find_leaks(values, events)}

    assert found == {name: seq for seq, name in enumerate(values, 1)}
