"""Allure results projected from a run: one result per scenario, evidence on its steps.

Written as allure-python-commons' file writer writes its model (the same keys, in the
same order, empty ones left out), straight from the fold's records: building the model's
objects and turning them back into dicts took more time than writing the files. Every id
comes from the log (run id and event seq through uuid5) and every time from event
timestamps, so projecting the same log twice gives the same files, byte for byte.
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

from allure_commons.model2 import ATTACHMENT_PATTERN, TEST_CASE_PATTERN, Status
from allure_commons.types import AttachmentType, LabelType, LinkType

from harness.cases import SitCase
from harness.reports.bodies import content_type, pretty
from harness.reports.files import FolderWriter
from harness.reports.fold import Evidence, RunRecord, ScenarioRecord, StepRecord, epoch_ms

_NAMESPACE = uuid.UUID("5b6c1f0e-6a52-4e4f-9a43-7f1e2d1c0b11")  # fixed: ids must not change between projections
Mask = Callable[[str], str]
Json = dict[str, Any]

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


def _kept(**fields: Any) -> Json:
    """An Allure model object as the commons writer writes it: its fields in the model's order, those that are
    empty, ``None`` or zero left out (``False`` kept)."""
    return {name: value for name, value in fields.items() if value or value is False}


def _result(*, name: str, status: str, details: Json | None, description: str, steps: list[Json], start: int,
            stop: int, uuid: str, history_id: str, test_case_id: str, full_name: str, labels: list[Json],
            links: list[Json]) -> Json:
    """A ``TestResult`` (allure_commons.model2), in its field order."""
    return _kept(name=name, status=status, statusDetails=details, description=description, steps=steps,
                 start=start, stop=stop, uuid=uuid, historyId=history_id, testCaseId=test_case_id, fullName=full_name,
                 labels=labels, links=links)


def _step_result(name: str, status: str, details: Json | None = None, steps: list[Json] | None = None,
                 attachments: list[Json] | None = None, start: int | None = None, stop: int | None = None) -> Json:
    """A ``TestStepResult`` (allure_commons.model2), in its field order."""
    return _kept(name=name, status=status, statusDetails=details, steps=steps, attachments=attachments, start=start,
                 stop=stop)


def _status_details(message: str, trace: str | None = None) -> Json:
    """A ``StatusDetails``: kept even when all its fields are empty, as the commons writer keeps any object."""
    return _kept(message=message, trace=trace)


def _label(name: str, value: str) -> Json:
    return _kept(name=name, value=value)


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
    """Writes ``allure-results/``: feed it scenarios as the fold yields them, then close it (its files are all
    there once it is closed; ``abort`` if the projection fails).

    Results carry no suite labels and no title path: Allure 3 then lists every scenario
    on its landing page, in run order, with its status (sections are the feature label).
    """

    def __init__(self, out: Path, cases: dict[str, SitCase], link_pattern: str | None = None,
                 mask: Mask = str, kinds: Collection[str] | None = None,
                 watch: Callable[[Path, bytes], None] | None = None) -> None:
        """``link_pattern``: the biller's workbook link for a SIT ID (``{}`` is the ID), or ``None``: no link.
        ``kinds``: the evidence kinds to attach (``None``: all, the platform's actions included).
        ``watch``: given each file (path, bytes) as it is written, e.g. a search for the run's secrets."""
        self._out, self._cases, self._link = out, cases, link_pattern
        self._mask, self._kinds, self._watch = mask, kinds, watch
        # Each file in one go (the commons writer's temp-file-and-rename is only cost: reports write into a fresh
        # folder swapped in whole, --alluredir into a staging folder), by a helper process beside the fold.
        self._files = FolderWriter(out)

    def add(self, run: RunRecord, scenario: ScenarioRecord) -> None:
        case = self._cases.get(scenario.sit_id)
        facts = run.facts
        uuid = result_uuid(run.run_id, scenario)
        result = _result(
            name=f"{scenario.sit_id} {scenario.name}", status=_scenario_status(scenario),
            details=self._details(scenario), description=_description(facts, scenario),
            steps=[self._step(run.run_id, step, case) for step in scenario.steps] + _not_reached(scenario, case),
            start=epoch_ms(scenario.start), stop=epoch_ms(scenario.stop or scenario.start), uuid=uuid,
            history_id=hashlib.md5(f"{facts.get('biller')}/{scenario.sit_id}".encode()).hexdigest(),
            test_case_id=scenario.sit_id, full_name=f"{scenario.feature_file}#{scenario.sit_id}",
            labels=self._labels(facts, scenario), links=self._links(scenario),
        )
        self._write(TEST_CASE_PATTERN.format(prefix=uuid), json.dumps(result, ensure_ascii=False))

    def close(self, run: RunRecord) -> None:
        """Write the run's own files and wait until every file is written (an ``OSError`` if one could not be)."""
        self._write("categories.json", json.dumps(CATEGORIES, indent=2) + "\n")
        self._write("environment.properties", environment(run))
        self._files.close()

    def abort(self) -> None:
        """Stop writing (the projection failed; its staging folder is removed)."""
        self._files.abort()

    def _write(self, name: str, text: str) -> None:
        data = text.encode("utf-8")
        if self._watch is not None:
            self._watch(self._out / name, data)
        self._files.write(name, data)

    def _details(self, scenario: ScenarioRecord) -> Json | None:
        trace = f"sit-category: {scenario.category}\nevidence: events {scenario.first_seq}-{scenario.last_seq}"
        if scenario.status == "interrupted":
            return _status_details(f"Interrupted: {scenario.error}", trace)
        if scenario.status == "failed":
            return _status_details(self._mask(scenario.error), trace)
        if scenario.status == "not_run":
            return _status_details(f"Not run: {scenario.reason}", trace)
        return None

    def _links(self, scenario: ScenarioRecord) -> list[Json]:
        if self._link is None:  # a link with no pattern would point nowhere
            return []
        return [_kept(type=LinkType.TEST_CASE, url=self._link.replace("{}", scenario.sit_id), name=scenario.sit_id)]

    @staticmethod
    def _labels(facts: dict[str, Any], scenario: ScenarioRecord) -> list[Json]:
        partner = facts.get("partner_name") or facts.get("partner", "")
        labels = [
            _label(LabelType.EPIC, partner), _label(LabelType.FEATURE, scenario.feature),
            _label(LabelType.STORY, scenario.name), _label(LabelType.TAG, scenario.sit_id),
            _label(LabelType.ID, scenario.sit_id), _label("biller", str(facts.get("biller_name", ""))),
            _label("bid", str(facts.get("bid", ""))), _label(LabelType.FRAMEWORK, "sit-harness"),
        ]
        labels += [_label(LabelType.TAG, tag) for tag in scenario.tags if tag != scenario.sit_id]
        if scenario.status in ("na", "not_run"):
            labels += [_label("sit-status", scenario.status),
                       _label(NA_REASON if scenario.status == "na" else NOT_RUN_REASON, scenario.reason)]
        return labels

    def _step(self, run_id: str, step: StepRecord, case: SitCase | None) -> Json:
        attachments: list[Json] = []
        if table := _data_table(case, step.line):  # the rows a reader checks the step's results against
            attachments.append(self._attach(run_id, f"table-{step.first_seq}", "Data table", table, AttachmentType.CSV))
        evidence = [e for e in step.evidence if self._kinds is None or e.kind in self._kinds]
        # What the platform did, then what was checked: sub-steps, read in place (and no file each).
        steps = [_step_result(f"{e.kind}: {_flat(e.data)}", Status.PASSED)
                 for e in evidence if e.kind.startswith("platform.")]
        steps += [_expectation(e, self._mask) for e in step.expectations]
        attachments += [self._attach(run_id, str(item.seq), *rendered) for item in evidence
                        if (rendered := _render(item))]
        return _step_result(self._mask(f"{step.keyword} {step.text}".strip()), _step_status(step),
                            _status_details(self._mask(step.error)) if step.error else None, steps, attachments,
                            epoch_ms(step.start), epoch_ms(step.stop or step.start))

    def _attach(self, run_id: str, key: str, name: str, body: str, kind: AttachmentType) -> Json:
        """Write an attachment; its reference, for the step's ``attachments``."""
        source = ATTACHMENT_PATTERN.format(prefix=uuid.uuid5(_NAMESPACE, f"{run_id}/{key}"), ext=kind.extension)
        self._write(source, self._mask(body))
        return _kept(name=self._mask(name), source=source, type=kind.mime_type)


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


def _expectation(data: dict[str, Any], mask: Mask) -> Json:
    """One expectation as a sub-step: its sentence ("the partner received 45.10 by card (as expected)";
    failed: "expected ...; it received ..."), or, in a log from before sentences, its label and raw values."""
    ok = data.get("ok", False)
    if "sentence" in data:
        name = f"{data['sentence']} (as expected)" if ok else str(data["sentence"])
    else:
        verdict = "as expected" if ok else "NOT as expected"
        name = f"{data.get('what', '')}: expected {data.get('expected')!s}, actual {data.get('actual')!s} ({verdict})"
    return _step_result(mask(name), Status.PASSED if ok else Status.FAILED)


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


def _not_reached(scenario: ScenarioRecord, case: SitCase | None) -> list[Json]:
    """The feature's steps after the last one that ran, shown as skipped (the scenario stopped)."""
    if case is None:
        return []
    last = max((step.line for step in scenario.steps), default=0)
    return [_step_result(text.split("\n", 1)[0], Status.SKIPPED)
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
