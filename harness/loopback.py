"""A real HTTP server on a thread of its own: the endpoints the harness serves as the platform (partner
callbacks, CloudPay), each started for a run and stopped with it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POLL_S = 0.05  # how soon ``stop`` is noticed (http.server's default, 0.5 s, would add that to every run)


class LoopbackHttp:
    """``handler`` serves each request on ``host`` at ``port`` (0: a free one), on daemon threads named ``name``."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name, self.host, self._port = name, host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, f"the {self.name} server is not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, handler: type[BaseHTTPRequestHandler], bound: Callable[[], None] = lambda: None) -> None:
        """Bind the port, call ``bound`` (the port is known, no request is served yet), then serve."""
        httpd = ThreadingHTTPServer((self.host, self._port), handler)
        httpd.daemon_threads = True  # a hung client never keeps the run's process alive
        self._httpd = httpd
        bound()
        self._thread = threading.Thread(target=httpd.serve_forever, args=(POLL_S,), name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
