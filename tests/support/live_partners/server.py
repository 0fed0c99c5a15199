"""The HTTPS server every live partner runs on: stdlib ``ThreadingHTTPServer`` behind real TLS.

A partner is an ``App``: it turns one request into one response and knows nothing of sockets.
The server prints its base URL on one line of stdout once it accepts connections (what a
fixture waits for), and stops cleanly on SIGTERM, SIGINT or SIGHUP, or, when given its starter's
pid, as soon as that process is gone (so a test run killed with ``kill -9`` leaves no server).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import ssl
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from tests.support.live_partners.certs import Certificates

_IDLE_SECONDS = 30  # a connection that says nothing for this long is closed


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    headers: Mapping[str, str]  # names in lower case
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


class App(Protocol):
    server_name: str

    def handle(self, request: Request) -> Response: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the harness's httpx clients expect
    server: _TlsServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path.split("?", 1)[0],
                          {name.lower(): value for name, value in self.headers.items()}, body)
        try:
            response = self.server.app.handle(request)
        except Exception as exc:  # a partner's bug answers 500, as a real server would, and says why on stderr
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            response = Response(500, b"Internal Server Error")
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def version_string(self) -> str:
        return self.server.app.server_name

    def log_message(self, format: str, *args: Any) -> None:
        print(f"{self.address_string()} {format % args}", file=sys.stderr, flush=True)


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App, context: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.app, self.context = app, context

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens here, in the connection's own thread: a client that connects
        # and never speaks TLS holds up no one else.
        request.settimeout(_IDLE_SECONDS)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            print(f"{client_address[0]} TLS handshake failed: {exc}", file=sys.stderr, flush=True)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()  # wrap_socket took over the socket: the server's own close would miss it

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):  # a client going away mid-request is not worth a traceback
            super().handle_error(request, client_address)


def serve(app: App, certs: Certificates, host: str = "127.0.0.1", port: int = 0, *, parent: int | None = None) -> int:
    """Serve ``app`` over HTTPS until a stop signal, or until process ``parent`` (the one that
    started this server) is gone; the exit status."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: every thread's stack on stderr
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    server = _TlsServer((host, port), app, context)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    shown = f"[{host}]" if ":" in host else host
    print(f"https://{shown}:{server.server_address[1]}", flush=True)
    try:
        while not stop.wait(0.5):
            # Given, not read at start: the starter may die before this process gets that far.
            if parent is not None and os.getppid() != parent:  # re-parented: whoever started us is gone
                print("the process that started this server is gone: stopping", file=sys.stderr, flush=True)
                break
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    return 0

