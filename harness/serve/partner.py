"""`sit stubs serve`: the partner's side served to a real platform test environment.

WireMock serves the partner's stub pack and the biller's test accounts (``test_data``), an
sFTP server takes the platform's file transfers, and every exchange becomes a
``partner.exchange`` event of a run (``partner_mode: serve``) as it arrives, with the
workbook section it belongs to and its verdict against the partner's rules.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.cases import WORKBOOK_EVENT, SitCase, biller_workbook
from harness.errors import InputError
from harness.events import Event, Recorder, Redactor, StoreUrl, open_store, store_url
from harness.partners import load_adapter
from harness.profiles import Biller, load_biller
from harness.profiles.scope import CAPABILITY_TAG
from harness.reports.leaks import find_leaks
from harness.reports.runs import biller_history
from harness.run_identity import new_run_id, run_identity
from harness.secrets import Secrets, add_store_password, resolve
from harness.serve.partner_lines import configuration, exchange_line
from harness.serve.rules import PartnerRules, capability_of
from harness.session import DEFAULT_STORE, REPORTS
from harness.stubs import ProcessWireMock, StubSide, WireMockAdmin, load_pack
from harness.stubs.orphans import reap as reap_orphans
from harness.transfer import SftpServer

MODE = "serve"
PLATFORM = "a platform test environment"
UNKNOWN_SECTION = "Calls the partner profile does not name"
TOKEN_SECTION = "Partner authentication (OAuth)"


@dataclass
class ServeOptions:
    project: Path
    biller: str
    host: str = "127.0.0.1"
    port: int = 0  # WireMock's port (0: a free one)
    sftp_port: int = 0
    store: str | Path | StoreUrl | None = None  # a URL or a path (default: $SIT_STORE, then DEFAULT_STORE)
    operator: str | None = None
    run_id: str | None = None


@dataclass
class ServedPartner:
    """One serve run (``harness.serve.run.Served``): ``start`` brings the partner up and opens the run, ``poll``
    records what arrived, ``finish`` closes the run, ``stop`` takes everything down (whatever ``start`` got as
    far as)."""

    options: ServeOptions
    notify: Callable[[str], None] = print
    counts: Counter[str] = field(default_factory=Counter)
    opened: bool = False  # run.started is in the log
    closed: bool = False  # and its terminal event
    _held: ExitStack = field(default_factory=ExitStack)  # what goes down on stop, last in first out
    command: str = "sit stubs serve"

    def start(self) -> None:
        opts = self.options
        self.biller: Biller = load_biller(opts.project, opts.biller)
        adapter = load_adapter(self.biller.partner)
        if adapter.stubs is None or self.biller.partner.credentials is None:
            raise InputError(f"{self.biller.partner.display_name} exchanges files only: `sit stubs serve` serves a "
                             "partner's API; for a file partner the platform's sFTP is the place to test against")
        self.stubs = adapter.stubs(self.biller.partner, self.biller.codes)
        self.partner_host = self.biller.partner_host  # a missing subdomain is a profile fault, found now
        self._sections = _sections(biller_workbook(opts.project, self.biller))
        pack = load_pack(opts.project / "stubs" / self.biller.partner.name)
        redactor = Redactor()
        reap_orphans(self.notify)
        self.store = store_url(opts.store, opts.project / DEFAULT_STORE)
        self.secrets: Secrets = resolve(self.biller, redactor)
        add_store_password(self.secrets, self.store, redactor)
        now = datetime.now(UTC)
        self.run_id = opts.run_id or new_run_id(now)
        store = self._held.enter_context(open_store(self.store, check="quick_check"))
        if store.head(self.run_id) is not None:
            raise InputError(f"run {self.run_id} already exists in {self.store}; a run id is used once")
        self._held.enter_context(store.running(self.run_id))
        workdir = Path(tempfile.mkdtemp(prefix=f"sit-{self.run_id}-"))
        self._held.callback(shutil.rmtree, workdir, ignore_errors=True)
        self.recorder = Recorder(store, self.run_id, redactor)
        self._rules = PartnerRules(self.biller)
        log = self.store.beside(opts.project / REPORTS) / "logs" / f"wiremock-{self.run_id}.log"
        self.wiremock = ProcessWireMock(opts.project, workdir, log, redactor.scrub, opts.port, host=opts.host)
        self._held.callback(self.wiremock.stop)
        self.wiremock.start()
        self.sftp = SftpServer(workdir / "sftp", {self.biller.profile.sftp.user: self._sftp_password}, host=opts.host,
                               port=opts.sftp_port)
        self._held.callback(self.sftp.stop)
        self.sftp.start()
        admin = WireMockAdmin(self.wiremock.base_url)
        self._held.callback(admin.close)
        self.side = StubSide(admin, pack, self.recorder, self.stubs.decode, judge=self._judge)
        self.side.load()  # before the run opens: a mapping WireMock refuses is a pack fault, and no run
        earlier_runs, history = biller_history(store, self.biller.slug)
        with self.recorder.batch():
            self.recorder.append("run.started", **self._facts(pack.sha256, admin.version(), earlier_runs, history))
            # A served run executes no scenario: its workbook is the exchanges, listed as they arrive.
            self.recorder.append(WORKBOOK_EVENT, cases=[])
        self.opened = True
        for account in self.biller.profile.test_data.accounts:
            fields = {name: value for role, value in account.holds.items()
                      if (name := self.biller.balance_field(role))}
            self.side.add(self.stubs.account(account.number, fields))

    @property
    def _sftp_password(self) -> str:
        return self.secrets.get(self.biller.profile.sftp.password_env)

    def _facts(self, pack_sha256: str, wiremock_version: str, earlier_runs: int,
               history: list[dict[str, Any]]) -> dict[str, Any]:
        """What the run records at its start: the facts every run records, and where the partner is served."""
        b, p = self.biller.profile, self.biller.partner
        return {
            **run_identity(self.options.project, self.biller, self.options.operator, self.secrets, self.sftp),
            "platform": PLATFORM, "seed": None, "business_date": datetime.now(UTC).date().isoformat(),
            "stub_backend": self.wiremock.backend, "wiremock_version": wiremock_version, "partner_mode": MODE,
            "stub_pack": {"path": f"stubs/{p.name}", "sha256": pack_sha256}, "selection": None,
            "served": {"api_base_url": self.api_base_url, "partner_host": self.partner_host,
                       "test_accounts": [a.number for a in b.test_data.accounts]},
            "run_number": earlier_runs + 1, "history": history,
        }

    @property
    def api_base_url(self) -> str:
        """Where the platform sends its partner calls: the host it was asked to bind, WireMock's port."""
        port = self.wiremock.base_url.rsplit(":", 1)[1]
        return f"http://{self.options.host}:{port}"

    def _judge(self, exchange: dict[str, Any]) -> dict[str, Any]:
        """The section and verdict an exchange's event holds beside what WireMock saw."""
        fields = exchange.get("fields") or {}
        self.counts["exchanges"] += 1
        verdict = self._rules.check(self.counts["exchanges"], fields, exchange.get("status"))
        self.counts["passed" if verdict.ok else "failed"] += 1
        return {"exchange": self.counts["exchanges"], "section": self._section(fields.get("role", "")),
                **verdict.record()}

    def _section(self, role: str) -> str:
        if role == "token":
            return TOKEN_SECTION
        capability = capability_of(role)
        return self._sections.get(capability or "", UNKNOWN_SECTION)

    def configuration(self) -> list[str]:
        return configuration(self)

    def poll(self) -> list[str]:
        """Record every exchange and file transfer since the last poll; a console line for each exchange."""
        if self.closed:  # nothing is recorded after the run's terminal event
            return []
        return [exchange_line(event) for event in self._record()]

    def _record(self) -> list[Event]:
        with self.recorder.batch():
            exchanges = self.side.drain(force=True)
            for received in self.sftp.drain():  # here the server is the partner's: the platform uploads to it
                direction = "platform -> partner" if received.direction == "upload" else "partner -> platform"
                self.recorder.append("file.transferred", direction=direction, user=received.user,
                                     path=received.path, size=received.size, sha256=received.sha256,
                                     received_at=received.received_at)
        return exchanges

    def finish(self, interrupted: str | None = None) -> str:
        """Record what is left, then ``run.finished`` (passed when exchanges came and none broke a rule), or
        ``run.interrupted`` with the reason. Returns the run's status."""
        self._record()
        counts = {"passed": self.counts["passed"], "failed": self.counts["failed"]}
        leaks = find_leaks(self.secrets.values, self.recorder.store.events(self.run_id))
        leaked = {"error": f"a secret reached the event log: {leaks[0]}", "category": "harness"} if leaks else {}
        self.closed = True
        if interrupted is not None:
            self.recorder.append("run.interrupted", reason=interrupted, counts=counts, **leaked)
            return "interrupted"
        status = "passed" if counts["passed"] and not counts["failed"] and not leaked else "failed"
        self.recorder.append("run.finished", status=status, counts=counts, **leaked)
        return status

    def outcome(self, status: str) -> str:
        exchanges, failed = self.counts["exchanges"], self.counts["failed"]
        if exchanges:
            return f"Run {self.run_id}: {status.upper()}, {exchanges} exchanges, {failed} broke a rule"
        return f"Run {self.run_id}: {status.upper()}, no exchange arrived: nothing to sign off"

    def stop(self) -> None:
        """Take down what ``start`` brought up, each part even when another fails; again does no harm."""
        held, self._held = self._held, ExitStack()
        held.close()


def _sections(cases: list[SitCase]) -> dict[str, str]:
    """Capability -> the workbook section (feature) most of the cases exercising it are in (a payment
    scenario may also look at a balance: RTDR is still the balance section's)."""
    votes: dict[str, Counter[str]] = {}
    for case in cases:
        for tag in case.tags:
            if tag.startswith(CAPABILITY_TAG):
                votes.setdefault(tag.removeprefix(CAPABILITY_TAG), Counter())[case.section] += 1
    return {capability: counts.most_common(1)[0][0] for capability, counts in votes.items()}
