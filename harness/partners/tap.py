"""A live partner's exchanges, captured where the platform client sends them: its transport.

With no WireMock between the platform and the partner (``--partner-mode live``), the client
itself says what it sent and what came back, or how the connection failed. Each exchange is kept
in the shape of a WireMock journal entry, so the evidence of a live run is the same
``partner.exchange`` event as in stub and record modes (``harness.stubs.journal.exchange_data``).
It wraps the client's transport (rather than its event hooks, which never see a request that got
no answer) and hands the client the response unchanged.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any

import httpx

# How a request that got no answer is recorded, as WireMock names its faults. A refused connection
# never reached the partner: it is evidence of the attempt, not something the partner received.
NOT_DELIVERED = "CONNECTION_REFUSED"
_FAULTS: tuple[tuple[type[httpx.TransportError], str], ...] = (
    (httpx.ConnectError, NOT_DELIVERED), (httpx.TimeoutException, "NO_ANSWER_IN_TIME"),
    (httpx.TransportError, "CONNECTION_FAILED"),
)


class Tap:
    """Exchanges as they happen; ``take`` hands over those since the last take, oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: list[dict[str, Any]] = []

    def transport(self, inner: httpx.BaseTransport) -> httpx.BaseTransport:
        """``inner``, every exchange through it captured."""
        return _Tapped(inner, self)

    def keep(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._done.append(entry)

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            done, self._done = self._done, []
        return sorted(done, key=lambda e: e["request"]["loggedDate"])


class _Tapped(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, tap: Tap) -> None:
        self._inner, self._tap = inner, tap

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started, sent_at = time.perf_counter(), time.time()
        try:
            response = self._inner.handle_request(request)
            response.read()  # the body is evidence; the client gets it as read
        except httpx.TransportError as exc:
            fault = next(name for kind, name in _FAULTS if isinstance(exc, kind))
            self._tap.keep(_entry(request, None, fault, started, sent_at))
            raise
        self._tap.keep(_entry(request, response, None, started, sent_at))
        return response

    def close(self) -> None:
        self._inner.close()


def _entry(request: httpx.Request, response: httpx.Response | None, fault: str | None, started: float,
           sent_at: float) -> dict[str, Any]:
    """A WireMock journal entry for one exchange (``response`` None: none came, for ``fault``)."""
    entry: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "request": {"method": request.method, "url": request.url.raw_path.decode("ascii", "replace"),
                    "headers": dict(request.headers.items()), "loggedDate": round(sent_at * 1000),
                    **_body(request.content)},
        "wasMatched": True,  # no stub in between: the partner itself answered (or did not)
        "timing": {"totalTime": round((time.perf_counter() - started) * 1000)},
    }
    if response is None:
        return {**entry, "responseDefinition": {"fault": fault}}
    return {**entry, "response": {"status": response.status_code, "headers": dict(response.headers.items()),
                                  **_body(response.content)}}


def _body(raw: bytes) -> dict[str, str]:
    try:
        return {"body": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bodyAsBase64": base64.b64encode(raw).decode("ascii")}
