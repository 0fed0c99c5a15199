"""What a step sees of one scenario: the platform port, the partner side, data, expectations.

Steps speak business ("the partner holds an account with a balance of 120.00"); this
module turns that into stub mappings, sFTP uploads and platform calls, and reads the
scenario's evidence back from the event log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeAlias, cast

import httpx
import pytest
from faker import Faker

from harness.errors import ProfileError, SitError
from harness.events import Event
from harness.partners import FAULTS
from harness.partners.files import control_field
from harness.partners.tap import NOT_DELIVERED
from harness.platform.port import ImportReport, Platform
from harness.profiles import Biller, out_of_scope
from harness.session import SitSession
from harness.stubs import StubSide
from harness.transfer import upload


@dataclass(frozen=True)
class PartnerCall:
    """A request the partner side received, decoded by the partner's adapter."""

    call: str
    role: str
    fields: dict[str, str]


@dataclass(frozen=True)
class CallbackReply:
    """What the platform answered a partner callback."""

    status: int
    body: str


# Generous: the platform answers only after refreshing the account from the partner (RTDR).
CALLBACK_TIMEOUT_S = 10.0
# How a need for each fault reads: "needs a partner timeout, which a live partner cannot be made to produce".
_FAULT_WORDS = {"timeout": "timeout", "reset": "connection reset", "server_error": "server error (HTTP 503)",
                "bad_request": "refusal as a bad request (HTTP 400)", "forbidden": "credentials refusal (HTTP 403)"}
_AMOUNT_ROLES = ("balance", "past_due", "budget_amount")
# What the partner received: a call to its API, or a line of a file it fetched.
RECEIVED = ("partner.exchange", "partner.line")
# Postings that move an account's balance: a real partner's test account then no longer holds what test_data says.
_MOVES_MONEY = frozenset({"payment", "credit", "ach_return", "void"})


class NotRunnable(pytest.skip.Exception):  # type: ignore[misc,name-defined]
    """The scenario needs something of the partner that the partner it runs against cannot give (a fault a
    live partner cannot be made to produce, a test account nobody named): reported Not run, with ``reason``.

    A skip, to pytest: neither passed nor failed, and the steps after it do not run."""

    def __init__(self, reason: str) -> None:
        super().__init__(msg=f"Not run: {reason}")
        self.reason = reason


class PartnerSide:
    """The partner as steps arrange and observe it (WireMock and the sFTP inbox underneath)."""

    def __init__(self, session: SitSession) -> None:
        self._s = session
        self._faults: list[str] = []
        self._held: dict[str, dict[str, Decimal | str]] = {}  # what each arranged account's balance call answers
        self._files = 0  # the files the partner sent in this scenario: each day's file names number them

    def holds_account(self, account: str, **values: Decimal | str) -> str:
        """The partner's balance call answers for ``account`` with ``values`` by balance role
        (``balance``, ``past_due``, ``block_indicator``, ``customer_name``, ``budget_amount``).

        Returns the account the scenario uses from now on: ``account`` on stubs; against a live partner,
        which cannot be arranged, the biller's test account that holds ``values`` (else Not run)."""
        if self._s.partner_is_real:
            return self._test_account(values)
        if not self._s.partner.has_api:
            return self._adjusted(account, values)
        biller, fields = self._s.biller, {}
        for role, value in values.items():
            name = biller.balance_field(role)
            if name is None:
                raise ProfileError(f"fixtures/partners/{biller.partner.name}.yaml: field 'balance_reply': no field "
                                   f"for '{role}' (nor a biller setting naming it); the scenario cannot be arranged")
            fields[name] = f"{value:.2f}" if isinstance(value, Decimal) else value
        if self._s.arranges:
            self._stub_side.add(self._s.partner.stubs.account(account, fields))
        self._held[account] = dict(values)
        return account

    def _adjusted(self, account: str, values: Mapping[str, Decimal | str]) -> str:
        """A partner without RTDR says what an account holds in a balance adjustment file (see ``sends_adjustment``)."""
        report = self.sends_adjustment(account, values)
        if report.rejected:
            raise SitError(f"the platform refused the balance adjustment file the scenario sent: {report.rejected[0]}")
        self._held[account] = dict(values)
        return account

    def sends_adjustment(self, account: str, values: Mapping[str, Decimal | str], *,
                         miscount: int = 0) -> ImportReport:
        """The partner uploads a balance adjustment file saying ``account`` holds ``values`` over sFTP, and the
        platform imports it, as its schedule would, before the payer looks; ``miscount``: how many records
        more than it holds the trailer counts (a file that must be refused)."""
        biller, platform = self._s.biller, self._s.current
        spec = biller.file_for("adjustment_file")
        if spec is None or out_of_scope(biller, "adjustment_file"):
            raise ProfileError(f"{biller.partner.display_name} has neither RTDR nor a balance adjustment file "
                               "(transports.adjustment_file): no scenario can say what an account holds")
        assert platform is not None, "accounts are arranged inside a scenario"
        codec = self._s.partner.files
        self._files += 1
        name = spec.name(self._s.today, self._files)
        trailer = {control_field(spec, "count"): 1 + miscount} if miscount else None
        self.upload(name, codec.file(spec, [codec.adjustment(spec, account, values)], name, self._s.today,
                                     trailer=trailer))
        return platform.import_inbox()

    def _test_account(self, values: Mapping[str, Decimal | str]) -> str:
        """The first of the biller's test accounts (``test_data``) holding ``values`` that the scenario does not
        hold yet and whose balance no posting of the run moved (a real partner's balance moves with it).
        Recorded, so the evidence says which real account stood for what."""
        wanted = {role: f"{value:.2f}" if isinstance(value, Decimal) else value for role, value in values.items()}
        moved, biller = self._s.moved_accounts, self._s.biller
        blocking = {code for codes in (biller.setting("block_codes", {}) or {}).values() for code in codes}
        for account in biller.profile.test_data.accounts:
            if account.number not in moved | self._held.keys() and _holds(account.holds, wanted, blocking):
                self._held[account.number] = dict(values)
                self._s.recorder.append("partner.test_account", account=account.number, wanted=wanted,
                                        holds=account.holds)
                return account.number
        held = " and ".join(f"{role.replace('_', ' ')} {value or 'none'}" for role, value in wanted.items())
        raise NotRunnable(f"needs a test account holding {held} that no posting of the run moved; "
                          "the biller profile's test_data names none")

    def _cannot(self, need: str) -> None:
        """Against a live partner a scenario cannot arrange ``need``: it is not run."""
        if self._s.partner_is_real:
            raise NotRunnable(f"needs {need}, which a live partner cannot be made to produce")

    @property
    def _stub_side(self) -> StubSide:
        side = self._s.partner.side
        assert isinstance(side, StubSide), "only a stubbed partner is arranged"
        return side

    def balance_changes(self, account: str, **values: Decimal | str) -> None:
        """The partner's account changed (a payment applied, a new bill): from now on its balance call
        answers with ``values``, the rest of what it held kept. The new answer is a newer mapping of
        the same priority, which WireMock prefers to the earlier one."""
        self._cannot("the partner's balance to change during the scenario")
        held = self._held.get(account)
        if held is None:
            raise SitError(f"the scenario changes account {account}, which the partner does not hold yet: "
                           "arrange the account first (the partner holds an account ...)")
        self.holds_account(account, **{**held, **values})

    def has_image_of(self, account: str) -> None:
        """The partner holds the images of ``account``'s bills: a stub answers for any account; a real partner
        only for its own, and a bill the scenario made up is not one of them."""
        if self._s.partner_is_real and account not in self._held:
            raise NotRunnable("needs the image of a bill the partner holds; the scenario's bill is made up, its "
                              "account is not one of the biller's test accounts")

    def holds(self, account: str) -> bool:
        """Whether the scenario arranged ``account`` at the partner."""
        return account in self._held

    def fails(self, role: str, fault: str, times: int | None) -> None:
        """Make the partner's ``role`` call fail ``times`` times (None: until it recovers)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown partner fault {fault!r} (one of: {', '.join(FAULTS)})")
        self._cannot(f"a partner {_FAULT_WORDS[fault]} on its {role.replace('_', ' ')} call")
        delay_ms = int(self._s.biller.pump.timeout_seconds * 1000 * 1.5)
        mappings = self._s.partner.stubs.fault(role, fault, times, delay_ms)
        for mapping in mappings if self._s.arranges else []:
            self._faults.append(self._stub_side.add(mapping))

    def has_failure(self, name: str, role: str | None = None) -> None:
        """One of the partner's own known failure modes (its adapter's ``FAILURES``), until it recovers."""
        self._cannot(f"the partner's known failure '{name}'")
        # The token the platform holds now: the issued one, or one it fetched in an earlier scenario.
        client = self._s.partner.client
        mappings = self._s.partner.stubs.failure(name, role, token=client.token if client else "")
        for mapping in mappings if self._s.arranges else []:
            self._faults.append(self._stub_side.add(mapping))

    def recovers(self) -> None:
        for mapping_id in self._faults:
            self._stub_side.remove(mapping_id)
        self._faults.clear()

    def goes_offline(self) -> None:
        """The partner's service stops running: every call the platform makes is refused at the
        connection (a real ECONNREFUSED), until ``comes_back`` or the scenario ends."""
        address = self._s.take_partner_offline()
        self._s.recorder.append("partner.offline", how="connection refused", address=address)

    def comes_back(self) -> None:
        """The partner's service runs again."""
        self._s.bring_partner_back()
        self._s.recorder.append("partner.online")

    def calls(self, role: str | None = None, account: str | None = None) -> list[PartnerCall]:
        """This scenario's requests that reached the partner, of one role and for one account if given
        (a connection refused is evidence of the attempt, not something the partner received)."""
        received = [e for e in self._s.recorder.scope_events() if e.kind in RECEIVED]
        found = [_call(e) for e in received if e.data.get("fault") != NOT_DELIVERED]
        return [c for c in found
                if (role is None or c.role == role) and (account is None or c.fields.get("account") == account)]

    def upload(self, name: str, content: bytes) -> None:
        """Drop a file on the platform's sFTP inbox, as the partner does: a real SSH session."""
        account, sftp = self._s.biller.profile.sftp, self._s.sftp
        upload(sftp.host, sftp.port, account.user, self._s.secrets.get(account.password_env), content, name,
               host_key=sftp.host_public_key)

    def files_received(self) -> list[dict[str, Any]]:
        return [e.data for e in self._s.recorder.scope_events("file.transferred")]

    def api_key(self, active: bool = True) -> str:
        """The biller's first active (or inactive) API key, as the environment holds it."""
        profile = self._s.biller.profile
        env = next((k.env for k in profile.api_keys if k.active == active), None)
        if env is None:
            raise ProfileError(f"{profile.name} has no {'active' if active else 'inactive'} API key in its profile "
                               "(api_keys): the scenario cannot be arranged")
        return self._s.secrets.get(env)

    def calls_back(self, account: str, key: str | None) -> CallbackReply:
        """Call the platform back as the partner does: a real HTTP POST saying the account changed,
        on the callback URL carrying ``key`` as BK (none when None). Synchronous, so the platform's
        events land inside the calling step."""
        body = {"event": "account.updated", "accountNumber": account}
        response = httpx.post(self._s.callback_url(key), json=body, timeout=CALLBACK_TIMEOUT_S)
        return CallbackReply(response.status_code, response.text)


def _holds(held: Mapping[str, str], wanted: Mapping[str, str], blocking: Collection[str] = ()) -> bool:
    """Whether a test account holding ``held`` is what a scenario asking for ``wanted`` needs: every
    role asked for, and nothing else that changes what the platform does (a block, a past due amount).
    Amounts compare as money (0 and absent alike); a customer name only when asked for; where no block
    is asked for, any code that is not one of the biller's ``blocking`` codes ("N", "NONE") will do."""
    roles = (set(held) | set(wanted)) - ({"customer_name"} - set(wanted))
    return all(_same(role, held.get(role, "").strip(), wanted.get(role, "").strip(), blocking) for role in roles)


def _same(role: str, held: str, wanted: str, blocking: Collection[str]) -> bool:
    if role in _AMOUNT_ROLES:
        try:
            return Decimal(held or "0") == Decimal(wanted or "0")
        except ArithmeticError:
            return False
    if role == "block_indicator" and not wanted:
        return held not in blocking
    return held == wanted


def _call(event: Event) -> PartnerCall:
    fields = dict(event.data.get("fields") or {})
    return PartnerCall(event.data.get("call") or "", fields.pop("role", ""), fields)


@dataclass
class ScenarioContext:
    sit_id: str
    name: str
    session: SitSession
    platform: Platform
    fake: Faker
    vars: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.partner = PartnerSide(self.session)

    @property
    def biller(self) -> Biller:
        return self.session.biller

    def observe(self, force: bool = False) -> None:
        """Turn what the partner side saw since the last look into events (after each step;
        forced at the end of the scenario, so that nothing it caused goes unrecorded)."""
        for event in self.session.partner.side.drain(force):
            fields = event.data.get("fields") or {}
            if fields.get("role") in _MOVES_MONEY and fields.get("account"):
                self.session.moved_accounts.add(str(fields["account"]))
        self.session.record_transfers()

    def expect(self, wanted: str, expected: Any, actual: Any, saw: str | None = None, *,
               instead: str | None = None, show: Show | None = None) -> None:
        """Record an expectation, and fail the step when ``actual`` differs from ``expected``.

        It reads as sentences, where ``{}`` stands for a value as ``show`` says it (default ``say``):
        ``wanted`` what should be, after "expected" ("the partner to receive {}"); ``saw`` what is
        ("the partner received {}"); ``instead`` (default ``saw``) what is when it differs, after the
        expectation ("it received {}"). A template holds one ``{}``, before any text quoted into it
        (a reason may hold braces), or none when the sentence already says the value.
        The event keeps the raw values beside the sentences. Without ``saw``, ``wanted`` is a label
        (the form before sentences): "label: expected X, got Y".
        """
        ok = expected == actual
        said = (_sentences(wanted, expected, actual, saw, instead, _shower(show), ok) if saw is not None
                else _labelled(wanted, expected, actual, _shower(show), ok))
        self.session.recorder.append("expectation", sit_id=self.sit_id, expected=_plain(expected),
                                     actual=_plain(actual), ok=ok, **said)
        if not ok:
            raise AssertionError(said["sentence"])

    # -- seeded data ----------------------------------------------------------------------
    def account_number(self) -> str:
        """A new account number; about half start with zeros, as many billers' do (a connector that
        reads them as numbers drops the zeros and posts to another account)."""
        # Faker's unique proxy is typed Any; numerify returns text.
        return cast(str, self.fake.unique.numerify(self.fake.random_element(("00#######", "1########"))))

    def invoice_record(self, account: str | None = None, amount: Decimal | None = None,
                       past_due: Decimal = Decimal(0), name: str | None = None) -> dict[str, str]:
        today = self.session.today
        return {
            "account_number": account or self.account_number(),
            "invoice_number": f"INV-{today:%Y%m}-{self.fake.unique.numerify('######')}",
            "customer_name": name or self.fake.name(), "email": self.fake.email(),
            "service_address": self.fake.street_address(),
            "bill_date": today.isoformat(), "due_date": (today + timedelta(days=21)).isoformat(),
            "amount_due": f"{amount if amount is not None else self.money(20, 400):.2f}",
            "past_due": f"{past_due:.2f}",
        }

    def accented_name(self) -> str:
        """A customer name with letters beyond ASCII that ISO-8859-1 or windows-1252 files hold
        (Š and Ž are windows-1252's own: read as ISO-8859-1 they become control characters)."""
        return str(self.fake.unique.random_element(_ACCENTED_NAMES))

    def unknown_api_key(self) -> str:
        """A key shaped like an API key that the biller never issued (seeded, so the run repeats)."""
        return self.fake.hexify("^" * 32)

    def money(self, low: int, high: int) -> Decimal:
        return Decimal(self.fake.pyint(low * 100, high * 100)) / 100


_ACCENTED_NAMES = ("Renée Côté", "José Peña", "Zoë Ångström", "François Müller", "Šárka Žižková", "Íñigo Ibáñez",
                   "Søren Ærø", "Œdipe Lefèvre")


def scenario_faker(base: Faker, seed: int, sit_id: str) -> Faker:
    """Reseed the run's Faker for one scenario: its data depends on the seed and its ID only."""
    base.seed_instance(int.from_bytes(hashlib.sha256(f"{seed}:{sit_id}".encode()).digest()[:8], "big"))
    base.unique.clear()
    return base


# -- how expectations read ---------------------------------------------------------------
Show: TypeAlias = Callable[[Any], str] | Mapping[Any, str]
"""How a value reads in an expectation's sentences: a function, or words by value ({True: "allowed", ...})."""


def say(value: Any) -> str:
    """A value as a person says it: amounts as 45.10, nothing for None or an empty list, lists as
    "a, b and c". Booleans read "yes"/"no" only as a last resort: a step gives them words (``show``)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, Enum):
        return say(value.value)
    if isinstance(value, set | frozenset):
        return listed()(sorted(value, key=str))
    if isinstance(value, list | tuple):
        return listed()(value)
    return str(value)


def listed(item: Callable[[Any], str] = say, none: str = "nothing") -> Callable[[Iterable[Any]], str]:
    """Say a list: each value by ``item``, joined "a, b and c"; ``none`` when it is empty."""
    def said(values: Iterable[Any]) -> str:
        words = [item(v) for v in values]
        if not words:
            return none
        return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
    return said


def counted(noun: str, plural: str | None = None) -> Callable[[int], str]:
    """Say a count of ``noun``: "no payments", "1 payment", "3 payments"."""
    many = plural or f"{noun}s"
    return lambda n: f"no {many}" if n == 0 else f"{n} {noun if n == 1 else many}"


def times(n: int) -> str:
    """Say how often: "once", "twice", "3 times"."""
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _shower(show: Show | None) -> Callable[[Any], str]:
    if show is None:
        return say
    if isinstance(show, Mapping):
        words = show
        return lambda value: words[value] if value in words else say(value)
    return show


def _fill(template: str, value: str) -> str:
    return template.replace("{}", value, 1)


def _sentences(wanted: str, expected: Any, actual: Any, saw: str, instead: str | None,
               show: Callable[[Any], str], ok: bool) -> dict[str, str]:
    """The expectation's sentences: what was expected, what was seen, and the one line a report shows
    (what was seen when it was as expected; else the expectation, then what came instead)."""
    expected_sentence = f"expected {_fill(wanted, show(expected))}"
    actual_sentence = _fill(saw, show(actual))
    sentence = actual_sentence if ok else f"{expected_sentence}; {_fill(instead or saw, show(actual))}"
    return {"expected_sentence": expected_sentence, "actual_sentence": actual_sentence, "sentence": sentence}


def _labelled(what: str, expected: Any, actual: Any, show: Callable[[Any], str], ok: bool) -> dict[str, str]:
    """A labelled expectation (no sentences given): "label: value", its values said, not printed."""
    sentence = f"{what}: {show(actual)}" if ok else f"{what}: expected {show(expected)}, got {show(actual)}"
    return {"what": what, "expected_sentence": f"{what}: {show(expected)}",
            "actual_sentence": f"{what}: {show(actual)}", "sentence": sentence}


def _plain(value: Any) -> Any:
    """A raw value as the event keeps it (JSON): amounts as text, sets sorted."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in (sorted(value) if isinstance(value, set | frozenset) else value)]
    return value
