"""Which capabilities are in scope for a biller, and why the others are N/A.

One rule serves both the run (scenarios out of scope are reported N/A with this reason)
and the reference engine (postings for capabilities out of scope are never pumped).

A scenario that needs the biller configured a certain way says so with a tag, so that
it is N/A with the reason when the biller is not, rather than failing with nothing to fix:
``@setting:ROLE`` needs the setting the partner profile names ROLE to be on (true, or
holding codes or text); ``@setting:ROLE:KEY`` needs a code of its own for KEY in a codes
setting, one that no other key lists (a block code for card payments only); ``@layout:PART`` needs
the partner's invoice file layout to hold PART (``LAYOUT_PARTS``: charge lines, an item status).
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.errors import ProfileError
from harness.profiles.loader import Biller
from harness.profiles.models import SettingType, Status

CAPABILITY_TAG = "capability:"
PARTNER_TAG = "partner:"
SETTING_TAG = "setting:"
LAYOUT_TAG = "layout:"
# What a partner's invoice file layout may hold that a scenario needs: tag value -> (its field, in words).
LAYOUT_PARTS = {
    "charge_lines": ("lines", "charge lines (invoice_file.lines)"),
    "item_status": ("otherwise", "item status for the items it does not load (invoice_file.only_when, otherwise)"),
}


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
    how = f"setting {biller.partner.settings[cap.setting].number} is off" if cap.setting else "not taken"
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
        if tag.startswith(SETTING_TAG) and (reason := _unset(biller, tag.removeprefix(SETTING_TAG))):
            return reason
        if tag.startswith(LAYOUT_TAG) and (reason := _not_in_layout(biller, tag.removeprefix(LAYOUT_TAG))):
            return reason
    return None


def _not_in_layout(biller: Biller, part: str) -> str | None:
    """None when the partner's invoice file layout holds ``part``, else why the scenario is N/A."""
    if part not in LAYOUT_PARTS:
        raise ProfileError(f"tag @{LAYOUT_TAG}{part}: no such part of an invoice file layout "
                           f"(parts: {', '.join(LAYOUT_PARTS)})")
    field, words = LAYOUT_PARTS[part]
    if getattr(biller.partner.invoice_file, field):
        return None
    return f"Not in the invoice file of {biller.partner.display_name}: its layout has no {words}"


def _unset(biller: Biller, need: str) -> str | None:
    """None when the biller's settings hold what ``need`` ("ROLE" or "ROLE:KEY") asks, else why not."""
    role, _, key = need.partition(":")
    setting = biller.partner.settings.get(role)
    if setting is None:
        return f"Not configurable for {biller.partner.display_name}: its profile names no biller setting '{role}'"
    at = f"Biller setting {setting.number}"
    name = biller.profile.name
    if key:
        found = biller.sole_code(role, key) is not None
        return None if found else f"{at} has no code for {key} alone for {name} ({setting.meaning})"
    if biller.setting(role):
        return None
    return f"{at} is {'off' if setting.type is SettingType.BOOLEAN else 'not set'} for {name} ({setting.meaning})"
