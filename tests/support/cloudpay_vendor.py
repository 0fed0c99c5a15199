"""A vendor's application in miniature, on loopback: the PostBackURL and ReturnURL a CloudPay test gives.

Postbacks are recorded as they arrive; the answer to each is scripted (a status, or ``"hang"`` to answer
only after the platform's timeout), so retries can be seen. The return page says who came back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

HANG_S = 1.5  # longer than the tests' postback timeout


@dataclass(frozen=True)
class Postback:
    content_type: str
    fields: dict[str, str]


class Vendor:
    def __init__(self, answers: list[int | str] | None = None) -> None:
        self.answers = list(answers or [])  # consumed one per postback; then 204, as Koha answers
        self.postbacks: list[Postback] = []
        self.returns: list[str] = []
        self._arrived = threading.Condition()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def postback_url(self) -> str:
        return f"{self.base_url}/api/postback"

    @property
    def return_url(self) -> str:
        return f"{self.base_url}/permits/return?token=abc"

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Postback]:
        """The first ``count`` postbacks, once they have arrived; AssertionError when they do not."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.postbacks) >= count, timeout=timeout_s)
            assert arrived, f"{len(self.postbacks)} postbacks arrived in {timeout_s} s, expected {count}"
            return list(self.postbacks[:count])

    def _record(self, postback: Postback) -> int | str:
        with self._arrived:
            self.postbacks.append(postback)
            self._arrived.notify_all()
            return self.answers.pop(0) if self.answers else 204

    def start(self) -> None:
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def running_vendor(answers: list[int | str] | None = None) -> Iterator[Vendor]:
    vendor = Vendor(answers)
    vendor.start()
    try:
        yield vendor
    finally:
        vendor.stop()


def _handler(vendor: Vendor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            fields = {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}
            answer = vendor._record(Postback(self.headers.get("Content-Type", ""), fields))
            if answer == "hang":
                time.sleep(HANG_S)
                answer = 204
            self.send_response(int(answer))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            vendor.returns.append(self.path)
            page = b"<!doctype html><title>Permits</title><h1 id='back'>Back at the permits office</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
