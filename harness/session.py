"""One SIT run's composition root: the event store, the partner as the run reaches it
(``harness.partner_link``), the sFTP server, the platform's callback endpoint, and the system under
test, made fresh for each scenario.

Started once per pytest session (per xdist worker), lazily at the first scenario, so
that `pytest tests/` alone never starts WireMock.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import httpx
from faker import Faker

from harness.cases import WORKBOOK_EVENT, SitCase, biller_workbook
from harness.catalogue import project_catalogue
from harness.cloudpay import CloudPayServer
from harness.cloudpay.biller import for_biller
from harness.cloudpay.payer import Payer
from harness.errors import InputError, ProfileError, SitError
from harness.events import EventLogError, EventStore, Recorder, Redactor, StoreUrl, open_store, store_url
from harness.feature_checks import check_features
from harness.partner_link import PartnerLink, WireMockPlace, trust
from harness.partner_mode import PartnerMode
from harness.partners import tls as partner_tls
from harness.partners.cloudpay import POSTBACK, RETURN, VendorApp
from harness.platform import Platform
from harness.platform.reference import ReferenceEngine
from harness.platform.reference.callback import ApiKeys, CallbackServer
from harness.profiles import Biller, load_biller
from harness.profiles.loader import where
from harness.reports.leaks import find_leaks
from harness.reports.runs import biller_history
from harness.run_identity import default_seed, new_run_id, run_identity
from harness.secrets import Secrets, add_store_password, resolve
from harness.stubs import orphans
from harness.stubs.orphans import reap as reap_orphans
from harness.stubs.shared import SharedWireMock
from harness.transfer import SftpServer
from harness.transfer.evidence import record_transfers

REPORTS = Path("reports")  # git-ignored: the event store and every projection of it
DEFAULT_STORE = REPORTS / "events.sqlite"
# The systems under test a biller profile may name (`platform:`); a real connector joins here.
PLATFORMS = "sit_harness.platforms"  # the entry point group of the systems under test, by name


@dataclass
class RunOptions:
    project: Path
    biller: str
    seed: int | None = None
    store: str | Path | StoreUrl | None = None  # a URL or a path (default: $SIT_STORE, then DEFAULT_STORE)
    run_id: str | None = None
    stub_backend: str = "process"
    wiremock_url: str | None = None
    wiremock_port: int = 0
    operator: str | None = None
    select: str | None = None  # the -k expression a run was limited to
    partner_mode: str = "stub"
    partner_url: str | None = None  # the live partner's test endpoint (record and live modes)
    partner_ca: Path | None = None  # its CA, or its own certificate pinned (default: the system's CAs)
    stub_pack: Path | None = None  # a stub pack to serve instead of stubs/<partner>/ (one `sit stubs record` wrote)


@cache
def _platforms() -> dict[str, EntryPoint]:
    """The installed systems under test by name (a scan of every installed package: once a process)."""
    return {entry.name: entry for entry in entry_points(group=PLATFORMS)}


def _platform(biller: Biller) -> type[ReferenceEngine]:
    """The system under test the biller profile names (``platform:``), as registered under the
    ``sit_harness.platforms`` entry points; an unknown name is a profile fault naming the field."""
    name = biller.profile.platform
    found = _platforms()
    if name not in found:
        raise ProfileError(f"{where(biller.path, ['platform'])}: field 'platform': no platform adapter '{name}' "
                           f"(known: {', '.join(sorted(found))})")
    platform: type[ReferenceEngine] = found[name].load()
    return platform


def _check_features(project: Path) -> None:
    """What `sit lint` finds in the features stops a run before it starts: one line, the first finding."""
    findings = check_features(project, project_catalogue(project)).findings
    if findings:
        more = f" (and {len(findings) - 1} more: `sit lint` lists them)" if len(findings) > 1 else ""
        raise InputError(f"{findings[0].where}: {findings[0].message}{more}")


def preflight(options: RunOptions, *, features: bool = True) -> Biller:
    """What a run's start refuses before it starts anything, checked without starting anything: the biller's
    profile, its platform, the features (unless ``features`` is False: checked once for several billers), its
    workbook, its partner mode and credentials. `sit run` with several billers checks each this way first,
    so that one biller's fault is one line before any worker starts."""
    biller = load_biller(options.project, options.biller)
    _platform(biller)
    if features:
        _check_features(options.project)
    biller_workbook(options.project, biller)
    mode = PartnerMode.of(options.partner_mode, options.partner_url, options.partner_ca, options.stub_pack,
                          options.stub_backend, options.project, biller)
    mode.require_real_credentials(biller, resolve(biller, Redactor()))
    return biller


@dataclass
class SitSession:
    """Everything a run holds open; ``start`` brings it up, ``stop`` takes it down."""

    options: RunOptions
    # Where a notice goes (a killed run cleaned up after): `sit run` hands its console's printer.
    notify: Callable[[str], None] = print
    # Several billers in one process: the process's WireMock, lent to this run where it would start its own
    # (stub mode, the process backend); None: the run starts and stops its own (one biller, as always).
    wiremock: SharedWireMock | None = None
    biller: Biller = field(init=False)
    recorder: Recorder = field(init=False)
    counts: dict[str, int] = field(default_factory=dict)
    is_ready: bool = False
    error: SitError | EventLogError | None = None  # a set-up fault met inside pytest, for `sit run` to report
    _store: EventStore | None = None
    _partner: PartnerLink | None = None
    _sftp: SftpServer | None = None
    _workdir: Path | None = None
    _workdir_entry: str = ""  # its entry in the registry of what a killed run leaves (harness.stubs.orphans)
    _callbacks: CallbackServer | None = None
    _cloudpay: CloudPayServer | None = None  # the platform's CloudPay side, for a CloudPay biller
    _web: httpx.Client | None = None  # what the vendor's application and the payer reach it with
    _held: ExitStack = field(default_factory=ExitStack)  # the run's mark as running, while it runs
    # The open scenario's system under test: partner callbacks are routed to it (None between scenarios).
    current: ReferenceEngine | None = None
    # Accounts a posting of this run moved: a real partner's test account among them no longer holds what
    # the biller profile's test_data says, so no later scenario stands on it.
    moved_accounts: set[str] = field(default_factory=set)

    def start(self) -> None:
        opts = self.options
        self.biller = load_biller(opts.project, opts.biller)
        self._platform = _platform(self.biller)
        # Feature, profile and pack faults are file faults: found here, before any JVM starts.
        _check_features(opts.project)
        self.workbook: list[SitCase] = biller_workbook(opts.project, self.biller)
        self._cases = {case.sit_id: case for case in self.workbook}
        self.partner_mode = PartnerMode.of(opts.partner_mode, opts.partner_url, opts.partner_ca, opts.stub_pack,
                                           opts.stub_backend, opts.project, self.biller)
        tls = trust(opts.partner_mode, opts.partner_ca)
        self._partner = PartnerLink(self.biller, self.partner_mode, opts.partner_url, tls)
        redactor = Redactor()
        reap_orphans(self.notify)  # the WireMock and folder of a run killed earlier (kill -9), before ours
        self.store = store_url(opts.store, opts.project / DEFAULT_STORE)
        self.secrets: Secrets = resolve(self.biller, redactor)
        add_store_password(self.secrets, self.store, redactor)
        self.partner_mode.require_real_credentials(self.biller, self.secrets)
        # Which system the run talks to, checked before anything starts: its certificate is evidence.
        self.partner_certificate = partner_tls.presented(opts.partner_url or "", tls) if tls else {}
        now = datetime.now(UTC)
        self.today: date = now.date()
        self.run_id = opts.run_id or new_run_id(now)
        # Checked whole before anything starts: a damaged store gets no run appended to it.
        self._store = open_store(self.store, check="quick_check")
        if self._store.head(self.run_id) is not None:  # a run's log is written once, by one process
            raise InputError(f"run {self.run_id} already exists in {self.store}; a run id is used once")
        self._held.enter_context(self._store.running(self.run_id))
        self._workdir = Path(tempfile.mkdtemp(prefix=f"sit-{self.run_id}-"))
        self._workdir_entry = orphans.register_folder(self._workdir)
        # The JVM starts in the background while the store, sFTP and pytest's collection get ready.
        lent = opts.stub_backend == "process" and opts.partner_mode == "stub" and not opts.wiremock_port
        shared = self.wiremock if lent else None
        self._partner.start(WireMockPlace(opts.stub_backend, opts.project, self._workdir,
                                          self.logs / f"wiremock-{self.run_id}.log",
                                          opts.wiremock_url, opts.wiremock_port, shared), redactor, self.secrets)
        # A recorded pack answers for the accounts of its run: the same seed gives the same accounts.
        seeds = (opts.seed, self.partner_mode.pack.recording.get("seed"), self.biller.profile.seed,
                 default_seed(self.biller.slug))
        self.seed = next(seed for seed in seeds if seed is not None)
        self.faker = Faker("en_US")  # reseeded per scenario; built once because building it is slow
        self._earlier_runs, self._history = biller_history(self._store, self.biller.slug)
        self.recorder = Recorder(self._store, self.run_id, redactor)
        self._start_sftp()
        self._start_callbacks()
        self._start_cloudpay()

    def ready(self) -> None:
        """Wait for WireMock, load the stub pack and open the run (once)."""
        if self.is_ready:
            return
        self.partner.connect(self.secrets, self.recorder, self.sftp)
        with self.recorder.batch():
            self.recorder.append("run.started", **self._run_facts())
            self.recorder.append(WORKBOOK_EVENT, cases=[case.record() for case in self.workbook])
        self.is_ready = True

    def case(self, sit_id: str | None) -> SitCase | None:
        """The workbook case the run recorded for ``sit_id`` (its scope included)."""
        return self._cases.get(sit_id) if sit_id else None

    @property
    def logs(self) -> Path:
        """Where the run's process logs go: beside a SQLite store, else in the project's reports folder."""
        return self.store.beside(self.options.project / REPORTS) / "logs"

    @property
    def partner(self) -> PartnerLink:
        assert self._partner is not None, "the session has started"
        return self._partner

    def record_transfers(self) -> None:
        """See ``harness.transfer.evidence.record_transfers``."""
        record_transfers(self.sftp, self.recorder)

    @property
    def partner_is_real(self) -> bool:
        """See ``PartnerMode.real``."""
        return self.partner_mode.real

    @property
    def arranges(self) -> bool:
        """See ``PartnerMode.arranges``."""
        return self.partner_mode.arranges

    def _start_sftp(self) -> None:
        assert self._workdir is not None
        account = self.biller.profile.sftp
        self._sftp = SftpServer(self._workdir / "sftp", {account.user: self.secrets.get(account.password_env)})
        self._sftp.start()

    def open_scenario(self, key_prefix: str, sit_id: str | None = None) -> Platform:
        """Reset the partner side (for SIT scenario ``sit_id``: a recorded pack answers as it did
        there) and empty the sFTP inbox; a fresh system under test, as the biller profile names
        it, for one scenario."""
        self.partner.side.reset(sit_id)
        self.bring_partner_back()
        inbox = self.sftp.inbox(self.biller.profile.sftp.user)
        if inbox.is_dir() and any(inbox.iterdir()):  # most scenarios upload nothing
            shutil.rmtree(inbox)
        inbox.mkdir(parents=True, exist_ok=True)
        self.current = self._platform(self.biller, self.partner.client, self.recorder, inbox,
                                      key_prefix=key_prefix, today=self.today, drop=self.partner.drop)
        return self.current

    def close_scenario(self) -> None:
        """The scenario is over: callbacks are refused (503) until the next one opens."""
        self.current = None

    def _start_callbacks(self) -> None:
        """The platform's callback endpoint, when the partner calls back and the biller has keys to call with."""
        path, keys = self.biller.partner.callback_path, self.biller.profile.api_keys
        if path is None or not keys:
            return
        values = ApiKeys(active=tuple(self.secrets.get(k.env) for k in keys if k.active),
                         inactive=tuple(self.secrets.get(k.env) for k in keys if not k.active))
        self._callbacks = CallbackServer(path, values, lambda: self.current)
        self._callbacks.start()

    def _start_cloudpay(self) -> None:
        """The platform's CloudPay side, for a biller whose vendor's application hands payers to it: every
        request, page view, payment and postback it sees is an event of the run as it happens."""
        if self.biller.vendor is None:
            return
        def observe(kind: str, data: dict[str, Any]) -> None:
            self.recorder.append(kind, **data)

        self._cloudpay = for_biller(self.biller, self.secrets, observe)
        self._cloudpay.start()
        self._web = httpx.Client(timeout=10.0)

    @property
    def vendor_app(self) -> VendorApp:
        """The vendor's application, as the harness plays it: its PostBackURL and ReturnURL are WireMock's."""
        if self._cloudpay is None or self._web is None:
            raise ProfileError(f"{self.biller.profile.name} is not a CloudPay biller: its profile names no vendor "
                               "application (cloudpay:)")
        version, endpoints, stubs = self.biller.cloudpay_version, self.biller.partner.endpoints, self.partner.base_url
        assert version is not None
        return VendorApp(self._cloudpay.base_url, version, self._cloudpay.biller.guid, stubs + endpoints[POSTBACK],
                         stubs + endpoints[RETURN], self._web)

    def wait_postbacks(self, timeout_s: float) -> bool:
        """Wait until the platform's postbacks sent so far have their last outcome (see ``CloudPayServer``)."""
        return self._cloudpay is not None and self._cloudpay.wait_postbacks(timeout_s)

    @property
    def payer(self) -> Payer:
        """The payer on the platform's hosted pages (see ``vendor_app``)."""
        assert self._web is not None, "a CloudPay biller's session"
        return Payer(self._web)

    def callback_url(self, key: str | None) -> str:
        """The URL the partner calls the platform back on, carrying ``key`` as BK (none when None)."""
        if self._callbacks is None:
            raise ProfileError(f"{self.biller.partner.display_name} has no callback_path or "
                             f"{self.biller.profile.name} has no api_keys: the platform takes no callbacks")
        return self._callbacks.url(key)

    def take_partner_offline(self) -> str:
        """See ``PartnerLink.take_offline``."""
        return self.partner.take_offline()

    def bring_partner_back(self) -> None:
        """See ``PartnerLink.bring_back``."""
        self.partner.bring_back()

    @property
    def sftp(self) -> SftpServer:
        assert self._sftp is not None
        return self._sftp

    def _run_facts(self) -> dict[str, Any]:
        """What the run records at its start: what it runs, against what, by whom, and what came before."""
        opts = self.options
        return {
            **run_identity(opts.project, self.biller, opts.operator, self.secrets, self.sftp),
            "platform": self.biller.profile.platform, "seed": self.seed, "business_date": self.today.isoformat(),
            "stub_backend": opts.stub_backend if self.partner.stubbed else None,
            "wiremock_version": self.partner.wiremock_version, "partner_files": not self.partner.stubbed,
            "partner_mode": opts.partner_mode, "selection": opts.select,
            **self.partner_mode.facts(opts.project, opts.stub_backend, self.partner_certificate),
            "run_number": self._earlier_runs + 1, "history": self._history,
        }

    def finish(self, interrupted: str | None = None) -> None:
        """Close the run: ``run.interrupted`` with the reason, else ``run.finished``, passed only if
        scenarios ran and none failed."""
        counts = dict(sorted(self.counts.items()))
        leaked = self._leaks()
        if interrupted is not None:
            self.recorder.append("run.interrupted", reason=interrupted, counts=counts, **leaked)
            return
        status = "failed" if self.counts.get("failed", 0) or not self.counts or leaked else "passed"
        self.recorder.append("run.finished", status=status, counts=counts, **leaked)

    def _leaks(self) -> dict[str, str]:
        """The leak check every run ends with: no secret of the run, in any form, in any of its events.
        A hit fails the run as a harness error naming the event (and the secret's name, never its value)."""
        leaks = find_leaks(self.secrets.values, self._store.events(self.run_id) if self._store else ())
        if not leaks:
            return {}
        more = f" (and {len(leaks) - 1} more)" if len(leaks) > 1 else ""
        return {"error": f"a secret reached the event log: {leaks[0]}{more}", "category": "harness"}

    def stop(self) -> None:
        """Take down whatever ``start`` got as far as bringing up: every part, even when one of them
        fails (the failure is raised once every part went down). Calling it again does no harm."""
        parts: list[Callable[[], object]] = self._partner.parts() if self._partner is not None else []
        # In the order they went up: they go down the other way round.
        parts += [part.stop for part in (self._sftp, self._callbacks, self._cloudpay) if part is not None]
        if self._web is not None:
            parts.append(self._web.close)
        parts.append(self._held.close)
        if self._store is not None:
            parts.append(self._store.close)
        if (workdir := self._workdir) is not None:
            parts.append(lambda: orphans.release(self._workdir_entry))  # down last of the two: once it is gone
            parts.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
        with ExitStack() as down:
            for part in reversed(parts):  # an ExitStack runs the last one pushed first
                down.callback(part)
