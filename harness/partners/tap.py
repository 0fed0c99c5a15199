"""A live partner's exchanges, captured by the platform client's httpx event hooks.

With no WireMock between the platform and the partner (``--partner-mode live``), the client
itself says what it sent and what came back. Each exchange is kept in the shape of a WireMock
journal entry, so the evidence of a live run is the same ``partner.exchange`` event as in stub
and record modes (``harness.stubs.journal.exchange_data``).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

Hooks = dict[str, list[Callable[..., Any]]]
_STARTED = "sit_started"  # the request extension holding when it was sent (perf counter, wall clock)


class Tap:
    """Exchanges as they happen; ``take`` hands over those completed since the last take, and
    requests that got no answer (a timeout, a refused connection) as faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, httpx.Request] = {}
        self._done: list[dict[str, Any]] = []

    def hooks(self) -> Hooks:
        """Event hooks for an ``httpx.Client`` (``event_hooks=``)."""
        return {"request": [self._sent], "response": [self._answered]}

    def _sent(self, request: httpx.Request) -> None:
        request.extensions[_STARTED] = (time.perf_counter(), time.time())
        with self._lock:
            self._open[id(request)] = request

    def _answered(self, response: httpx.Response) -> None:
        response.read()  # the body is evidence: read before the client hands the response on
        request = response.request
        with self._lock:
            self._open.pop(id(request), None)
            self._done.append(_entry(request, response))

    def take(self) -> list[dict[str, Any]]:
        """Every exchange since the last take, oldest first. The platform's calls are synchronous, so a
        request still open here was never answered: it is taken as a fault."""
        with self._lock:
            unanswered = [_entry(request, None) for request in self._open.values()]
            self._open.clear()
            done, self._done = self._done, []
        return sorted([*done, *unanswered], key=lambda e: e["request"]["loggedDate"])


def _entry(request: httpx.Request, response: httpx.Response | None) -> dict[str, Any]:
    """A WireMock journal entry for one exchange (``response`` None: no answer came)."""
    started, sent_at = request.extensions.get(_STARTED, (time.perf_counter(), time.time()))
    url = request.url.raw_path.decode("ascii", "replace")
    entry: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "request": {"method": request.method, "url": url, "headers": dict(request.headers.items()),
                    "loggedDate": round(sent_at * 1000), **_body(request.content)},
        "wasMatched": True,  # no stub in between: the partner itself answered (or did not)
        "timing": {"totalTime": round((time.perf_counter() - started) * 1000)},
    }
    if response is None:
        return {**entry, "responseDefinition": {"fault": "NO_ANSWER"}}
    return {**entry, "response": {"status": response.status_code, "headers": dict(response.headers.items()),
                                  **_body(response.content)}}


def _body(raw: bytes) -> dict[str, str]:
    try:
        return {"body": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bodyAsBase64": base64.b64encode(raw).decode("ascii")}
