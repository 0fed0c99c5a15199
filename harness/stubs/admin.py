"""WireMock's admin API over one kept-alive HTTP connection.

The PyPI ``wiremock`` client opens a connection per call and round-trips mappings through
its own entity classes (dropping fields it does not model, such as ``formParameters``);
stub packs are native WireMock JSON, so they go to the server as they are.
"""

from __future__ import annotations

from typing import Any

import httpx

from harness.errors import StubServerError


class WireMockAdmin:
    """Admin calls go straight to the transport (httpx's own pool of kept-alive connections): an
    ``httpx.Client`` around it adds auth, cookie, redirect and hook handling these calls never need,
    a third of each call's time, and a scenario makes several."""

    def __init__(self, base_url: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        """``transport``: what the admin calls go through (default: the network)."""
        self.base_url = base_url.rstrip("/")
        self._root = f"{self.base_url}/__admin"
        self._transport = transport or httpx.HTTPTransport()
        self._timeout = httpx.Timeout(timeout).as_dict()

    def close(self) -> None:
        self._transport.close()

    def _call(self, method: str, path: str, json: Any = None) -> httpx.Response:
        request = httpx.Request(method, self._root + path, json=json, extensions={"timeout": self._timeout})
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise StubServerError(f"WireMock at {self.base_url} did not answer {method} {path}: {exc}") from None
        if response.status_code >= 400:
            detail = " ".join(response.text.split())[:300]
            raise StubServerError(
                f"WireMock refused {method} /__admin{path} (HTTP {response.status_code}): {detail}"
            )
        return response

    def version(self) -> str:
        return str(self._call("GET", "/version").json().get("version", "unknown"))

    def import_mappings(self, mappings: list[dict[str, Any]]) -> None:
        self._call("POST", "/mappings/import", json={"mappings": mappings})

    def add_mapping(self, mapping: dict[str, Any]) -> str:
        return str(self._call("POST", "/mappings", json=mapping).json()["id"])

    def remove_mapping(self, mapping_id: str) -> None:
        self._call("DELETE", f"/mappings/{mapping_id}")

    def remove_by_metadata(self, key: str, value: str) -> None:
        self._call("POST", "/mappings/remove-by-metadata",
                   json={"matchesJsonPath": {"expression": f"$.{key}", "equalTo": value}})

    def reset(self) -> None:
        """Mappings, scenarios and the request journal back to an empty server."""
        self._call("POST", "/reset")

    def reset_journal(self) -> None:
        self._call("DELETE", "/requests")

    def reset_scenarios(self) -> None:
        self._call("POST", "/scenarios/reset")

    def journal(self) -> list[dict[str, Any]]:
        """Every request WireMock saw since the last reset, oldest first."""
        entries = self._call("GET", "/requests").json().get("requests", [])
        # WireMock lists the newest first, and two requests in one millisecond share a loggedDate: reversed
        # first, the stable sort keeps them in the order they came.
        return sorted(reversed(entries), key=lambda e: e["request"].get("loggedDate", 0))
