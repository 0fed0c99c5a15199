"""`sit lint`: what would go wrong in a run, found before it: profiles, stub packs, features.

The rules read profile data only (a partner's ``min_version``, a biller's ``partner_version``
and ``token_expires``); no rule names a partner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from harness.catalogue import project_catalogue
from harness.errors import ProfileError, SitError
from harness.feature_checks import Finding, check_features
from harness.profiles.loader import Biller, fixtures_dir, known_partners, load_biller, load_partner, where
from harness.profiles.models import PartnerProfile
from harness.profiles.vendors import Need

TOKEN_WARNING_DAYS = 30  # warn this many days before a biller's partner OAuth token expires
_VERSION = re.compile(r"\d+(?:\.\d+)+")


@dataclass
class LintResult:
    """The findings of a project lint and what was checked."""

    findings: list[Finding] = field(default_factory=list)
    billers: int = 0
    partners: int = 0
    scenarios: int = 0

    @property
    def errors(self) -> int:
        return sum(f.level == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.level == "warning" for f in self.findings)


def version_text(text: str) -> str | None:
    """The first dotted number in ``text``: "Caselle Connect 2021.02.160" -> "2021.02.160"."""
    found = _VERSION.search(text)
    return found.group() if found else None


def parse_version(text: str) -> tuple[int, ...] | None:
    """The first dotted number in ``text`` as ints, to compare: "Connect 2021.02.160" -> (2021, 2, 160)."""
    found = version_text(text)
    return _numbers(found) if found else None


def _numbers(dotted: str) -> tuple[int, ...]:
    return tuple(int(part) for part in dotted.split("."))


# --- one biller ---------------------------------------------------------------------------------


def lint_biller(biller: Biller, today: date) -> list[Finding]:
    """Warnings about a loaded biller: an old partner version, an OAuth token expired or about to, test
    accounts a live run could never use."""
    found = [f for f in (_version_finding(biller), _token_finding(biller, today)) if f is not None]
    return found + _test_data_findings(biller) + _vendor_findings(biller)


def _vendor_findings(biller: Biller) -> list[Finding]:
    """A CloudPay biller checked against what its vendor's integration needs (fixtures/cloudpay/vendors.yaml):
    each unmet need an error, since the vendor's application cannot work without it."""
    vendor, app, profile = biller.vendor, biller.profile.cloudpay, biller.profile
    if vendor is None or app is None:
        return []
    name, findings = vendor.name, []
    if (Need.API_KEY in vendor.needs or biller.cloudpay_version == 2) and not any(k.active for k in profile.api_keys):
        findings.append(Finding("error", _at(biller.path, "api_keys"), f"{name}'s application authenticates with "
                                "the biller's API key (CloudPay v2): give an active one in api_keys (biller portal, "
                                "Application API Keys)"))
    if Need.AGENCY_ID in vendor.needs and not app.agency_id:
        findings.append(Finding("error", _at(biller.path, "cloudpay"), f"{name} needs the biller in its "
                                "configuration table with its AgencyID: give cloudpay.agency_id"))
    if Need.INVOICE_TYPE in vendor.needs and not app.invoice_types:
        findings.append(Finding("error", _at(biller.path, "cloudpay"), f"{name} is configured with the invoice "
                                "types it pays: name them in cloudpay.invoice_types"))
    types = app.invoice_types or [t.id for t in profile.invoice_types]
    if Need.ONE_INVOICE_TYPE in vendor.needs and len(types) != 1:
        findings.append(Finding("error", _at(biller.path, "cloudpay"), f"{name} takes one invoice type only, not "
                                f"{len(types)} ({', '.join(map(str, types))}): name one in cloudpay.invoice_types"))
    for number, value in sorted(vendor.settings.items()):
        held = profile.settings.get(number)
        if held != value:
            shown = "not set" if held is None else f"'{held}'"
            findings.append(Finding("error", _at(biller.path, "settings"), f"{name} needs advanced setting "
                                    f"{number} = '{value}' (it is {shown})"))
    return findings


def _test_data_findings(biller: Biller) -> list[Finding]:
    """A test account named twice, or said to hold what the partner's balance reply has no field for:
    no scenario could be matched to that role, so the account would never stand for one."""
    findings, seen = [], set()
    for index, account in enumerate(biller.profile.test_data.accounts):
        # Located only for a finding: reading the file's lines back costs ~50 ms an account.
        def at(index: int = index) -> str:
            return _shown(biller.path) + where(biller.path, ["test_data", "accounts", index])[len(str(biller.path)):]

        if account.number in seen:
            findings.append(Finding("warning", at(), f"test account {account.number} is named twice; name it once"))
        seen.add(account.number)
        for role in account.holds:
            if biller.balance_field(role) is None:
                findings.append(Finding("warning", at(), f"test account {account.number} holds '{role}', which "
                                        f"{biller.partner.display_name}'s balance reply has no field for "
                                        "(balance_reply in the partner profile); no scenario can ask for it"))
    return findings


def _version_finding(biller: Biller) -> Finding | None:
    minimum, recorded = biller.partner.min_version, biller.profile.partner_version
    oldest = parse_version(minimum) if minimum else None
    if minimum is None or oldest is None:
        return None  # a min_version without a number is the partner profile's fault: lint_project reports it
    at = _at(biller.path, "partner_version")
    product = _product(biller.partner)
    shown = version_text(recorded)
    if shown is None:
        return Finding("warning", at, f"partner version '{recorded}' has no version number, so it cannot be "
                                      f"checked against {minimum}, the oldest {product} version that works; "
                                      f"record it as the partner shows it, e.g. '{product} {minimum}'")
    if _numbers(shown) >= oldest:
        return None
    reason = _reason(biller.partner, minimum)
    return Finding("warning", at, f"partner version {shown} is older than {minimum}, the oldest {product} "
                                  f"version that works{reason}; upgrade every biller workstation before SIT")


def _token_finding(biller: Biller, today: date) -> Finding | None:
    expires = biller.profile.token_expires
    if expires is None:
        return None
    days = (expires - today).days
    at = _at(biller.path, "token_expires")
    if days <= 0:
        return Finding("warning", at, f"OAuth token expired on {expires.isoformat()}: ask the partner for a new one")
    if days <= TOKEN_WARNING_DAYS:
        return Finding("warning", at, f"OAuth token expires on {expires.isoformat()}, in {days} "
                                      f"day{'s' if days != 1 else ''}: renew it before SIT "
                                      "(tokens with manual authorization last six months)")
    return None


def _product(partner: PartnerProfile) -> str:
    """The partner's product name without its description: "Cayenta Utilities (real-time ...)" -> first part."""
    return partner.product.split(" (", 1)[0].strip() or partner.display_name


def _reason(partner: PartnerProfile, minimum: str) -> str:
    """The partner's note that mentions its oldest working version, as " (note)", else ""."""
    note = next((n for n in partner.notes if minimum in n), None)
    return f" ({note.rstrip('.')})" if note else ""


def _at(path: Path, field_name: str) -> str:
    """``file:line`` of a field, the file shown from the project (fixtures/billers/x.yaml) when it is there."""
    located = where(path, [field_name])
    return _shown(path) + located[len(str(path)):]


def _shown(path: Path) -> str:
    if path.parent.parent.name == "fixtures" and len(path.parents) > 2:
        return path.relative_to(path.parents[2]).as_posix()
    return str(path)


# --- the project --------------------------------------------------------------------------------


def lint_project(project: Path, today: date, biller: str | None = None) -> list[Finding]:
    """Every finding about the project's profiles, stub packs and features (or one biller's)."""
    return check_project(project, today, biller).findings


def check_project(project: Path, today: date, biller: str | None = None) -> LintResult:
    """`sit lint`: billers (all, or the one named), their partners' profiles and stub packs, the features."""
    result = LintResult()
    slugs = [biller] if biller else sorted(p.stem for p in (fixtures_dir(project) / "billers").glob("*.yaml"))
    partners: set[str] = set() if biller else set(known_partners(project))
    for slug in slugs:
        result.billers += 1
        try:
            loaded = load_biller(project, slug)
        except ProfileError as exc:
            result.findings.append(_error(exc, project, slug))
            continue
        partners.add(loaded.partner.name)
        result.findings.extend(lint_biller(loaded, today))
    for name in sorted(partners):
        result.partners += 1
        result.findings.extend(_lint_partner(project, name))
    result.scenarios = _lint_features(project, result.findings)
    result.findings = list(dict.fromkeys(result.findings))  # a broken partner fails each of its billers too
    return result


def _lint_partner(project: Path, name: str) -> list[Finding]:
    from harness.stubs import load_pack  # the stubs layer only for lint, not for every profile reader

    findings: list[Finding] = []
    try:
        partner = load_partner(project, name)
    except ProfileError as exc:
        return [_error(exc, project, name)]
    if partner.min_version and parse_version(partner.min_version) is None:
        path = fixtures_dir(project) / "partners" / f"{name}.yaml"
        message = f"field 'min_version': no version number in '{partner.min_version}' (write e.g. '2021.02.160')"
        findings.append(Finding("error", _at(path, "min_version"), message))
    try:
        if partner.has_api or partner.posts_back:  # a file partner has nothing to stub: its side is the sFTP
            load_pack(project / "stubs" / name)
    except SitError as exc:
        findings.append(_error(exc, project, f"stubs/{name}"))
    return findings


def _error(exc: SitError, project: Path, fallback: str) -> Finding:
    """An error finding from a one-line ``SitError`` "file:line: what": paths shown from the project."""
    message = str(exc).replace(f"{project}/", "")
    head, sep, rest = message.partition(": ")
    if sep and " " not in head:
        return Finding("error", head, rest)
    return Finding("error", fallback, message)


# --- features -----------------------------------------------------------------------------------


def _lint_features(project: Path, findings: list[Finding]) -> int:
    """Append what `sit run` would refuse to start on in the features (``check_features``); the scenario count."""
    try:
        catalogue = project_catalogue(project)
    except SitError as exc:
        findings.append(_error(exc, project, "steps"))
        return 0
    check = check_features(project, catalogue)
    findings.extend(check.findings)
    return check.scenarios
