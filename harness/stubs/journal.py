"""WireMock request-journal entries as partner-exchange event data."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# (method, url, headers, body) -> (call name, decoded business fields); given by the partner adapter.
Decoder = Callable[[str, str, dict[str, str], str], tuple[str, dict[str, str]]]


def _headers(raw: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (raw or {}).items():
        out[name] = ", ".join(value) if isinstance(value, list) else str(value)
    return out


def _body(part: dict[str, Any]) -> str:
    if "body" in part and part["body"] is not None:
        return str(part["body"])
    encoded = part.get("bodyAsBase64")
    if not encoded:
        return ""
    raw = base64.b64decode(encoded)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(raw)} bytes of binary content>"


def exchange_data(entry: dict[str, Any], decode: Decoder | None) -> dict[str, Any]:
    """One journal entry as the ``partner.exchange`` event holds it (before redaction)."""
    request, response = entry.get("request", {}), entry.get("response") or {}
    headers = _headers(request.get("headers"))
    body = _body(request)
    call, fields = decode(request.get("method", ""), request.get("url", ""), headers, body) if decode else ("", {})
    stub = entry.get("stubMapping") or {}
    logged = request.get("loggedDate")
    return {
        "journal_id": entry.get("id"),
        "call": call,
        "fields": fields,
        "method": request.get("method"),
        "url": request.get("url"),
        "request_headers": headers,
        "request_body": body,
        "status": response.get("status"),
        "response_headers": _headers(response.get("headers")),
        "response_body": _body(response),
        "matched": bool(entry.get("wasMatched")),
        "stub": stub.get("name") or stub.get("id"),
        "fault": (entry.get("responseDefinition") or {}).get("fault"),
        "timing_ms": (entry.get("timing") or {}).get("totalTime"),
        "logged_at": datetime.fromtimestamp(logged / 1000, UTC).isoformat(timespec="milliseconds")
        if logged
        else None,
    }
