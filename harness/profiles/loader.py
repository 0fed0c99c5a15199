"""Reading profiles from YAML, with errors that point at the file, line and field."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import ProfileError
from harness.profiles.models import (
    FILE_FIELDS,
    INVOICE_EXPORT,
    BillerProfile,
    Capability,
    FileSpec,
    PartnerProfile,
    PumpPolicy,
    Required,
    Setting,
    SettingType,
    Status,
    Transport,
)
from harness.profiles.vendors import Vendor, VendorTable, vendors_path

# What each file must carry for the platform to act on it, by what it carries (FILE_FIELDS).
FILE_NEEDS = {"invoice_load": ("account_number", "invoice_number", "amount_due"),
              "adjustment_file": ("account_number", "balance"),
              "postings": ("transaction", "reference", "account", "amount")}
FILE_DIRECTION = {"invoice_load": "in", "adjustment_file": "in", "postings": "out"}


def carries(capability: str) -> str:
    """What a file travelling for ``capability`` carries: invoices, adjustments, or the postings (every
    posting and account change goes in the one payment file)."""
    return capability if capability in ("invoice_load", "adjustment_file") else "postings"

M = TypeVar("M", bound=BaseModel)
# libyaml's parser where PyYAML was built with it (the same documents, ~10x faster: profiles are read by every
# biller's run and checked by `sit run` for each biller first); the pure-Python one otherwise.
_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_model(path: Path, model: type[M]) -> M:
    """Parse ``path`` as YAML into ``model``; any fault is a one-line ``ProfileError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read it ({exc})") from None
    try:
        data = yaml.load(text, Loader=_FAST)
    except yaml.YAMLError:
        data = None  # the Python parser's message names the problem as users have always seen it
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader) if data is None else None
        data = yaml.safe_load(text) if data is None else data
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"{path}{where}: not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of fields at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(node or _compose(text), loc)
        where = f":{line}" if line else ""
        got = f" (got {err['input']!r})" if loc and not isinstance(err["input"], dict | list) else ""
        raise ProfileError(f"{path}{where}: field '{field}': {err['msg']}{got}") from None


def _compose(text: str) -> yaml.Node | None:
    """The YAML's node tree (lines of fields), by libyaml where installed."""
    return yaml.compose(text, Loader=_FAST)


def where(path: Path, loc: Sequence[Any]) -> str:
    """``path:line`` of the field at ``loc`` in a YAML file, for an error found after parsing."""
    try:
        line = _line_of(_compose(path.read_text(encoding="utf-8")), loc)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        line = None
    return f"{path}:{line}" if line else str(path)


def _line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (a mapping entry: its key's line, where the field is
    written even when its value starts below), or of its nearest existing parent."""
    line = node.start_mark.line + 1 if node else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            entry = (node.value[part], node.value[part])
        else:
            entry = None
        if entry is None:
            return line
        node, line = entry[1], entry[0].start_mark.line + 1
    return line


@dataclass(frozen=True)
class Biller:
    """A biller profile together with its partner's profile: what a run is configured by."""

    profile: BillerProfile
    partner: PartnerProfile
    path: Path
    vendor: Vendor | None = None  # a CloudPay biller's vendor, from the vendor table

    @property
    def slug(self) -> str:
        return self.profile.slug

    @property
    def cloudpay_version(self) -> int | None:
        """The CloudPay version the biller's vendor application uses (checked at load: one is known)."""
        app = self.profile.cloudpay
        if app is None or self.vendor is None:
            return None
        return app.version or self.vendor.version

    @property
    def required_configuration(self) -> list[Required]:
        """What the partner's integration needs of the biller's configuration, and its CloudPay vendor's."""
        vendor = self.vendor
        if vendor is None:
            return list(self.partner.required_configuration)
        return [*self.partner.required_configuration, *(
            Required(kind="setting", number=number, name=self._setting_name(number), value=value, when="cloudpay",
                     why=f"{vendor.name} needs it (fixtures/cloudpay/vendors.yaml)")
            for number, value in sorted(vendor.settings.items()))]

    def _setting_name(self, number: int) -> str:
        setting = self.partner.setting_of(number)
        return setting.meaning if setting is not None else f"advanced setting {number}"

    @property
    def pump(self) -> PumpPolicy:
        return self.profile.pump or self.partner.pump

    def setting(self, role: str, default: Any = None) -> Any:
        """The biller's value of the advanced setting the partner profile names for ``role``
        (of the setting's type: checked when the biller was loaded)."""
        setting = self.partner.settings.get(role)
        if setting is None:
            return default
        return self.profile.settings.get(setting.number, default)

    def sole_code(self, role: str, key: str) -> str | None:
        """A code the codes setting ``role`` lists for ``key`` and for no other key (the first in
        sorted order): the block indicator that blocks card payments only, say. None if there is none."""
        codes = self.setting(role)
        if not isinstance(codes, dict):
            return None
        others = {code for other, listed in codes.items() if other != key for code in listed}
        return next(iter(sorted(set(codes.get(key, [])) - others)), None)

    @property
    def partner_host(self) -> str | None:
        """The partner's host name for this biller, when the partner profile builds it from a subdomain."""
        template = self.partner.host_template
        if template is None:
            return None
        if not self.profile.subdomain:
            raise ProfileError(f"{where(self.path, ['subdomain'])}: field 'subdomain': {self.partner.display_name} "
                               f"needs the biller's customer subdomain (its host is {template})")
        return template.format(subdomain=self.profile.subdomain)

    @property
    def codes(self) -> dict[str, str]:
        """Every partner code as this biller uses it (see ``code``)."""
        names = {*self.partner.codes, *self.profile.codes, *self.partner.code_fallbacks}
        return {name: value for name in sorted(names) if (value := self.code(name)) is not None}

    def code(self, name: str) -> str | None:
        """A partner code: the biller's own, else the partner's, else the one it falls back to."""
        for candidate in (name, self.partner.code_fallbacks.get(name)):
            if candidate is None:
                continue
            value = self.profile.codes.get(candidate) or self.partner.codes.get(candidate)
            if value:
                return value
        return None

    def balance_field(self, role: str) -> str | None:
        """The element of the partner's balance reply that carries ``role``.

        A biller setting whose role is ``<role>_field`` overrides the partner default
        (Cayenta's setting 107 names the past due field).
        """
        return self.setting(f"{role}_field") or self.partner.balance_reply.get(role)

    def transport(self, capability: str) -> Transport:
        """How ``capability`` travels for this biller (the partner profile's transports)."""
        return self.partner.transport(capability)

    def file_for(self, capability: str) -> FileSpec | None:
        """The file ``capability`` travels in, if it travels in one of the profiles' ``files`` (the
        biller's own file of that name, else the partner's); None for the API, callbacks and invoice_file."""
        name = self.transport(capability).file
        if name is None or name == INVOICE_EXPORT:
            return None
        return self.profile.files.get(name) or self.partner.files[name]

    def capability(self, name: str) -> Capability | None:
        return self.partner.capabilities.get(name)

    def takes(self, name: str) -> bool:
        """Whether an optional capability is switched on for this biller."""
        cap = self.capability(name)
        if cap is None or cap.status is not Status.OPTIONAL:
            return False
        if cap.setting is not None:
            return bool(self.setting(cap.setting, False))
        return name in self.profile.capabilities


def fixtures_dir(project: Path) -> Path:
    return project / "fixtures"


def known_partners(project: Path) -> list[str]:
    return sorted(p.stem for p in (fixtures_dir(project) / "partners").glob("*.yaml"))


def partner_path(project: Path, name: str) -> Path:
    return fixtures_dir(project) / "partners" / f"{name}.yaml"


def load_partner(project: Path, name: str) -> PartnerProfile:
    path = partner_path(project, name)
    partner = read_model(path, PartnerProfile)
    if partner.name != name:
        raise ProfileError(f"{path}: field 'name': is '{partner.name}' but the file is named '{name}.yaml'")
    _check_switches(path, partner)
    return partner


def _check_switches(path: Path, partner: PartnerProfile) -> None:
    """An optional capability switched on by a setting names a true-or-false setting of the partner's."""
    for name, cap in partner.capabilities.items():
        if cap.setting is None:
            continue
        setting = partner.settings.get(cap.setting)
        if setting is None or setting.type is not SettingType.BOOLEAN:
            at = where(path, ["capabilities", name, "setting"])
            problem = "is not a setting role" if setting is None else f"is a setting of type {setting.type.value}"
            raise ProfileError(f"{at}: field 'capabilities.{name}.setting': '{cap.setting}' {problem}; name a "
                               f"boolean setting of 'settings' ({', '.join(partner.settings) or 'none'})")


def load_biller(project: Path, slug_or_path: str) -> Biller:
    """Load a biller by slug (``fixtures/billers/SLUG.yaml``) or by a path to its YAML file."""
    candidate = Path(slug_or_path)
    if candidate.suffix in {".yaml", ".yml"}:
        path = candidate
    else:
        path = fixtures_dir(project) / "billers" / f"{slug_or_path}.yaml"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml"))) or "none"
            raise ProfileError(f"{path}: no such biller '{slug_or_path}' (known: {known})")
    profile = read_model(path, BillerProfile)
    partners = known_partners(project)
    if profile.partner not in partners:
        raise ProfileError(
            f"{where(path, ['partner'])}: field 'partner': unknown partner '{profile.partner}' "
            f"(known: {', '.join(partners) or 'none'}; profiles live in fixtures/partners/)"
        )
    partner = load_partner(project, profile.partner)
    _check_capabilities(path, profile, partner)
    _check_settings(path, profile, partner)
    _check_files(path, profile, partner)
    biller = Biller(profile=profile, partner=partner, path=path, vendor=_vendor(project, path, profile, partner))
    _check_changes(biller)
    return biller


def _check_files(path: Path, profile: BillerProfile, partner: PartnerProfile) -> None:
    """Each file a transport names is the biller's or the partner's, goes the way its capability
    travels, and its layout's detail carries what the platform needs of it, in the platform's names."""
    for capability, transport in partner.transports.items():
        name = transport.file
        if name is None or name == INVOICE_EXPORT:
            continue
        spec = profile.files.get(name) or partner.files.get(name)
        if spec is None:
            raise ProfileError(f"{where(path, ['files'])}: field 'files': {partner.name} sends {capability} in "
                               f"file '{name}' (transports), which neither the biller's nor the partner's files has")
        owner, at = ("biller", ["files", name]) if name in profile.files else ("partner", None)
        loc = where(path, at) if at else f"fixtures/partners/{partner.name}.yaml"
        what = carries(capability)
        if spec.direction != FILE_DIRECTION[what]:
            raise ProfileError(f"{loc}: field 'files.{name}.direction': {capability} goes "
                               f"{FILE_DIRECTION[what]}, not {spec.direction} ({owner}'s file)")
        fields = [f.name for f in spec.layout.detail.fields]
        if unknown := [f for f in fields if f not in FILE_FIELDS[what]]:
            raise ProfileError(f"{loc}: field 'files.{name}.layout.detail': '{unknown[0]}' is not a field the platform "
                               f"knows in this file (known: {', '.join(FILE_FIELDS[what])})")
        if missing := [f for f in FILE_NEEDS[what] if f not in fields]:
            raise ProfileError(f"{loc}: field 'files.{name}.layout.detail': the file needs a '{missing[0]}' field")
        if spec.delivery == "put" and profile.partner_sftp is None:
            raise ProfileError(f"{where(path, ['partner_sftp'])}: field 'partner_sftp': file '{name}' is put on the "
                               "partner's own sFTP server (delivery: put): name the account the platform puts it "
                               "with (user, password_env)")
    _check_names(path, {**partner.files, **profile.files})


def _check_changes(biller: Biller) -> None:
    """An account change the biller takes, travelling in a file, needs a field of the layout to carry it."""
    for capability in ("paperless_change", "autopay_change", "phone_change", "email_change"):
        spec, cap = biller.file_for(capability), biller.capability(capability)
        in_scope = cap is not None and (cap.status is Status.SUPPORTED or biller.takes(capability))
        if spec is not None and in_scope and all(f.name != "value" for f in spec.layout.detail.fields):
            name = biller.transport(capability).file
            raise ProfileError(f"{where(biller.path, ['files', name or ''])}: field 'files.{name}.layout.detail': "
                               f"the biller takes {capability}, which travels in this file, but its layout has no "
                               "'value' field to carry the change")


def _check_names(path: Path, files: dict[str, FileSpec]) -> None:
    """No file's name is one another file's naming takes: the platform tells its files apart by name."""
    sample = date(2026, 1, 31)
    for name, spec in files.items():
        for other, other_spec in files.items():
            if other != name and fnmatch.fnmatchcase(spec.name(sample), other_spec.glob):
                raise ProfileError(f"{where(path, ['files', name, 'naming'])}: field 'files.{name}.naming': "
                                   f"{spec.name(sample)} is also a name of file '{other}' ({other_spec.naming}); "
                                   "give each file a name of its own")


def _vendor(project: Path, path: Path, profile: BillerProfile, partner: PartnerProfile) -> Vendor | None:
    """A CloudPay biller's vendor from the vendor table: named where the partner is CloudPay, and only there."""
    app = profile.cloudpay
    if not partner.posts_back:
        if app is not None:
            cap = partner.capabilities.get("cloudpay")
            why = f" ({cap.reason})" if cap is not None and cap.reason else ""
            raise ProfileError(f"{where(path, ['cloudpay'])}: field 'cloudpay': {partner.display_name} has no "
                               f"CloudPay{why}; a CloudPay biller's partner is cloudpay")
        return None
    if app is None:
        raise ProfileError(f"{where(path, ['partner'])}: field 'cloudpay': a CloudPay biller names its vendor's "
                           "application (cloudpay: {vendor: accela}; the vendors: fixtures/cloudpay/vendors.yaml)")
    table = read_model(vendors_path(project), VendorTable)
    vendor = table.vendors.get(app.vendor)
    if vendor is None:
        raise ProfileError(f"{where(path, ['cloudpay', 'vendor'])}: field 'cloudpay.vendor': no vendor '{app.vendor}' "
                           f"in fixtures/cloudpay/vendors.yaml (known: {', '.join(sorted(table.vendors))})")
    if app.version is None and vendor.version is None:
        raise ProfileError(f"{where(path, ['cloudpay'])}: field 'cloudpay.version': the vendor table does not say "
                           f"which CloudPay version {vendor.name} uses: give it (1 or 2)")
    if app.version is not None and vendor.version is not None and app.version != vendor.version:
        raise ProfileError(f"{where(path, ['cloudpay', 'version'])}: field 'cloudpay.version': {vendor.name} uses "
                           f"CloudPay v{vendor.version}, not v{app.version} (fixtures/cloudpay/vendors.yaml)")
    ids = {t.id for t in profile.invoice_types}
    for index, type_id in enumerate(app.invoice_types):
        if type_id not in ids:
            known = ", ".join(map(str, sorted(ids)))
            raise ProfileError(f"{where(path, ['cloudpay', 'invoice_types', index])}: field 'cloudpay.invoice_types':"
                               f" {type_id} is not one of the biller's invoice_types ({known})")
    return vendor


def _check_capabilities(path: Path, profile: BillerProfile, partner: PartnerProfile) -> None:
    for index, name in enumerate(profile.capabilities):
        cap = partner.capabilities.get(name)
        at = where(path, ["capabilities", index])
        if cap is None:
            raise ProfileError(f"{at}: field 'capabilities': '{name}' is not a capability of {partner.name}")
        if cap.status is not Status.OPTIONAL:
            raise ProfileError(
                f"{at}: field 'capabilities': '{name}' is {cap.status.value} for {partner.name}, "
                "only optional capabilities are taken per biller"
            )


def _check_settings(path: Path, profile: BillerProfile, partner: PartnerProfile) -> None:
    """Each biller setting is one the partner profile describes, holding a value of its type."""
    for number, value in profile.settings.items():
        setting = partner.setting_of(number)
        if setting is None:
            known = ", ".join(f"{s.number} ({role})" for role, s in sorted(partner.settings.items(),
                                                                           key=lambda item: item[1].number))
            raise ProfileError(f"{where(path, ['settings', number])}: field 'settings.{number}': {partner.name} "
                               f"has no advanced setting {number} (its settings: {known or 'none'}; "
                               f"their meaning is in fixtures/partners/{partner.name}.yaml)")
        if (fault := _setting_fault(setting, value)) is not None:
            inner, problem = fault
            field = ".".join(str(p) for p in ("settings", number, *inner))
            raise ProfileError(f"{where(path, ['settings', number, *inner])}: field '{field}': setting {number} "
                               f"({setting.meaning}) {problem}")


_TAKES = {
    SettingType.BOOLEAN: "takes true or false", SettingType.NUMBER: "takes a number", SettingType.TEXT: "takes text",
}


def _setting_fault(setting: Setting, value: Any) -> tuple[tuple[str, ...], str] | None:
    """Where in ``value`` (a path below the setting) and what is wrong with it for ``setting``, or None."""
    kind = setting.type
    if kind is SettingType.CODES:
        return _codes_fault(setting, value)
    fits = {
        SettingType.BOOLEAN: isinstance(value, bool),
        SettingType.NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
        SettingType.TEXT: isinstance(value, str) and bool(value.strip()),
    }[kind]
    if fits:
        return None
    hint = " (without quotes)" if kind is SettingType.BOOLEAN and str(value).lower() in {"true", "false"} else ""
    return (), f"{_TAKES[kind]}{hint}, got {value!r}"


def _codes_fault(setting: Setting, value: Any) -> tuple[tuple[str, ...], str] | None:
    if not setting.keys:
        return None if _is_codes(value) else ((), f"takes a list of codes such as [A, B], got {value!r}")
    keys = ", ".join(setting.keys)
    if not isinstance(value, dict):
        return (), f"takes a list of codes for each of {keys}, got {value!r}"
    for key, codes in value.items():
        if key not in setting.keys:
            return (str(key),), f"has a list of codes for each of {keys}; '{key}' is none of them"
        if not _is_codes(codes):
            return (str(key),), f"takes a list of codes for {key} such as [A, B], got {codes!r}"
    return None


def _is_codes(value: Any) -> bool:
    """A list of codes: text, each one non-empty (a number is quoted, so that 01 stays 01)."""
    return isinstance(value, list) and all(isinstance(code, str) and code.strip() for code in value)


def project_relative(path: Path, project: Path) -> str:
    """A file as a run records it: its path from the project where it lies inside it, else as given."""
    resolved, root = path.resolve(), project.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(path)
