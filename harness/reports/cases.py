"""The workbook's test cases, read from the Gherkin features (one per SIT ID).

The features are the workbook's source: the section is the feature, the steps are the
scenario's steps, the expected result is what its ``Then`` steps say. A case's N/A
reason comes from the biller's profiles through the same rule a run uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gherkin.errors import CompositeParserException
from gherkin.parser import Parser

from harness.errors import InputError
from harness.profiles import Biller, scenario_scope

SIT_PREFIX = "SIT-"
FEATURES = "features"


@dataclass(frozen=True)
class SitCase:
    """One workbook row as the features define it."""

    sit_id: str
    section: str
    name: str
    feature_file: str  # relative to the project, as runs record it
    line: int
    tags: tuple[str, ...]
    steps: tuple[str, ...]  # "Given ...", "When ...", with data tables as "| a | b |" lines
    step_lines: tuple[int, ...]
    expected: tuple[str, ...]  # the Then steps (and the And/But after them)

    def na_reason(self, biller: Biller) -> str | None:
        return scenario_scope(biller, self.tags)


def load_cases(project: Path) -> list[SitCase]:
    """Every scenario with a SIT ID in ``features/*.feature``, in file then scenario order."""
    root = project / FEATURES
    if not root.is_dir():
        raise InputError(f"{root}: no features folder; run from the sit-harness checkout or pass --project")
    cases: list[SitCase] = []
    for path in sorted(root.glob("*.feature")):
        cases.extend(_cases(path, path.relative_to(project).as_posix()))
    return cases


def _cases(path: Path, rel: str) -> list[SitCase]:
    try:
        document = Parser().parse(path.read_text(encoding="utf-8"))
    except CompositeParserException as exc:
        raise InputError(f"{rel}: not valid Gherkin ({' '.join(str(exc).split())[:200]})") from None
    feature = document.get("feature")
    if feature is None:
        return []
    feature_tags = [t["name"].lstrip("@") for t in feature["tags"]]
    background = [s for child in feature["children"] if "background" in child for s in child["background"]["steps"]]
    cases = []
    for child in feature["children"]:
        scenario = child.get("scenario")
        if scenario is None:
            continue
        tags = tuple(sorted({*feature_tags, *(t["name"].lstrip("@") for t in scenario["tags"])}))
        sit_id = next((t for t in tags if t.startswith(SIT_PREFIX)), None)
        if sit_id is None:
            continue
        steps = [*background, *scenario["steps"]]
        cases.append(SitCase(
            sit_id=sit_id, section=feature["name"], name=scenario["name"], feature_file=rel,
            line=scenario["location"]["line"], tags=tags, steps=tuple(_text(s) for s in steps),
            step_lines=tuple(s["location"]["line"] for s in steps), expected=_expected(steps),
        ))
    return cases


def _text(step: dict[str, Any]) -> str:
    text = f"{step['keyword'].strip()} {step['text']}"
    if table := step.get("dataTable"):
        rows = ("| " + " | ".join(cell["value"] for cell in row["cells"]) + " |" for row in table["rows"])
        text += "\n" + "\n".join(rows)
    if doc := step.get("docString"):
        text += "\n" + doc["content"]
    return text


def _expected(steps: list[dict[str, Any]]) -> tuple[str, ...]:
    """The outcome steps: each Then, and the And/But steps that continue it."""
    kind, out = "", []
    for step in steps:
        if step.get("keywordType") != "Conjunction":
            kind = step.get("keywordType", "")
        if kind == "Outcome":
            out.append(_text(step))
    return tuple(out)
