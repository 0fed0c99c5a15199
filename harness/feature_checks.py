"""The features checked before a run: what `sit lint` reports and what `sit run` refuses to start on.

One function, ``check_features``, so that lint and run agree: Gherkin that does not parse, a
scenario without a SIT ID (or with two), a SIT ID used twice, a step no phrase of the catalogue
reads, a value a step's parameter refuses, a step in the wrong place or without the tag it needs,
a capability or setting tag the partner profiles do not know, a withheld tag for what the platform
never makes (or beside the same capability tag). Each finding names the file and line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import parse

from harness.catalogue import TYPE_HELP, TYPES, StepDoc
from harness.errors import InputError
from harness.features import SIT_PREFIX, FeatureError, Scenario, Step, feature_files, read_feature_steps

__all__ = ["FeatureCheck", "Finding", "check_features"]

_TYPED = re.compile(r"{(\w+):(\w+)}")  # a typed field of a step pattern: {amount:Money}


@dataclass(frozen=True)
class Finding:
    """One thing found before a run: ``where`` is ``file:line`` relative to the project when it can be."""

    level: Literal["error", "warning"]
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper()} {self.where}: {self.message}"


@dataclass
class FeatureCheck:
    """What ``check_features`` found (errors only) and how many scenarios it read."""

    findings: list[Finding] = field(default_factory=list)
    scenarios: int = 0


def check_features(project: Path, catalogue: Sequence[StepDoc]) -> FeatureCheck:
    """Every feature of ``project`` checked against the step ``catalogue`` and the partner profiles."""
    check = FeatureCheck()
    try:
        paths = feature_files(project)
    except InputError as exc:
        check.findings.append(Finding("error", "features", str(exc).replace(f"{project}/", "")))
        return check
    matcher, tags = _Matcher(catalogue), _TagRules(project)
    first_seen: dict[str, Scenario] = {}
    for path in paths:
        rel = path.relative_to(project).as_posix()
        try:
            scenarios = read_feature_steps(path, rel)
        except FeatureError as exc:
            where = f"{rel}:{exc.line}" if exc.line else rel
            check.findings.append(Finding("error", where, str(exc).removeprefix(f"{where}: ")))
            continue
        check.scenarios += len(scenarios)
        for scenario, steps in scenarios:
            errors = [*_ids(scenario, first_seen), *tags.problems(scenario), *matcher.problems(scenario, steps)]
            check.findings.extend(Finding("error", where, message) for where, message in errors)
    return check


# --- SIT IDs ------------------------------------------------------------------------------------


def _ids(scenario: Scenario, first_seen: dict[str, Scenario]) -> Iterable[tuple[str, str]]:
    at = f"{scenario.feature_file}:{scenario.line}"
    ids = [tag for tag in scenario.tags if tag.startswith(SIT_PREFIX)]
    if not ids:
        yield at, f"scenario '{scenario.name}' has no SIT ID tag (@{SIT_PREFIX}...): runs and the workbook skip it"
        return
    if len(ids) > 1:
        yield at, (f"scenario '{scenario.name}' has {len(ids)} SIT IDs (@{', @'.join(ids)}): the workbook "
                   f"keeps only {scenario.sit_id}; give it one")
    other = first_seen.setdefault(scenario.sit_id, scenario)
    if other is not scenario:
        yield at, (f"SIT ID {scenario.sit_id} of scenario '{scenario.name}' is also the ID of '{other.name}' at "
                   f"{other.feature_file}:{other.line}: one result would replace the other in the workbook; "
                   "give each scenario its own ID")


# --- tags that name profile data ----------------------------------------------------------------


class _TagRules:
    """``@capability:``, ``@setting:``, ``@layout:`` and ``@withheld:`` tags against the partner profiles that load:
    a run fails on a capability a partner's matrix lacks, a setting tag nobody names would make its scenario N/A
    everywhere, and a withheld scenario for what the platform never makes could never run."""

    def __init__(self, project: Path) -> None:
        # Profiles are read here, not at import: harness.profiles imports this module (its lint does).
        from harness.errors import ProfileError
        from harness.profiles.loader import known_partners, load_partner

        self._partners = []
        for name in known_partners(project):
            try:
                self._partners.append(load_partner(project, name))
            except ProfileError:
                continue  # `sit lint` reports the profile itself; `sit run` refuses it when it loads it
        self._seen: set[tuple[str, str]] = set()

    def problems(self, scenario: Scenario) -> Iterable[tuple[str, str]]:
        if not self._partners:
            return
        for tag in scenario.tags:
            kind, _, value = tag.partition(":")
            if (scenario.feature_file, tag) in self._seen:
                continue  # a feature-level tag, or one repeated: said once per file
            rules: dict[str, Callable[[str], str | None]] = {
                "capability": self._capability, "setting": self._setting, "setting-off": self._setting,
                "layout": self._layout, "withheld": self._withheld, "transport": self._transport}
            rule = rules.get(kind)
            message = rule(value) if rule is not None else None
            if kind == "withheld" and f"capability:{value}" in scenario.tags:
                message = (f"the scenario also carries @capability:{value}, so it never applies (a withheld "
                           "scenario runs only where the capability is out of scope); keep one of the two tags")
            if message:
                self._seen.add((scenario.feature_file, tag))
                yield f"{scenario.feature_file}:{scenario.line}", f"tag @{tag}: {message}"

    def _capability(self, name: str) -> str | None:
        missing = [p.name for p in self._partners if name not in p.capabilities]
        if not missing:
            return None
        files = ", ".join(f"fixtures/partners/{p}.yaml" for p in missing)
        return f"no entry for '{name}' in the capability matrix of {files}; add it with its status and reason"

    @staticmethod
    def _layout(part: str) -> str | None:
        from harness.profiles.scope import FILE_PARTS, LAYOUT_PARTS

        parts = [*LAYOUT_PARTS, *FILE_PARTS]
        return None if part in parts else f"no such part of a file layout ({', '.join(parts)})"

    @staticmethod
    def _transport(kind: str) -> str | None:
        kinds = ("api", "file", "callback")
        return None if kind in kinds else f"no such transport (transports are {', '.join(kinds)})"

    def _withheld(self, name: str) -> str | None:
        from harness.profiles.scope import PRODUCED

        if name not in PRODUCED:
            return (f"the platform makes nothing for '{name}' that it could hold back (it makes what "
                    f"{', '.join(sorted(PRODUCED))} post); tag the scenario @capability:{name} instead, so that it "
                    "is N/A with the reason where the capability is not in scope")
        return self._capability(name)

    def _setting(self, need: str) -> str | None:
        role, _, key = need.partition(":")
        found = [p.settings[role] for p in self._partners if role in p.settings]
        if not found:
            roles = sorted({r for p in self._partners for r in p.settings})
            return f"no partner profile names a biller setting '{role}' (settings: {', '.join(roles) or 'none'})"
        keys = sorted({k for setting in found for k in setting.keys})
        if key and key not in keys:
            return f"setting '{role}' has no key '{key}' (keys: {', '.join(keys) or 'none: it is not a list per key'})"
        return None


# --- steps against the catalogue ----------------------------------------------------------------


@dataclass(frozen=True)
class _Phrase:
    """A catalogue step compiled once: as pytest-bdd matches it, and with its typed fields untyped,
    to tell a value its type refuses from a phrase nobody wrote."""

    doc: StepDoc
    strict: parse.Parser
    loose: parse.Parser | None  # None when the pattern has no typed field
    types: dict[str, str]  # field -> type name, for the typed fields

    @property
    def written(self) -> str:
        return f"{self.doc.keyword} {self.doc.phrase}"


@dataclass(frozen=True)
class _Outcome:
    problem: str | None = None  # what follows "step 'When ...'" in the finding
    phrase: _Phrase | None = None
    values: tuple[tuple[str, Any], ...] = ()


class _Matcher:
    def __init__(self, catalogue: Sequence[StepDoc]) -> None:
        self._phrases = [_compile(doc) for doc in catalogue]
        self._cache: dict[tuple[str, str], _Outcome] = {}

    def problems(self, scenario: Scenario, steps: Sequence[Step]) -> Iterable[tuple[str, str]]:
        for step in steps:
            where = f"{scenario.feature_file}:{step.line}"
            written = f"{step.keyword} {step.text}"
            if not step.kind:
                yield where, (f"step '{written}' comes first in its scenario or background: "
                              "begin with Given, When or Then")
                continue
            outcome = self._cache.get((step.kind, step.text))
            if outcome is None:
                outcome = self._cache[step.kind, step.text] = self._match(step.kind, step.text)
            if outcome.problem:
                yield where, f"step '{written}'{outcome.problem}"
            elif outcome.phrase and (need := outcome.phrase.doc.needs.format(**dict(outcome.values))) and \
                    need not in scenario.tags:
                yield where, (f"step '{written}' needs the tag @{need} on its scenario, so that the scenario is "
                              "N/A for a biller whose settings do not provide it")

    def _match(self, kind: str, text: str) -> _Outcome:
        mine = [p for p in self._phrases if p.doc.keyword == kind]
        exact = [(p, values) for p in mine if (values := _parse(p.strict, text)) is not None]
        if len(exact) == 1:
            return _Outcome(phrase=exact[0][0], values=tuple(exact[0][1].items()))
        if exact:
            return _Outcome(f" matches {len(exact)} phrases ({'; '.join(p.written for p, _ in exact)}): "
                            "make the step definitions distinct")
        if refused := self._refused(mine, text):
            return _Outcome(refused)
        elsewhere = [p for p in self._phrases if p.doc.keyword != kind and _parse(p.strict, text) is not None]
        if elsewhere:
            return _Outcome(f" is not a {kind} step: '{elsewhere[0].written}' reads it; write it as a "
                            f"{elsewhere[0].doc.keyword} step (And/But take the kind of the step before them)")
        nearest = difflib.get_close_matches(text, [p.doc.phrase for p in mine], n=1, cutoff=0.0)
        hint = f"; the nearest is '{kind} {nearest[0]}'" if nearest else ""
        return _Outcome(f" is in no {kind} phrase of the step catalogue{hint} (`sit steps` lists them all)")

    def _refused(self, phrases: list[_Phrase], text: str) -> str | None:
        """What the closest phrase refuses of ``text`` (the one refusing fewest values), or None."""
        best: tuple[int, str] | None = None
        for phrase in phrases:
            raw = _parse(phrase.loose, text) if phrase.loose else None
            if raw is None:
                continue
            refusals = [f"{{{name}}} takes {TYPE_HELP.get(kind, kind)}, not '{raw[name]}'"
                        for name, kind in phrase.types.items() if not _fits(kind, str(raw[name]))]
            refusals = refusals or ["has a value its phrase cannot read"]
            if best is None or len(refusals) < best[0]:
                best = len(refusals), f": {'; '.join(refusals)} (phrase '{phrase.written}')"
        return best[1] if best else None


def _compile(doc: StepDoc) -> _Phrase:
    types = {name: kind for name, kind in _TYPED.findall(doc.pattern) if kind in TYPES}
    loose = _TYPED.sub(lambda m: f"{{{m.group(1)}}}" if m.group(2) in TYPES else m.group(0), doc.pattern)
    return _Phrase(doc, parse.compile(doc.pattern, extra_types=TYPES),
                   parse.compile(loose) if types else None, types)


def _parse(parser: parse.Parser, text: str) -> dict[str, Any] | None:
    """The step's named values as pytest-bdd's parse parser reads them, or None when it does not match."""
    try:
        found = parser.parse(text)
    except ValueError:  # a type's conversion refused the value: pytest-bdd counts that as no match
        return None
    return dict(found.named) if isinstance(found, parse.Result) else None


def _fits(kind: str, value: str) -> bool:
    pattern = getattr(TYPES[kind], "pattern", None)
    return pattern is None or re.fullmatch(pattern, value) is not None
