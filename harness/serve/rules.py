"""The partner's rules, checked on each exchange a real platform sends to the served partner.

Every rule reads the partner and biller profiles, the same data the reference engine obeys
(``rules``, ``codes``, ``change_log``, ``pump.excluded_channels``, ``code_fallbacks``,
``max_amount``, the capability matrix): a rule broken names itself and the profile field that
says it. An exchange is given as the adapter decodes it (``fields``: role, account, amount,
type_code, return_code, reference, alert_code, channel, payment_code...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from harness.profiles import Biller, out_of_scope
from harness.profiles.scope import PRODUCED

# The call roles that move money or change an account: what "posted twice" is about.
POSTING_ROLES = ("payment", "credit", "ach_return", "void")
# Call roles that are not postings, and the capability (hence the workbook section) each serves.
READ_ROLES = {"balance": "rtdr_balance", "statement_pdf": "bill_images"}


@dataclass(frozen=True)
class Broken:
    """One rule an exchange broke: the rule's name, the profile field that states it, and why."""

    rule: str
    field: str
    sentence: str


@dataclass(frozen=True)
class Verdict:
    broken: tuple[Broken, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.broken

    def record(self) -> dict[str, Any]:
        """The verdict as the exchange's event keeps it."""
        return {"verdict": "ok" if self.ok else "broken",
                "broken": [{"rule": b.rule, "field": b.field, "sentence": b.sentence} for b in self.broken]}


@dataclass
class Seen:
    """What the run saw before the exchange being checked."""

    references: dict[str, int] = field(default_factory=dict)  # reference -> the exchange that posted it


def capability_of(role: str) -> str | None:
    """The capability an exchange of ``role`` serves (None: the token call, or a call no role names)."""
    if role in READ_ROLES:
        return READ_ROLES[role]
    return next((name for name, made in PRODUCED.items() if made.role == role), None)


Rule = Callable[[Biller, Mapping[str, str]], Broken | None]


def _in_scope(biller: Biller, fields: Mapping[str, str]) -> Broken | None:
    role = fields.get("role", "")
    if role == "token":
        return None
    capability = capability_of(role)
    if capability is None:
        return Broken("known call", "calls", f"a request {biller.partner.display_name} names no call for "
                      f"(fixtures/partners/{biller.partner.name}.yaml field 'calls'): the platform sent "
                      "something the partner does not take")
    if (reason := out_of_scope(biller, capability)) is not None:
        return Broken("in scope", f"capabilities.{capability}",
                      f"a {role.replace('_', ' ')} reached the partner, which must never receive one: {reason}")
    return None


def _amount(biller: Biller, fields: Mapping[str, str]) -> Broken | None:
    raw = fields.get("amount")
    if raw is None:
        return None
    decimals = biller.partner.rules.amount_decimals
    shape = rf"\d+\.\d{{{decimals}}}" if decimals else r"\d+"
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(0)
    if not re.fullmatch(shape, raw) or value <= 0:
        return Broken("amount", "rules.amount_decimals",
                      f"amount '{raw}' is not a positive amount written with {decimals} decimals")
    top = biller.partner.max_amount
    if top is not None and value > top:
        return Broken("amount", "max_amount", f"amount {raw} is more than the partner takes ({top})")
    return None


def _type_code(biller: Biller, fields: Mapping[str, str]) -> Broken | None:
    role, code = fields.get("role", ""), fields.get("type_code")
    expected = biller.code(f"{role}_transaction_type") if role in ("payment", "credit") else None
    if code is None or expected is None or code == expected:
        return None
    credit = biller.code("credit_transaction_type")
    also = f" nor the credit type {credit}" if credit and role == "payment" else ""
    return Broken("transaction type", f"codes.{role}_transaction_type",
                  f"a {role} carries transaction type {code or '(none)'}: not the {role} type {expected}{also}")


def _return_code(biller: Biller, fields: Mapping[str, str]) -> Broken | None:
    if fields.get("role") != "ach_return":
        return None
    rules, code = biller.partner.rules, fields.get("return_code", "")
    if rules.is_notice(code):
        return Broken("C-code never a return", "rules.notice_codes",
                      f"{code} is a notification of change, not a return: no money moved back, nothing to post")
    if not rules.is_return(code):
        return Broken("return code", "rules.return_codes",
                      f"return code '{code}' is not one of {', '.join(rules.return_codes)}")
    return None


def _alert_code(biller: Biller, fields: Mapping[str, str]) -> Broken | None:
    role = fields.get("role", "")
    if not role.endswith("_change"):
        return None
    program = role.removesuffix("_change")
    call = biller.partner.change_log.get(program)
    if call is None or call.alert_code is None or fields.get("alert_code") == call.alert_code:
        return None
    return Broken("alert code", f"change_log.{program}.alert_code",
                  f"{call.call} carries alert code {fields.get('alert_code') or '(none)'}; the {program} change "
                  f"log's code is {call.alert_code}")


def _channel(biller: Biller, fields: Mapping[str, str]) -> Broken | None:
    channel = fields.get("channel")
    if fields.get("role") != "payment" or not channel:
        return None
    reason = biller.pump.excluded_channels.get(channel)
    if reason is None:
        return None
    return Broken("channel never pumped", f"pump.excluded_channels.{channel}",
                  f"a {channel} payment reached the partner through the data pump: {reason}")


def _payment_code(biller: Biller, fields: Mapping[str, str]) -> Broken | None:
    code = fields.get("payment_code")
    if fields.get("role") != "payment" or code is None:
        return None
    names = sorted(n for n in biller.codes if n.startswith("payment_") and not n.endswith("_transaction_type"))
    if code in {biller.code(name) for name in names}:
        return None
    fallbacks = biller.partner.code_fallbacks
    falls = "; ".join(f"{name} falls back to {to}" for name, to in fallbacks.items() if name in names)
    known = ", ".join(f"{name} {biller.code(name)}" for name in names)
    return Broken("payment code", "code_fallbacks" if falls else "codes",
                  f"payment code '{code}' is none of the biller's ({known}" + (f"; {falls}" if falls else "") + ")")


RULES: tuple[Rule, ...] = (_in_scope, _amount, _type_code, _return_code, _alert_code, _channel, _payment_code)


class PartnerRules:
    """The rules of one biller's partner, applied exchange after exchange of one run."""

    def __init__(self, biller: Biller, rules: Iterable[Rule] = RULES) -> None:
        self.biller, self._rules, self.seen = biller, tuple(rules), Seen()

    def check(self, number: int, fields: Mapping[str, str], status: int | None) -> Verdict:
        """The verdict on exchange ``number``; ``status`` is what the partner answered (None: no answer)."""
        broken = [found for rule in self._rules if (found := rule(self.biller, fields)) is not None]
        if (twice := self._posted_twice(number, fields, status)) is not None:
            broken.append(twice)
        return Verdict(tuple(broken))

    def _posted_twice(self, number: int, fields: Mapping[str, str], status: int | None) -> Broken | None:
        role, reference = fields.get("role", ""), fields.get("reference", "")
        if not self.biller.partner.rules.reference_once or not reference:
            return None
        if role not in POSTING_ROLES and not role.endswith("_change"):
            return None
        earlier = self.seen.references.get(reference)
        # Only a posting the partner answered counts as taken: a retry after no answer is what references are for.
        if earlier is None and status is not None and status < 400:
            self.seen.references[reference] = number
        if earlier is None:
            return None
        return Broken("reference once", "rules.reference_once",
                      f"reference {reference} was already posted (exchange {earlier}): the partner would post it twice")
