"""The workbook's Gherkin features read as data: each scenario's section, tags, steps and lines.

Runs read the features through pytest-bdd; the reports, the blank workbook and `sit lint`
read them here, with the gherkin parser pytest-bdd uses itself, so all agree on what a
feature says. Imports nothing of the harness but its errors: every layer may read features.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gherkin.errors import CompositeParserException
from gherkin.parser import Parser

from harness.errors import InputError

SIT_PREFIX = "SIT-"  # a scenario's workbook ID is its tag that starts so: @SIT-PAY-001
FEATURES = "features"
_AT = re.compile(r"\((\d+):\d+\)")  # "(4:5): expected: ..." in a parser error


class FeatureError(InputError):
    """A feature file that cannot be read; ``line`` when the parser names one."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Scenario:
    """One scenario as its feature file states it (background steps included)."""

    sit_id: str  # "" when the scenario has no @SIT-... tag (runs and the workbook skip it)
    section: str  # the feature's name: the workbook section
    name: str
    feature_file: str  # relative to the project, as runs record it
    line: int
    tags: tuple[str, ...]  # the feature's and the scenario's, without "@", sorted
    steps: tuple[str, ...]  # "Given ...", "When ...", with data tables as "| a | b |" lines
    step_lines: tuple[int, ...]
    expected: tuple[str, ...]  # the Then steps (and the And/But after them)


@dataclass(frozen=True)
class Step:
    """One step as pytest-bdd matches it against the step definitions."""

    kind: str  # Given, When or Then; an And/But takes the kind before it ("" when nothing is before it)
    keyword: str  # as written: "And"
    text: str  # a Scenario Outline's <placeholders> filled in from one row of its examples
    line: int


def sit_id_of(tags: Iterable[str]) -> str:
    """The SIT ID among ``tags`` (the first in sorted order), or ""."""
    return next((tag for tag in sorted(tags) if tag.startswith(SIT_PREFIX)), "")


def feature_files(project: Path) -> list[Path]:
    root = project / FEATURES
    if not root.is_dir():
        raise InputError(f"{root}: no features folder; run from the sit-harness checkout or pass --project")
    return sorted(root.glob("*.feature"))


def read_feature(path: Path, rel: str) -> list[Scenario]:
    """Every scenario of the feature file at ``path`` (shown as ``rel``), rules included, in order."""
    return [scenario for scenario, _ in read_feature_steps(path, rel)]


def read_feature_steps(path: Path, rel: str) -> list[tuple[Scenario, tuple[Step, ...]]]:
    """As ``read_feature``, each scenario with its steps as pytest-bdd matches them (outlines: every example's)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise FeatureError(f"{rel}: cannot read it ({exc})") from None
    return list(_parsed(path, rel, stat.st_mtime_ns, stat.st_size))


# A run reads the features once per biller (its workbook), `sit run` with many billers checks each first:
# the same unchanged file is parsed once per process (a file that changed has another key).
@lru_cache(maxsize=256)
def _parsed(path: Path, rel: str, mtime_ns: int, size: int) -> tuple[tuple[Scenario, tuple[Step, ...]], ...]:
    try:
        document = Parser().parse(path.read_text(encoding="utf-8"))
    except CompositeParserException as exc:
        found = _AT.search(str(exc))
        line = int(found.group(1)) if found else None
        first = " ".join(str(exc).split()).removeprefix("Parser errors: ")
        raise FeatureError(f"{rel}{f':{line}' if line else ''}: not valid Gherkin ({first[:200]})", line) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FeatureError(f"{rel}: cannot read it ({exc})") from None
    feature = document.get("feature")
    if feature is None:
        return ()
    return tuple(_scenarios(feature["children"], feature["name"], rel, _tags(feature), []))


_Block = list[dict[str, Any]]  # the steps of one background or scenario, as the parser gives them


def _scenarios(children: Sequence[Mapping[str, Any]], section: str, rel: str, inherited: set[str],
               backgrounds: list[_Block]) -> Iterator[tuple[Scenario, tuple[Step, ...]]]:
    backgrounds = [*backgrounds, *(child["background"]["steps"] for child in children if "background" in child)]
    for child in children:
        if "rule" in child:
            rule = child["rule"]
            yield from _scenarios(rule["children"], section, rel, inherited | _tags(rule), backgrounds)
        elif "scenario" in child:
            scenario = child["scenario"]
            tags = tuple(sorted(inherited | _tags(scenario)))
            steps = [step for block in backgrounds for step in block] + scenario["steps"]
            yield Scenario(
                sit_id=sit_id_of(tags), section=section, name=scenario["name"], feature_file=rel,
                line=scenario["location"]["line"], tags=tags, steps=tuple(_text(s) for s in steps),
                step_lines=tuple(s["location"]["line"] for s in steps), expected=_expected(steps),
            ), _matched_steps(backgrounds, scenario)


def _matched_steps(backgrounds: list[_Block], scenario: dict[str, Any]) -> tuple[Step, ...]:
    """pytest-bdd's view: kinds resolved per block; an outline's steps once per example row."""
    steps = [step for block in backgrounds for step in _kinds(block)]
    rows = [dict(zip(header, row, strict=True)) for header, row in _examples(scenario)] or [{}]
    for row in rows:
        steps.extend(Step(step.kind, step.keyword, _filled(step.text, row), step.line)
                     for step in _kinds(scenario["steps"]))
    return tuple(dict.fromkeys(steps))


def _filled(text: str, row: dict[str, str]) -> str:
    """``text`` with each <name> an example row has replaced by its value, as pytest-bdd renders it."""
    return re.sub(r"<([^<>]+)>", lambda m: row.get(m.group(1), m.group(0)), text)


def _kinds(block: _Block) -> list[Step]:
    kind, out = "", []
    for step in block:
        kind = _KINDS.get(step.get("keywordType", ""), kind)
        out.append(Step(kind, step["keyword"].strip(), step["text"], step["location"]["line"]))
    return out


_KINDS = {"Context": "Given", "Action": "When", "Outcome": "Then"}


def _examples(scenario: dict[str, Any]) -> Iterator[tuple[list[str], list[str]]]:
    for examples in scenario.get("examples", []):
        header = [cell["value"] for cell in (examples.get("tableHeader") or {}).get("cells", [])]
        for row in examples.get("tableBody", []):
            yield header, [cell["value"] for cell in row["cells"]]


def _tags(node: Mapping[str, Any]) -> set[str]:
    return {tag["name"].lstrip("@") for tag in node.get("tags", [])}


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
