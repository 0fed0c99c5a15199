"""What every document of a run says about the run as a whole: its facts, how it ended, and the
biller's earlier runs as the run recorded them at its start.

The workbook and the sign-off take these from here so that they say the same thing, and
everything here comes from the run's own events: the documents' dates too, so that a
rebuild writes the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.reports.fold import WORKBOOK_STATUS, RunRecord

NOT_NAMED = "not named"
INTERRUPTED = "INTERRUPTED"
# Workbook statuses that count as executed, and the history chart's named segments.
_EXECUTED = ("Pass", "Fail")
_NAMED_COUNTS = ("passed", "failed", "na")
_ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)
PARTNER_SIDES = {"stub": "stubbed", "record": "real partner, recorded", "live": "real partner",
                 "serve": "served to a real platform", "serve-platform": "the vendor's application, real"}


@dataclass(frozen=True)
class RunResults:
    """One run of the biller as the documents show it: a ``Result_RunN`` column, a bar of the chart."""

    number: int  # 1 = the biller's first run recorded in this store
    run_id: str = ""
    started: str = ""
    status: str = ""
    results: Mapping[str, str] = field(default_factory=dict)  # SIT ID -> workbook status ("Pass", "N/A", ...)
    passed: int = 0
    failed: int = 0
    na: int = 0
    other: int = 0  # interrupted or not run
    partner_mode: str = "stub"  # what the run ran against: stubs, or a real partner (record, live)

    @property
    def partner(self) -> str:
        """The run's partner side in words, for the run history."""
        return PARTNER_SIDES.get(self.partner_mode, self.partner_mode)

    @property
    def column(self) -> str:
        return f"Result_Run{self.number}"

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.na + self.other


@dataclass(frozen=True)
class RunSummary:
    facts: list[tuple[str, str]]
    runs: list[RunResults]  # the biller's earlier finished runs, oldest first, then this run
    interruption: str  # why and where the run did not finish; "" when it finished
    started: datetime  # the run's first event: the documents' creation date
    ended: datetime  # its last evidence event: the workbook's date (zip entries and properties)
    signed: datetime  # its last event, signatures included: the sign-off's modification date
    head_hash: str  # the evidence head: the PDF's permanent /ID

    @property
    def banner(self) -> str:
        """The line every document of a run that did not finish opens with ("" for one that did)."""
        return f"{INTERRUPTED}: {self.interruption}" if self.interruption else ""


def summarize(run: RunRecord, results: Mapping[str, str], product: str) -> RunSummary:
    """The run's summary; ``results`` are this run's workbook statuses by SIT ID (every case, feature order)."""
    last = run.signatures[-1].ts if run.signatures else run.finished
    return RunSummary(
        facts=[*run_facts(run, product), ("Against a real partner", real_partner(run, results))],
        runs=run_history(run, results), interruption=interruption(run, results),
        started=_when(run.started or run.finished), ended=_when(run.finished), signed=_when(last),
        head_hash=run.head_hash,
    )


def run_facts(run: RunRecord, product: str) -> list[tuple[str, str]]:
    """The run's identity as the sign-off and the workbook's Run sheet list it."""
    f = run.facts
    period = f"{_utc(run.started)} to {_utc(run.finished)}" if run.started else ""
    rows = [
        ("Biller", f.get("biller_name", f.get("biller"))), ("BID", f.get("bid")),
        ("Test portal BID", portal_bid(f) or "none recorded"),
        ("Partner (CIS)", f.get("partner_name", f.get("partner"))), ("Product", product),
        ("Partner version", f.get("partner_version")), ("Platform adapter", platform(f)),
        ("Run", run.run_id), ("Period (UTC)", period), ("Executed by", f.get("operator") or NOT_NAMED),
        ("Partner mode", partner_mode(f)), ("Partner side", partner_side(f)),
        ("Harness", f"sit-harness {f.get('harness_version')}, commit {f.get('git_commit') or 'unknown'}"),
        ("Faker seed", f.get("seed") if f.get("seed") is not None else "none: a served run makes up no data"),
    ]
    return [(name, "" if value is None else str(value)) for name, value in rows]


def platform(f: Mapping[str, Any]) -> str:
    """The system under test's platform side: for CloudPay, the harness serves the platform's side itself."""
    if f.get("cloudpay") and f.get("partner_mode") != "serve-platform":  # served, the platform fact says so
        return (f"{f.get('platform')}: the harness serves the platform's CloudPay side (API, hosted payment page, "
                "receipt, postbacks); the vendor's application is the system under test")
    return str(f.get("platform") or "")


def partner_side(f: Mapping[str, Any]) -> str:
    """What stood for the partner: the stub pack on WireMock, or the live partner and the certificate it showed."""
    mode = f.get("partner_mode") or "stub"
    served = f.get("served")
    if mode == "serve" and isinstance(served, Mapping):
        return (f"the partner's stubs (stub pack {_stub_pack(f.get('stub_pack'))}) served at "
                f"{served.get('api_base_url')} to a platform test environment; each exchange checked against "
                "the partner's rules")
    if mode == "serve-platform" and isinstance(served, Mapping):
        return (f"the vendor's application, {f.get('partner_name')}, "
                f"under test, against the harness as the platform's CloudPay side at {served.get('base_url')}; "
                "each payment checked through to its postback")
    if f.get("partner_files"):  # a partner whose integration is files: no API, so no WireMock
        return (f"the harness as {f.get('partner_name') or f.get('partner')}'s side of the files, over the "
                "platform's sFTP server, in the layouts of the biller's profile (no partner API, no WireMock)")
    if mode == "stub" and f.get("cloudpay"):
        return (f"the harness as {f.get('partner_name')}'s application and its payers; the vendor's PostBackURL "
                f"and ReturnURL on WireMock {f.get('wiremock_version')} ({f.get('stub_backend')}), stub pack "
                f"{_stub_pack(f.get('stub_pack'))}")
    if mode == "stub":
        pack = _stub_pack(f.get("stub_pack"))
        return f"WireMock {f.get('wiremock_version')} ({f.get('stub_backend')}), stub pack {pack}"
    how = (f"through WireMock {f.get('wiremock_version')} ({f.get('stub_backend')}), which recorded every exchange"
           if mode == "record" else "called directly, every exchange captured by the platform's client")
    cert = f.get("partner_certificate") or {}
    shown = f"; certificate {cert.get('subject')}, sha256 {str(cert.get('sha256'))[:16]}…" if cert else ""
    return f"the live partner at {f.get('partner_url')}, {how}{shown}"


def real_partner(run: RunRecord, results: Mapping[str, str]) -> str:
    """Which cases ran against a real partner: every executed one of a live or record run, none of a stubbed one."""
    if (run.facts.get("partner_mode") or "stub") == "stub":
        return "none: the partner was stubbed"
    counts = Counter(results.values())
    ran, in_scope = sum(counts[status] for status in _EXECUTED), len(results) - counts["N/A"]
    return (f"{ran} of {in_scope} in-scope cases ran against the real partner ({counts['Pass']} passed, "
            f"{counts['Fail']} failed); the others are listed under Not run, with the reason")


def partner_mode(facts: Mapping[str, Any]) -> str:
    """How the run met the partner, in words: stubbed, a real partner (live, or recorded), served."""
    mode = str(facts.get("partner_mode") or "stub")
    return f"{mode}: {PARTNER_SIDES[mode]}" if mode in PARTNER_SIDES else mode


def _stub_pack(recorded: Any) -> str:
    """The stub pack as the run recorded it: its folder, and its digest where the run took one."""
    if isinstance(recorded, Mapping):
        digest = str(recorded.get("sha256") or "")
        shown = f"{recorded.get('path')} (sha256 {digest[:16]}…)" if digest else str(recorded.get("path"))
        origin = recorded.get("recorded_from")
        return f"{shown}, recorded from run {origin}" if origin else shown
    return str(recorded)


def portal_bid(facts: Mapping[str, Any]) -> Any:
    """The biller profile as the run recorded it holds the test portal BID (older runs: a fact of its own)."""
    profiles = facts.get("profiles")
    biller = profiles.get("biller") if isinstance(profiles, Mapping) else None
    data = biller.get("data") if isinstance(biller, Mapping) else None
    if isinstance(data, Mapping) and "test_portal_bid" in data:
        return data["test_portal_bid"]
    return facts.get("test_portal_bid")


def run_history(run: RunRecord, results: Mapping[str, str]) -> list[RunResults]:
    """``run.started``'s ``history`` (absent in older runs: none), then this run last, each numbered."""
    recorded = [entry for entry in run.facts.get("history") or [] if isinstance(entry, Mapping)]
    # A run records the biller's last few runs, each with its number among all of them.
    runs = [_past(int(entry.get("number") or index), entry) for index, entry in enumerate(recorded, start=1)]
    counts = Counter(results.values())
    other = sum(n for status, n in counts.items() if status not in ("Pass", "Fail", "N/A"))
    number = int(run.facts.get("run_number") or len(runs) + 1)
    runs.append(RunResults(number=number, run_id=run.run_id, started=run.started, status=run.status,
                           results=dict(results), passed=counts["Pass"], failed=counts["Fail"], na=counts["N/A"],
                           other=other, partner_mode=str(run.facts.get("partner_mode") or "stub")))
    return runs


def _past(number: int, entry: Mapping[str, Any]) -> RunResults:
    counts = {k: v for k, v in (entry.get("counts") or {}).items() if isinstance(v, int)}
    results = {str(sit_id): WORKBOOK_STATUS.get(str(status), str(status))
               for sit_id, status in (entry.get("results") or {}).items()}
    return RunResults(number=number, run_id=str(entry.get("run_id", "")), started=str(entry.get("started", "")),
                      status=str(entry.get("status", "")), results=results, passed=counts.get("passed", 0),
                      failed=counts.get("failed", 0), na=counts.get("na", 0),
                      other=sum(v for k, v in counts.items() if k not in _NAMED_COUNTS),
                      partner_mode=str(entry.get("partner_mode") or "stub"))


def interruption(run: RunRecord, results: Mapping[str, str]) -> str:
    """Why and how far a run that did not finish got ("" for one that did)."""
    if run.status != "interrupted":
        return ""
    why = run.reason
    in_scope = [status for status in results.values() if status != "N/A"]
    executed = sum(status in _EXECUTED for status in in_scope)
    return (f"run {run.run_id} did not finish ({why}); {executed} of {len(in_scope)} in-scope cases were executed. "
            "The evidence is incomplete: not for sign-off.")


def _when(ts: str) -> datetime:
    """An event timestamp in UTC, to the second (what zip entries and PDF dates can hold)."""
    if not ts:  # a log without events has no date: the earliest a zip entry can carry
        return _ZIP_EPOCH
    return datetime.fromisoformat(ts).astimezone(UTC).replace(microsecond=0)


def _utc(ts: str) -> str:
    return ts[:19].replace("T", " ")
