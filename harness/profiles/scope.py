"""Which capabilities are in scope for a biller, and why the others are N/A.

One rule serves both the run (scenarios out of scope are reported N/A with this reason)
and the reference engine (postings for capabilities out of scope are never pumped).
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.errors import ProfileError
from harness.profiles.loader import Biller
from harness.profiles.models import Status

CAPABILITY_TAG = "capability:"
PARTNER_TAG = "partner:"


def out_of_scope(biller: Biller, capability: str) -> str | None:
    """None when ``capability`` is in scope for the biller, else the reason it is N/A."""
    cap = biller.capability(capability)
    partner = biller.partner.display_name
    if cap is None:
        raise ProfileError(
            f"fixtures/partners/{biller.partner.name}.yaml: field 'capabilities': no entry for '{capability}'; "
            "add it with its status and reason"
        )
    if cap.status is Status.SUPPORTED:
        return None
    if cap.status is Status.NOT_SUPPORTED:
        return f"Not supported by {partner}: {cap.reason}"
    if biller.takes(capability):
        return None
    how = f"setting {biller.partner.settings[cap.setting]} is off" if cap.setting else "not taken"
    return f"Optional for {partner}, {how} for {biller.profile.name}: {cap.reason}"


def belongs(biller: Biller, tags: Iterable[str]) -> bool:
    """Whether a scenario with these tags is part of the biller's integration at all.

    A scenario tagged for another partner is outside it: not an N/A row of its workbook.
    """
    partners = {tag.removeprefix(PARTNER_TAG) for tag in tags if tag.startswith(PARTNER_TAG)}
    return not partners or biller.partner.name in partners


def scenario_scope(biller: Biller, tags: Iterable[str]) -> str | None:
    """None when a scenario of the biller's workbook is in scope, else why it is N/A."""
    for tag in sorted(tags):
        if tag.startswith(CAPABILITY_TAG) and (reason := out_of_scope(biller, tag.removeprefix(CAPABILITY_TAG))):
            return reason
    return None
