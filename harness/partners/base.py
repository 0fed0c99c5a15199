"""What every partner adapter provides, in the platform's terms.

An adapter is an ``Adapter``, registered by name as a ``sit_harness.partners`` entry point
(``harness/partners/<name>.py`` exposes ``ADAPTER`` for the partners the harness ships): a client
the platform uses to talk to the partner, and a stub side that speaks the same protocol to
WireMock (arranging a scenario's partner state and faults, and decoding what arrived). Adapters
never import one another; what they share lives here.
"""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Any

import httpx

from harness.errors import ProfileError
from harness.partners.files import FileCodec
from harness.partners.tap import Tap
from harness.profiles import ChangeLogCall, PartnerProfile


class PostingKind(StrEnum):
    PAYMENT = "payment"
    CREDIT = "credit"
    ACH_RETURN = "ach_return"
    VOID = "void"
    CHANGE = "change"


@dataclass(frozen=True)
class Posting:
    """One transaction the data pump sends to the partner.

    ``key`` is the idempotency key: the partner's reference for this transaction, the same
    on every retry, so that a partner that already took it answers "already posted".
    """

    key: str
    kind: PostingKind
    account: str
    amount: Decimal | None = None
    method: str | None = None
    original_key: str | None = None
    return_code: str | None = None
    program: str | None = None
    value: str | None = None
    posted_on: str | None = None
    channel: str | None = None  # where the payer paid (web, IVR, POSConnect...): some partners code it


class Outcome(StrEnum):
    POSTED = "posted"
    ALREADY_POSTED = "already_posted"


@dataclass(frozen=True)
class PostResult:
    outcome: Outcome
    partner_ref: str | None = None
    detail: str = ""


class PartnerUnavailable(Exception):
    """A transient fault (timeout, reset, refused connection, 5xx): worth retrying."""


class PartnerRejected(Exception):
    """The partner answered and refused: retrying the same request will not help."""

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.code = code


class AccountNotFound(PartnerRejected):
    """The partner does not hold the account."""


class PartnerClient(ABC):
    """The platform's side of the partner's API."""

    def __init__(self, partner: PartnerProfile, base_url: str, user: str, secret: str, timeout: float, *,
                 token: str = "", host: str | None = None, codes: Mapping[str, str] | None = None,
                 tls: ssl.SSLContext | None = None, tap: Tap | None = None) -> None:
        """``token``: an issued OAuth token (if the partner uses one); ``host``: the partner's host
        name when ``base_url`` is only where to connect (a stub); ``codes``: the biller's partner codes;
        ``tls``: how to trust the partner's certificate (default: the system's CAs); ``tap``: captures
        every exchange (a live partner, with no WireMock journal to read)."""
        self.partner, self.base_url = partner, base_url.rstrip("/")
        self._user, self._secret, self._token, self.timeout = user, secret, token, timeout
        self.host, self.codes, self._tls, self._tap = host, dict(codes or {}), tls, tap
        self.requests_sent = 0
        self._http_clients: list[httpx.Client] = []

    @property
    def token(self) -> str:
        """The OAuth token the client sends now ("" if the partner uses none)."""
        return self._token

    def _http_client(self, **options: Any) -> httpx.Client:
        """An HTTP client for the adapter that counts what it sends (the harness reads the
        partner side's journal only after something was sent) and names the partner's host."""

        def count(_: httpx.Request) -> None:
            self.requests_sent += 1

        headers = {"Host": self.host} if self.host else {}
        verify = self._tls if self._tls is not None else True
        if self._tap is not None:  # a given transport takes the TLS settings: the client's own are ignored
            options["transport"] = self._tap.transport(httpx.HTTPTransport(verify=verify))
        client = httpx.Client(base_url=self.base_url, timeout=self.timeout, headers=headers,
                              event_hooks={"request": [count]}, verify=verify, **options)
        self._http_clients.append(client)
        return client

    def reroute(self, base_url: str | None) -> None:
        """Send the next requests to ``base_url`` instead (None: to the partner again), still naming
        the partner's host: how the harness makes the partner's service unreachable and back."""
        for client in self._http_clients:
            client.base_url = base_url.rstrip("/") if base_url else self.base_url

    def _change_call(self, program: str | None) -> ChangeLogCall:
        """The call that carries ``program``'s account changes. A program the profile names no call
        for is refused, naming the profile field: the platform marks the change failed with this
        reason instead of the adapter breaking on it."""
        call = self.partner.change_log.get(program or "")
        if call is None:
            has = ", ".join(self.partner.change_log) or "none"
            raise PartnerRejected(f"{self.partner.display_name} takes no {program or 'unnamed'} changes: "
                                  f"fixtures/partners/{self.partner.name}.yaml field 'change_log' names no call "
                                  f"for {program or 'it'} (it has {has})")
        return call

    @abstractmethod
    def balance(self, account: str) -> dict[str, str]:
        """RTDR: the partner's balance reply for ``account``, fields by the partner's names."""

    @abstractmethod
    def post(self, posting: Posting) -> PostResult:
        """Send one posting; raise PartnerUnavailable or PartnerRejected when it does not land."""

    @abstractmethod
    def statement_pdf(self, account: str, invoice_number: str) -> bytes:
        """The bill image of one invoice, as PDF bytes."""

    @abstractmethod
    def close(self) -> None:
        """Release the client's connections."""


@dataclass(frozen=True)
class Echo:
    """What a recorded answer repeats of its request, as WireMock response templating gives it:
    ``prelude`` goes before the body (a form to parse, say), ``values`` maps each value the request
    carried to the template expression that gives the answered request's value instead."""

    prelude: str = ""
    values: Mapping[str, str] = field(default_factory=dict)


class PartnerStubs(ABC):
    """The partner's protocol from WireMock's side: arrange state and faults, decode requests."""

    FAILURES: tuple[str, ...] = ()  # the partner's own known failure modes, by name: see ``failure``

    def __init__(self, partner: PartnerProfile, codes: Mapping[str, str] | None = None) -> None:
        """``codes``: the biller's partner codes, for decoding what a request carries."""
        self.partner, self.codes = partner, dict(codes or {})

    @abstractmethod
    def decode(self, method: str, url: str, headers: Mapping[str, str], body: str) -> tuple[str, dict[str, str]]:
        """The call name and its fields in the platform's words (``account``, ``amount``,
        ``reference``, ``role``...), from a request as WireMock's journal holds it."""

    @abstractmethod
    def account(self, account: str, fields: Mapping[str, str]) -> dict[str, Any]:
        """A mapping answering the balance call for ``account`` with ``fields`` (partner names)."""

    @abstractmethod
    def fault_request(self, role: str) -> tuple[str, dict[str, Any]]:
        """The partner's call name for ``role`` and a WireMock request pattern matching that call."""

    @abstractmethod
    def posted_answer(self, call: str, again: bool) -> dict[str, Any]:
        """A WireMock response taking a posting of ``call`` (templated from the request), or, with
        ``again``, saying the partner already has that reference."""

    def replay_request(self, method: str, url: str, body: str, identity: Sequence[str]) -> dict[str, Any]:
        """A WireMock request pattern for replaying a recorded request: it matches the same call
        carrying the same values of the ``identity`` fields (the partner's names, the profile's
        ``evidence.identity_fields``), whatever else it carries. Never a recorded reference: the
        next run sends fresh ones. This default knows only the method and path."""
        return {"method": method, "urlPath": url.split("?", 1)[0]}

    def echoes(self, url: str, body: str, names: Sequence[str]) -> Echo:
        """How an answer repeats what ``body`` carried in the fields ``names``: WireMock response
        templates giving each field's value from the request being answered (none by default)."""
        return Echo()

    def fault(self, role: str, fault: str, times: int | None, delay_ms: int) -> list[dict[str, Any]]:
        """Mappings making call ``role`` fail ``times`` times (None: always) with ``fault``:
        ``timeout`` (the partner takes the posting but answers after ``delay_ms``),
        ``reset`` (connection reset), ``server_error`` (HTTP 503), or a refusal no retry mends:
        ``bad_request`` (HTTP 400) or ``forbidden`` (HTTP 403, the platform's credentials refused)."""
        call, request = self.fault_request(role)
        scenario = f"{role}-{fault}"
        if fault == "timeout":
            # The partner takes the posting but answers too late; the retry then hears "already
            # posted" for the same reference: the case idempotency keys exist for.
            late = {**self.posted_answer(call, again=False), "fixedDelayMilliseconds": delay_ms}
            return [
                stage(f"{call} answers late", request, late, scenario, "Started", "late"),
                stage(f"{call} already posted", request, self.posted_answer(call, again=True), scenario, "late",
                      "recovered"),
            ]
        response = _FAULT_RESPONSES[fault]
        if times is None:
            return [{"name": f"{call} {fault} (always)", "priority": 1, "request": request, "response": response}]
        states = ["Started", *[f"{fault}-{i}" for i in range(1, times)], "recovered"]
        return [stage(f"{call} {fault} {i + 1}/{times}", request, response, scenario, states[i], states[i + 1])
                for i in range(times)]

    def failure(self, name: str, role: str | None = None, *, token: str = "") -> list[dict[str, Any]]:
        """Mappings for one of the partner's own known failure modes, by ``name`` (see the adapter's
        ``FAILURES``), on call ``role`` where the failure is about one call (None: the failure's own
        calls); ``token``: the OAuth token the platform was issued, for failures about it. The
        mappings outrank the stub pack (priority 1) and stay until the scenario ends."""
        known = ", ".join(self.FAILURES) or "none"
        raise ValueError(f"partner {self.partner.name} has no known failure {name!r} (known: {known})")


FAULTS = ("timeout", "reset", "server_error", "bad_request", "forbidden")
# What WireMock answers for each fault but a timeout (which answers the posting, late).
_FAULT_RESPONSES: dict[str, dict[str, Any]] = {
    "reset": {"fault": "CONNECTION_RESET_BY_PEER"},
    "server_error": {"status": 503, "body": "Service Unavailable"},
    "bad_request": {"status": 400, "body": "Bad Request"},
    "forbidden": {"status": 403, "body": "Forbidden"},
}


def stage(name: str, request: dict[str, Any], response: dict[str, Any], scenario: str, state: str,
          next_state: str) -> dict[str, Any]:
    """A WireMock mapping that answers once, in ``state`` of ``scenario``, and moves it on: how a
    fault is made to happen a given number of times."""
    return {"name": name, "priority": 1, "request": request, "response": response, "scenarioName": scenario,
            "requiredScenarioState": state, "newScenarioState": next_state}


@dataclass(frozen=True)
class Adapter:
    """A partner's adapter: for an API, the platform's client and the stub side that speaks its protocol
    to WireMock; for files, the codec that says what the partner means by a line."""

    client: type[PartnerClient] | None = None
    stubs: type[PartnerStubs] | None = None
    files: type[FileCodec] | None = None


ADAPTERS = "sit_harness.partners"  # the entry point group adapters are registered in, by name


def load_adapter(partner: PartnerProfile) -> Adapter:
    """The adapter the profile names, as registered under the ``sit_harness.partners`` entry points
    (a partner may live in a package of its own); a missing one is a profile error, not a crash."""
    name = partner.adapter
    found = {entry.name: entry for entry in entry_points(group=ADAPTERS)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ProfileError(f"partner profile {partner.name}: field 'adapter': no partner adapter '{name}' is "
                           f"registered (known: {known}); a package registers one as a '{ADAPTERS}' entry point")
    adapter = found[name].load()
    if not isinstance(adapter, Adapter):
        raise ProfileError(f"the '{name}' partner adapter ({found[name].value}) is not an Adapter(client=..., "
                           "stubs=...) or Adapter(files=...)")
    if partner.has_api and (adapter.client is None or adapter.stubs is None):
        raise ProfileError(f"partner profile {partner.name}: something travels by api (transports), but the "
                           f"'{name}' adapter has no API client and stubs: give the capability a file transport")
    if partner.posts_back and adapter.stubs is None:
        raise ProfileError(f"partner profile {partner.name}: the platform posts back to it (transports), but the "
                           f"'{name}' adapter has no stubs to stand for its URLs (Adapter(stubs=...))")
    if not partner.has_api and not partner.posts_back and adapter.files is None:
        raise ProfileError(f"partner profile {partner.name}: nothing travels by api, but the '{name}' adapter has "
                           "no file codec (Adapter(files=...))")
    return adapter
