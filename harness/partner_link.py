"""The partner as a run reaches it: its adapter, what stands for it (WireMock with a stub pack or a proxy,
the live partner itself, or the sFTP server for a partner whose integration is files), the platform's
client of its API, and the side that turns what the partner saw into events.

One part of the run's composition (``harness.session.SitSession``): ``start`` begins what takes long
(a JVM) in the background, ``connect`` waits for it and builds the client and the side, ``close``
takes down what it brought up.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.errors import SitError
from harness.events import Recorder, Redactor
from harness.partner_mode import PartnerMode
from harness.partners import Adapter, PartnerClient, PartnerStubs, load_adapter
from harness.partners import tls as partner_tls
from harness.partners.file_side import FileSide, Pickup
from harness.partners.files import OUTBOX, FileCodec
from harness.partners.live import LiveSide
from harness.partners.tap import Tap
from harness.profiles import Biller
from harness.secrets import Secrets
from harness.stubs import ContainerWireMock, ExternalWireMock, ProcessWireMock, StubSide, WireMockAdmin, WireMockServer
from harness.stubs.shared import SharedWireMock
from harness.transfer import Account, SftpServer
from harness.transfer.evidence import record_transfers

Side = StubSide | LiveSide | FileSide


@dataclass(frozen=True)
class WireMockPlace:
    """Where a WireMock for the run comes from (``--stub-backend``) and what it needs."""

    backend: str  # process, container or external
    project: Path
    workdir: Path
    log: Path
    url: str | None = None  # external: where it runs
    port: int = 0  # process: the port to take (0: any free one)
    shared: SharedWireMock | None = None  # process: the worker's WireMock, lent to this run (several billers)


@dataclass
class PartnerLink:
    """``mode``: the run's partner mode, its options checked together; ``tls``: how to trust a real partner."""

    biller: Biller
    mode: PartnerMode
    partner_url: str | None = None
    tls: ssl.SSLContext | None = None
    adapter: Adapter = field(init=False)
    client: PartnerClient | None = field(init=False, default=None)
    side: Side = field(init=False)
    wiremock_version: str | None = field(init=False, default=None)
    _wiremock: WireMockServer | None = field(init=False, default=None)
    _pool: ThreadPoolExecutor | None = field(init=False, default=None)
    _starting: Future[Any] | None = field(init=False, default=None)
    _refusing: socket.socket | None = field(init=False, default=None)  # while the partner's service is "down"
    _server: SftpServer | None = field(init=False, default=None)  # the partner's own sFTP server (delivery: put)
    drop: Account | None = field(init=False, default=None)  # the platform's account on it

    def __post_init__(self) -> None:
        self.adapter = load_adapter(self.biller.partner)
        partner = self.biller.partner
        self.has_api = partner.has_api
        # WireMock stands for the partner's API, or for the URLs the platform posts back to (CloudPay).
        self.stubbed = self.has_api or partner.posts_back
        self._stubs = self.adapter.stubs(partner, self.biller.codes) if self.adapter.stubs else None
        self.partner_host = self.biller.partner_host if self.has_api else None  # a missing subdomain: found now

    @property
    def stubs(self) -> PartnerStubs:
        """The partner's stub side (an API partner's adapter): how steps arrange and read its API."""
        if self._stubs is None:
            raise SitError(f"{self.biller.partner.display_name} has no API to arrange: a scenario about partner calls "
                           "is tagged @transport:api, so that it is N/A for a partner whose integration is files")
        return self._stubs

    @cached_property
    def files(self) -> FileCodec:
        """The partner's file codec (a file partner's adapter): how it writes the files it sends; one per run."""
        if self.adapter.files is None:
            raise SitError(f"{self.biller.partner.display_name} sends no files of the profiles' layouts")
        return self.adapter.files(self.biller)

    def start(self, place: WireMockPlace, redactor: Redactor, secrets: Secrets) -> None:
        """Start WireMock in the background where the partner is stubbed or recorded (a live partner is
        called directly): ``connect`` waits for it. A file partner that has the platform put files on its
        own sFTP server gets that server."""
        if not self.stubbed:
            self._start_server(place.workdir, secrets)
            return
        if self.mode.live:
            return
        self._wiremock = _wiremock(place, redactor)
        self._pool = ThreadPoolExecutor(1)
        self._starting = self._pool.submit(self._wiremock.start)

    def connect(self, secrets: Secrets, recorder: Recorder, sftp: SftpServer) -> None:
        """The platform's client of the partner and the partner's side, once what stands for it runs."""
        if not self.stubbed:
            self._connect_files(secrets, recorder, sftp)
            return
        if self._starting is not None:
            self._starting.result()
        if not self.has_api:  # the platform posts back to the partner's URLs: no client, WireMock's journal read
            self._connect_stubs(recorder)
            return
        partner, live = self.biller.partner, self.mode.live
        creds, client_type = partner.credentials, self.adapter.client
        assert creds is not None and client_type is not None  # an API partner has both (profile, load_adapter)
        tap = Tap() if live else None
        # A stub or a proxy stands for the partner's host: it is named in the Host header; a live partner is its URL.
        client = client_type(
            partner, (self.partner_url or "") if live else self._base_url, secrets.get(creds.user_env),
            secrets.get(creds.secret_env), self.biller.pump.timeout_seconds,
            token=self.mode.issued_token(self.biller, secrets), host=None if live else self.partner_host,
            codes=self.biller.codes, tls=self.tls, tap=tap)
        self.client = client
        if tap is not None:
            self.side = LiveSide(tap, recorder, self.stubs.decode)
            return
        self._connect_stubs(recorder, traffic=lambda: client.requests_sent)

    def _connect_stubs(self, recorder: Recorder, traffic: Callable[[], int] | None = None) -> None:
        admin = WireMockAdmin(self._base_url)
        self.wiremock_version = admin.version()
        self.side = StubSide(admin, self.mode.pack, recorder, self.stubs.decode, traffic=traffic)
        self.side.load()

    @property
    def base_url(self) -> str:
        """Where WireMock serves the partner's stubs (the vendor's PostBackURL and ReturnURL, for CloudPay)."""
        return self._base_url

    def _start_server(self, workdir: Path, secrets: Secrets) -> None:
        """The partner's own sFTP server, where the platform puts the files the partner does not fetch."""
        account, spec = self.biller.profile.partner_sftp, self.biller.file_for("payment_posting")
        if account is None or spec is None or spec.delivery != "put":
            return
        password = secrets.get(account.password_env)
        self._server = SftpServer(workdir / "partner-sftp", {account.user: password})
        self._server.start()
        self.drop = Account(self._server.host, self._server.port, account.user, password,
                            self._server.host_public_key)

    def _connect_files(self, secrets: Secrets, recorder: Recorder, sftp: SftpServer) -> None:
        """A partner whose integration is files: no client, no WireMock. It fetches the platform's files from
        the platform's sFTP server over SSH, or finds them put on its own."""
        account, spec = self.biller.profile.sftp, self.biller.file_for("payment_posting")
        own = self._server
        if own is not None and self.drop is not None:
            user = self.drop.user
            pickup = Pickup(own, (user, self.drop.password), lambda: own.inbox(user), fetch=False,
                            transfers=lambda: record_transfers(own, recorder, server="partner"))
        else:
            pickup = Pickup(sftp, (account.user, secrets.get(account.password_env)),
                            lambda: sftp.inbox(account.user) / OUTBOX, fetch=True,
                            transfers=lambda: record_transfers(sftp, recorder))
        self.side = FileSide(pickup, spec, self.files, recorder)

    @property
    def _base_url(self) -> str:
        assert self._wiremock is not None
        return self._wiremock.base_url

    def take_offline(self) -> str:
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

    def bring_back(self) -> None:
        """The partner's service runs again (and at each scenario's start)."""
        if self._refusing is not None and self.client is not None:
            self.client.reroute(None)
            self._refusing.close()
            self._refusing = None

    def parts(self) -> list[Callable[[], object]]:
        """What goes down, in order: the client, the refusing socket, the side, then WireMock (after a JVM
        still starting has started, so that it is stopped)."""
        down: list[Callable[[], object]] = []
        if self.client is not None:
            down.append(self.client.close)
        if self._refusing is not None:
            down.append(self._refusing.close)
        if hasattr(self, "side"):
            down.append(self.side.close)
        if self._server is not None:
            down.append(self._server.stop)
        if (pool := self._pool) is not None:
            down.append(lambda: pool.shutdown(wait=True))
        if self._wiremock is not None:
            down.append(self._wiremock.stop)
        return down


def trust(mode: str, ca: Path | None) -> ssl.SSLContext | None:
    """How the run trusts a real partner's certificate (None in stub mode: WireMock is ours)."""
    return partner_tls.trust(ca) if mode != "stub" else None


def _wiremock(place: WireMockPlace, redactor: Redactor) -> WireMockServer:
    if place.backend == "container":
        return ContainerWireMock(workdir=place.workdir)
    if place.backend == "external":
        return ExternalWireMock(place.url or "")
    if place.shared is not None:
        return place.shared.lend(place.log, redactor.scrub)
    return ProcessWireMock(place.project, place.workdir, place.log, redactor.scrub, place.port)
