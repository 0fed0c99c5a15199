"""One SIT run's infrastructure: event store, WireMock with the partner's pack, sFTP server.

Started once per pytest session (per xdist worker), lazily at the first scenario, so
that `pytest tests/` alone never starts WireMock.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform as pyplatform
import secrets as pysecrets
import shutil
import socket
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from faker import Faker

from harness.errors import ProfileError, SitError
from harness.events import Recorder, Redactor, SQLiteStore
from harness.partners import Adapter, PartnerClient, PartnerStubs, load_adapter
from harness.platform import Platform
from harness.platform.reference import ReferenceEngine
from harness.platform.reference.callback import ApiKeys, CallbackServer
from harness.profiles import Biller, load_biller
from harness.profiles.loader import where
from harness.secrets import Secrets, resolve
from harness.stubs import (
    ContainerWireMock,
    ExternalWireMock,
    ProcessWireMock,
    StubSide,
    WireMockAdmin,
    WireMockServer,
    load_pack,
)
from harness.stubs.orphans import reap as reap_orphans
from harness.transfer import SftpServer

REPORTS = Path("reports")  # git-ignored: the event store and every projection of it
DEFAULT_STORE = REPORTS / "events.sqlite"
# The systems under test a biller profile may name (`platform:`); a real connector joins here.
PLATFORMS: dict[str, type[ReferenceEngine]] = {"reference": ReferenceEngine}


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


def _git_commit(project: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user with no passwd entry
        return "unknown"


@dataclass
class SitSession:
    """Everything a run holds open; ``start`` brings it up, ``stop`` takes it down."""

    options: RunOptions
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
    # The open scenario's system under test: partner callbacks are routed to it (None between scenarios).
    current: ReferenceEngine | None = None

    def start(self) -> None:
        opts = self.options
        self.biller = load_biller(opts.project, opts.biller)
        if self.biller.profile.platform not in PLATFORMS:
            raise ProfileError(
                f"{where(self.biller.path, ['platform'])}: field 'platform': no platform adapter "
                f"'{self.biller.profile.platform}' (known: {', '.join(PLATFORMS)})"
            )
        # Profile and pack faults are file faults: found here, before any JVM starts.
        self.adapter: Adapter = load_adapter(self.biller.partner)
        self.stubs: PartnerStubs = self.adapter.stubs(self.biller.partner, self.biller.codes)
        self.partner_host = self.biller.partner_host  # a missing subdomain is a profile fault, found now
        self._pack = load_pack(opts.project / "stubs" / self.biller.partner.name)
        redactor = Redactor()
        reap_orphans()  # the WireMock and folder of a run killed earlier (kill -9), before starting ours
        self.secrets: Secrets = resolve(self.biller, redactor)
        now = datetime.now(UTC)
        self.today: date = now.date()
        self.run_id = opts.run_id or new_run_id(now)
        self.store_path = opts.store or opts.project / DEFAULT_STORE
        self._workdir = Path(tempfile.mkdtemp(prefix=f"sit-{self.run_id}-"))
        self._wiremock = self._wiremock_backend(redactor)
        # The JVM starts in the background while the store, sFTP and pytest's collection
        # get ready; ``ready()`` waits for it at the first scenario.
        self._pool = ThreadPoolExecutor(1)
        self._starting = self._pool.submit(self._wiremock.start)
        seeds = (opts.seed, self.biller.profile.seed, default_seed(self.biller.slug))
        self.seed = next(seed for seed in seeds if seed is not None)
        self.faker = Faker("en_US")  # reseeded per scenario; built once because building it is slow
        self._store = SQLiteStore(self.store_path)
        self.recorder = Recorder(self._store, self.run_id, redactor)
        self._start_sftp()
        self._start_callbacks()

    def ready(self) -> None:
        """Wait for WireMock, load the stub pack and open the run (once)."""
        if self.is_ready:
            return
        self._starting.result()
        self._load_partner_side()
        self.recorder.append("run.started", **self._run_facts())
        self.is_ready = True

    def _wiremock_backend(self, redactor: Redactor) -> WireMockServer:
        opts = self.options
        assert self._workdir is not None
        log = self.store_path.parent / "logs" / f"wiremock-{self.run_id}.log"
        if opts.stub_backend == "container":
            return ContainerWireMock(workdir=self._workdir)
        if opts.stub_backend == "external":
            return ExternalWireMock(opts.wiremock_url or "")
        return ProcessWireMock(opts.project, self._workdir, log, redactor.scrub, opts.wiremock_port)

    def _load_partner_side(self) -> None:
        partner = self.biller.partner
        assert self._wiremock is not None
        creds = partner.credentials
        self.client: PartnerClient = self.adapter.client(
            partner, self._wiremock.base_url, self.secrets.get(creds.user_env), self.secrets.get(creds.secret_env),
            self.biller.pump.timeout_seconds, token=self.secrets.get(creds.token_env) if creds.token_env else "",
            host=self.partner_host, codes=self.biller.codes,
        )
        admin = WireMockAdmin(self._wiremock.base_url)
        self.wiremock_version = admin.version()
        self.side = StubSide(admin, self._pack, self.recorder, self.stubs.decode,
                             traffic=lambda: self.client.requests_sent)
        self.side.load()

    def _start_sftp(self) -> None:
        assert self._workdir is not None
        account = self.biller.profile.sftp
        self._sftp = SftpServer(self._workdir / "sftp", {account.user: self.secrets.get(account.password_env)})
        self._sftp.start()

    def open_scenario(self, key_prefix: str) -> Platform:
        """Reset the partner side and empty the sFTP inbox; a fresh system under test, as the
        biller profile names it, for one scenario."""
        self.side.reset()
        self.bring_partner_back()
        inbox = self.sftp.inbox(self.biller.profile.sftp.user)
        shutil.rmtree(inbox, ignore_errors=True)
        inbox.mkdir(parents=True)
        self.current = PLATFORMS[self.biller.profile.platform](self.biller, self.client, self.recorder, inbox,
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
            raise AssertionError(f"{self.biller.partner.display_name} has no callback_path or "
                                 f"{self.biller.profile.name} has no api_keys: the platform takes no callbacks")
        return self._callbacks.url(key)

    def take_partner_offline(self) -> str:
        """The partner's service stops: the platform's partner client is pointed at a loopback port
        bound but not listening, so each call is refused (ECONNREFUSED). Returns that address."""
        if self._refusing is None:
            self._refusing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._refusing.bind(("127.0.0.1", 0))
        host, port = self._refusing.getsockname()
        self.client.reroute(f"http://{host}:{port}")
        return f"{host}:{port}"

    def bring_partner_back(self) -> None:
        """The partner's service runs again (and at each scenario's start)."""
        if self._refusing is not None:
            self.client.reroute(None)
            self._refusing.close()
            self._refusing = None

    @property
    def sftp(self) -> SftpServer:
        assert self._sftp is not None
        return self._sftp

    def _run_facts(self) -> dict[str, Any]:
        b, p = self.biller.profile, self.biller.partner
        return {
            "biller": b.slug, "biller_name": b.name, "bid": b.bid, "test_portal_bid": b.test_portal_bid,
            "partner": p.name, "partner_name": p.display_name, "partner_version": b.partner_version,
            "platform": b.platform, "seed": self.seed, "business_date": self.today.isoformat(),
            "stub_backend": self.options.stub_backend, "wiremock_version": self.wiremock_version,
            "stub_pack": f"stubs/{p.name}", "harness_version": version("sit-harness"),
            "git_commit": _git_commit(self.options.project),
            "operator": self.options.operator or os.environ.get("SIT_OPERATOR") or _login(),
            "python": pyplatform.python_version(), "demo_secrets": self.secrets.demo,
            "sftp": {"host": self.sftp.host, "port": self.sftp.port, "user": b.sftp.user},
        }

    def finish(self, interrupted: bool = False) -> None:
        """Close the run with ``run.finished``: passed only if scenarios ran and none failed."""
        failed = self.counts.get("failed", 0)
        status = "interrupted" if interrupted else ("failed" if failed or not self.counts else "passed")
        self.recorder.append("run.finished", status=status, counts=dict(sorted(self.counts.items())))

    def stop(self) -> None:
        """Take down whatever ``start`` got as far as bringing up."""
        if hasattr(self, "client"):
            self.client.close()
        if self._refusing is not None:
            self._refusing.close()
        if hasattr(self, "side"):
            self.side.admin.close()
        if self._sftp is not None:
            self._sftp.stop()
        if self._callbacks is not None:
            self._callbacks.stop()
        if hasattr(self, "_pool"):
            self._pool.shutdown(wait=True)  # a JVM still starting is stopped below, not left behind
        if self._wiremock is not None:
            self._wiremock.stop()
        if self._store is not None:
            self._store.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
