"""Files a partner whose integration is files exchanges: balance adjustment files in, payment files out."""

from __future__ import annotations

from decimal import Decimal

from harness.catalogue import then, when
from harness.events import Event
from harness.partners.files import REVERSING_ROLES
from harness.scenario import ScenarioContext, counted, listed

_refusals = listed(lambda reason: f'"{reason}"', none="nothing")


def _adjusted_from(sit: ScenarioContext) -> list[str]:
    """The adjustment files the platform took the scenario's account's balance from, in order."""
    account = sit.vars["account"]
    return [e.data["file"] for e in sit.session.recorder.scope_events("platform.balance_updated")
            if e.data["account"] == account]


@when("the partner sends an adjustment file saying the account holds {amount:Money}, its trailer counting one "
      "record more")
def adjustment_miscounted(sit: ScenarioContext, amount: Decimal) -> None:
    """A balance adjustment file for the account whose trailer's record count is one more than it holds,
    uploaded over sFTP and imported by the platform."""
    sit.vars["adjustment_import"] = sit.partner.sends_adjustment(sit.vars["account"], {"balance": amount},
                                                                 miscount=1)


@then('the platform refused the adjustment file whole, naming "{text:Text}"')
def adjustment_refused(sit: ScenarioContext, text: str) -> None:
    """The import refused the file as a whole, saying why in words that name ``text``."""
    refused = [r for r in sit.vars["adjustment_import"].rejected if "the whole file is rejected" in r]
    sit.expect(f'the platform to refuse the adjustment file whole, naming "{text}"', True,
               any(text in r for r in refused), "the platform's refusal of the adjustment file {}",
               instead=f"it refused {_refusals(refused)}",
               show={True: f'names "{text}"', False: f'does not name "{text}"'})


@then("the platform took the account's balance from {count:Count} adjustment file")
@then("the platform took the account's balance from {count:Count} adjustment files")
def balance_from_files(sit: ScenarioContext, count: int) -> None:
    """How many adjustment files set the account's balance in this scenario: the platform asked no one."""
    sit.expect("the platform to take the account's balance from {}", count, len(_adjusted_from(sit)),
               "the platform took the account's balance from {}", instead="it took it from {}",
               show=counted("adjustment file"))
    calls = sit.partner.calls("balance", account=sit.vars["account"])
    sit.expect("the platform to ask the partner for the balance {}", 0, len(calls),
               "the platform asked the partner for the balance {}", instead="it asked {}", show=_times)


def _times(n: int) -> str:
    return "never" if n == 0 else f"{n} time{'s' if n != 1 else ''}"


def _files_read(sit: ScenarioContext) -> list[Event]:
    return sit.session.recorder.scope_events("partner.file_read")


def _fetched(sit: ScenarioContext, count: int) -> list[Event]:
    """The payment files the partner read, after checking it fetched ``count`` of them over sFTP, each the
    file the platform wrote (the same SHA-256 as at batch close)."""
    read = _files_read(sit)
    sit.expect("the partner to fetch {}", count, len(read), "the partner fetched {}", instead="it fetched {}",
               show=counted("payment file"))
    written = {e.data["file"]: e.data["sha256"] for e in sit.session.recorder.scope_events("platform.batch_closed")}
    moved = {e.data["path"].rsplit("/", 1)[-1]: e.data["sha256"]
             for e in sit.session.recorder.scope_events("file.transferred")
             if e.data["direction"] == "platform -> partner"}
    for event in read:
        name = event.data["file"]
        sit.expect(f"{name} to reach the partner {{}}", "as the platform wrote it",
                   "as the platform wrote it" if moved.get(name) == written.get(name) is not None else
                   "with another SHA-256" if name in moved else "without an sFTP download on record",
                   f"{name} reached the partner {{}}", instead="it reached it {}")
    return read


@then("the partner fetched {count:Count} payment file")
@then("the partner fetched {count:Count} payment files")
def fetched(sit: ScenarioContext, count: int) -> None:
    """The partner fetched this many payment files over sFTP, each byte for byte as the platform wrote it."""
    _fetched(sit, count)


@then("the partner fetched {count:Count} payment file, of {postings:Count} postings totalling {total:Money}")
def fetched_with_total(sit: ScenarioContext, count: int, postings: int, total: Decimal) -> None:
    """As above, the file holding this many posting lines whose amounts add up to ``total``."""
    for event in _fetched(sit, count):
        name = event.data["file"]
        sit.expect(f"{name} to hold {{}}", postings, event.data["records"], f"{name} holds {{}}",
                   instead="it holds {}", show=counted("posting"))
        lines = [e for e in sit.session.recorder.scope_events("partner.line") if e.data["file"] == name]
        signed = sum((_booked(e) for e in lines), Decimal(0))
        sit.expect(f"{name}'s postings to total {{}}", total, signed, f"{name}'s postings total {{}}",
                   instead="they total {}")


def _booked(line: Event) -> Decimal:
    """A posting line's amount as the partner books it: returns and voids take money back."""
    amount = Decimal(line.data["fields"].get("amount") or 0)
    return -amount if line.data["fields"].get("role") in REVERSING_ROLES else amount


@then("every payment file the partner fetched has a trailer whose count and total match its lines")
def trailers_match(sit: ScenarioContext) -> None:
    """The partner's reading of each file found its trailer's record count and control total true."""
    read = _files_read(sit)
    sit.expect("the partner to fetch {}", True, bool(read), "the partner fetched {}", instead="it fetched {}",
               show={True: "a payment file", False: "no payment file"})
    for event in read:
        name = event.data["file"]
        faults = [r for r in event.data["rejected"] if "the whole file is rejected" in r]
        sit.expect(f"the partner to take {name} whole, its trailer true", [], faults,
                   f"the partner took {name} whole, its trailer true", instead="it refused it: {}", show=_refusals)
