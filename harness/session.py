"""One SIT run's infrastructure: event store, WireMock with the partner's pack, sFTP server.

Started once per pytest session (per xdist worker), lazily at the first scenario, so
that `pytest tests/` alone never starts WireMock.
"""

from __future__ import annotations

import hashlib
import os
import platform as pyplatform
import secrets as pysecrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Any

from faker import Faker

from harness.cases import WORKBOOK_EVENT, SitCase, biller_workbook
from harness.catalogue import project_catalogue
from harness.errors import InputError, ProfileError, SitError
from harness.events import Recorder, Redactor, SQLiteStore
from harness.feature_checks import check_features
from harness.partner_mode import PartnerMode
from harness.partners import Adapter, PartnerClient, PartnerStubs, load_adapter
from harness.partners import tls as partner_tls
from harness.partners.file_side import FileSide
from harness.partners.files import OUTBOX, FileCodec
from harness.partners.live import LiveSide
from harness.partners.tap import Tap
from harness.platform import Platform
from harness.platform.reference import ReferenceEngine
from harness.platform.reference.callback import ApiKeys, CallbackServer
from harness.profiles import Biller, load_biller
from harness.profiles.loader import partner_path, project_relative, where
from harness.reports.leaks import find_leaks
from harness.reports.runs import biller_history
from harness.secrets import Secrets, resolve
from harness.stubs import (
    ContainerWireMock,
    ExternalWireMock,
    ProcessWireMock,
    StubSide,
    WireMockAdmin,
    WireMockServer,
)
from harness.stubs.orphans import reap as reap_orphans
from harness.transfer import Received, SftpServer

REPORTS = Path("reports")  # git-ignored: the event store and every projection of it
DEFAULT_STORE = REPORTS / "events.sqlite"
# The systems under test a biller profile may name (`platform:`); a real connector joins here.
PLATFORMS = "sit_harness.platforms"  # the entry point group of the systems under test, by name


# How the sFTP server's ledger says a file moved, and how the evidence says it.
TRANSFER_DIRECTION = {"upload": "partner -> platform", "download": "platform -> partner"}


def transfer_content(moved: Received) -> dict[str, Any]:
    """A transferred file's content as evidence: text as it was sent (its first part if large), binary by
    its hash only."""
    try:
        text = moved.head.decode("utf-8")
    except UnicodeDecodeError:  # binary, or a multi-byte character cut at the limit: the sha256 identifies it
        return {}
    return {"content": text, "content_truncated": not moved.complete}


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{pysecrets.token_hex(2)}"


def default_seed(slug: str) -> int:
    """Stable per biller, so two runs of the same biller and code produce the same data."""
    return int.from_bytes(hashlib.sha256(slug.encode()).digest()[:4], "big")


@dataclass
class RunOptions:
    project: Path
    biller: str
    seed: int | None = None
    store: Path | None = None
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


def git_commit(project: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def recorded_profiles(project: Path, biller: Biller) -> dict[str, Any]:
    """The biller's and partner's profiles as a run records them (``run.started``'s ``profiles``):
    where each was read, the SHA-256 of its bytes, and its content as loaded."""
    paths = {"biller": biller.path, "partner": partner_path(project, biller.partner.name)}
    models = {"biller": biller.profile, "partner": biller.partner}
    return {which: {"path": project_relative(path, project), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "data": models[which].model_dump(mode="json")} for which, path in paths.items()}


def run_identity(project: Path, biller: Biller, operator: str | None, secrets: Secrets,
                 sftp: SftpServer) -> dict[str, Any]:
    """The facts every kind of run records at its start: the biller and partner, the profiles as loaded,
    the harness that ran, the SE who executes it and the sFTP account the platform uses."""
    b, p = biller.profile, biller.partner
    return {
        "biller": b.slug, "biller_name": b.name, "bid": b.bid, "test_portal_bid": b.test_portal_bid,
        "partner": p.name, "partner_name": p.display_name, "partner_version": b.partner_version,
        "harness_version": version("sit-harness"), "git_commit": git_commit(project),
        # The SE who executes the SIT, as named; never the login the run happens to use.
        "operator": operator or os.environ.get("SIT_OPERATOR") or b.operator,
        "python": pyplatform.python_version(), "demo_secrets": secrets.demo,
        "sftp": {"host": sftp.host, "port": sftp.port, "user": b.sftp.user},
        "profiles": recorded_profiles(project, biller),
    }


def _platform(biller: Biller) -> type[ReferenceEngine]:
    """The system under test the biller profile names (``platform:``), as registered under the
    ``sit_harness.platforms`` entry points; an unknown name is a profile fault naming the field."""
    name = biller.profile.platform
    found = {entry.name: entry for entry in entry_points(group=PLATFORMS)}
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


@dataclass
class SitSession:
    """Everything a run holds open; ``start`` brings it up, ``stop`` takes it down."""

    options: RunOptions
    # Where a notice goes (a killed run cleaned up after): `sit run` hands its console's printer.
    notify: Callable[[str], None] = print
    biller: Biller = field(init=False)
    recorder: Recorder = field(init=False)
    counts: dict[str, int] = field(default_factory=dict)
    is_ready: bool = False
    error: SitError | None = None  # a set-up fault met inside pytest, for `sit run` to report
    _store: SQLiteStore | None = None
    _wiremock: WireMockServer | None = None
    _sftp: SftpServer | None = None
    _workdir: Path | None = None
    _refusing: socket.socket | None = None  # while the partner's service is "down": see take_partner_offline
    _callbacks: CallbackServer | None = None
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
        self.adapter: Adapter = load_adapter(self.biller.partner)
        self.has_api = self.biller.partner.has_api
        self._stubs = self.adapter.stubs(self.biller.partner, self.biller.codes) if self.adapter.stubs else None
        self.partner_host = self.biller.partner_host if self.has_api else None  # a missing subdomain: found now
        self.partner_mode = PartnerMode.of(opts.partner_mode, opts.partner_url, opts.partner_ca, opts.stub_pack,
                                           opts.stub_backend, opts.project, self.biller)
        self._tls = partner_tls.trust(opts.partner_ca) if opts.partner_mode != "stub" else None
        redactor = Redactor()
        reap_orphans(self.notify)  # the WireMock and folder of a run killed earlier (kill -9), before ours
        self.secrets: Secrets = resolve(self.biller, redactor)
        self.partner_mode.require_real_credentials(self.biller, self.secrets)
        # Which system the run talks to, checked before anything starts: its certificate is evidence.
        self.partner_certificate = partner_tls.presented(opts.partner_url or "", self._tls) if self._tls else {}
        now = datetime.now(UTC)
        self.today: date = now.date()
        self.run_id = opts.run_id or new_run_id(now)
        self.store_path = opts.store or opts.project / DEFAULT_STORE
        # Checked whole before anything starts: a damaged store gets no run appended to it.
        self._store = SQLiteStore(self.store_path, check="quick_check")
        if self._store.head(self.run_id) is not None:  # a run's log is written once, by one process
            raise InputError(f"run {self.run_id} already exists in {self.store_path}; a run id is used once")
        self._held.enter_context(self._store.running(self.run_id))
        self._workdir = Path(tempfile.mkdtemp(prefix=f"sit-{self.run_id}-"))
        # A live partner is called directly: no WireMock. Elsewhere the JVM starts in the background
        # while the store, sFTP and pytest's collection get ready; ``ready()`` waits for it.
        self._pool = ThreadPoolExecutor(1)
        if self.has_api and not self.partner_mode.live:
            self._wiremock = self._wiremock_backend(redactor)
            self._starting = self._pool.submit(self._wiremock.start)
        # A recorded pack answers for the accounts of its run: the same seed gives the same accounts.
        seeds = (opts.seed, self.partner_mode.pack.recording.get("seed"), self.biller.profile.seed,
                 default_seed(self.biller.slug))
        self.seed = next(seed for seed in seeds if seed is not None)
        self.faker = Faker("en_US")  # reseeded per scenario; built once because building it is slow
        self._earlier_runs, self._history = biller_history(self._store, self.biller.slug)
        self.recorder = Recorder(self._store, self.run_id, redactor)
        self._start_sftp()
        self._start_callbacks()

    def ready(self) -> None:
        """Wait for WireMock, load the stub pack and open the run (once)."""
        if self.is_ready:
            return
        if self._wiremock is not None:
            self._starting.result()
        self._load_partner_side()
        with self.recorder.batch():
            self.recorder.append("run.started", **self._run_facts())
            self.recorder.append(WORKBOOK_EVENT, cases=[case.record() for case in self.workbook])
        self.is_ready = True

    def case(self, sit_id: str | None) -> SitCase | None:
        """The workbook case the run recorded for ``sit_id`` (its scope included)."""
        return self._cases.get(sit_id) if sit_id else None

    def _wiremock_backend(self, redactor: Redactor) -> WireMockServer:
        opts = self.options
        assert self._workdir is not None
        log = self.store_path.parent / "logs" / f"wiremock-{self.run_id}.log"
        if opts.stub_backend == "container":
            return ContainerWireMock(workdir=self._workdir)
        if opts.stub_backend == "external":
            return ExternalWireMock(opts.wiremock_url or "")
        return ProcessWireMock(opts.project, self._workdir, log, redactor.scrub, opts.wiremock_port)

    @property
    def stubs(self) -> PartnerStubs:
        """The partner's stub side (an API partner's adapter): how steps arrange and read its API."""
        if self._stubs is None:
            raise SitError(f"{self.biller.partner.display_name} has no API to arrange: a scenario about partner calls "
                           "is tagged @transport:api, so that it is N/A for a partner whose integration is files")
        return self._stubs

    @property
    def files(self) -> FileCodec:
        """The partner's file codec (a file partner's adapter): how it writes the files it sends."""
        if self.adapter.files is None:
            raise SitError(f"{self.biller.partner.display_name} sends no files of the profiles' layouts")
        return self.adapter.files(self.biller)

    def _load_partner_side(self) -> None:
        partner, opts = self.biller.partner, self.options
        if not self.has_api:
            self._load_file_side()
            return
        creds = partner.credentials
        assert creds is not None  # a partner with an API has its credentials (the profile says so)
        live = self.partner_mode.live
        tap = Tap() if live else None
        # A stub or a proxy stands for the partner's host: it is named in the Host header; a live partner is its URL.
        base_url = (opts.partner_url or "") if live else self._wiremock_url
        assert self.adapter.client is not None  # load_adapter checked it
        client = self.adapter.client(
            partner, base_url, self.secrets.get(creds.user_env), self.secrets.get(creds.secret_env),
            self.biller.pump.timeout_seconds, token=self.partner_mode.issued_token(self.biller, self.secrets),
            host=None if live else self.partner_host, codes=self.biller.codes, tls=self._tls, tap=tap,
        )
        self.client: PartnerClient | None = client
        if tap is not None:
            self.wiremock_version = None
            self.side: StubSide | LiveSide | FileSide = LiveSide(tap, self.recorder, self.stubs.decode)
            return
        admin = WireMockAdmin(self._wiremock_url)
        self.wiremock_version = admin.version()
        self.side = StubSide(admin, self.partner_mode.pack, self.recorder, self.stubs.decode,
                             traffic=lambda: client.requests_sent)
        self.side.load()

    def _load_file_side(self) -> None:
        """A partner whose integration is files: no client, no WireMock; it fetches its files over sFTP."""
        assert self.adapter.files is not None  # load_adapter checked it
        account = self.biller.profile.sftp
        self.client = None
        self.wiremock_version = None
        self.side = FileSide(self.sftp, (account.user, self.secrets.get(account.password_env)),
                             lambda: self.sftp.inbox(account.user) / OUTBOX, self.biller.file_for("payment_posting"),
                             self.files, self.recorder, self.record_transfers)

    def record_transfers(self) -> None:
        """Every file the sFTP server saw move since the last look, as ``file.transferred`` events with their
        digests: the partner's uploads to the platform, and its downloads of the platform's files."""
        for moved in self.sftp.drain():
            self.recorder.append("file.transferred", direction=TRANSFER_DIRECTION[moved.direction], user=moved.user,
                                 path=moved.path, size=moved.size, sha256=moved.sha256, received_at=moved.received_at,
                                 **transfer_content(moved))

    @property
    def _wiremock_url(self) -> str:
        assert self._wiremock is not None
        return self._wiremock.base_url

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
        self.side.reset(sit_id)
        self.bring_partner_back()
        inbox = self.sftp.inbox(self.biller.profile.sftp.user)
        shutil.rmtree(inbox, ignore_errors=True)
        inbox.mkdir(parents=True)
        self.current = self._platform(self.biller, self.client, self.recorder, inbox,
                                                               key_prefix=key_prefix, today=self.today)
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

    def callback_url(self, key: str | None) -> str:
        """The URL the partner calls the platform back on, carrying ``key`` as BK (none when None)."""
        if self._callbacks is None:
            raise ProfileError(f"{self.biller.partner.display_name} has no callback_path or "
                             f"{self.biller.profile.name} has no api_keys: the platform takes no callbacks")
        return self._callbacks.url(key)

    def take_partner_offline(self) -> str:
        """The partner's service stops: the platform's partner client is pointed at a loopback port
        bound but not listening, so each call is refused (ECONNREFUSED). Returns that address."""
        if self.client is None:
            raise SitError(f"{self.biller.partner.display_name} has no service to take offline: its integration is "
                           "files (a scenario about it is tagged @transport:api)")
        if self._refusing is None:
            self._refusing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._refusing.bind(("127.0.0.1", 0))
        host, port = self._refusing.getsockname()
        self.client.reroute(f"http://{host}:{port}")
        return f"{host}:{port}"

    def bring_partner_back(self) -> None:
        """The partner's service runs again (and at each scenario's start)."""
        if self._refusing is not None and self.client is not None:
            self.client.reroute(None)
            self._refusing.close()
            self._refusing = None

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
            "stub_backend": opts.stub_backend, "wiremock_version": self.wiremock_version,
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
        parts: list[Callable[[], object]] = []  # in the order they go down
        if (client := getattr(self, "client", None)) is not None:
            parts.append(client.close)
        if self._refusing is not None:
            parts.append(self._refusing.close)
        if hasattr(self, "side"):
            parts.append(self.side.close)
        parts += [part.stop for part in (self._sftp, self._callbacks) if part is not None]
        if hasattr(self, "_pool"):
            parts.append(lambda: self._pool.shutdown(wait=True))  # a JVM still starting is stopped next
        if self._wiremock is not None:
            parts.append(self._wiremock.stop)
        parts.append(self._held.close)
        if self._store is not None:
            parts.append(self._store.close)
        if (workdir := self._workdir) is not None:
            parts.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
        with ExitStack() as down:
            for part in reversed(parts):  # an ExitStack runs the last one pushed first
                down.callback(part)
