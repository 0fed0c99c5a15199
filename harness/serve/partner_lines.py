"""What `sit stubs serve` shows at 80 columns: what to configure on the platform's test BID, then a line
for each exchange as it arrives."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from harness.events import Event

if TYPE_CHECKING:
    from harness.serve.partner import ServedPartner

WIDTH = 80  # what the console lines are written for


def exchange_line(event: Event) -> str:
    """One exchange as the console shows it as it arrives: number, call, what it carried, verdict."""
    d: dict[str, Any] = event.data
    fields = d.get("fields") or {}
    what = " ".join(str(fields[k]) for k in ("role", "account", "amount") if fields.get(k))
    head = f"{d.get('exchange', '?'):>4} {d.get('call') or d.get('method', '')} {what}".rstrip()
    if d.get("verdict") == "ok":
        return f"{head}: ok"
    broken = d.get("broken") or []
    lines = [f"{head}: BROKE {len(broken)} rule{'s' if len(broken) > 1 else ''}"]
    for b in broken:
        lines += textwrap.wrap(f"{b.get('rule')} ({b.get('field')}): {b.get('sentence')}", WIDTH,
                               initial_indent=" " * 6, subsequent_indent=" " * 8)
    return "\n".join(lines)


def configuration(served: ServedPartner) -> list[str]:
    """What the SE configures on the platform's test BID, at 80 columns; the sFTP password is named, never shown."""
    b, partner = served.biller.profile, served.biller.partner
    bid = f"test portal BID {b.test_portal_bid}" if b.test_portal_bid else f"BID {b.bid}"
    lines = [f"Serving {partner.display_name} for {b.name} ({bid})",
             f"  API base URL   {served.api_base_url}"]
    if served.partner_host:
        lines.append(f"  Host header    {served.partner_host} (the biller's subdomain: {b.subdomain})")
    for role, path in sorted(partner.endpoints.items()):
        lines.append(f"    {role + ' calls':<14} {path}")
    lines.append(f"    {'other calls' if partner.endpoints else 'all calls':<14} {partner.endpoint_path}")
    if partner.token_path:
        lines.append(f"    {'OAuth token':<14} {partner.token_path} (client credentials)")
    creds = partner.credentials
    assert creds is not None  # a served partner has an API (ServedPartner.start checked it)
    lines.append(f"  Credentials    ${creds.user_env} / ${creds.secret_env}" + (
        " (demo values: unset)" if creds.user_env in served.secrets.demo else ""))
    lines.append(f"  sFTP           {served.sftp.host} port {served.sftp.port} user {b.sftp.user}")
    lines.append(f"                 password: ${b.sftp.password_env}")
    if partner.callback_path:
        lines += [f"  Callbacks      {partner.display_name} calls the platform back on",
                  f"                 {partner.callback_path}?BK=<API key> (the served partner does not)"]
    numbers = [a.number for a in b.test_data.accounts]
    accounts = (", ".join(numbers) if len(numbers) <= 3 else f"{len(numbers)}: {', '.join(numbers[:3])}, ... "
                "(test_data.accounts)") if numbers else "none (test_data.accounts)"
    lines += [f"  Test accounts  {accounts}",
              f"Run {served.run_id}: every exchange is recorded and checked as it arrives.",
              "Ctrl-C to finish."]
    return lines
