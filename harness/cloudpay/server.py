"""The platform's CloudPay side on loopback: the v2 API, v1's redirect and the hosted pages.

Routes (paths matched without regard to case or a trailing slash, as the real platform's IIS does)::

    POST    /cloudpaymentsapi/v2                create a payment -> Data.CloudPaymentURL
    GET     /cloudpaymentsapi/v2/billerstatus   is the biller active for CloudPay v2
    OPTIONS /cloudpaymentsapi/...               a browser's CORS preflight
    GET|POST /cloudpay/v1                       v1: the payer's browser, redirected to the hosted page
    GET     /cloudpay/pay/<PaymentGUID>         the hosted payment page; POST: Pay
    GET     /cloudpay/receipt/<PaymentGUID>     the printable receipt, or the decline
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from harness.cloudpay import api, hosted
from harness.cloudpay.answers import Response, cors, envelope, html, preflight
from harness.cloudpay.config import CloudPayBiller, Observe, PostbackPolicy
from harness.cloudpay.context import Context
from harness.cloudpay.pages import error_page
from harness.cloudpay.postback import Postbacks
from harness.events import MASK
from harness.loopback import LoopbackHttp

MAX_BODY = 256 * 1024  # a payment request is a few kilobytes; refuse anything that could tie up the server
READ_TIMEOUT_S = 10.0  # a client that stops sending mid-request must not hold a handler thread forever
_PAYMENT = re.compile(r"^/cloudpay/(pay|receipt)/([0-9a-f-]{36})$", re.IGNORECASE)


class CloudPayServer:
    """The platform's CloudPay side for one biller, on ``host`` at ``port`` (0: a free one); ``observe`` sees
    everything. ``public_url``: where the payer's browser reaches it, when that is not ``http://host:port``
    (bound on every interface, or behind a proxy): the hosted pages are named by it."""

    def __init__(self, biller: CloudPayBiller, keys: Iterable[str], observe: Observe,
                 postback: PostbackPolicy | None = None, host: str = "127.0.0.1",
                 now: Callable[[], datetime] = datetime.now, port: int = 0, public_url: str | None = None) -> None:
        self.biller, self.keys, self.host, self._now = biller, tuple(k for k in keys if k), host, now
        self._public_url = public_url.rstrip("/") if public_url else None
        lock = threading.Lock()

        def serial(kind: str, data: dict[str, Any]) -> None:  # one observation at a time, from any thread
            with lock:
                observe(kind, data)

        self._observe: Observe = serial
        self._postbacks = Postbacks(postback or PostbackPolicy(), serial)
        self._ctx: Context | None = None
        self._http = LoopbackHttp("cloudpay", host, port)

    @property
    def base_url(self) -> str:
        return self._public_url or self._http.base_url

    @property
    def port(self) -> int:
        return self._http.port

    def start(self) -> None:
        self._http.start(_handler(self), bound=self._bound)

    def _bound(self) -> None:
        """The context names the hosted pages by the base URL: known once bound, before any request is served."""
        self._ctx = Context(self.biller, self.keys, self._observe, self._postbacks, self.base_url, self._now)

    @property
    def postback_timeout_s(self) -> float:
        """How long the platform waits for a vendor's answer to a postback."""
        return self._postbacks.policy.timeout_s

    def wait_postbacks(self, timeout_s: float) -> bool:
        """Wait until every postback sent so far has its last outcome; whether all have within ``timeout_s``."""
        return self._postbacks.wait(timeout_s)

    def stop(self) -> None:
        self._http.stop()
        self._postbacks.stop()

    def __enter__(self) -> CloudPayServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def route(self, method: str, target: str, headers: dict[str, str], body: bytes, remote_ip: str) -> Response:
        """The platform's answer to one request (observed by the handler, after)."""
        ctx = self._ctx
        assert ctx is not None
        parts = urlsplit(target)
        path = parts.path.rstrip("/").lower() or "/"
        origin = headers.get("origin")
        if path.startswith("/cloudpaymentsapi/"):
            answer = self._api(ctx, method, path, headers, body)
            return Response(answer.status, answer.body, answer.content_type,
                            {**answer.headers, **cors(origin)}, answer.note)
        if path == "/cloudpay/v1" and method in ("GET", "POST"):
            params = dict(parse_qsl(parts.query if method == "GET" else body.decode("utf-8", "replace")))
            return hosted.v1_redirect(ctx, params)
        if path == "/favicon.ico":  # every browser asks: the platform has no icon to give, and says so plainly
            return Response(HTTPStatus.NO_CONTENT, b"", "", {}, "no icon")
        match = _PAYMENT.match(path)
        if match is not None:
            return self._hosted(ctx, method, match.group(1), match.group(2), body, remote_ip)
        return html(HTTPStatus.NOT_FOUND, error_page(self.biller, "There is no such page."), "no such page")

    def _api(self, ctx: Context, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if method == "OPTIONS":
            return preflight(headers.get("origin"), headers.get("access-control-request-headers"))
        authorization = headers.get("authorization")
        if path == "/cloudpaymentsapi/v2" and method == "POST":
            return api.create_payment(ctx, authorization, body)
        if path == "/cloudpaymentsapi/v2/billerstatus" and method in ("GET", "POST"):
            return api.biller_status(ctx, authorization)
        return envelope(HTTPStatus.NOT_FOUND, "No HTTP resource was found that matches the request URI.")

    def _hosted(self, ctx: Context, method: str, page: str, guid: str, body: bytes, remote_ip: str) -> Response:
        if page == "receipt" and method == "GET":
            return hosted.show_outcome(ctx, guid)
        if page == "pay" and method == "GET":
            return hosted.show_page(ctx, guid)
        if page == "pay" and method == "POST":
            return hosted.submit(ctx, guid, dict(parse_qsl(body.decode("utf-8", "replace"))), remote_ip)
        return html(HTTPStatus.METHOD_NOT_ALLOWED, error_page(self.biller, "Not allowed."), "method not allowed")

    def observe_request(self, method: str, target: str, headers: dict[str, str], answer: Response) -> None:
        """Every request is evidence: what was asked and answered, never the key, the card or the query."""
        self._observe("cloudpay.request", {
            "method": method, "path": urlsplit(target).path, "status": int(answer.status), "note": answer.note,
            "credential": MASK if headers.get("authorization") else None, "origin": headers.get("origin")})


def _handler(server: CloudPayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_S

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_OPTIONS(self) -> None:
            self._serve("OPTIONS")

        def _serve(self, method: str) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            length = int(headers.get("content-length") or 0)
            if length > MAX_BODY:
                answer = envelope(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The request is too large.")
            else:
                body = self.rfile.read(length) if length > 0 else b""
                try:
                    answer = server.route(method, self.path, headers, body, self.client_address[0])
                except Exception as exc:  # the platform failed: the client sees a 500, the run goes on
                    answer = envelope(HTTPStatus.INTERNAL_SERVER_ERROR, f"An error has occurred: {type(exc).__name__}")
            server.observe_request(method, self.path, headers, answer)
            self._answer(answer)

        def _answer(self, answer: Response) -> None:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if answer.content_type:
                self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the console must not see requests (the query carries payer data); the evidence has them

    return Handler
