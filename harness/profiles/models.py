"""Partner and biller profiles: what the playbooks say, kept as data.

A partner profile holds a partner's capability matrix, call names, codes and file
layout; a biller profile names its partner, BID, advanced settings and the optional
capabilities it took. The engine reads these; it never names a partner.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from harness.layouts.models import Layout

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Status(StrEnum):
    SUPPORTED = "supported"
    NOT_SUPPORTED = "not_supported"
    OPTIONAL = "optional"


class Capability(_Model):
    """One row of a partner's capability matrix."""

    status: Status
    reason: str = ""
    setting: str | None = Field(
        default=None, description="role of the biller advanced setting that switches it on (optional ones)"
    )


class SettingType(StrEnum):
    """What a biller advanced setting holds."""

    BOOLEAN = "boolean"  # true or false (on or off)
    NUMBER = "number"
    TEXT = "text"
    CODES = "codes"  # a list of codes, or one list per key (payment method -> block codes)


class Required(_Model):
    """A platform option or biller advanced setting the partner's integration needs the biller to have:
    the configuration section of the workbook checks the biller against it, naming it and its value."""

    kind: Literal["option", "setting"] = Field(description="a platform option, or a biller advanced setting")
    number: int = Field(gt=0)
    name: NonEmpty = Field(description="what it is, as the biller portal names it")
    value: bool | str | None = Field(default=None, description="the value it must have (none: set, to any value)")
    when: str | None = Field(default=None, description="a capability: the requirement applies where it is in scope")
    why: str = ""


class Setting(_Model):
    """One biller advanced setting the integration reads: its number, what it holds and what it means."""

    number: int = Field(gt=0, description="the advanced setting's number in the biller portal")
    type: SettingType
    meaning: NonEmpty
    keys: list[NonEmpty] = Field(
        default_factory=list, description="codes only: one list of codes per key (CC, ACH); none: a single list"
    )

    @field_validator("keys")
    @classmethod
    def _keys_for_codes(cls, keys: list[str], info: ValidationInfo) -> list[str]:
        if keys and info.data.get("type") is not SettingType.CODES:
            raise ValueError("only a setting of type codes has keys")
        return keys


class FieldMap(_Model):
    """Where one BIF field comes from in a partner's invoice record."""

    source: str = Field(description="element path relative to the record element, e.g. ACCOUNT_NO")
    type: Literal["text", "amount", "date"] = "text"
    required: bool = False
    unique: bool = False
    personal: bool = Field(
        default=False, description="holds a customer's personal data (name, email, address): masked in the partner pack"
    )


class ChargeLines(_Model):
    """The charge lines of a bill, where a layout itemises it: one element per charge or adjustment,
    a credit adjustment being a negative line inside a positive bill."""

    source: str = Field(description="path of each line relative to the record element, e.g. Charges/Charge")
    kind: str | None = Field(default=None, description="attribute that says what a line is, e.g. DESCRIPTOR")
    adjustment: str | None = Field(
        default=None, description="value of ``kind`` on an adjustment line (what the invoice-file generator writes)"
    )


class InvoiceFile(_Model):
    """A partner's invoice file layout and its mapping to the platform's BIF."""

    format: Literal["xml"] = "xml"
    name_template: str = Field(description="strftime template of the file name, e.g. billheader_%Y%m%d.xml")
    name_glob: str = Field(description="files the platform picks up from its sFTP inbox")
    root: str
    record: str
    date_format: str = "%Y-%m-%d"
    fields: dict[str, FieldMap]
    only_when: dict[str, str] = Field(
        default_factory=dict, description="element -> value a record must hold to load (Caselle: open items only)"
    )
    otherwise: dict[str, str] = Field(
        default_factory=dict,
        description="element -> value of a record the partner sends that does not load (a closed item): "
        "what the invoice-file generator writes for one",
    )
    lines: ChargeLines | None = Field(default=None, description="the bill's charge lines, if the layout has them")

    @field_validator("otherwise")
    @classmethod
    def _otherwise_differs(cls, otherwise: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        only_when = info.data.get("only_when") or {}
        for element, value in otherwise.items():
            if element not in only_when:
                raise ValueError(f"'{element}' is not an element of only_when ({', '.join(only_when) or 'none'})")
            if only_when[element] == value:
                raise ValueError(f"'{element}: {value}' is the value of a record that loads")
        return otherwise

    @field_validator("fields")
    @classmethod
    def _needs_keys(cls, fields: dict[str, FieldMap]) -> dict[str, FieldMap]:
        missing = {"account_number", "invoice_number", "amount_due"} - fields.keys()
        if missing:
            raise ValueError(f"must map {', '.join(sorted(missing))}")
        return fields


class ChangeLogCall(_Model):
    """The partner call and alert code that carry one kind of account change."""

    call: str
    alert_code: str | None = None


class PumpPolicy(_Model):
    """How the data pump talks to the partner: timeouts, retries, exclusions."""

    timeout_seconds: float = Field(default=5.0, gt=0)
    attempts: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=0.2, ge=0)
    excluded_channels: dict[str, str] = Field(
        default_factory=dict, description="payment channel -> why its payments are never pumped"
    )


_CODE_RANGE = re.compile(r"^([A-Z]+)(\d+)(?:-\1(\d+))?$")


@cache
def _expand(ranges: tuple[str, ...]) -> frozenset[str]:
    """``["R01-R85"]`` -> {"R01", ..., "R85"}: each entry one code or a range of one prefix."""
    codes: set[str] = set()
    for entry in ranges:
        match = _CODE_RANGE.match(entry)
        if match is None:
            raise ValueError(f"'{entry}' is not a code or a range of codes such as R01-R85")
        prefix, first, last = match.groups()
        width, top = len(first), int(last or first)
        codes.update(f"{prefix}{n:0{width}d}" for n in range(int(first), top + 1))
    return frozenset(codes)


class PostingRules(_Model):
    """What the partner takes in a posting, kept once: the reference platform obeys these rules, and
    `sit stubs serve` checks a real platform's postings against the same ones as they arrive.
    The other rules it checks are the profile's own fields: ``codes`` (transaction types),
    ``change_log`` (alert codes), ``pump.excluded_channels``, ``code_fallbacks`` and ``max_amount``."""

    amount_decimals: int = Field(
        default=2, ge=0, le=4, description="every amount positive, with exactly these decimals")
    return_codes: list[str] = Field(
        default_factory=lambda: ["R01-R85"], description="NACHA reason codes an ACH return is posted with")
    notice_codes: list[str] = Field(
        default_factory=lambda: ["C01-C13"],
        description="NACHA notifications of change: recorded by the platform, never posted as a return")
    reference_once: bool = Field(
        default=True, description="a reference is posted once; the same reference taken again is a double posting")

    @field_validator("return_codes", "notice_codes")
    @classmethod
    def _ranges(cls, ranges: list[str]) -> list[str]:
        _expand(tuple(ranges))  # raises on an entry that is not a code or a range
        return ranges

    def is_return(self, code: str) -> bool:
        return code in _expand(tuple(self.return_codes))

    def is_notice(self, code: str) -> bool:
        return code in _expand(tuple(self.notice_codes))



class Credentials(_Model):
    """Names of the environment variables that hold the partner API credentials."""

    user_env: str = Field(description="API user, or OAuth client id")
    secret_env: str = Field(description="API password, or OAuth client secret")
    token_env: str | None = Field(default=None, description="an issued OAuth token, used until it is refused")


class Diagnostic(_Model):
    """A partner error that is hard to read, and what usually causes it."""

    match: str = Field(description="text the partner's error contains (case-insensitive)")
    hint: str


class EvidenceRules(_Model):
    """How a partner's messages are read as evidence: what differs between runs by design,
    and which fields hold the biller's customers' personal data."""

    volatile_fields: list[str] = Field(
        default_factory=list, description="field names `sit diff` ignores: generated ids, timestamps"
    )
    personal_fields: list[str] = Field(
        default_factory=list,
        description="names (any case) of elements, attributes, JSON keys, form fields and event data keys whose "
                    "values are masked in the partner pack",
    )
    identity_fields: list[str] = Field(
        default_factory=list,
        description="request field names (the partner's) that, with the call itself, identify a call: a stub pack "
                    "recorded from a run answers a request of the same call carrying the same values of these fields, "
                    "whatever else it carries (fresh references)",
    )


# The capabilities that travel between platform and partner, and so have a transport: the others
# (configuration, past due, billing models) are facts about how the biller is set up.
TRAVELLING = ("invoice_load", "rtdr_balance", "adjustment_file", "payment_posting", "credit_posting",
              "ach_reject_posting", "void_posting", "paperless_change", "autopay_change", "phone_change",
              "email_change", "bill_images", "partner_callbacks", "cloudpay")
# What a file carries, by the capability it travels for: the names its layout's detail fields may have.
FILE_FIELDS: dict[str, tuple[str, ...]] = {
    "invoice_load": ("account_number", "invoice_number", "customer_name", "email", "service_address", "bill_date",
                     "due_date", "amount_due", "past_due"),
    "adjustment_file": ("account_number", "balance", "past_due", "block_indicator", "budget_amount",
                        "customer_name"),
    "postings": ("transaction", "reference", "account", "amount", "method", "payment_code", "original",
                 "return_code", "date", "program", "value", "channel"),
}


# How many digits a strftime part and the day's file number ({seq}) write.
_DIGITS = {"%Y": 4, "%y": 2, "%m": 2, "%d": 2, "%H": 2, "%M": 2, "%S": 2, "%j": 3, "{seq}": 2}


class FileSpec(_Model):
    """One file the integration moves over sFTP: which way, when, under what name, in what layout."""

    direction: Literal["in", "out"] = Field(description="in: partner -> platform; out: platform -> partner")
    naming: NonEmpty = Field(
        description="the file name as strftime of the business date; {seq} numbers the day's files (01, 02...)")
    schedule: NonEmpty = Field(description="when it moves, in words: 'daily by 06:00', 'at batch close, 20:00'")
    delivery: Literal["fetch", "put"] = Field(
        default="fetch", description="out: the partner fetches it over sFTP from the platform's outbox folder "
        "(fetch), or the platform puts it on the partner's own sFTP server (put: the biller's partner_sftp)")
    layout: Layout

    @property
    def glob(self) -> str:
        """The names this file may have, as a glob: each date part and the sequence as its digits (so that
        BVU%Y%m%d.DAT never takes BVUADJ20261130.DAT), any other strftime part a wildcard."""
        def part(match: re.Match[str]) -> str:
            return "[0-9]" * _DIGITS.get(match[0], 0) or "*"

        return re.sub(r"%[a-zA-Z]|\{seq\}", part, self.naming)

    def signed(self, name: str) -> bool:
        """Whether the detail field ``name`` may be negative (a return's amount taking money back)."""
        return any(f.name == name and f.signed for f in self.layout.detail.fields)

    def name(self, day: date, seq: int = 1) -> str:
        if not 0 < seq < 100:
            raise ValueError(f"file {self.naming}: the day's file number {seq} is not two digits")
        return day.strftime(self.naming).replace("{seq}", f"{seq:02d}")


class Transport(_Model):
    """How one capability travels (DESIGN principle 8): partner API calls, a file over sFTP (``file``
    names an entry of the biller's or partner's ``files``), the partner calling the platform back, or
    ``postback``: the partner calls the platform's API and the platform posts the outcome back to the URL
    the partner gave (CloudPay): no client of a partner API, the partner's URLs stubbed by WireMock."""

    kind: Literal["api", "file", "callback", "postback"]
    file: str | None = Field(default=None, description="kind file: the name of the file in 'files'")

    @model_validator(mode="after")
    def _file_named(self) -> Transport:
        if (self.kind == "file") != (self.file is not None):
            raise ValueError("a file transport names its file (file: NAME), and only a file transport does")
        return self


# How a capability the profile's transports do not list travels: invoices as the XML export of the
# partner's ``invoice_file``, callbacks as callbacks, CloudPay by postback, the rest by the partner's API.
INVOICE_EXPORT = "invoice_file"
DEFAULT_TRANSPORTS = {"invoice_load": Transport(kind="file", file=INVOICE_EXPORT),
                      "partner_callbacks": Transport(kind="callback"), "cloudpay": Transport(kind="postback")}
API = Transport(kind="api")


class PartnerProfile(_Model):
    name: str
    display_name: str
    adapter: str
    product: str
    endpoint_path: str = Field(default="", description="path of the partner's API on its host (none: no API)")
    endpoints: dict[str, str] = Field(
        default_factory=dict, description="call role -> path, for calls not sent to endpoint_path"
    )
    host_template: str | None = Field(
        default=None, description="the partner's host name, from the biller's subdomain: {subdomain}.example.com"
    )
    token_path: str | None = Field(default=None, description="OAuth client-credentials token endpoint")
    callback_path: str | None = Field(
        default=None, pattern=r"^/[^?#\s]*$",
        description="where the partner calls the platform back, with the biller's API key as BK (None: it never does)",
    )
    min_version: str | None = Field(
        default=None, description="oldest partner version that works; `sit lint` warns about older billers"
    )
    code_fallbacks: dict[str, str] = Field(
        default_factory=dict, description="code -> the code used when a biller has none (OBD -> ACH)"
    )
    diagnostics: list[Diagnostic] = Field(
        default_factory=list, description="likely causes of partner errors, shown with the failure"
    )
    credentials: Credentials | None = Field(default=None, description="the partner API's (none: it has no API)")
    capabilities: dict[str, Capability]
    transports: dict[str, Transport] = Field(
        default_factory=dict, description="capability -> how it travels; not listed: invoices as invoice_file, "
        "callbacks as callbacks, the rest by api")
    files: dict[str, FileSpec] = Field(
        default_factory=dict, description="the files the transports name (a biller's own files override them)")
    settings: dict[str, Setting] = Field(
        default_factory=dict, description="role -> the biller advanced setting that holds it (number, type, meaning)"
    )
    calls: dict[str, str] = Field(default_factory=dict, description="call role -> the partner's call name")
    change_log: dict[str, ChangeLogCall] = Field(default_factory=dict)
    codes: dict[str, str] = Field(default_factory=dict)
    balance_reply: dict[str, str] = Field(
        default_factory=dict, description="balance field -> element of the partner's balance reply"
    )
    billing_model: Literal["balance_forward", "open_item"] = "balance_forward"
    max_amount: Decimal | None = Field(
        default=None, gt=0, decimal_places=2,
        description="the largest amount the partner's amount field takes; the platform takes no larger payment",
    )
    pump: PumpPolicy = PumpPolicy()
    rules: PostingRules = Field(
        default_factory=PostingRules,
        description="what a posting must be: the engine obeys it, `sit stubs serve` checks it")
    required_configuration: list[Required] = Field(
        default_factory=list, description="platform options and biller settings the integration needs"
    )
    invoice_file: InvoiceFile | None = Field(
        default=None, description="the XML invoice export (a partner whose invoices are a file of 'files' has none)")
    evidence: EvidenceRules = EvidenceRules()
    notes: list[str] = Field(default_factory=list)

    @field_validator("settings")
    @classmethod
    def _one_role_per_number(cls, settings: dict[str, Setting]) -> dict[str, Setting]:
        seen: dict[int, str] = {}
        for role, setting in settings.items():
            if (other := seen.setdefault(setting.number, role)) != role:
                raise ValueError(f"'{other}' and '{role}' both name setting {setting.number}")
        return settings

    @model_validator(mode="after")
    def _transports(self) -> PartnerProfile:
        for name in self.transports:
            if name not in TRAVELLING:
                raise ValueError(f"transports: '{name}' does not travel (those that do: {', '.join(TRAVELLING)})")
        if self.credentials is None or not self.endpoint_path:
            api = [name for name in TRAVELLING if self.transport(name).kind == "api" and self._in_use(name)]
            if api:
                raise ValueError(f"'{api[0]}' travels by api (transports) but the partner has no API: give "
                                 "endpoint_path and credentials, or a file transport")
        if self.transport("invoice_load").file == INVOICE_EXPORT and self.invoice_file is None \
                and self._in_use("invoice_load"):
            raise ValueError("invoice_load needs invoice_file, or a file of its own (transports.invoice_load)")
        return self

    def _in_use(self, capability: str) -> bool:
        cap = self.capabilities.get(capability)
        return cap is not None and cap.status is not Status.NOT_SUPPORTED

    def transport(self, capability: str) -> Transport:
        """How ``capability`` travels: as the profile's transports say, else by the partner's API."""
        return self.transports.get(capability) or DEFAULT_TRANSPORTS.get(capability, API)

    @property
    def posts_back(self) -> bool:
        """Whether the platform posts back to URLs the partner gives it (WireMock stands for them in a run)."""
        return any(self.transport(name).kind == "postback" and self._in_use(name) for name in TRAVELLING)

    @property
    def has_api(self) -> bool:
        """Whether anything travels by the partner's API: else the harness starts no WireMock and no HTTP client."""
        return any(self.transport(name).kind == "api" and self._in_use(name) for name in TRAVELLING)

    def setting_of(self, number: int) -> Setting | None:
        """The biller advanced setting ``number``, if the integration reads it."""
        return next((s for s in self.settings.values() if s.number == number), None)


class InvoiceType(_Model):
    id: int
    name: str


class SftpAccount(_Model):
    user: str
    password_env: str


class CloudPayApp(_Model):
    """A CloudPay biller's vendor application: which vendor (fixtures/cloudpay/vendors.yaml), and what the
    vendor's needs ask of this biller."""

    vendor: NonEmpty = Field(description="the vendor's key in the CloudPay vendor table, e.g. accela")
    version: Literal[1, 2] | None = Field(
        default=None, description="the CloudPay version the vendor's application uses (the table's, if it says)")
    invoice_types: list[int] = Field(
        default_factory=list, description="the biller's invoice type IDs the vendor's application pays")
    agency_id: str | None = Field(
        default=None, description="the biller's AgencyID in the vendor's configuration table (Accela)")


class ApiKey(_Model):
    """A platform API key of the biller (biller portal, Application API Keys); its value is a secret."""

    env: str = Field(description="environment variable holding the key")
    active: bool = True


# What a test account of the partner may be said to hold: the balance reply's roles.
HELD_ROLES = ("balance", "past_due", "block_indicator", "budget_amount", "customer_name")


class HeldAccount(_Model):
    """One of the partner's real test accounts, as the SE knows it: what its balance call answers."""

    number: NonEmpty
    holds: dict[str, str] = Field(
        default_factory=dict,
        description=f"what the partner's balance call answers for it, by role ({', '.join(HELD_ROLES)}); "
        "amounts as text with two decimals",
    )
    note: str = ""

    @field_validator("holds")
    @classmethod
    def _known_roles(cls, holds: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(holds) - set(HELD_ROLES))
        if unknown:
            raise ValueError(f"unknown role '{unknown[0]}' (known: {', '.join(HELD_ROLES)})")
        return holds


class PartnerTestData(_Model):
    """The partner's real test environment, for runs against a live partner (``--partner-mode live|record``)
    and for `sit stubs serve`: a live partner cannot be arranged, so scenarios use these accounts."""

    accounts: list[HeldAccount] = Field(default_factory=list)


class BillerProfile(_Model):
    slug: NonEmpty
    name: NonEmpty
    bid: int = Field(gt=0)
    test_portal_bid: int | None = None
    partner: str
    partner_version: str
    platform: str = "reference"
    invoice_types: list[InvoiceType] = Field(min_length=1)
    settings: dict[int, Any] = Field(
        default_factory=dict, description="advanced setting number -> value, typed by the partner profile's settings"
    )
    capabilities: list[str] = Field(default_factory=list, description="optional capabilities this biller took")
    options: dict[int, bool | str] = Field(
        default_factory=dict, description="platform options by number, as the biller's BID has them (on/off or a value)"
    )
    products: list[str] = Field(default_factory=list)
    sftp: SftpAccount
    partner_sftp: SftpAccount | None = Field(
        default=None, description="the account on the partner's own sFTP server the platform puts files on "
        "(files with delivery: put)")
    files: dict[str, FileSpec] = Field(
        default_factory=dict, description="this biller's own files (layouts, names, schedules), by the name the "
        "partner's transports give them: they override the partner's")
    pump: PumpPolicy | None = None
    seed: int | None = Field(default=None, description="Faker seed; derived from the slug when absent")
    subdomain: str | None = Field(default=None, description="the biller's customer subdomain at the partner")
    codes: dict[str, str] = Field(
        default_factory=dict, description="partner codes configured for this biller (override the partner's)"
    )
    token_expires: date | None = Field(
        default=None, description="when the partner's OAuth token expires; `sit lint` warns 30 days ahead"
    )
    api_keys: list[ApiKey] = Field(
        default_factory=list,
        description="the biller's platform API keys (Application API Keys): a partner calls back with one (BK=), "
        "a CloudPay vendor's application authenticates with one")
    cloudpay: CloudPayApp | None = Field(
        default=None, description="the CloudPay vendor application of a biller whose partner is CloudPay")
    operator: str | None = Field(
        default=None, description="the SE who runs this biller's SIT, as reports name them (--operator overrides)"
    )
    test_data: PartnerTestData = Field(
        default_factory=PartnerTestData, description="the partner's real test accounts and what each holds"
    )
    sit_link: str | None = Field(
        default=None,
        description="the biller's workbook link for a SIT ID, e.g. https://tracker.example/SIT/{} ({} = the ID); "
        "without it reports link no SIT ID",
    )

    @field_validator("sit_link")
    @classmethod
    def _names_the_id(cls, pattern: str | None) -> str | None:
        if pattern is not None and "{}" not in pattern:
            raise ValueError("must contain {} where the SIT ID goes, e.g. https://tracker.example/SIT/{}")
        return pattern
