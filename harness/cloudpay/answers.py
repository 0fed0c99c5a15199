"""What the platform answers, as bytes and headers, and the shapes it answers in.

The API's envelope (``Status``, ``Message``, ``Data``) is the one public clients read ``Data.CloudPaymentURL``
from; an error has the same envelope with ``Status: "Error"`` and ``Data: null``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

API_METHODS = "POST, GET, OPTIONS"
API_HEADERS = "Authorization, Content-Type, Accept"
PREFLIGHT_MAX_AGE_S = "600"


@dataclass(frozen=True)
class Response:
    status: HTTPStatus
    body: bytes = b""
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    note: str = ""  # what the platform made of the request, for the evidence (never a secret)


def envelope(status: HTTPStatus, message: str, data: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None) -> Response:
    body = {"Status": "Success" if status < 400 else "Error", "Message": message,
            "Data": dict(data) if data is not None else None}
    return Response(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers or {}, message)


def html(status: HTTPStatus, page: str, note: str = "") -> Response:
    return Response(status, page.encode(), "text/html; charset=utf-8", {"Cache-Control": "no-store"}, note)


def redirect(location: str, note: str = "") -> Response:
    return Response(HTTPStatus.SEE_OTHER, b"", "", {"Location": location}, note)


def cors(origin: str | None) -> dict[str, str]:
    """The headers that let a page on ``origin`` read the API's answer (a browser needs them)."""
    if not origin:
        return {"Access-Control-Allow-Origin": "*"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def preflight(origin: str | None, requested_headers: str | None) -> Response:
    headers = {**cors(origin), "Access-Control-Allow-Methods": API_METHODS,
               "Access-Control-Allow-Headers": requested_headers or API_HEADERS,
               "Access-Control-Max-Age": PREFLIGHT_MAX_AGE_S}
    return Response(HTTPStatus.NO_CONTENT, headers=headers, note="CORS preflight")
