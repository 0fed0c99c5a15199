"""pytest-xdist scheduling for several billers: all of one biller's scenarios on one worker, in feature order.

Each biller is its own run, so its scenarios must not be spread over workers. xdist's ``--dist loadgroup``
would group them by an ``@group`` suffix it writes into each test's node id, but pytest 9.2's structured node
ids no longer take that write (pytest-dev/pytest-xdist#1386: the tests are spread as if unmarked). So the
plugin hands xdist this scheduler (through xdist's ``pytest_xdist_make_scheduler`` hook), which reads the
group from the test's biller parameter, the ``[SLUG]`` of its node id, whatever ``--dist`` says.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

__all__ = ["BillerScheduling", "biller_of"]


def biller_of(nodeid: str, billers: Sequence[str]) -> str | None:
    """The biller whose parameter id is in ``nodeid``'s ``[...]`` (ids joined by '-', so the longest biller
    that is a whole part of it wins: 'county-water' is not taken for 'clayton-county-water')."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    ids = nodeid[nodeid.rindex("[") + 1 : -1]
    found = [b for b in billers if ids == b or ids.startswith(f"{b}-") or ids.endswith(f"-{b}") or f"-{b}-" in ids]
    return max(found, key=len) if found else None


class BillerScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no py.typed: Any to mypy
    """xdist's load-by-scope scheduling with one scope per biller: a worker takes a whole biller, then the
    next one left (the billers with the most scenarios first); a test of no biller is a scope of its own."""

    def __init__(self, config: pytest.Config, log: Producer | None, billers: Sequence[str]) -> None:
        super().__init__(config, log)
        self._billers = tuple(billers)

    def _split_scope(self, nodeid: str) -> str:
        return biller_of(nodeid, self._billers) or nodeid
