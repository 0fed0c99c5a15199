"""Masking the biller's customers' personal data for the partner pack.

Which fields are personal is partner-profile data (``evidence.personal_fields``); the
values found under those names anywhere in the run (event data, message bodies, file
contents) are then masked wherever they occur, so a name copied into an error
message or a free-text field is masked too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from harness.events import Event
from harness.reports.bodies import fields, leaf_name

PERSONAL = "[personal data]"
MIN_LEN = 3  # shorter values ("A", "12") would mask half the evidence


def collect(events: Iterable[Event], names: Iterable[str]) -> set[str]:
    """Every value held under one of ``names`` in the run: the first of the partner pack's two passes."""
    wanted, found = frozenset(names), set[str]()
    for event in events:
        _walk(event.data, wanted, found)
    return {value for value in found if len(value) >= MIN_LEN}


def _walk(node: Any, wanted: frozenset[str], found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in wanted and isinstance(value, str):
                found.add(value.strip())
            else:
                _walk(value, wanted, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, wanted, found)
    elif isinstance(node, str) and ("<" in node or "{" in node or "=" in node):
        for path, value in fields(node, "application/x-www-form-urlencoded" if "=" in node else "").items():
            if leaf_name(path) in wanted:
                found.add(value.strip())


class Masker:
    """Replaces each known personal value, longest first, wherever it occurs in a text."""

    def __init__(self, values: Iterable[str]) -> None:
        ordered = sorted(set(values), key=lambda v: (-len(v), v))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(PERSONAL, text)
