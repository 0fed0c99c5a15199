"""`sit serve`: the platform's CloudPay side served to a vendor application's test instance.

The harness is the platform (``harness.cloudpay``: the v2 API, v1's redirect, the hosted page, the
postback); the vendor's application is the system under test. Every request, page view, payment and
postback is an event of a run (``partner_mode: serve-platform``) the moment the server observes it.
The run passes when a payment was settled and posted back, none failed and the platform answered no
request with a 5xx (``harness.reports.payments``: the reports judge the log by the same rule).
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness.cases import WORKBOOK_EVENT
from harness.cloudpay import CloudPayServer, probes
from harness.cloudpay.biller import for_biller
from harness.errors import InputError, ProfileError
from harness.events import Recorder, Redactor, StoreUrl, open_store, store_url
from harness.profiles import Biller, load_biller
from harness.reports.fold import FINDING
from harness.reports.leaks import find_leaks
from harness.reports.payments import SERVED_PLATFORM, ServedPayments
from harness.reports.runs import biller_history
from harness.run_identity import new_run_id, run_identity
from harness.secrets import Secrets, add_store_password, resolve
from harness.serve import cloudpay_lines
from harness.session import DEFAULT_STORE
from harness.stubs.orphans import reap as reap_orphans

PLATFORM = "the harness as the platform's CloudPay side"
EVERY_INTERFACE = ("0.0.0.0", "::", "")
# What the server observes while answering a request (on the request's thread), before the request itself.
WITHIN_A_REQUEST = frozenset({"cloudpay.payment_created", "cloudpay.page_viewed", "cloudpay.card_refused",
                              "cloudpay.payment", "cloudpay.duplicate_submit"})


@dataclass
class CloudPayOptions:
    project: Path
    biller: str
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free one
    public_url: str | None = None  # where the vendor's instance and the payer's browser reach it, if not host:port
    store: str | Path | StoreUrl | None = None  # a URL or a path (default: $SIT_STORE, then DEFAULT_STORE)
    operator: str | None = None
    run_id: str | None = None
    # After each postback the vendor took: the same postback again and a forged one (harness.cloudpay.probes).
    probe_postbacks: bool = False


@dataclass
class ServedCloudPay:
    """One `sit serve` run (``harness.serve.run.Served``)."""

    options: CloudPayOptions
    notify: Callable[[str], None] = print
    command: str = "sit serve"
    opened: bool = False  # run.started is in the log
    closed: bool = False  # and its terminal event: nothing observed later is recorded
    _held: ExitStack = field(default_factory=ExitStack)  # what goes down on stop, last in first out
    _lock: threading.Lock = field(default_factory=threading.Lock)  # observations against opening and closing
    _early: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # observed before run.started
    _lines: list[str] = field(default_factory=list)  # console lines not yet polled
    _requests: int = 0  # requests recorded: each one's console number
    _payments: dict[str, int] = field(default_factory=dict)  # payment GUID -> its number (PAY-001, as reports say)
    _ending: str = ""  # the closing line, once finished
    _within: threading.local = field(default_factory=threading.local)  # lines held until their request's
    _probes: list[threading.Thread] = field(default_factory=list)  # postbacks sent as a forger would, in flight

    def start(self) -> None:
        opts = self.options
        self.biller: Biller = load_biller(opts.project, opts.biller)
        self.version = _cloudpay_version(self.biller)
        _check_address(opts)
        redactor = Redactor()
        reap_orphans(self.notify)
        self.store = store_url(opts.store, opts.project / DEFAULT_STORE)
        self.secrets: Secrets = resolve(self.biller, redactor)
        add_store_password(self.secrets, self.store, redactor)
        self.key_env: str | None = _key_env(self.biller) if self.version == 2 else None
        # Bound before the store is opened: a port in use leaves no trace; what arrives meanwhile waits in _early.
        self.server: CloudPayServer = for_biller(self.biller, self.secrets, self._observe, opts.host, opts.port,
                                                 opts.public_url)
        _bind(self.server, opts)
        self._held.callback(self.server.stop)
        self.run_id = opts.run_id or new_run_id(datetime.now(UTC))
        store = self._held.enter_context(open_store(self.store, check="quick_check"))
        if store.head(self.run_id) is not None:
            raise InputError(f"run {self.run_id} already exists in {self.store}; a run id is used once")
        self._held.enter_context(store.running(self.run_id))
        self.recorder = Recorder(store, self.run_id, redactor)
        earlier_runs, history = biller_history(store, self.biller.slug)
        with self._lock, self.recorder.batch():
            self.recorder.append("run.started", **self._facts(earlier_runs, history))
            # A served run executes no scenario: its workbook is the payments, listed as they arrive.
            self.recorder.append(WORKBOOK_EVENT, cases=[])
            for kind, data in self._early:  # a vendor that called before the run was opened (a fixed --port)
                self._record(kind, data)
            self.opened = True

    def _facts(self, earlier_runs: int, history: list[dict[str, Any]]) -> dict[str, Any]:
        """What the run records at its start: the facts every run records (the vendor among them), and where it
        is served."""
        base = self.server.base_url
        where = {"api_url": f"{base}/cloudpaymentsapi/v2", "api_key_env": self.key_env} if self.version == 2 else {
            "redirect_url": f"{base}/cloudpay/v1"}
        return {
            **run_identity(self.options.project, self.biller, self.options.operator, self.secrets, None),
            "platform": PLATFORM, "seed": None, "business_date": datetime.now(UTC).date().isoformat(),
            "stub_backend": None, "wiremock_version": None, "partner_mode": SERVED_PLATFORM, "selection": None,
            "served": {"base_url": base, "biller_guid": self.server.biller.guid, **where},
            "run_number": earlier_runs + 1, "history": history,
        }

    def _observe(self, kind: str, data: dict[str, Any]) -> None:
        """The server's observation (from its threads): an event now, or once the run opens; none once closed."""
        with self._lock:
            if self.closed:
                return
            if not self.opened:
                self._early.append((kind, data))
                return
            self._record(kind, data)

    def _record(self, kind: str, data: dict[str, Any]) -> None:
        self.recorder.append(kind, **data)
        if kind == FINDING:  # its probe's line said it
            return
        if kind == "cloudpay.postback" and data.get("outcome") == "delivered" and self.options.probe_postbacks:
            self._probe(str(data.get("payment")), str(data.get("url")), dict(data.get("fields") or {}))
        if kind == "cloudpay.request":
            self._requests += 1
        guid = str(data.get("payment") or "")
        if kind == "cloudpay.payment_created":
            self._payments[guid] = len(self._payments) + 1
        number = self._payments.get(guid)
        line = cloudpay_lines.event_line(kind, data, self._requests, f"PAY-{number:03d}" if number else "payment ?")
        # The server observes a request once answered, after what answering it did: the console shows the request
        # first, then that. (A postback is sent on a thread of its own, outside any request: shown at once.)
        held: list[str] = self._within.__dict__.setdefault("lines", [])
        if kind == "cloudpay.request":
            self._lines += [line, *held]
            held.clear()
        elif kind in WITHIN_A_REQUEST:
            held.append(line)
        else:
            self._lines.append(line)

    def _probe(self, guid: str, url: str, fields: dict[str, str]) -> None:
        """Send the vendor the postback it took again, then a forged one, on a thread of their own: each answer
        recorded, each one the vendor accepted a finding of the payment's row."""
        def probe() -> None:
            with httpx.Client(timeout=self.server.postback_timeout_s) as client:
                for which, sent in ((probes.REPLAYED, fields), (probes.FORGED, probes.forged(fields))):
                    status = probes.send(client, url, sent)
                    self._observe("cloudpay.postback_probe", {
                        "payment": guid, "probe": which, "status": status, "accepted": probes.accepted(status),
                        "postback_guid": sent.get("PaymentGUID")})
                    if (text := probes.flag(which, status)) is not None:
                        self._observe(FINDING, {"sit_id": f"PAY-{self._payments.get(guid, 0):03d}", "text": text})

        thread = threading.Thread(target=probe, name="cloudpay-probe", daemon=True)
        self._probes.append(thread)
        thread.start()

    def configuration(self) -> list[str]:
        return cloudpay_lines.configuration(self)

    def poll(self) -> list[str]:
        """The console lines of what was recorded since the last poll (the server records as it observes)."""
        with self._lock:
            lines, self._lines = self._lines, []
        return lines

    def finish(self, interrupted: str | None = None) -> str:
        """Stop serving (a postback still being retried is abandoned, and recorded so), then ``run.finished`` with
        the verdict the reports give the log, or ``run.interrupted`` with the reason. Returns the run's status."""
        for thread in self._probes:  # a probe's answer belongs to the run
            thread.join(timeout=2 * self.server.postback_timeout_s)
        self.server.stop()
        with self._lock:
            self.closed = True
        store = self.recorder.store
        payments = ServedPayments()
        for event in store.events(self.run_id):
            if event.kind.startswith("cloudpay."):
                payments.add(event)
        status, counts, error = payments.verdict(interrupted=interrupted is not None)
        leaks = find_leaks(self.secrets.values, store.events(self.run_id))
        if leaks:
            error = f"a secret reached the event log: {leaks[0]}" + (f"; {error}" if error else "")
        failure = {"error": error, "category": "harness"} if error else {}
        served = dict(payments.requests)
        if interrupted is not None:
            self.recorder.append("run.interrupted", reason=interrupted, counts=counts, served=served, **failure)
            return "interrupted"
        status = "failed" if leaks else status
        self.recorder.append("run.finished", status=status, counts=counts, served=served, **failure)
        self._ending = cloudpay_lines.outcome(self.run_id, status, counts, served, error)
        return status

    def outcome(self, status: str) -> str:
        return self._ending or f"Run {self.run_id}: {status.upper()}"

    def stop(self) -> None:
        """Take down what ``start`` brought up, each part even when another fails; again does no harm."""
        held, self._held = self._held, ExitStack()
        held.close()


def _cloudpay_version(biller: Biller) -> int:
    if biller.vendor is None or biller.cloudpay_version is None:
        raise ProfileError(f"{biller.profile.name} ({biller.slug}) is not a CloudPay biller: `sit stubs serve` serves "
                           f"a partner's stubs ({biller.partner.display_name}) to a platform test environment")
    return biller.cloudpay_version


def _key_env(biller: Biller) -> str:
    """The application API key the vendor's instance is configured with: the biller's first active one."""
    active = [key.env for key in biller.profile.api_keys if key.active]
    if not active:
        raise ProfileError(f"{biller.path}: field 'api_keys': {biller.profile.name} has no active API key, and its "
                           "vendor's application authenticates to CloudPay v2 with one: add {env: SIT_..._API_KEY}")
    return active[0]


def _check_address(opts: CloudPayOptions) -> None:
    if opts.public_url is not None:
        parts = urlsplit(opts.public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(f"--public-url {opts.public_url}: give an absolute http(s) URL, as the vendor's "
                             "instance and the payer's browser reach this machine (http://host:port)")
    elif opts.host in EVERY_INTERFACE:
        raise InputError(f"--host {opts.host or '(empty)'} serves every interface: give --public-url "
                         "http://NAME:PORT, the address the vendor's instance and the payer's browser reach")


def _bind(server: CloudPayServer, opts: CloudPayOptions) -> None:
    """Start the server; a port in use (or an address this machine does not have) is the SE's to change."""
    try:
        server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"port {opts.port} on {opts.host} is in use: free it, or give another --port "
                             "(0: a free one)") from None
        raise InputError(f"cannot serve on {opts.host} port {opts.port}: {exc.strerror or exc}") from None
