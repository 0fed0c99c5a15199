"""The reference platform's callback endpoint: where a partner calls the platform back.

A real HTTP server on loopback, started for the run and stopped with it. The platform's
contract, which a partner that calls back follows (the playbooks say only that Caselle calls
a URL carrying the biller's API key as ``BK``; the rest is the reference platform's choice)::

    POST <callback_path>?BK=<biller API key>
    {"event": "account.updated", "accountNumber": "..."}

    200 {"status": "accepted"}      the platform refreshed the account through RTDR
    400 {"error": "..."}            not such a JSON body (recorded as refused)
    401 {"error": "unauthorized"}   no, an unknown or an inactive key: nothing processed
    404 {"error": "..."}            another path, or an account the partner does not hold
    422 {"error": "..."}            the platform could not refresh the account (the partner refused)
    503 {"error": "..."}            no scenario open: no platform to process it

The 401 does not say which key fault it was (that would help someone guessing keys); the
event log does. Accepted and refused callbacks go to the current scenario's platform, which
records them (``platform.callback_received`` / ``platform.callback_refused``) with the
request's path and query: the redactor masks ``BK`` there, the key itself is never put in.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

from harness.loopback import LoopbackHttp
from harness.platform.port import AccountNotFound, PlatformRefusal

ACCOUNT_UPDATED = "account.updated"
KEY_PARAM = "BK"
MAX_BODY = 64 * 1024  # a callback is a few hundred bytes; refuse anything that could tie up the server
READ_TIMEOUT_S = 10.0  # a client that stops sending mid-request must not hold a handler thread forever


class CallbackRefused(Exception):
    """What the platform answers a callback it will not process (the status says how)."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class CallbackTarget(Protocol):
    """The platform side that processes callbacks (the current scenario's reference engine)."""

    def account_changed(self, account: str, url: str) -> None:
        """Refresh ``account`` from the partner; ``url`` is the request's path and query, for the log."""

    def callback_refused(self, url: str, reason: str) -> None:
        """Record a callback the platform refused, and why."""


@dataclass(frozen=True)
class ApiKeys:
    """The biller's API keys (values from the environment) and which of them are still active."""

    active: tuple[str, ...]
    inactive: tuple[str, ...] = ()

    def refusal(self, presented: str | None) -> str | None:
        """None when ``presented`` is an active key, else why it is refused (never the key)."""
        if not presented:
            return "no API key"
        # Compared with every key, not stopping at a match: timing tells nothing about which keys exist.
        active = _matches(presented, self.active)
        inactive = _matches(presented, self.inactive)
        if active:
            return None
        return "inactive API key" if inactive else "unknown API key"


def _matches(presented: str, keys: Iterable[str]) -> bool:
    given = presented.encode()
    return any([hmac.compare_digest(given, key.encode()) for key in keys])


class CallbackServer:
    """``POST path?BK=key`` on 127.0.0.1, routed to whatever ``target()`` returns at the time."""

    def __init__(self, path: str, keys: ApiKeys, target: Callable[[], CallbackTarget | None]) -> None:
        self.path, self.keys, self.target = path, keys, target
        # Callbacks are processed one at a time: the engine they reach is not thread-safe, and in
        # SIT each comes from a step that waits for the answer, so nothing else touches it meanwhile.
        self._processing = threading.Lock()
        self._http = LoopbackHttp("callback-server")

    @property
    def port(self) -> int:
        return self._http.port

    def url(self, key: str | None) -> str:
        """The callback URL the partner is given, carrying ``key`` (none when None)."""
        query = f"?{urlencode({KEY_PARAM: key})}" if key is not None else ""
        return f"http://127.0.0.1:{self.port}{self.path}{query}"

    def start(self) -> None:
        self._http.start(_handler(self))

    def stop(self) -> None:
        self._http.stop()

    def handle(self, target_url: str, body: bytes) -> tuple[HTTPStatus, dict[str, Any]]:
        """Authenticate and process one POST; returns the status and JSON answer."""
        parts = urlsplit(target_url)
        if parts.path != self.path:
            return HTTPStatus.NOT_FOUND, {"error": "no such callback"}
        with self._processing:
            platform = self.target()
            if platform is None:
                return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the platform is not taking callbacks now"}
            try:
                self._process(platform, target_url, parts.query, body)
            except CallbackRefused as refused:
                return refused.status, {"error": str(refused)}
        return HTTPStatus.OK, {"status": "accepted"}

    def _process(self, platform: CallbackTarget, url: str, query: str, body: bytes) -> None:
        keys = parse_qs(query, keep_blank_values=True).get(KEY_PARAM, [])
        # Two keys: which one counts would be the server's guess, and a guess is no authentication.
        reason = "more than one API key" if len(keys) > 1 else self.keys.refusal(keys[0] if keys else None)
        if reason is not None:  # authenticated before the body is even read for meaning
            platform.callback_refused(url, reason)
            raise CallbackRefused(HTTPStatus.UNAUTHORIZED, "unauthorized")
        try:
            account = account_of(body)
        except ValueError as exc:
            platform.callback_refused(url, f"bad request: {exc}")
            raise CallbackRefused(HTTPStatus.BAD_REQUEST, str(exc)) from None
        try:
            platform.account_changed(account, url)
        except AccountNotFound as exc:
            raise CallbackRefused(HTTPStatus.NOT_FOUND, str(exc)) from None
        except PlatformRefusal as exc:
            raise CallbackRefused(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc)) from None


def account_of(body: bytes) -> str:
    """The account an ``account.updated`` callback names; ValueError saying what is wrong otherwise."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(payload, dict) or payload.get("event") != ACCOUNT_UPDATED:
        raise ValueError(f"the body is not an {ACCOUNT_UPDATED!r} event")
    account = payload.get("accountNumber")
    if not isinstance(account, str) or not account.strip():
        raise ValueError("the body names no accountNumber")
    return account.strip()


def _handler(server: CallbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_S

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
                return
            try:
                status, answer = server.handle(self.path, self.rfile.read(length))
            except Exception as exc:  # the platform failed: the partner sees a 500, the run goes on
                status, answer = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(exc).__name__}: {exc}"}
            self._answer(status, answer)

        def do_GET(self) -> None:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "callbacks are POSTed"})

        def _answer(self, status: HTTPStatus, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            # The default writes each request line, BK key included, to stderr: the console must
            # never see a key, and what matters is in the event log already.
            return

    return Handler
