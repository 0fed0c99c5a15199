"""The one pass over a run's events that every projection shares.

Events are folded into finished scenarios as they stream: only the scenario in progress
is held, so a log of any length projects in constant memory. What the partner side saw
and what the platform did are attached to the step during which they were recorded
(the step that caused them); what arrives between steps goes to the step before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.events import TERMINAL_KINDS, Event

if TYPE_CHECKING:
    from harness.reports.payments import ServedPayments

# The scenario statuses of the event log, and how the workbook says them.
WORKBOOK_STATUS = {
    "passed": "Pass", "failed": "Fail", "na": "N/A", "not_run": "Not run", "interrupted": "Interrupted",
}  # fmt: skip
# How bad each status is: a worse one wins when a run holds the same SIT ID twice.
STATUS_RANK = {"passed": 1, "na": 2, "not_run": 3, "interrupted": 4, "failed": 5}
INTERRUPTED = "the run stopped while this scenario was running"
CUT_SHORT = "its process ended without finishing the run"
SIGNED = "signoff.signed"
SERVED = "serve"  # the partner mode of `sit stubs serve`: a run of exchanges, not of scenarios
FINDING = "finding"  # what a case found that the signatories must see, whatever its verdict (sit_id, text)
SERVED_PLATFORM = "serve-platform"  # `sit serve`'s: the harness as the platform's CloudPay side, a run of payments


def epoch_ms(ts: str) -> int:
    """An event's ISO-8601 timestamp as epoch milliseconds (Allure's clock)."""
    return round(datetime.fromisoformat(ts).timestamp() * 1000)


@dataclass
class Evidence:
    """An event that is evidence of a step: an exchange, a file, a stub, a platform action."""

    seq: int
    kind: str
    ts: str
    data: dict[str, Any]


@dataclass
class StepRecord:
    keyword: str
    text: str
    line: int
    start: str
    first_seq: int
    stop: str = ""
    status: str = "interrupted"
    error: str = ""
    category: str = ""
    expectations: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class ScenarioRecord:
    sit_id: str
    name: str
    feature: str
    feature_file: str
    line: int
    tags: list[str]
    start: str
    first_seq: int
    last_seq: int = 0
    last_ts: str = ""
    stop: str = ""
    status: str = "interrupted"
    reason: str = ""
    error: str = ""
    category: str = ""
    steps: list[StepRecord] = field(default_factory=list)
    unmatched: int = 0  # partner requests no stub answered: a stub pack gap, not a platform defect

    @property
    def workbook_status(self) -> str:
        return WORKBOOK_STATUS[self.status]


@dataclass
class RunRecord:
    """What the whole run says, complete once the fold has been drained."""

    run_id: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    finished: str = ""  # the ts of the last evidence event
    status: str = "interrupted"  # until a terminal event says otherwise: a log cut short stays interrupted
    reason: str = CUT_SHORT  # why an interrupted run stopped, as its run.interrupted says
    error: str = ""  # a harness error of the run as a whole (a secret found in its log)
    counts: dict[str, int] = field(default_factory=dict)
    head_seq: int = 0  # the evidence head: the last event that is not a signature
    head_hash: str = ""
    events: int = 0
    signatures: list[Event] = field(default_factory=list)  # signoff.signed events, in order
    findings: list[tuple[str, str]] = field(default_factory=list)  # (SIT ID, what it found), in order


def fold(events: Iterable[Event], run: RunRecord) -> Iterator[ScenarioRecord]:
    """Yield each scenario as it finishes (and one left open as interrupted); fill ``run``."""
    scenario: ScenarioRecord | None = None
    payments: ServedPayments | None = None  # a `sit serve` run's payments: rows once the log ends
    for event in events:
        run.events += 1
        if event.kind == SIGNED:
            run.signatures.append(event)
            continue
        run.head_seq, run.head_hash, run.finished = event.seq, event.hash, event.ts
        if event.kind == FINDING:
            run.findings.append((str(event.data.get("sit_id") or ""), str(event.data.get("text") or "")))
        if event.kind in TERMINAL_KINDS and scenario is not None:  # the run ended inside a scenario
            yield _interrupted(scenario)
            scenario = None
        if scenario is not None:
            scenario.last_seq, scenario.last_ts = event.seq, event.ts
        if event.kind == "scenario.started":
            if scenario is not None:  # never closed: the process died and a later one went on
                yield _interrupted(scenario)
            scenario = _open(event)
        elif event.kind == "scenario.finished" and scenario is not None:
            _close(scenario, event)
            yield scenario
            scenario = None
        elif scenario is not None:
            _step_event(scenario, event)
        elif event.kind == "partner.exchange" and run.facts.get("partner_mode") == SERVED:
            yield served_exchange(event)
        elif payments is not None and event.kind.startswith("cloudpay."):
            payments.add(event)
        else:
            _run_event(run, event)
            if event.kind == "run.started" and event.data.get("partner_mode") == SERVED_PLATFORM:
                from harness.reports.payments import ServedPayments  # it builds on this module's records

                payments = ServedPayments()
    if scenario is not None:
        yield _interrupted(scenario)
    if payments is not None:
        yield from payments.rows(interrupted=run.status == "interrupted")


def served_exchange(event: Event) -> ScenarioRecord:
    """One exchange of a served run as a row of its workbook: its section, what arrived, the verdict."""
    d = event.data
    fields = d.get("fields") or {}
    what = " ".join(str(fields[k]) for k in ("role", "account", "amount", "reference") if fields.get(k))
    call = d.get("call") or f"{d.get('method', '')} {d.get('url', '')}".strip()
    broken = [b for b in d.get("broken") or [] if isinstance(b, dict)]
    error = "\n".join(f"{b.get('sentence')} (rule: {b.get('rule')}; profile field {b.get('field')})" for b in broken)
    status, category = ("passed", "") if d.get("verdict") == "ok" else ("failed", "platform")
    kept = f"the partner received {call}" + (f" ({what})" if what else "") + "; it kept the partner's rules"
    step = StepRecord(keyword="", text=f"{d.get('method', '')} {d.get('url', '')} answered {d.get('status')}",
                      line=0, start=event.ts, first_seq=event.seq, stop=event.ts, status=status, error=error,
                      category=category, evidence=[Evidence(event.seq, event.kind, event.ts, d)])
    if status == "passed":
        step.expectations.append({"what": "the partner's rules", "expected": "ok", "actual": "ok",
                                  "actual_sentence": kept})
    number = d.get("exchange")
    return ScenarioRecord(
        sit_id=f"EXCH-{number:03d}" if isinstance(number, int) else f"EXCH-{event.seq}",
        name=f"{call}: {what}" if what else call, feature=str(d.get("section") or "Exchanges"), feature_file="",
        line=0, tags=["served"], start=event.ts, first_seq=event.seq, last_seq=event.seq, last_ts=event.ts,
        stop=event.ts, status=status, error=error or ("no verdict recorded" if status == "failed" else ""),
        category=category, steps=[step], unmatched=0 if d.get("matched", True) else 1,
    )


def terminal_status(event: Event) -> tuple[str, str]:
    """(status, reason) that a terminal event gives its run."""
    if event.kind == "run.interrupted":
        return "interrupted", str(event.data.get("reason", ""))
    return str(event.data.get("status", "failed")), ""


def _run_event(run: RunRecord, event: Event) -> None:
    if event.kind == "run.started":
        run.run_id, run.facts, run.started = event.run_id, event.data, event.ts
    elif event.kind in TERMINAL_KINDS:
        run.status, run.reason = terminal_status(event)
        run.error = str(event.data.get("error", ""))
        run.counts = dict(event.data.get("counts", {}))


def _open(event: Event) -> ScenarioRecord:
    d = event.data
    return ScenarioRecord(
        sit_id=d.get("sit_id") or "", name=d.get("name", ""), feature=d.get("feature", ""),
        feature_file=d.get("feature_file", ""), line=d.get("line", 0), tags=list(d.get("tags", [])),
        start=event.ts, first_seq=event.seq, last_seq=event.seq, last_ts=event.ts,
    )


def _close(scenario: ScenarioRecord, event: Event) -> None:
    d = event.data
    scenario.stop, scenario.last_seq = event.ts, event.seq
    scenario.status = d.get("status", "failed")
    scenario.reason, scenario.error, scenario.category = d.get("reason", ""), d.get("error", ""), d.get("category", "")
    if scenario.status == "failed" and scenario.unmatched and scenario.category != "harness":
        scenario.category = "partner"
    for step in scenario.steps:
        if not step.stop:  # a step that never reported: the scenario ended inside it
            step.stop, step.status = event.ts, "broken"


def _interrupted(scenario: ScenarioRecord) -> ScenarioRecord:
    last = scenario.last_ts or scenario.start
    scenario.stop = last
    scenario.status, scenario.category, scenario.error = "interrupted", "interrupted", INTERRUPTED
    for step in scenario.steps:
        if not step.stop:
            step.stop, step.status, step.error = last, "interrupted", INTERRUPTED
    return scenario


def _step_event(scenario: ScenarioRecord, event: Event) -> None:
    d, steps = event.data, scenario.steps
    if event.kind == "step.started":
        steps.append(StepRecord(keyword=d.get("keyword", ""), text=d.get("text", ""), line=d.get("line", 0),
                                start=event.ts, first_seq=event.seq))
        return
    if not steps:  # evidence before the first step has no step to belong to; N/A scenarios have none
        steps.append(StepRecord(keyword="", text="(before the first step)", line=scenario.line, start=event.ts,
                                first_seq=event.seq, stop=event.ts, status="passed"))
    step = steps[-1]
    if event.kind == "step.finished":
        step.stop, step.status = event.ts, d.get("status", "failed")
        step.error, step.category = d.get("error", ""), d.get("category", "")
    elif event.kind == "expectation":
        step.expectations.append(d)
    else:
        if event.kind == "partner.exchange" and not d.get("matched", True):
            scenario.unmatched += 1
        step.evidence.append(Evidence(event.seq, event.kind, event.ts, d))
