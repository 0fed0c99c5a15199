"""What the partner received, compared on the fields it acts on, and said in words.

Every posting expectation goes through ``expect_postings``: the scenario's expected postings
(role, amount and the values the partner acts on: method, payment code, transaction type,
original reference, return code, change value) against every posting call that reached the
partner for the account, whatever call it came on. A posting on the wrong call or with the
wrong value then reads as what arrived instead ("expected a credit of 12.00 with type 6; the
partner received a payment of 12.00 with type 1"), never as "expected 1, got 0".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from harness.scenario import PartnerCall, ScenarioContext, listed
from steps.common import article

# Calls that are not postings: they ask (balance, bill image) or authenticate.
NOT_POSTINGS = frozenset({"balance", "statement_pdf", "token"})
NOUNS = {"payment": "payment", "credit": "credit", "ach_return": "return", "void": "void"}
# The order values are said in, after "a payment of 45.10".
FIELD_ORDER = ("method", "payment_code", "category", "distribution", "type_code", "return_code", "original", "value",
               "alert_code")
ONLINE_CHANNELS = ("web", "mobile")  # an ACH payment made online is an OBD (online bank draft)

Posting = dict[str, str]


def amount_text(amount: Decimal) -> str:
    """An amount as a partner takes it: two decimals, no exponent."""
    return f"{amount:.2f}"


def payment(sit: ScenarioContext, amount: Decimal, method: str, channel: str = "web") -> Posting:
    """A payment as the partner must receive it: amount, method, and the codes the profiles give it."""
    wanted = {"role": "payment", "amount": amount_text(amount), "method": method}
    if type_code := sit.biller.partner.codes.get("payment_transaction_type"):
        wanted["type_code"] = type_code
    if sit.biller.code("payment_cc") is not None:  # a partner coded per biller: each payment carries its codes
        name = "payment_cc" if method == "CC" else "payment_obd" if channel in ONLINE_CHANNELS else "payment_ach"
        wanted["payment_code"] = sit.biller.code(name) or ""
        wanted.update({field: code for field in ("category", "distribution") if (code := sit.biller.code(field))})
    return wanted


def credit(sit: ScenarioContext, amount: Decimal) -> Posting:
    """A credit: its amount, with the partner's credit transaction type when it has one."""
    wanted = {"role": "credit", "amount": amount_text(amount)}
    if type_code := sit.biller.partner.codes.get("credit_transaction_type"):
        wanted["type_code"] = type_code
    return wanted


def ach_return(amount: Decimal, code: str, original: str) -> Posting:
    """A return: the original payment's amount and reference, with the bank's R-code."""
    return {"role": "ach_return", "amount": amount_text(amount), "return_code": code, "original": original}


def void(amount: Decimal, original: str) -> Posting:
    """A void: the original payment's amount and reference."""
    return {"role": "void", "amount": amount_text(amount), "original": original}


def change(sit: ScenarioContext, program: str, value: str) -> Posting:
    """An account change: its value (Y/N for enrolments), with the program's alert code when it has one."""
    wanted = {"role": f"{program}_change", "value": value}
    call = sit.biller.partner.change_log.get(program)
    if call is not None and call.alert_code:
        wanted["alert_code"] = call.alert_code
    return wanted


def received(sit: ScenarioContext, account: str) -> list[PartnerCall]:
    """Every posting call of the scenario that reached the partner for ``account``, in order."""
    return [c for c in sit.partner.calls(account=account) if c.role not in NOT_POSTINGS]


def as_posting(call: PartnerCall, keys: Iterable[str]) -> Posting:
    """A call as a posting: its role (its call name when it has none) and the fields in ``keys``."""
    fields = {key: call.fields[key] for key in keys if key in call.fields}
    return {"role": call.role or call.call, **fields}


def expect_postings(sit: ScenarioContext, wanted: list[Posting], account: str, where: str = "for the account",
                    besides: str | None = None) -> None:
    """The partner received exactly ``wanted`` for ``account`` (in any order), compared on the fields
    each expected posting names; what it received instead is said the same way. ``besides``: the
    reference of a posting checked before (the payment a void reverses), left out of the comparison."""
    keys = {"amount", *(key for posting in wanted for key in posting if key != "role")}
    got = [as_posting(call, keys) for call in received(sit, account)
           if besides is None or call.fields.get("reference") != besides]
    sit.expect(f"the partner to receive {{}} {where}", ordered(wanted), ordered(got),
               f"the partner received {{}} {where}", instead=f"it received {{}}{_strays(sit, keys)}",
               show=postings_said)


def _strays(sit: ScenarioContext, keys: Iterable[str]) -> str:
    """Postings of the scenario for accounts it never arranged (a mangled account number), said
    after what the account received: where the missing posting may have gone."""
    strays = [(call.fields.get("account", ""), as_posting(call, keys)) for call in sit.partner.calls()
              if call.role not in NOT_POSTINGS and not sit.partner.holds(call.fields.get("account", ""))]
    if not strays:
        return ""
    said = listed(lambda stray: f"{posting_said(stray[1])} for account {stray[0] or '(none)'}")(strays)
    return f"; for accounts the scenario does not hold it received {said}"


def ordered(postings: list[Posting]) -> list[Posting]:
    """Postings in one order, so that two lists compare as the same postings in any order of arrival."""
    return sorted(postings, key=lambda p: sorted(p.items()))


def posting_said(posting: Mapping[str, str]) -> str:
    """One posting in words: "a payment of 45.10 by card", "a void of 25.00 for payment X"."""
    role = posting.get("role", "")
    noun = NOUNS.get(role) or (role.replace("_", " ") if role.endswith("_change") else f"{role or 'unknown'} call")
    words = [f"{article(noun)} {noun}"]
    if "amount" in posting:
        words.append(f"of {posting['amount'] or '(no amount)'}")
    words += [_field_said(name, posting[name]) for name in FIELD_ORDER if name in posting]
    return " ".join(words)


def _field_said(name: str, value: str) -> str:
    match name:
        case "method":
            return "by " + {"CC": "card", "ACH": "ACH"}.get(value, value or "no method")
        case "payment_code":
            return f"with payment code {value or '(none)'}"
        case "category":
            return f"in category {value or '(none)'}"
        case "distribution":
            return f"to distribution {value or '(none)'}"
        case "type_code":
            return f"with type {value or '(none)'}"
        case "return_code":
            return f"with code {value or '(none)'}"
        case "original":
            return f"for payment {value or '(no reference)'}"
        case "value":
            return {"Y": "enrolling", "N": "un-enrolling"}.get(value, f"to {value!r}" if value else "with no value")
        case "alert_code":
            return f"with alert code {value or '(none)'}"
    return f"{name} {value}"


postings_said = listed(posting_said)
