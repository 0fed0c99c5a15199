"""`sit stubs record RUN -o DIR`: a stub pack from the partner exchanges a run recorded.

What it writes is plain WireMock (``mappings/*.json``, ``__files/``) plus ``pack.json`` naming
the run it came from. Each answer the partner gave becomes a mapping that:
- matches what the partner profile says identifies a call (``evidence.identity_fields``, in the
  adapter's own request shape), never the recorded reference, so the next run's fresh
  references match;
- repeats, by response templating, what the recorded answer echoed of its request's volatile
  fields (``evidence.volatile_fields``): the replayed answer carries the new reference;
- keeps its order where one call was answered differently in sequence (WireMock scenario states),
  and belongs to the SIT scenario it was recorded in (metadata), which alone loads it on replay.

Nothing is written before it is masked: credential headers and fields never reach a file
(the run's log holds them masked already; credential headers are dropped, credential fields
stay masked), and the customers' personal data the partner profile names is masked by the same
rules and masker as the partner's document pack (``harness.reports.personal``). The pack is
built in a temporary folder, searched for every personal value, and only then moved into place.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InputError, ProfileError
from harness.events.redact import Redactor, is_sensitive_key
from harness.partners import PartnerStubs, load_adapter
from harness.profiles import PartnerProfile, load_partner
from harness.reports.leaks import LeakFound, find_leaks
from harness.reports.log import RunLog
from harness.reports.personal import Masker, PersonalRules, find_personal
from harness.reports.runs import RUNNING
from harness.stubs.pack import PACK_FILE
from harness.stubs.side import OCCURRENCE_KEY, SIT_ID_KEY

# Response headers WireMock (or the transport) sets itself: a recorded copy would be stale. The body
# is recorded decoded, so the encoding it travelled in (gzip) is no longer true of it.
_OWN_HEADERS = frozenset({"matched-stub-id", "matched-stub-name", "content-length", "transfer-encoding",
                          "connection", "date", "keep-alive", "content-encoding"})
_EXTENSIONS = {"xml": "xml", "json": "json", "html": "html", "pdf": "pdf"}
SCENARIO_PRIORITY, SHARED_PRIORITY = 1, 5
_ECHO_MIN_LEN = 6  # shorter request values ("1", "CC") would be "echoed" wherever they occur

Scope = tuple[str, int]  # (SIT ID, which of its scenarios: an outline's examples share one SIT ID)


@dataclass(frozen=True)
class WrittenPack:
    """What `sit stubs record` wrote."""

    root: Path
    run_id: str
    biller: str
    mappings: int
    bodies: int
    scenarios: int
    exchanges: int
    personal_values: int


@dataclass
class _Exchange:
    scope: Scope | None
    data: dict[str, Any]
    delay_ms: int | None


@dataclass
class _Recording:
    """One pass over the run: its exchanges by SIT scenario, and the facts the pack names."""

    exchanges: list[_Exchange] = field(default_factory=list)
    head: str = ""


def record_pack(run: RunLog, out: Path, *, force: bool = False, project: Path = Path(".")) -> WrittenPack:
    """Write the stub pack of ``run`` into ``out`` (which must be absent or empty unless ``force``);
    ``project``: the checkout, for a run recorded before profiles named what identifies a call."""
    _check_target(out, force)
    state = run.state()
    if state.status == RUNNING:
        raise InputError(f"run {run.name} is still running; record it once it has finished")
    opening = run.opening()
    partner_data = opening.facts.get("profiles", {}).get("partner", {}).get("data")
    if not isinstance(partner_data, dict):
        raise InputError(f"{run.name}: the run did not record its partner profile; record a run of this version")
    partner = _with_identity(PartnerProfile.model_validate(partner_data), project)
    adapter = load_adapter(partner)
    if adapter.stubs is None:
        raise InputError(f"{run.name}: {partner.display_name} exchanges files only: a run against it called no API "
                         "to make a stub pack of (its files are in the run's evidence)")
    stubs = adapter.stubs(partner, opening.profile("biller", "codes", default={}))
    timeout_ms = int(float(opening.profile("partner", "pump", "timeout_seconds", default=0) or 0) * 1000)
    recording = _read(run.events(), timeout_ms)
    personal = find_personal(run.events(), PersonalRules.of(partner_data, opening.profile("biller", default={})))
    builder = _Builder(stubs, partner, Masker(personal.values()), run.run_id)
    files = builder.files(recording.exchanges)
    files[PACK_FILE] = _json({
        "recorded": True, "run_id": run.run_id, "head_hash": recording.head, "run_status": state.status,
        "biller": opening.facts.get("biller"), "partner": partner.name, "seed": opening.facts.get("seed"),
        "partner_mode": opening.facts.get("partner_mode", "stub"), "business_date": opening.facts.get("business_date"),
        "identity_fields": partner.evidence.identity_fields, "volatile_fields": partner.evidence.volatile_fields,
        "exchanges": len(recording.exchanges), "mappings": builder.mapping_count,
        "personal_values_masked": len(personal),
    })
    _write(out, files, personal)
    return WrittenPack(out, run.run_id, str(opening.facts.get("biller") or ""), builder.mapping_count,
                       builder.body_count, builder.scope_count, len(recording.exchanges), len(personal))


def _with_identity(partner: PartnerProfile, project: Path) -> PartnerProfile:
    """The recorded profile; a run recorded before profiles named what identifies a call takes it
    from the partner profile in the checkout (``pack.json`` says which fields were used)."""
    if partner.evidence.identity_fields:
        return partner
    try:
        today = load_partner(project, partner.name)
    except ProfileError:
        return partner
    evidence = partner.evidence.model_copy(update={"identity_fields": today.evidence.identity_fields})
    return partner.model_copy(update={"evidence": evidence})


def _read(events: Iterable[Any], timeout_ms: int) -> _Recording:
    """The run's exchanges, each with its SIT scenario and, where the answer came late, its delay:
    the serving mapping's own (a stub-mode recording) or the time it took, when longer than the
    platform waits (a recording of a live partner)."""
    recording, scope, opened = _Recording(), None, Counter[str]()
    delays: dict[str, int] = {}  # stub name -> delay, of the mappings the open scenario added
    for event in events:
        recording.head, data = event.hash, event.data
        if event.kind == "scenario.started":
            sit_id = str(data.get("sit_id") or "")
            opened[sit_id] += 1
            scope, delays = (sit_id, opened[sit_id]), {}
        elif event.kind == "scenario.finished":
            scope, delays = None, {}
        elif event.kind == "stub.added":
            delay = (data.get("mapping") or {}).get("response", {}).get("fixedDelayMilliseconds")
            if isinstance(delay, int) and data.get("name"):
                delays[str(data["name"])] = delay
        elif event.kind == "partner.exchange" and data.get("matched"):
            # An unmatched request was answered by no one: on replay it is unmatched again.
            took = data.get("timing_ms")
            late = took if isinstance(took, int) and timeout_ms and took > timeout_ms else None
            recording.exchanges.append(_Exchange(scope, data, delays.get(str(data.get("stub"))) or late))
    return recording


class _Builder:
    """Mappings and body files from exchanges, in the run's order (the same run: the same bytes)."""

    def __init__(self, stubs: PartnerStubs, partner: PartnerProfile, masker: Masker, run_id: str) -> None:
        self._stubs, self._masker, self._run_id = stubs, masker, run_id
        self._identity = partner.evidence.identity_fields
        self._volatile = partner.evidence.volatile_fields
        self._scrub = Redactor().scrub  # credential-shaped text (a token in a body) stays masked
        self._bodies: dict[str, str] = {}  # file name -> content
        self.mapping_count = self.body_count = self.scope_count = 0

    def files(self, exchanges: Sequence[_Exchange]) -> dict[str, str]:
        scopes: dict[Scope | None, list[_Exchange]] = {}
        for exchange in exchanges:
            scopes.setdefault(exchange.scope, []).append(exchange)
        files: dict[str, str] = {}
        for number, (scope, found) in enumerate(sorted(scopes.items(), key=lambda item: item[0] is not None), 1):
            mappings = self._mappings(scope, found)
            self.mapping_count += len(mappings)
            files[f"mappings/{_file_name(number, scope)}.json"] = _json({"mappings": mappings})
        self.scope_count = sum(1 for scope in scopes if scope is not None)
        files |= {f"__files/{name}": body for name, body in self._bodies.items()}
        self.body_count = len(self._bodies)
        return files

    def _mappings(self, scope: Scope | None, exchanges: Sequence[_Exchange]) -> list[dict[str, Any]]:
        """Per identity (the generalised request), its answers in order: one mapping if they are all
        alike, else a chain of scenario states, the last answer repeated from then on."""
        calls: dict[str, tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]] = {}
        for exchange in exchanges:
            request = self._request(exchange.data)
            key = json.dumps(request, sort_keys=True)
            calls.setdefault(key, (request, []))[1].append((self._name(exchange.data), self._response(exchange)))
        mappings: list[dict[str, Any]] = []
        metadata: dict[str, str | int] = {"recorded_from": self._run_id}
        if scope is not None:
            metadata |= {SIT_ID_KEY: scope[0], OCCURRENCE_KEY: scope[1]}
        priority = SHARED_PRIORITY if scope is None else SCENARIO_PRIORITY
        for number, (request, answers) in enumerate(calls.values(), 1):
            base = {"priority": priority, "request": request, "metadata": metadata}
            if all(answer == answers[0] for answer in answers[1:]):
                mappings.append({"name": answers[0][0], **base, "response": answers[0][1]})
                continue
            states = _states(scope, number, len(answers))
            for index, (name, response) in enumerate(answers):
                mapping = {"name": name, **base, "response": response, "scenarioName": states[0],
                           "requiredScenarioState": states[index + 1]}
                if index + 1 < len(answers):
                    mapping["newScenarioState"] = states[index + 2]
                mappings.append(mapping)
        return mappings

    def _name(self, data: Mapping[str, Any]) -> str:
        # The name of the mapping that answered, kept: the replayed exchange names the same stub.
        return str(data.get("stub") or f"{data.get('call') or data.get('method')} (recorded)")

    def _request(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The adapter's generalised pattern; a credential header only by its scheme, never its value."""
        body = str(data.get("request_body") or "")
        request = self._stubs.replay_request(str(data.get("method") or "POST"), str(data.get("url") or "/"), body,
                                             self._identity)
        scheme = _auth_scheme(data.get("request_headers") or {})
        if scheme is not None:
            headers = dict(request.get("headers") or {})
            headers.setdefault("Authorization", {"matches": f"{re.escape(scheme)} .+"} if scheme else {"matches": ".+"})
            request["headers"] = headers
        return request

    def _response(self, exchange: _Exchange) -> dict[str, Any]:
        data = exchange.data
        delay = {"fixedDelayMilliseconds": exchange.delay_ms} if exchange.delay_ms else {}
        if data.get("fault"):
            return {"fault": str(data["fault"]), **delay}
        headers = {name: self._scrub(self._masker(str(value)))
                   for name, value in sorted((data.get("response_headers") or {}).items())
                   if name.lower() not in _OWN_HEADERS and not is_sensitive_key(name)}
        response: dict[str, Any] = {"status": int(data.get("status") or 200)}
        if headers:
            response["headers"] = headers
        body = self._scrub(self._masker(str(data.get("response_body") or "")))
        if body:
            body, templated = self._templated(str(data.get("url") or ""), str(data.get("request_body") or ""), body)
            response["bodyFileName"] = self._body_file(str(data.get("call") or "response"), response["status"],
                                                       headers, body)
            if templated:
                response["transformers"] = ["response-template"]
        return {**response, **delay}

    def _templated(self, url: str, request_body: str, body: str) -> tuple[str, bool]:
        """The body with each volatile request value it echoes replaced by the template giving the
        answered request's value; unchanged (not templated) when it echoes none, or holds ``{{``
        of its own (which templating would read as a template)."""
        echo = self._stubs.echoes(url, request_body, self._volatile)
        values = {value: expression for value, expression in echo.values.items() if len(value) >= _ECHO_MIN_LEN}
        if not values or "{{" in body:
            return body, False
        pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=lambda v: (-len(v), v))))
        echoed, count = pattern.subn(lambda match: values[match.group(0)], body)
        return (echo.prelude + echoed, True) if count else (body, False)

    def _body_file(self, call: str, status: int, headers: Mapping[str, str], body: str) -> str:
        """One file per distinct body, named by call, status and content: ``addaritem-200-1f2e3d4c5b.xml``."""
        kind = next((v.lower() for k, v in headers.items() if k.lower() == "content-type"), "")
        extension = next((ext for word, ext in _EXTENSIONS.items() if word in kind), "txt")
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:10]
        name = f"{_slug(call)}-{status}-{digest}.{extension}"
        self._bodies[name] = body
        return name


def _states(scope: Scope | None, number: int, answers: int) -> list[str]:
    """The scenario name, then each answer's state: Started, answer 2, answer 3..."""
    where = f"{scope[0]} #{scope[1]}" if scope else "outside scenarios"
    return [f"{where} call {number}", "Started", *[f"answer {i}" for i in range(2, answers + 1)]]


def _auth_scheme(headers: Mapping[str, Any]) -> str | None:
    """The scheme of the request's Authorization header ("Basic", "Bearer"; "" for a bare credential),
    None when it carried none."""
    value = next((str(v) for k, v in headers.items() if k.lower() == "authorization"), None)
    if value is None:
        return None
    scheme, _, rest = value.strip().partition(" ")
    return scheme if rest else ""


def _file_name(number: int, scope: Scope | None) -> str:
    if scope is None:
        return "000-outside-scenarios"
    sit_id, occurrence = scope
    return f"{number:03d}-{_slug(sit_id)}" + (f"-{occurrence}" if occurrence > 1 else "")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "call"


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- writing: all or nothing -----------------------------------------------------------------


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: not a folder; name a folder for the stub pack")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(f"{out}: not empty; name a new folder, or add --force to replace what is in it")


def _write(out: Path, files: Mapping[str, str], personal: Mapping[str, str]) -> None:
    """Write ``files`` into a temporary folder beside ``out``, refuse it if any personal value is
    found in it, then put it in place of ``out``: on any error nothing is left half-written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, content in files.items():
            path = staged / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        leaks = find_leaks(personal, root=staged)
        if leaks:
            raise LeakFound(f"stub pack refused, nothing written: {leaks[0].where} holds personal data "
                            f"({leaks[0].name}, {leaks[0].form}); this is a harness defect, please report it")
        if out.exists():  # empty, or --force: the old pack goes only once the new one is complete
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / out.name)
            staged.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staged.rename(out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
