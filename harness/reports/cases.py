"""The workbook's test cases: the features' scenarios that carry a SIT ID (one row each).

The features are the workbook's source: the section is the feature, the steps are the
scenario's steps, the expected result is what its ``Then`` steps say. A case's N/A
reason comes from the biller's profiles through the same rule a run uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.features import Scenario, feature_files, read_feature
from harness.profiles import Biller, scenario_scope


@dataclass(frozen=True)
class SitCase(Scenario):
    """One workbook row as the features define it."""

    def na_reason(self, biller: Biller) -> str | None:
        return scenario_scope(biller, self.tags)


def load_cases(project: Path) -> list[SitCase]:
    """Every scenario with a SIT ID in ``features/*.feature``, in file then scenario order."""
    return [SitCase(**vars(scenario)) for path in feature_files(project)
            for scenario in read_feature(path, path.relative_to(project).as_posix()) if scenario.sit_id]
