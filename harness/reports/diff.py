"""`sit diff`: what changed between two runs, per SIT ID and per partner call.

A projection of two event logs, like every report: it reads the logs (and the partner
profiles the runs recorded), never the platform or the partner side. A run before and after a partner's new
version (or a platform release) should differ only where behaviour changed, so fields that
differ on every run by design (references carrying the run id, dates) are ignored by name,
as the partner profile's ``evidence.volatile_fields`` lists them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Literal

from rich.console import Console
from rich.text import Text

from harness.reports.bodies import content_type, leaf_name
from harness.reports.bodies import fields as body_fields
from harness.reports.fold import RunRecord, fold
from harness.reports.log import RunLog
from harness.reports.personal import PERSONAL

ABSENT = "absent"  # the status of a SIT ID that one of the runs does not have
# What a partner call is compared on besides its decoded fields and bodies; the rest of an
# exchange (journal id, times, most headers) differs on every run and says nothing.
_ATTRIBUTES = ("method", "url", "status", "matched", "stub", "fault")
# Which stub answered says nothing where a real partner answered one of the runs (record, live modes).
_REAL_ATTRIBUTES = tuple(name for name in _ATTRIBUTES if name != "stub")
_SHOWN = 160  # longest value printed in full: a PDF in base64 would drown the report

Key = tuple[str, str]  # (part, path): part is "call", "fields", "request" or "response"
Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class FieldChange:
    """One compared field whose value differs; ``None`` where a run has no such field."""

    part: str
    path: str
    before: str | None
    after: str | None

    @property
    def label(self) -> str:
        return self.path if self.part == "call" else f"{self.part} {self.path}".rstrip()


@dataclass(frozen=True)
class CallChange:
    """A partner call one run made and the other did not, or made differently."""

    call: str
    number: int  # which call of that name in the scenario, from 1 (run B's count for an added call)
    change: Change
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class ScenarioDiff:
    """How one SIT ID differs: its status in each run and its partner calls."""

    sit_id: str
    status_a: str
    status_b: str
    calls: tuple[CallChange, ...] = ()


@dataclass(frozen=True)
class RunDiff:
    """The differing SIT IDs (only those) and what was compared."""

    run_a: str
    run_b: str
    sit_ids: int
    calls_compared: int
    volatile: tuple[str, ...]
    scenarios: tuple[ScenarioDiff, ...]
    personal: tuple[str, ...] = ()  # compared masked

    @property
    def identical(self) -> bool:
        return not self.scenarios


@dataclass
class _Call:
    name: str
    number: int
    values: dict[Key, str]  # only what is compared, not the whole event

    @property
    def signature(self) -> tuple[str, tuple[tuple[Key, str], ...]]:
        """Equal for two calls exactly when nothing compared differs."""
        return self.name, tuple(sorted(self.values.items()))


@dataclass
class _Scenario:
    status: str
    calls: list[_Call] = field(default_factory=list)
    names: Counter[str] = field(default_factory=Counter)

    def add(self, data: Mapping[str, Any], rules: _Rules) -> None:
        name = str(data.get("call", ""))
        self.names[name] += 1
        self.calls.append(_Call(name, self.names[name], _values(data, rules)))


@dataclass(frozen=True)
class _Rules:
    """What is compared: the call attributes; fields by leaf name, except ``volatile`` ones (left out)
    and ``personal`` ones (compared masked: present or not, never shown; a recorded pack masks them)."""

    attributes: tuple[str, ...]
    volatile: frozenset[str]
    personal: frozenset[str]


def volatile_fields(runs: Iterable[RunLog]) -> tuple[str, ...]:
    """The union of the volatile field names of the partner profiles the runs recorded, sorted."""
    return _evidence_names(runs, "volatile_fields")


def personal_fields(runs: Iterable[RunLog]) -> tuple[str, ...]:
    """The union of the personal field names of the partner profiles the runs recorded, sorted."""
    return _evidence_names(runs, "personal_fields")


def _evidence_names(runs: Iterable[RunLog], rule: str) -> tuple[str, ...]:
    names: set[str] = set()
    for run in runs:
        names.update(run.opening().profile("partner", "evidence", rule, default=[]))
    return tuple(sorted(names))


# What the partner received: the calls to its API, the lines of the files it fetched.
RECEIVED = ("partner.exchange", "partner.line")


def diff_runs(run_a: RunLog, run_b: RunLog, volatile: Iterable[str] = (), personal: Iterable[str] = ()) -> RunDiff:
    """Compare two runs per SIT ID; fields whose leaf name is in ``volatile`` are ignored, those in
    ``personal`` compared masked."""
    ignored = frozenset(volatile)
    stubbed = all(run.opening().facts.get("partner_mode", "stub") == "stub" for run in (run_a, run_b))
    rules = _Rules(_ATTRIBUTES if stubbed else _REAL_ATTRIBUTES, ignored, frozenset(personal))
    a, b = _scenarios(run_a, rules), _scenarios(run_b, rules)
    differing: list[ScenarioDiff] = []
    compared = 0
    for sit_id in sorted(a.keys() | b.keys()):
        found, count = _scenario_diff(sit_id, a.get(sit_id), b.get(sit_id))
        compared += count
        if found is not None:
            differing.append(found)
    return RunDiff(run_a.name, run_b.name, len(a.keys() | b.keys()), compared, tuple(sorted(ignored)),
                   tuple(differing), tuple(sorted(rules.personal)))


def _scenarios(run: RunLog, rules: _Rules) -> dict[str, _Scenario]:
    """Per SIT ID, its status and the compared values of its partner calls, in one pass."""
    out: dict[str, _Scenario] = {}
    for record in fold(run.events(), RunRecord()):
        scenario = out[_unique(out, record.sit_id)] = _Scenario(status=record.status)
        for step in record.steps:
            for item in step.evidence:
                if item.kind in RECEIVED:
                    scenario.add(item.data, rules)
    return out


def _unique(seen: Mapping[str, object], sit_id: str) -> str:
    """The SIT ID, numbered if the run already had it (an outline's examples share one tag)."""
    key, number = sit_id, 1
    while key in seen:
        number += 1
        key = f"{sit_id} ({number})"
    return key


def _values(data: Mapping[str, Any], rules: _Rules) -> dict[Key, str]:
    values: dict[Key, str] = {("call", name): _text(data.get(name)) for name in rules.attributes}
    # Through JSON so that decoded fields are flattened, and volatile names found, as a body's are.
    values |= _part("fields", body_fields(json.dumps(data.get("fields") or {}, sort_keys=True)), rules)
    for part in ("request", "response"):
        kind = content_type(data.get(f"{part}_headers"))
        values[("call", f"{part} Content-Type")] = kind
        body = data.get(f"{part}_body")
        values |= _part(part, body_fields(body if isinstance(body, str) else _text(body), kind), rules)
    return values


def _part(part: str, flat: Mapping[str, str], rules: _Rules) -> dict[Key, str]:
    return {(part, path): PERSONAL if leaf_name(path) in rules.personal else value
            for path, value in flat.items() if leaf_name(path) not in rules.volatile}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _scenario_diff(sit_id: str, a: _Scenario | None, b: _Scenario | None) -> tuple[ScenarioDiff | None, int]:
    """The scenario's differences (None if none) and how many call pairs were compared."""
    if a is None or b is None:  # its calls are not listed: "absent" says all there is to say
        return ScenarioDiff(sit_id, a.status if a else ABSENT, b.status if b else ABSENT), 0
    calls, compared = _paired(a.calls, b.calls)
    if a.status == b.status and not calls:
        return None, compared
    return ScenarioDiff(sit_id, a.status, b.status, tuple(calls)), compared


def _paired(a: list[_Call], b: list[_Call]) -> tuple[list[CallChange], int]:
    """Pair the calls of two runs' scenario, so one extra call is one addition, not a cascade of changes.

    Identical calls are aligned first: with names alone, [Add, Void] against [Add, Add', Void]
    would pair the first Add with Add' and call the first one added. What is left between
    identical calls is then paired by name, in order.
    """
    changes: list[CallChange] = []
    compared = 0
    for tag, a_from, a_to, b_from, b_to in _opcodes([c.signature for c in a], [c.signature for c in b]):
        if tag == "equal":
            compared += a_to - a_from
            continue
        found, count = _paired_by_name(a[a_from:a_to], b[b_from:b_to])
        changes += found
        compared += count
    return changes, compared


def _paired_by_name(a: list[_Call], b: list[_Call]) -> tuple[list[CallChange], int]:
    changes: list[CallChange] = []
    compared = 0
    for tag, a_from, a_to, b_from, b_to in _opcodes([c.name for c in a], [c.name for c in b]):
        if tag != "equal":
            changes += [CallChange(call.name, call.number, "removed") for call in a[a_from:a_to]]
            changes += [CallChange(call.name, call.number, "added") for call in b[b_from:b_to]]
            continue
        for before, after in zip(a[a_from:a_to], b[b_from:b_to], strict=True):
            compared += 1
            if fields := _changed(before.values, after.values):
                changes.append(CallChange(before.name, before.number, "changed", fields))
    return changes, compared


_Opcode = tuple[Literal["replace", "delete", "insert", "equal"], int, int, int, int]


def _opcodes(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[_Opcode]:
    # autojunk would treat a call made in over 1% of a long scenario as noise, and skip it.
    return SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


def _changed(a: Mapping[Key, str], b: Mapping[Key, str]) -> tuple[FieldChange, ...]:
    keys = dict.fromkeys([*a, *b])  # run A's order, then fields only run B has
    return tuple(FieldChange(part, path, a.get((part, path)), b.get((part, path)))
                 for part, path in keys if a.get((part, path)) != b.get((part, path)))


# --- rendering -------------------------------------------------------------------------------


def render_diff(result: RunDiff, console: Console) -> None:
    """Print the differences one per line, each led by its SIT ID (greppable), then a summary."""
    console.print(Text(f"A: {result.run_a}\nB: {result.run_b}", style="dim"))
    for scenario in result.scenarios:
        for line in _lines(scenario):
            console.print(line)
    console.print(Text(summary(result), style="green" if result.identical else "bold red"))


def _lines(scenario: ScenarioDiff) -> list[Text]:
    lines: list[Text] = []
    head = Text(f"{scenario.sit_id}  ", style="bold")
    if scenario.status_a != scenario.status_b:
        lines.append(head + Text(f"status {scenario.status_a} -> {scenario.status_b}", style="yellow"))
    for call in scenario.calls:
        if call.change == "added":
            lines.append(head + Text(f"+ {call.call} #{call.number} (added)", style="green"))
        elif call.change == "removed":
            lines.append(head + Text(f"- {call.call} #{call.number} (removed)", style="red"))
        else:
            lines.append(head + Text(f"{call.call} #{call.number} changed", style="yellow"))
            lines += [Text(f"    {f.label}: {_show(f.before)} -> {_show(f.after)}") for f in call.fields]
    return lines


def _show(value: str | None) -> str:
    if value is None:
        return "(absent)"
    if len(value) > _SHOWN:
        return f"{value[:_SHOWN]!r}... ({len(value)} characters)"
    return repr(value)


def summary(result: RunDiff) -> str:
    """The last line: whether anything differs, and what was compared and ignored."""
    ignored = ", ".join(result.volatile) or "none"
    compared = f"{result.sit_ids} SIT IDs, {result.calls_compared} calls compared; volatile fields ignored: {ignored}"
    if result.personal:
        compared += "; personal fields compared masked"
    if result.identical:
        return f"no differences ({compared})"
    count = len(result.scenarios)
    return f"{count} SIT {'ID differs' if count == 1 else 'IDs differ'} ({compared})"
