"""What `sit serve` shows at 80 columns: what to configure in the vendor's test instance, a line for each
request, page view, payment and postback as it is recorded, and how the run ended."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.cloudpay import APPROVING_CARD, DECLINING_CARD

if TYPE_CHECKING:
    from harness.serve.cloudpay import ServedCloudPay

WIDTH = 80  # what the console lines are written for
_LABEL = 15  # "  API key      " and the like
_INDENT = " " * (_LABEL + 2)


def _wrap(text: str, indent: str = "     ", more: str = "       ") -> str:
    return "\n".join(textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=more,
                                   break_long_words=False, break_on_hyphens=False))


def configuration(served: ServedCloudPay) -> list[str]:
    """The biller, the vendor and what its test instance is configured with; the API key's value only when it is
    the documented demo value (a key set in the environment the SE already holds: it is named, never shown)."""
    b, vendor, base = served.biller.profile, served.biller.vendor, served.server.base_url
    assert vendor is not None  # ServedCloudPay.start refused a biller without one
    bid = f"test portal BID {b.test_portal_bid}" if b.test_portal_bid else f"BID {b.bid}"
    lines = [_wrap(f"The platform's CloudPay side for {b.name} ({bid})", "", "  "),
             f"  {'Vendor':<{_LABEL}}{vendor.name}, CloudPay v{served.version} (the system under test)"]
    if served.version == 2:
        lines += [f"  {'API URL':<{_LABEL}}{base}/cloudpaymentsapi/v2",
                  f"{_INDENT}(biller status: GET .../v2/billerstatus)", *api_key(served)]
    else:
        lines += [f"  {'Redirect URL':<{_LABEL}}{base}/cloudpay/v1 (GET, or a form POST)",
                  f"  {'BillerGUID':<{_LABEL}}{served.server.biller.guid}"]
    lines += [f"  {'Postbacks':<{_LABEL}}to the PostBackURL each payment names (a 5xx is retried)"]
    if served.options.probe_postbacks:
        lines += [f"{_INDENT}each one the vendor takes is followed by the same postback",
                  f"{_INDENT}again and a forged one: what the vendor accepts is flagged"]
    lines += [
              f"  {'Test cards':<{_LABEL}}{APPROVING_CARD} approves, {DECLINING_CARD} declines",
              f"{_INDENT}any future expiry (MM/YY), any CVV, any name",
              f"Run {served.run_id}: every request, page view, payment and postback is",
              "recorded as it happens.",
              "Ctrl-C to finish."]
    return lines


def api_key(served: ServedCloudPay) -> list[str]:
    env = served.key_env
    assert env is not None  # a v2 biller's (ServedCloudPay.start found its active key)
    if env in served.secrets.demo:
        return [f"  {'API key':<{_LABEL}}${env} is unset: configure the demo key",
                f"{_INDENT}{served.secrets.get(env)}"]
    return [f"  {'API key':<{_LABEL}}the value of ${env} (set in this shell;",
            f"{_INDENT}not shown: paste the key from where you keep it)"]


def event_line(kind: str, d: Mapping[str, Any], number: int, payment: str) -> str:
    """One observation as the console shows it: a request by its number, the rest by their payment's SIT ID."""
    if kind == "cloudpay.request":
        status = int(d.get("status") or 0)
        note = f": {d.get('note')}" if status >= 400 and d.get("note") else ""
        return _wrap(f"{number:>4} {d.get('method')} {d.get('path')} {status}{note}", "", "      ")
    if kind == "cloudpay.payment_created":
        invoices = len(d.get("invoices") or [])
        what = f"{d.get('amount')} ({invoices} invoice{'' if invoices == 1 else 's'}), CloudPay {d.get('version')}"
        return _wrap(f"{payment} payment created {what}")
    if kind == "cloudpay.page_viewed":
        return _wrap(f"{payment} {d.get('page')} page shown")
    if kind == "cloudpay.card_refused":
        return _wrap(f"{payment} card refused: {d.get('reason')}")
    if kind == "cloudpay.payment":
        card = f"{d.get('amount')} {d.get('card_type')} ...{d.get('last4')}"
        return _wrap(f"{payment} paid {card} approved" if d.get("approved") else
                     f"{payment} declined {card}: {d.get('message')}")
    if kind == "cloudpay.duplicate_submit":
        return _wrap(f"{payment} submitted again: not charged again, no postback")
    if kind == "cloudpay.postback":
        answer = d.get("status") or d.get("error") or ""
        return _wrap(f"{payment} postback {d.get('outcome')} {answer} (attempt {d.get('attempt')})")
    if kind == "cloudpay.postback_probe":
        answered = d.get("status") or "no answer"
        verdict = f"ACCEPTED ({answered}): flagged" if d.get("accepted") else f"refused ({answered})"
        return _wrap(f"{payment} {d.get('probe')} postback sent to the vendor: {verdict}")
    return _wrap(f"{payment} {kind}")


def outcome(run_id: str, status: str, counts: Mapping[str, int], requests: Mapping[str, int], error: str) -> str:
    """How the run ended, at 80 columns."""
    payments = sum(counts.values())
    if not payments:
        head = f"Run {run_id}: {status.upper()}, no payment arrived: nothing to sign off"
    else:
        head = (f"Run {run_id}: {status.upper()}, {payments} payment{'' if payments == 1 else 's'}: "
                f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
                f"{counts.get('not_run', 0)} not paid")
    lines = [_wrap(head, "", "  "),
             f"  {requests.get('requests', 0)} requests, {requests.get('refused', 0)} of the vendor's refused"]
    if error:
        lines.append(_wrap(error, "  ", "  "))
    return "\n".join(lines)
