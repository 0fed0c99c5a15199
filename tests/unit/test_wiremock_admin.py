"""WireMock's admin API as the harness reads it (its journal's order), against answers WireMock gives."""

from __future__ import annotations

import httpx

from harness.stubs import WireMockAdmin


def test_the_journal_reads_oldest_first_even_within_one_millisecond() -> None:
    """WireMock lists the newest request first; calls made in quick turn (a balance asked for each of
    several accounts) may share a loggedDate, and must still read in the order they were made."""
    made = [("a", 1000), ("b", 1001), ("c", 1001), ("d", 1001), ("e", 1002)]
    newest_first = [{"id": name, "request": {"loggedDate": date}} for name, date in reversed(made)]
    answer = httpx.MockTransport(lambda request: httpx.Response(200, json={"requests": newest_first}))
    admin = WireMockAdmin("http://wiremock.test", transport=answer)
    assert [entry["id"] for entry in admin.journal()] == ["a", "b", "c", "d", "e"]
    admin.close()
