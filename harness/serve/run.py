"""`sit stubs serve` from start to finish: bring the partner up, say what to configure, record
until told to stop, close the run.

Ctrl-C (SIGINT) and SIGTERM say the SE is done: the run finishes (``run.finished``). SIGHUP says
the terminal went away with nobody done: the run is interrupted (``run.interrupted``). Either
way WireMock and the sFTP server stop and nothing is left running. A signal only sets a flag
that the loop reads between polls, so an exchange is never half recorded.
"""

from __future__ import annotations

import signal
import textwrap
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from harness.errors import EXIT_FAILED, EXIT_OK, EXIT_SIGNAL
from harness.events import Event
from harness.serve.partner import ServedPartner, ServeOptions

FINISHING = (signal.SIGINT, signal.SIGTERM)
INTERRUPTING = (signal.SIGHUP,)
POLL_SECONDS = 0.5
WIDTH = 80  # what the console lines are written for
Say = Callable[[str], None]


class _Stop:
    """The first stop signal, remembered; later ones are ignored so that the cleanup is never cut short."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self.event = threading.Event()

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum)
            self.event.set()


def serve(options: ServeOptions, say: Say, poll_seconds: float = POLL_SECONDS) -> int:
    """Serve until a signal; returns the exit code: 0 when every exchange kept the partner's rules,
    1 when one broke a rule (or none came), 128 + the signal when the run was interrupted."""
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (*FINISHING, *INTERRUPTING)}
    served = ServedPartner(options, notify=say)
    try:
        served.start()
        for line in configuration(served):
            say(line)
        while not stop.event.wait(poll_seconds):
            _show(served, say)
        return _finish(served, stop.signal, say)
    except BaseException:
        if served.opened and not served.closed:  # the run was recorded as started: it must end in the log
            served.finish(interrupted=f"sit stubs serve stopped by an error ({stop.signal or 'no signal'})")
        raise
    finally:
        served.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _show(served: ServedPartner, say: Say) -> None:
    for event in served.poll():
        say(exchange_line(event))


def _finish(served: ServedPartner, sig: signal.Signals | None, say: Say) -> int:
    _show(served, say)
    if sig is not None and sig in INTERRUPTING:
        served.finish(interrupted=sig.name)
        say(f"Interrupted ({sig.name}): the evidence up to then is kept;\n  sit report {served.run_id} --interrupted")
        return EXIT_SIGNAL + int(sig)
    status = served.finish()
    counts = served.counts
    if counts["exchanges"]:
        say(f"Run {served.run_id}: {status.upper()}, {counts['exchanges']} exchanges, {counts['failed']} broke a rule")
    else:
        say(f"Run {served.run_id}: {status.upper()}, no exchange arrived: nothing to sign off")
    say(f"  sit report {served.run_id}")
    return EXIT_OK if status == "passed" else EXIT_FAILED


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
