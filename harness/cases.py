"""A biller's SIT workbook cases: the features' scenarios that belong to its integration.

Each case is in scope or N/A with the reason the profiles give. A run records its workbook
when it starts (the ``run.workbook`` event), so that every report reads the cases back from
the log: a feature added, changed or broken later changes no report of an earlier run.
Scenarios tagged for another partner are not part of the biller's workbook at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from harness.features import Scenario, feature_files, read_feature
from harness.profiles import Biller, belongs, scenario_scope
from harness.profiles.scope import CAPABILITY_TAG, WITHHELD_TAG

WORKBOOK_EVENT = "run.workbook"


@dataclass(frozen=True)
class SitCase(Scenario):
    """One workbook row as the features define it, with its scope for the biller."""

    na_reason: str | None = None  # why it is N/A for the biller; None when in scope

    def record(self) -> dict[str, Any]:
        """The case as the log keeps it (JSON: tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> SitCase:
        """A case as a run recorded it; fields a later version added take their defaults."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {name: tuple(value) if isinstance(value, list) else value
                  for name, value in data.items() if name in known}
        return cls(**values)


def biller_workbook(project: Path, biller: Biller) -> list[SitCase]:
    """Every scenario with a SIT ID that belongs to the biller's integration, in feature order.

    A feature that does not parse raises ``FeatureError`` (file and line): no workbook, no run.
    """
    scenarios = [scenario for path in feature_files(project)
                 for scenario in read_feature(path, path.relative_to(project).as_posix())
                 if scenario.sit_id and belongs(biller, scenario.tags)]
    posted_in = _posted_in(biller, scenarios)
    return [SitCase(**vars(scenario), na_reason=scenario_scope(biller, scenario.tags, posted_in))
            for scenario in scenarios]


def _posted_in(biller: Biller, scenarios: list[Scenario]) -> dict[str, list[str]]:
    """Capability -> the SIT IDs of the biller's in-scope scenarios that post it: where a scenario
    proving it withheld is N/A, the workbook says where to look instead."""
    posted: dict[str, list[str]] = {}
    for scenario in scenarios:
        if any(tag.startswith(WITHHELD_TAG) for tag in scenario.tags) or scenario_scope(biller, scenario.tags):
            continue
        for tag in scenario.tags:
            if tag.startswith(CAPABILITY_TAG):
                posted.setdefault(tag.removeprefix(CAPABILITY_TAG), []).append(scenario.sit_id)
    return posted


def cases_from_event(data: Mapping[str, Any]) -> list[SitCase]:
    """The cases of a ``run.workbook`` event."""
    return [SitCase.from_record(case) for case in data.get("cases", [])]
