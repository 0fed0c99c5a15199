"""Which capabilities are in scope for a biller, and why the others are N/A.

One rule serves both the run (scenarios out of scope are reported N/A with this reason)
and the reference engine (postings for capabilities out of scope are never pumped).

A scenario that needs the biller configured a certain way says so with a tag, so that
it is N/A with the reason when the biller is not, rather than failing with nothing to fix:
``@setting:ROLE`` needs the setting the partner profile names ROLE to be on (true, or
holding codes or text), ``@setting-off:ROLE`` needs it off; ``@setting:ROLE:KEY`` needs a code of
its own for KEY in a codes setting, one that no other key lists (a block code for card payments
only); ``@layout:PART`` needs the partner's invoice file layout to hold PART (``LAYOUT_PARTS``:
charge lines, an item status).

What a biller has not taken is proven absent, not skipped: ``@withheld:CAPABILITY`` makes a
scenario apply exactly when the capability is out of scope for the biller. The platform still
makes such a transaction (``PRODUCED``), so the scenario makes one and shows that the partner
received nothing and why. Where the biller takes the capability the scenario is N/A, naming the
scenarios that post it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.errors import ProfileError
from harness.profiles.loader import Biller
from harness.profiles.models import FileSpec, SettingType, Status

CAPABILITY_TAG = "capability:"
PARTNER_TAG = "partner:"
SETTING_TAG = "setting:"
SETTING_OFF_TAG = "setting-off:"
LAYOUT_TAG = "layout:"
TRANSPORT_TAG = "transport:"
CLOUDPAY_TAG = "cloudpay:"  # @cloudpay:v2: a case of one CloudPay version (the v2 API, say)
# What a partner's XML invoice export may hold that a scenario needs: tag value -> (its field, in words).
LAYOUT_PARTS = {
    "charge_lines": ("lines", "charge lines (invoice_file.lines)"),
    "item_status": ("otherwise", "item status for the items it does not load (invoice_file.only_when, otherwise)"),
}
# What a file in a layout of the profiles' ``files`` may have (the XML export: only a declared encoding):
# tag value -> (does it, in words).
FILE_PARTS: dict[str, tuple[Callable[[FileSpec | None], bool], str]] = {
    "trailer": (lambda spec: spec is not None and spec.layout.trailer is not None
                and any(f.control for f in spec.layout.trailer.fields), "trailer with control fields"),
    "fixed_width": (lambda spec: spec is not None and spec.layout.format == "fixed", "fixed-width lines"),
    "record_types": (lambda spec: spec is not None and getattr(spec.layout, "record_type", None) is not None,
                     "record types"),
    "decimal_point": (lambda spec: spec is None or not any(f.implied_decimals for f in spec.layout.detail.fields),
                      "amounts written with a decimal point"),
    "implied_decimals": (lambda spec: spec is not None and any(f.implied_decimals for f in spec.layout.detail.fields),
                         "amounts with implied decimals"),
    # An XML file says its encoding in its prolog; a CSV or fixed-width layout fixes one (layout.encoding).
    "declared_encoding": (lambda spec: spec is None or spec.layout.format == "xml",
                          "encoding of the file's own choosing: the layout fixes one"),
}
WITHHELD_TAG = "withheld:"


@dataclass(frozen=True)
class Produced:
    """What the platform makes for a capability, whatever the biller's partner takes."""

    role: str  # the posting role of the transaction (payment, credit, ach_return, void, <program>_change)
    noun: str  # the transactions, as the workbook says them


# The capabilities whose transactions the platform makes for every biller: a payer or the bank can
# always pay, get a credit, return, void or change an account. Bill images, CloudPay and budget
# billing are not here: the platform makes none of them where they are not in scope, so their
# scenarios stay N/A with the reason.
PRODUCED: dict[str, Produced] = {
    "payment_posting": Produced("payment", "payments"),
    "credit_posting": Produced("credit", "credits"),
    "ach_reject_posting": Produced("ach_return", "ACH returns"),
    "void_posting": Produced("void", "voids"),
    "paperless_change": Produced("paperless_change", "paperless changes"),
    "autopay_change": Produced("autopay_change", "autopay changes"),
    "phone_change": Produced("phone_change", "phone number changes"),
    "email_change": Produced("email_change", "email address changes"),
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


def scenario_scope(biller: Biller, tags: Iterable[str], posted_in: Mapping[str, Sequence[str]] | None = None,
                   ) -> str | None:
    """None when a scenario of the biller's workbook is in scope, else why it is N/A. ``posted_in``:
    the SIT IDs that post each capability, named where a ``@withheld:`` scenario is N/A."""
    for tag in sorted(tags):
        if tag.startswith(CAPABILITY_TAG) and (reason := out_of_scope(biller, tag.removeprefix(CAPABILITY_TAG))):
            return reason
        if tag.startswith(SETTING_TAG) and (reason := _unset(biller, tag.removeprefix(SETTING_TAG))):
            return reason
        if tag.startswith(SETTING_OFF_TAG) and (reason := _on(biller, tag.removeprefix(SETTING_OFF_TAG))):
            return reason
        if tag.startswith(LAYOUT_TAG) and (reason := _not_in_layout(biller, tag.removeprefix(LAYOUT_TAG), tags)):
            return reason
        if tag.startswith(WITHHELD_TAG) and (reason := _taken(biller, tag.removeprefix(WITHHELD_TAG), posted_in)):
            return reason
        if tag.startswith(CLOUDPAY_TAG) and (reason := _other_version(biller, tag.removeprefix(CLOUDPAY_TAG))):
            return reason
    return _transport(biller, tags)


def _other_version(biller: Biller, wanted: str) -> str | None:
    """None when the biller's CloudPay vendor uses version ``wanted`` (v1, v2), else why the case is N/A."""
    if wanted not in ("v1", "v2"):
        raise ProfileError(f"tag @{CLOUDPAY_TAG}{wanted}: no such CloudPay version (v1, v2)")
    version, vendor = biller.cloudpay_version, biller.vendor
    if version is None or vendor is None or f"v{version}" == wanted:
        return None  # not a CloudPay biller: its capability tag says why the case is N/A
    how = {1: "the payer's browser brings the payment in the link, with no API call",
           2: "the application creates each payment through the API"}[version]
    return f"{vendor.name}'s application uses CloudPay v{version} ({how}): this case is about CloudPay {wanted}"


def _transport(biller: Biller, tags: Iterable[str]) -> str | None:
    """None unless the scenario is about one transport (``@transport:api``: partner calls, their faults and
    retries) while one of its capabilities travels by another; then why it is N/A."""
    tags = list(tags)
    for wanted in (tag.removeprefix(TRANSPORT_TAG) for tag in tags if tag.startswith(TRANSPORT_TAG)):
        for capability in (tag.removeprefix(CAPABILITY_TAG) for tag in tags if tag.startswith(CAPABILITY_TAG)):
            transport = biller.transport(capability)
            if transport.kind != wanted:
                how = f"in the {transport.file} file" if transport.file else f"by {transport.kind}"
                return (f"{capability.replace('_', ' ').capitalize()} travels to {biller.partner.display_name} {how} "
                        f"(transports.{capability}): this case is about its {wanted} transport")
    return None


def _on(biller: Biller, role: str) -> str | None:
    """None when the biller's setting ``role`` is off (or its partner has no such setting: nothing
    switches the behaviour on), else why a scenario for the setting off is N/A."""
    setting = biller.partner.settings.get(role)
    if setting is None or not biller.setting(role):
        return None
    return f"Biller setting {setting.number} is on for {biller.profile.name} ({setting.meaning})"


def _not_in_layout(biller: Biller, part: str, tags: Iterable[str]) -> str | None:
    """None when the layout of the scenario's file holds ``part``, else why the scenario is N/A. The file is
    the one its first capability travels in (an adjustment file, say), else the invoice file."""
    if part not in LAYOUT_PARTS and part not in FILE_PARTS:
        raise ProfileError(f"tag @{LAYOUT_TAG}{part}: no such part of an invoice file layout "
                           f"(parts: {', '.join([*LAYOUT_PARTS, *FILE_PARTS])})")
    capabilities = [tag.removeprefix(CAPABILITY_TAG) for tag in sorted(tags) if tag.startswith(CAPABILITY_TAG)]
    capability = next((c for c in capabilities if biller.file_for(c) is not None), "invoice_load")
    spec, export = biller.file_for(capability), biller.partner.invoice_file
    noun = "invoice file" if capability == "invoice_load" else f"{biller.transport(capability).file} file"
    where = f"Not in the {noun} of {biller.profile.name if spec else biller.partner.display_name}"
    if part in FILE_PARTS:
        has, words = FILE_PARTS[part]
        return None if has(spec) else f"{where}: its layout has no {words}"
    field, words = LAYOUT_PARTS[part]
    return None if export is not None and getattr(export, field) else f"{where}: its layout has no {words}"


def withheld_rule(biller: Biller, role: str) -> str:
    """The words of the profile that keep a transaction of ``role`` from the partner, which the
    platform's reason for holding it back must name: the setting's number when a setting switches
    the capability, else the capability's reason. A ``ProfileError`` when nothing withholds it."""
    capability = next((name for name, made in PRODUCED.items() if made.role == role), None)
    if capability is None or out_of_scope(biller, capability) is None:
        raise ProfileError(f"{biller.profile.name} posts {role.replace('_', ' ')}s to {biller.partner.display_name}: "
                           f"nothing withholds them; tag the scenario @{WITHHELD_TAG}{capability or role}")
    cap = biller.capability(capability)
    assert cap is not None  # out_of_scope raised for a capability the matrix lacks
    if cap.status is Status.OPTIONAL and cap.setting:
        return f"setting {biller.partner.settings[cap.setting].number}"
    return cap.reason


def _taken(biller: Biller, capability: str, posted_in: Mapping[str, Sequence[str]] | None) -> str | None:
    """None when the biller has not taken ``capability`` (a withheld scenario applies), else why it is N/A."""
    made = PRODUCED.get(capability)
    if made is None:
        return f"The platform makes nothing for {capability.replace('_', ' ')} that it could hold back"
    if out_of_scope(biller, capability) is not None:
        if all(out_of_scope(biller, source) for source in ("rtdr_balance", "adjustment_file")):
            # The scenario makes the transaction on an account the partner holds: this partner holds none.
            return (f"{biller.partner.display_name} holds no accounts the platform could take {made.noun} on "
                    "(neither RTDR nor an adjustment file)")
        return None
    cap, partner, name = biller.capability(capability), biller.partner.display_name, biller.profile.name
    if cap is not None and cap.status is Status.OPTIONAL:
        why = (f"setting {biller.partner.settings[cap.setting].number} is on" if cap.setting
               else f"it took {capability.replace('_', ' ').replace('ach ', 'ACH ')}")
    else:
        why = f"{partner} takes them from every biller"
    ids = list((posted_in or {}).get(capability, ()))
    return f"{name} posts {made.noun} to {partner} ({why})" + (f": see {', '.join(ids)}" if ids else "")


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
