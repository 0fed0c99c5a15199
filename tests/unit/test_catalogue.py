"""The step catalogue: every phrase the features use is defined, and every step says what it means."""

from __future__ import annotations

import sys
from pathlib import Path

import parse
from pytest_bdd.parser import FeatureParser

from harness.catalogue import TYPES, load_catalogue

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))
from steps import STEP_MODULES  # noqa: E402


def catalogue() -> list:
    return load_catalogue(STEP_MODULES)


def test_every_step_has_a_meaning_and_a_unique_phrase() -> None:
    docs = catalogue()
    assert docs, "no steps registered"
    assert [d.pattern for d in docs if not d.meaning] == []
    keys = [(d.keyword, d.pattern) for d in docs]
    assert len(keys) == len(set(keys))


def test_every_step_in_the_features_has_exactly_one_definition() -> None:
    patterns = [(d.keyword, parse.compile(d.pattern, extra_types=TYPES)) for d in catalogue()]
    undefined, ambiguous = [], []
    for path in sorted((PROJECT / "features").glob("*.feature")):
        feature = FeatureParser(str(PROJECT / "features"), path.name).parse()
        for scenario in feature.scenarios.values():
            for step in scenario.steps:
                matches = [p for kw, p in patterns if kw.lower() == step.type and p.parse(step.name)]
                target = undefined if not matches else ambiguous if len(matches) > 1 else None
                if target is not None:
                    target.append(f"{path.name}:{step.line_number}: {step.keyword} {step.name}")
    assert undefined == []
    assert ambiguous == []


def test_every_scenario_has_one_sit_id_and_a_capability_tag() -> None:
    ids: list[str] = []
    for path in sorted((PROJECT / "features").glob("*.feature")):
        feature = FeatureParser(str(PROJECT / "features"), path.name).parse()
        for scenario in feature.scenarios.values():
            tags = scenario.tags
            sit = [t for t in tags if t.startswith("SIT-")]
            assert len(sit) == 1, f"{path.name}: {scenario.name}: {sit}"
            # A scope tag: where the capability is in scope, or (withheld) exactly where it is not.
            assert any(t.startswith(("capability:", "withheld:")) for t in tags), f"{path.name}: {scenario.name}"
            ids.extend(sit)
    assert len(ids) == len(set(ids)), "SIT IDs must be unique"
