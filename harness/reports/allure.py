"""Allure results projected from a run: one result per scenario, evidence on its steps.

Written with allure-python-commons' model and file writer. Every id comes from the
log (run id and event seq through uuid5) and every time from event timestamps, so
projecting the same log twice gives the same files, byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import (
    ATTACHMENT_PATTERN,
    Attachment,
    Label,
    Link,
    Status,
    StatusDetails,
    TestResult,
    TestStepResult,
)
from allure_commons.types import AttachmentType, LabelType, LinkType
from attr import asdict

from harness.cases import SitCase
from harness.reports.bodies import content_type, pretty
from harness.reports.fold import Evidence, RunRecord, ScenarioRecord, StepRecord, epoch_ms

_NAMESPACE = uuid.UUID("5b6c1f0e-6a52-4e4f-9a43-7f1e2d1c0b11")  # fixed: ids must not change between projections
Mask = Callable[[str], str]

# Which Allure category a failure lands in: the trace carries the log's category. This is
# ``categories.json`` in the results, as Allure 2 reads it; Allure 3 takes HTML_CATEGORIES.
_FAILURES = [
    {"name": "Platform defects", "matchedStatuses": ["failed"], "traceRegex": r"[\s\S]*sit-category: platform[\s\S]*"},
    {"name": "Partner or stub problems", "matchedStatuses": ["failed", "broken"],
     "traceRegex": r"[\s\S]*sit-category: partner[\s\S]*"},
    {"name": "Harness errors", "matchedStatuses": ["broken"], "traceRegex": r"[\s\S]*sit-category: harness[\s\S]*"},
    {"name": "Interrupted", "matchedStatuses": ["broken"], "traceRegex": r"[\s\S]*sit-category: interrupted[\s\S]*"},
]  # fmt: skip
NOT_APPLICABLE = "Not applicable (N/A)"
NOT_RUN = "Not run (a need the live partner could not meet)"
NA_REASON = "N/A reason"  # the label that carries an N/A scenario's reason
NOT_RUN_REASON = "Not run reason"  # and a Not run scenario's
# In a projected run N/A and Not run scenarios are skipped; only Not run ones carry a message.
CATEGORIES = [*_FAILURES, {"name": NOT_RUN, "matchedStatuses": ["skipped"], "messageRegex": r"Not run: [\s\S]*"},
              {"name": NOT_APPLICABLE, "matchedStatuses": ["skipped"]}]
# Allure 3's categories (its config, not a results file): N/A grouped by its reason.
HTML_CATEGORIES = [*_FAILURES, *({"name": name, "matchers": {"statuses": ["skipped"], "labels": {"sit-status": status}},
                                  "groupBy": [{"label": label}], "groupByMessage": False, "expand": True}
                                 for name, status, label in ((NOT_RUN, "not_run", NOT_RUN_REASON),
                                                             (NOT_APPLICABLE, "na", NA_REASON)))]


def result_uuid(run_id: str, scenario: ScenarioRecord) -> str:
    """The Allure result id of a scenario (the workbook links to it)."""
    return str(uuid.uuid5(_NAMESPACE, f"{run_id}/{scenario.first_seq}"))


class _FileLogger(AllureFileLogger):
    """The commons writer with two changes: a result file is named by its result's uuid (not a
    random one), and each file is written in one go (``write_report`` swaps the whole folder
    in at the end, so the writer's temp-file-and-rename per file is only cost).

    Writer threads were tried: they made a 100k-event projection slower, not faster (the
    store's cursor then waits for the GIL at every row)."""

    def _report_item(self, item: Any) -> None:
        data = asdict(item, filter=lambda _, value: value or value is False)  # as the commons writer filters
        (self._report_dir / item.file_pattern.format(prefix=item.uuid)).write_text(
            json.dumps(data, ensure_ascii=False), encoding="utf-8")

    def report_attached_data(self, body: str | bytes, file_name: str) -> None:
        (self._report_dir / file_name).write_bytes(body.encode("utf-8") if isinstance(body, str) else body)


def _scenario_status(scenario: ScenarioRecord) -> str:
    if scenario.status == "passed":
        return Status.PASSED
    if scenario.status in ("na", "not_run"):
        return Status.SKIPPED
    return Status.FAILED if scenario.status == "failed" and scenario.category != "harness" else Status.BROKEN


def _step_status(step: StepRecord) -> str:
    if step.status in (Status.PASSED, Status.SKIPPED):
        return step.status
    if step.status == "not_run":  # the step that found a need the partner could not meet
        return Status.SKIPPED
    return Status.FAILED if step.status == "failed" and step.category == "platform" else Status.BROKEN


class AllureResults:
    """Writes ``allure-results/``: feed it scenarios as the fold yields them, then close it.

    Results carry no suite labels and no title path: Allure 3 then lists every scenario
    on its landing page, in run order, with its status (sections are the feature label).
    """

    def __init__(self, out: Path, cases: dict[str, SitCase], link_pattern: str | None = None,
                 mask: Mask = str, kinds: Collection[str] | None = None) -> None:
        """``link_pattern``: the biller's workbook link for a SIT ID (``{}`` is the ID), or ``None``: no link.
        ``kinds``: the evidence kinds to attach (``None``: all, the platform's actions included)."""
        self._out, self._cases, self._link = out, cases, link_pattern
        self._mask, self._kinds = mask, kinds
        # Reports write into a fresh folder; --alluredir adds to one. (The ignores here and in ``add``: allure-python-
        # commons ships py.typed but leaves AllureFileLogger unannotated.)
        self._logger = _FileLogger(out, clean=False)  # type: ignore[no-untyped-call]

    def add(self, run: RunRecord, scenario: ScenarioRecord) -> None:
        case = self._cases.get(scenario.sit_id)
        facts = run.facts
        result = TestResult(
            uuid=result_uuid(run.run_id, scenario), name=f"{scenario.sit_id} {scenario.name}",
            historyId=hashlib.md5(f"{facts.get('biller')}/{scenario.sit_id}".encode()).hexdigest(),
            testCaseId=scenario.sit_id, fullName=f"{scenario.feature_file}#{scenario.sit_id}",
            status=_scenario_status(scenario), statusDetails=self._details(scenario),
            start=epoch_ms(scenario.start), stop=epoch_ms(scenario.stop or scenario.start),
            description=_description(facts, scenario), labels=self._labels(facts, scenario),
            links=self._links(scenario),
        )
        result.steps = [self._step(run.run_id, step, case) for step in scenario.steps]
        result.steps += _not_reached(scenario, case)
        self._logger.report_result(result)  # type: ignore[no-untyped-call]

    def close(self, run: RunRecord) -> None:
        (self._out / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")
        (self._out / "environment.properties").write_text(environment(run), encoding="utf-8")

    def _details(self, scenario: ScenarioRecord) -> StatusDetails | None:
        trace = f"sit-category: {scenario.category}\nevidence: events {scenario.first_seq}-{scenario.last_seq}"
        if scenario.status == "interrupted":
            return StatusDetails(message=f"Interrupted: {scenario.error}", trace=trace)
        if scenario.status == "failed":
            return StatusDetails(message=self._mask(scenario.error), trace=trace)
        if scenario.status == "not_run":
            return StatusDetails(message=f"Not run: {scenario.reason}", trace=trace)
        return None

    def _links(self, scenario: ScenarioRecord) -> list[Link]:
        if self._link is None:  # a link with no pattern would point nowhere
            return []
        return [Link(type=LinkType.TEST_CASE, url=self._link.replace("{}", scenario.sit_id), name=scenario.sit_id)]

    @staticmethod
    def _labels(facts: dict[str, Any], scenario: ScenarioRecord) -> list[Label]:
        partner = facts.get("partner_name") or facts.get("partner", "")
        labels = [
            Label(LabelType.EPIC, partner), Label(LabelType.FEATURE, scenario.feature),
            Label(LabelType.STORY, scenario.name), Label(LabelType.TAG, scenario.sit_id),
            Label(LabelType.ID, scenario.sit_id), Label("biller", str(facts.get("biller_name", ""))),
            Label("bid", str(facts.get("bid", ""))), Label(LabelType.FRAMEWORK, "sit-harness"),
        ]
        labels += [Label(LabelType.TAG, tag) for tag in scenario.tags if tag != scenario.sit_id]
        if scenario.status in ("na", "not_run"):
            labels += [Label("sit-status", scenario.status),
                       Label(NA_REASON if scenario.status == "na" else NOT_RUN_REASON, scenario.reason)]
        return labels

    def _step(self, run_id: str, step: StepRecord, case: SitCase | None) -> TestStepResult:
        result = TestStepResult(
            name=self._mask(f"{step.keyword} {step.text}".strip()), status=_step_status(step),
            start=epoch_ms(step.start), stop=epoch_ms(step.stop or step.start),
            statusDetails=StatusDetails(message=self._mask(step.error)) if step.error else None,
        )
        if table := _data_table(case, step.line):  # the rows a reader checks the step's results against
            self._attach(result, run_id, f"table-{step.first_seq}", "Data table", table, AttachmentType.CSV)
        evidence = [e for e in step.evidence if self._kinds is None or e.kind in self._kinds]
        # What the platform did, then what was checked: sub-steps, read in place (and no file each).
        result.steps = [TestStepResult(name=f"{e.kind}: {_flat(e.data)}", status=Status.PASSED)
                        for e in evidence if e.kind.startswith("platform.")]
        result.steps += [_expectation(e, self._mask) for e in step.expectations]
        for item in evidence:
            if rendered := _render(item):
                self._attach(result, run_id, str(item.seq), *rendered)
        return result

    def _attach(self, step: TestStepResult, run_id: str, key: str, name: str, body: str,
                kind: AttachmentType) -> None:
        source = ATTACHMENT_PATTERN.format(prefix=uuid.uuid5(_NAMESPACE, f"{run_id}/{key}"), ext=kind.extension)
        self._logger.report_attached_data(self._mask(body), source)
        step.attachments.append(Attachment(name=self._mask(name), source=source, type=kind.mime_type))


def _description(facts: dict[str, Any], scenario: ScenarioRecord) -> str:
    """Where the scenario is and where its evidence is; first, for an N/A scenario, why it did not run.

    The reason is not the status message: Allure shows a message under "Error"."""
    # A served run's row (an exchange, a payment) comes from no feature file: it has no scenario to point at.
    scenario_at = f", scenario `{scenario.feature_file}:{scenario.line}`" if scenario.feature_file else ""
    where = (f"Workbook section **{scenario.feature}**{scenario_at}. "
             f"Evidence: events {scenario.first_seq}-{scenario.last_seq} of the run's hash-chained log.")
    if scenario.status == "not_run":
        return f"**Not run** against the live partner: {_literal(scenario.reason)}\n\n{where}"
    if scenario.status != "na":
        return where
    biller = facts.get("biller_name") or facts.get("biller") or "this biller"
    return f"**Not applicable** to {_literal(str(biller))}: {_literal(scenario.reason)}\n\n{where}"


def _literal(text: str) -> str:
    """``text`` that Markdown shows character for character: ``a_b_c`` is not italics, ``<x>`` not a tag."""
    return re.sub(r"([\\`*_\[\]<>~&])", r"\\\1", text)


def _expectation(data: dict[str, Any], mask: Mask) -> TestStepResult:
    """One expectation as a sub-step: its sentence ("the partner received 45.10 by card (as expected)";
    failed: "expected ...; it received ..."), or, in a log from before sentences, its label and raw values."""
    ok = data.get("ok", False)
    if "sentence" in data:
        name = f"{data['sentence']} (as expected)" if ok else str(data["sentence"])
    else:
        verdict = "as expected" if ok else "NOT as expected"
        name = f"{data.get('what', '')}: expected {data.get('expected')!s}, actual {data.get('actual')!s} ({verdict})"
    return TestStepResult(name=mask(name), status=Status.PASSED if ok else Status.FAILED)


def _data_table(case: SitCase | None, line: int) -> str | None:
    """The data table of the case's step at ``line``, as CSV: the recorded workbook holds it ("| a | b |"
    lines after the step's text), the step's events only its first line."""
    text = next((t for t, at in zip(case.steps, case.step_lines, strict=True) if at == line), "") if case else ""
    rows = [row[2:-2].split(" | ") for row in text.split("\n")[1:] if row.startswith("| ") and row.endswith(" |")]
    if not rows:
        return None
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _not_reached(scenario: ScenarioRecord, case: SitCase | None) -> list[TestStepResult]:
    """The feature's steps after the last one that ran, shown as skipped (the scenario stopped)."""
    if case is None:
        return []
    last = max((step.line for step in scenario.steps), default=0)
    return [TestStepResult(name=text.split("\n", 1)[0], status=Status.SKIPPED)
            for text, line in zip(case.steps, case.step_lines, strict=True) if line > last]


def _render(item: Evidence) -> tuple[str, str, AttachmentType] | None:
    d = item.data
    if item.kind == "partner.exchange":
        name = f"{d.get('call') or d.get('url', '')}: {d.get('method', '')} -> {d.get('status') or d.get('fault')}"
        return name, exchange_text(d), AttachmentType.TEXT
    if item.kind == "file.transferred":
        return f"File {d.get('path')} ({d.get('size')} bytes)", _file_text(d), AttachmentType.TEXT
    if item.kind == "stub.added":
        return f"Stub arranged: {d.get('name', '')}", json.dumps(d.get("mapping", d), indent=2), AttachmentType.JSON
    if item.kind.startswith("cloudpay."):  # what the platform's CloudPay side saw (no key, card or payer in it)
        return item.kind, json.dumps(d, indent=2, ensure_ascii=False, sort_keys=True), AttachmentType.JSON
    return None


def exchange_text(d: dict[str, Any]) -> str:
    """One partner exchange as a person reads it: request, then response, bodies pretty-printed."""
    matched = f"answered by stub '{d.get('stub')}'" if d.get("matched") else "NO STUB MATCHED this request"
    lines = [f"{d.get('method', '')} {d.get('url', '')}", f"Call: {d.get('call') or '?'}  ({matched})",
             f"Logged at: {d.get('logged_at')}", ""]
    lines += _message("Request", d.get("request_headers") or {}, d.get("request_body") or "")
    outcome = f"fault {d['fault']}" if d.get("fault") else f"status {d.get('status')}"
    lines += ["", f"Response: {outcome}"]
    lines += _message("Response", d.get("response_headers") or {}, d.get("response_body") or "")
    return "\n".join(lines) + "\n"


def _message(title: str, headers: dict[str, str], body: str) -> list[str]:
    text, kind = pretty(body, content_type(headers))
    return [f"{title} headers:", *(f"  {k}: {v}" for k, v in sorted(headers.items())),
            f"{title} body ({kind}):" if body else f"{title} body: (empty)", text]


def _file_text(d: dict[str, Any]) -> str:
    head = [f"{d.get('direction', '')} via sFTP, user {d.get('user')}", f"Path: {d.get('path')}",
            f"Size: {d.get('size')} bytes", f"SHA-256: {d.get('sha256')}", f"Received at: {d.get('received_at')}"]
    content = d.get("content")
    if content is None:
        head.append("Content: not kept in the log (larger than the evidence limit); the SHA-256 identifies it.")
        return "\n".join(head) + "\n"
    note = " (first part only: the file is larger than the evidence limit)" if d.get("content_truncated") else ""
    return "\n".join([*head, f"Content{note}:", "", content])


def _flat(data: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False, sort_keys=True)}" for k, v in sorted(data.items()))


def environment(run: RunRecord) -> str:
    """``environment.properties``: what the run ran on, from its ``run.started`` facts."""
    f = run.facts
    rows = {
        "Run": run.run_id, "Biller": f.get("biller_name", f.get("biller")), "BID": f.get("bid"),
        "Test.portal.BID": f.get("test_portal_bid"), "Partner": f.get("partner_name", f.get("partner")),
        "Partner.version": f.get("partner_version"), "Platform.adapter": f.get("platform"),
        "Stub.backend": f.get("stub_backend"), "WireMock.version": f.get("wiremock_version"),
        "Harness.version": f.get("harness_version"), "Git.commit": f.get("git_commit"), "Faker.seed": f.get("seed"),
        "Operator": f.get("operator"),
    }
    return "".join(f"{key}={_escape(value)}\n" for key, value in rows.items())


def _escape(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\n", "\\n")
