"""The `sit` command line."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from harness import interrupts
from harness.errors import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK, EXIT_STORE_DAMAGED, InputError, RunNotFound, SitError
from harness.events import (
    TERMINAL_KINDS,
    ChainBreak,
    ChainChecker,
    Event,
    EventLogError,
    EventStore,
    IncompleteEvidence,
    StoreDamaged,
    StoreUrl,
    open_store,
    read_jsonl,
    store_url,
    write_jsonl,
)
from harness.interrupts import GuardedOutput
from harness.session import DEFAULT_STORE, REPORTS, RunOptions
from harness.stubs import BACKENDS

if TYPE_CHECKING:  # cryptography, openpyxl and the rest load only for the commands that need them
    from harness.events.sqlite import Check
    from harness.profiles.models import FileSpec
    from harness.reports import ReportOptions, RunLog
    from harness.reports.signing import SignatureChecker

app = typer.Typer(help="Executable SIT for billing-platform partner integrations.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
invoices_app = typer.Typer(help="Partner invoice files.", no_args_is_help=True)
app.add_typer(invoices_app, name="invoices")
stubs_app = typer.Typer(help="The partner's stubs: served to a real platform, or recorded from a run.",
                        no_args_is_help=True)
app.add_typer(stubs_app, name="stubs")
# `sit run | head`: a closed pipe interrupts the run. The ignore: rich types `file` as the class IO[str] though it
# only calls a file's methods, which GuardedOutput forwards to the current stdout (subclassing would shadow them).
console = Console(highlight=False, file=GuardedOutput())  # type: ignore[arg-type]

ProjectOpt = Annotated[Path, typer.Option("--project", help="the sit-harness checkout (features, stubs, fixtures)")]
StoreOpt = Annotated[str | None, typer.Option("--store", metavar="URL|PATH", help=(
    "event store: a file path, sqlite:///RELATIVE/PATH, sqlite:////ABSOLUTE/PATH or "
    "postgresql://USER:PASSWORD@HOST:PORT/DB (default: $SIT_STORE, then PROJECT/reports/events.sqlite)"))]


def _store_url(project: Path, store: str | None) -> StoreUrl:
    return store_url(store, project / DEFAULT_STORE)


def _open_store(project: Path, store: str | None, check: Check = "quick_check") -> EventStore:
    """The store, checked whole first (a SQLite store by SQLite: a damaged page no query touches is still
    found; quick_check: ~0.1 s per 100k events)."""
    url = _store_url(project, store)
    if url.missing:
        raise InputError(f"{url}: no event store yet; run `sit run --biller SLUG` first")
    return open_store(url, check=check)


def _require_run(store: EventStore, run_id: str, url: StoreUrl) -> None:
    if store.head(run_id) is None:
        raise RunNotFound(f"no run '{run_id}' in {url}; `sit runs` lists them")


@app.command()
def run(
    biller: Annotated[list[str] | None, typer.Option(
        help="biller slug (fixtures/billers/SLUG.yaml) or a profile's path; repeat it for several billers, each "
        "its own run, in parallel")] = None,
    all_billers: Annotated[bool, typer.Option(
        "--all-billers", help="every biller of fixtures/billers/, each its own run, in parallel")] = False,
    workers: Annotated[int | None, typer.Option(
        help="with several billers: how many run at once (default: the CPU count)")] = None,
    seed: Annotated[int | None, typer.Option(help="Faker seed (default: stable per biller)")] = None,
    select: Annotated[str | None, typer.Option(
        "-k", help="only scenarios whose SIT ID or name matches (pytest -k: -k SIT-PAY-001, -k 'payment and not ACH')")]
    = None,
    stub_backend: Annotated[str, typer.Option(help=f"where WireMock runs: {', '.join(BACKENDS)}")] = "process",
    wiremock_url: Annotated[str | None, typer.Option(help="a running WireMock (--stub-backend external)")] = None,
    wiremock_port: Annotated[int, typer.Option(help="port for the WireMock process (default: a free one)")] = 0,
    partner_mode: Annotated[str, typer.Option(
        help="stub: WireMock serves the stub pack; record: WireMock proxies the live partner and journals it; "
        "live: the partner called directly")] = "stub",
    partner_url: Annotated[str | None, typer.Option(
        help="the live partner's test endpoint, https://HOST[:PORT] (record and live modes)")] = None,
    partner_ca: Annotated[Path | None, typer.Option(
        help="the partner's CA, or its own certificate pinned, in PEM (default: the system's CAs)")] = None,
    operator: Annotated[str | None, typer.Option(
        help="the SE who executes the SIT (default: $SIT_OPERATOR, then the biller profile's operator)")] = None,
    report: Annotated[bool, typer.Option(
        help="write the run's reports beside the store, or in PROJECT/reports for a database (`sit report RUN`)")]
    = True,
    stub_pack: Annotated[Path | None, typer.Option(
        help="serve this stub pack instead of stubs/<partner>/ (one `sit stubs record` wrote replays its run)")]
    = None,
    project: ProjectOpt = Path("."),
    store: StoreOpt = None,
) -> None:
    """Run every in-scope workbook scenario for one biller (or several); exit 0 only if all passed."""
    from harness.runner import run as run_sit  # pytest and the engine load only for this command

    if stub_backend not in BACKENDS:
        raise InputError(f"--stub-backend {stub_backend}: use one of {', '.join(BACKENDS)}")
    if stub_backend == "external" and not wiremock_url:
        raise InputError("--stub-backend external needs --wiremock-url URL")
    project = project.resolve()
    sys.path.insert(0, str(project))
    if partner_ca is not None and not partner_ca.is_file():
        raise InputError(f"--partner-ca {partner_ca}: no such file; give the partner's CA certificate in PEM")
    url = _store_url(project, store)  # a store that cannot be named fails before anything starts
    billers = _billers(project, biller or [], all_billers)
    options = RunOptions(project=project, biller=billers[0], seed=seed, store=url,
                         stub_backend=stub_backend, wiremock_url=wiremock_url, wiremock_port=wiremock_port,
                         operator=operator, select=select, partner_mode=partner_mode, partner_url=partner_url,
                         partner_ca=partner_ca, stub_pack=stub_pack.resolve() if stub_pack else None)
    reporter = _reporter(project, url) if report else None
    if len(billers) > 1:
        from harness.parallel import run_billers

        raise typer.Exit(run_billers(options, billers, workers, console, reporter))
    raise typer.Exit(run_sit(options, console, reporter))


def _billers(project: Path, given: list[str], every: bool) -> list[str]:
    """The billers `sit run` runs: as given (each once), or with --all-billers every profile of fixtures/billers/."""
    from harness.profiles.loader import fixtures_dir

    if every and given:
        raise InputError("--all-billers runs every biller: give it without --biller")
    if every:
        found = sorted(path.stem for path in (fixtures_dir(project) / "billers").glob("*.yaml"))
        if not found:
            raise InputError(f"{fixtures_dir(project) / 'billers'}: no biller profiles (*.yaml) to run")
        return found
    if not given:
        raise InputError("give the biller to run: --biller SLUG (repeat it for several), or --all-billers")
    return list(dict.fromkeys(given))


def _reporter(project: Path, store: StoreUrl) -> Callable[[str], None]:
    def report(run_id: str) -> None:
        from harness.reports import ReportOptions, open_run

        _write_report(open_run(run_id, store), None, ReportOptions(project=project))

    return report


RUN_STYLE = {"passed": "green", "failed": "red", "interrupted": "magenta", "running": "cyan"}


@app.command()
def runs(project: ProjectOpt = Path("."), store: StoreOpt = None) -> None:
    """List the runs in the event store, oldest first (a run id starts with its UTC start time)."""
    from harness.reports.runs import RUNNING, run_listings

    with _open_store(project, store) as events:
        listed = run_listings(events)
    rows = [["RUN", "BILLER", "PARTNER", "STATUS", "PASS", "FAIL", "N/A"]]
    for run in listed:
        counts = ["", "", ""] if run.state.status == RUNNING else [
            str(run.counts.get("passed", 0)), str(run.counts.get("failed", 0) + run.counts.get("interrupted", 0)),
            str(run.counts.get("na", 0))]
        mode = run.facts.get("partner_mode") or "stub"  # a run against a real partner says so
        partner = str(run.facts.get("partner", "")) + ("" if mode == "stub" else f" ({mode})")
        rows.append([run.run_id, run.biller, partner, run.state.status, *counts])
    for line in _columns(rows, console.width if console.is_terminal else None):
        console.print(line, soft_wrap=True)
    if not listed:
        console.print("no runs yet: `sit run --biller SLUG` makes one", highlight=False)


def _columns(rows: list[list[str]], width: int | None) -> Iterator[Text]:
    """Aligned columns, one line a run: the run id is never cut; on a narrow terminal the biller is."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    if width is not None and (over := sum(widths) + 2 * (len(widths) - 1) - width) > 0:
        widths[1] = max(len(rows[0][1]), widths[1] - over)
    for index, row in enumerate(rows):
        line = Text()
        for i, (cell, size) in enumerate(zip(row, widths, strict=True)):
            cell = cell if len(cell) <= size else cell[: size - 1] + "…"
            text = cell.rjust(size) if i >= 4 else cell.ljust(size)
            style = "bold" if index == 0 else RUN_STYLE.get(cell, "") if i == 3 else ""
            line.append(text + ("  " if i < len(row) - 1 else ""), style=style)
        yield line


@app.command()
def export(
    run_id: Annotated[str, typer.Argument(metavar="RUN")],
    output: Annotated[Path, typer.Option("-o", "--output", help="JSONL file to write")],
    project: ProjectOpt = Path("."),
    store: StoreOpt = None,
) -> None:
    """Write a run's events to a JSONL file, one JSON object a line."""
    with _open_store(project, store) as events:
        _require_run(events, run_id, _store_url(project, store))
        count = write_jsonl(events.events(run_id), output)
    console.print(f"{count} events of run {run_id} written to {output}")


# Which outcome a script sees when several runs differ, worst first: a damaged store makes every
# answer doubtful; a broken chain is evidence altered; an incomplete run may only be still going.
_PRECEDENCE = (EXIT_STORE_DAMAGED, EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK)


def _worst(codes: Iterable[int]) -> int:
    found = set(codes)
    return next((code for code in _PRECEDENCE if code in found), EXIT_OK)


@app.command()
def verify(
    target: Annotated[str | None, typer.Argument(
        metavar="RUN|FILE.jsonl", help="a run id, or an exported JSONL file")] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="check every run in the store: a line each, then a summary")]
    = False,
    signature: Annotated[bool, typer.Option("--signature", help="also check the sign-off signatures in the log")]
    = False,
    signature_file: Annotated[Path | None, typer.Option(
        help="a signature JSON file to check too (implies --signature; the way to check an export)")] = None,
    public_key: Annotated[Path | None, typer.Option(
        help="require a valid signature by this Ed25519 public key (PEM)")] = None,
    project: ProjectOpt = Path("."),
    store: StoreOpt = None,
) -> None:
    """Recompute a run's hash chain and check that the run ended; print its head hash.

    Exit 0 when the chain is intact and the run ended (run.finished or run.interrupted);
    1 when the chain is broken (or a signature does not verify); 4 when the run has no
    terminal event (still running, or cut short); 5 when the store is damaged. With --all,
    the worst over every run, in that order: 5, then 1, then 4.
    """
    if all_runs:
        if target is not None:
            raise InputError(f"verify {target} --all: give a RUN (or FILE.jsonl) or --all, not both")
        if signature or signature_file or public_key:
            raise InputError("verify --all checks chains and completeness; check signatures one run at a time: "
                             "`sit verify RUN --signature`")
        raise typer.Exit(_verify_all(project, store))
    if target is None:
        raise InputError("verify needs a RUN, an exported FILE.jsonl or --all")
    checker = _signature_checker(signature, signature_file, public_key)
    if target.endswith(".jsonl") or Path(target).is_file():
        if not Path(target).is_file():
            raise InputError(f"{target}: no such file")
        raise typer.Exit(_verify(target, read_jsonl(Path(target)), checker))
    # The verifier's check is the thorough one: a damaged index is told apart from edited rows.
    with _open_store(project, store, "integrity_check") as events:
        _require_run(events, target, _store_url(project, store))
        code = _verify(target, events.events(target), checker)
    raise typer.Exit(code)


def _signature_checker(signature: bool, file: Path | None, public_key: Path | None) -> SignatureChecker | None:
    """A checker when any signature option is given; bad key or file inputs fail here, before the log is read."""
    if not (signature or file or public_key):
        return None
    from harness.reports.signing import SignatureChecker, read_public_key, read_signature_file

    return SignatureChecker(read_signature_file(file) if file else None,
                            read_public_key(public_key) if public_key else None)


@dataclass
class _Verdict:
    """What one run's log amounts to: its chain, whether the run ended, how much was read."""

    name: str
    count: int = 0
    head: str = ""  # hash of the last event of the intact chain
    broken: ChainBreak | None = None
    ended: bool = False  # a terminal event was seen
    cut: str = ""  # why the log stops in the middle of an event (a truncated export)
    unread: bool = False  # after the break, a line that could not be read stopped the count

    @property
    def code(self) -> int:
        if self.broken is not None:
            return EXIT_FAILED
        return EXIT_INCOMPLETE if self.cut or not self.ended else EXIT_OK

    def line(self) -> str:
        """One line, run id (or file) first: the status, the events, the head hash or the break."""
        name = escape(self.name)
        if self.broken is not None:
            counted = f" ({self.count} events{' before an unreadable line' if self.unread else ''})"
            return (f"[red]BROKEN[/red] {name}: chain broken at event {self.broken.seq}: "
                    f"{escape(self.broken.reason)}{counted if self.count else ''}")
        if self.code == EXIT_OK:
            return f"[green]INTACT[/green] {name}: {self.count} events, head hash {self.head}"
        why = [escape(self.cut)] if self.cut else []
        if not self.ended:
            why.append(f"no {' or '.join(sorted(TERMINAL_KINDS))}: the run is still going or was cut short")
        return (f"[yellow]INCOMPLETE[/yellow] {name}: {self.count} events, chain intact, head hash "
                f"{self.head or '(none)'}; {'; '.join(why)}")


def _check(name: str, events: Iterable[Event]) -> _Verdict:
    """Read the whole log once: the chain up to its first break, the count to the end, the terminal event."""
    verdict, checker = _Verdict(name), ChainChecker()
    try:
        for event in events:
            verdict.count += 1
            verdict.ended = verdict.ended or event.kind in TERMINAL_KINDS
            if verdict.broken is None:
                verdict.broken = checker.check(event)
    except IncompleteEvidence as exc:
        verdict.cut = str(exc)
    except StoreDamaged:
        raise
    except EventLogError:
        if verdict.broken is None:  # the first fault in the log is the one to name
            raise
        verdict.unread = True
    verdict.head = checker.head.hash if checker.head is not None else ""
    if verdict.count == 0 and not verdict.cut:
        verdict.broken = ChainBreak(0, "no events")
    return verdict


def _verify(name: str, events: Generator[Event, None, None], checker: SignatureChecker | None = None) -> int:
    """Print the run's verdict (and its signatures' when asked); return the exit code."""
    # One pass over the log: the signature checker watches the events the chain check reads.
    with closing(events):  # a failure midway leaves the store's cursor half-read
        verdict = _check(name, checker.watch(events) if checker else events)
    console.print(verdict.line(), soft_wrap=True)  # one line, in a pipe too: the hash is copied whole
    if verdict.broken is not None or checker is None:
        return verdict.code
    checks = checker.results()
    for check in checks:
        console.print(check.line(), markup=False)
    return _worst([verdict.code, EXIT_OK if all(check.valid for check in checks) else EXIT_FAILED])


def _verify_all(project: Path, store: str | None) -> int:
    """Every run of the store, one line each, then a summary; the worst exit code of them."""
    url = _store_url(project, store)
    verdicts: list[_Verdict] = []
    with _open_store(project, store, "integrity_check") as events:
        for run_id in events.run_ids():
            with closing(events.events(run_id)) as run_events:
                verdicts.append(_check(run_id, run_events))
            console.print(verdicts[-1].line(), soft_wrap=True)
    codes = [verdict.code for verdict in verdicts]
    tally = ", ".join(f"{codes.count(code)} {word}" for code, word in
                      ((EXIT_OK, "intact"), (EXIT_INCOMPLETE, "incomplete"), (EXIT_FAILED, "broken")))
    console.print(f"{_count(len(verdicts), 'run')} in {escape(str(url))}: {tally}", highlight=False)
    return _worst(codes)


@app.command()
def keygen(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="private key file to write (PATH.pub: public key)")],
    force: Annotated[bool, typer.Option("--force", help="replace an existing key pair")] = False,
) -> None:
    """Make an Ed25519 key pair for signing sign-offs (`sit signoff RUN --sign PATH`)."""
    from harness.reports.signing import generate_key, public_key_path

    key_id = generate_key(path, force)
    console.print(f"private key: {path} (mode 0600)", markup=False)
    console.print(f"public key:  {public_key_path(path)}", markup=False)
    console.print(f"key id:      {key_id}", markup=False)
    console.print("Keep the private key out of the repository and reports; hand out only the .pub file.")


@app.command()
def steps(project: ProjectOpt = Path(".")) -> None:
    """Print the step catalogue: every step phrase, its parameters and what it means."""
    from harness.catalogue import project_catalogue

    keyword = ""
    for doc in project_catalogue(project):
        if doc.keyword != keyword:
            keyword = doc.keyword
            console.print(f"\n[bold]{keyword}[/bold]")
        console.print(f"  {doc.keyword} {doc.phrase}", markup=False)
        console.print(f"      {doc.meaning}", style="dim", markup=False)
        for name, kind in doc.params:
            console.print(f"      {{{name}}}: {kind}", style="dim", markup=False)
        if doc.needs:
            console.print(f"      the scenario carries @{doc.needs} (N/A where the biller's settings lack it)",
                          style="dim", markup=False)


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="a run id, or an exported JSONL file")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="a run id, or an exported JSONL file")],
    project: ProjectOpt = Path("."),
    store: StoreOpt = None,
) -> None:
    """Compare two runs per SIT ID and partner call (volatile fields ignored); exit 0 when nothing differs."""
    from harness.reports.diff import diff_runs, personal_fields, render_diff, volatile_fields
    from harness.reports.log import open_run

    url = _store_url(project, store)
    runs = open_run(run_a, url), open_run(run_b, url)
    result = diff_runs(*runs, volatile_fields(runs), personal_fields(runs))
    render_diff(result, console)
    raise typer.Exit(0 if result.identical else 1)


@stubs_app.command("record")
def stubs_record(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="a run id, or an exported JSONL file")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the folder to write the stub pack into")],
    force: Annotated[bool, typer.Option(help="replace what the folder holds")] = False,
    project: ProjectOpt = Path("."),
    store: StoreOpt = None,
) -> None:
    """Write a stub pack from a recorded run: WireMock mappings generalised to what identifies a call,
    secrets and personal data masked. `sit run --stub-pack DIR` replays it."""
    from harness.reports.log import open_run
    from harness.stubs.record import record_pack

    written = record_pack(open_run(run_id, _store_url(project, store)), output, force=force, project=project.resolve())
    console.print(f"Stub pack {written.root}: {written.mappings} mappings ({written.scenarios} SIT scenarios), "
                  f"{written.bodies} bodies, from {written.exchanges} exchanges of run {written.run_id}; "
                  f"the run's {written.personal_values} personal values masked", highlight=False)
    console.print(f"  sit run --biller {written.biller or 'BILLER'} --stub-pack {written.root}", highlight=False,
                  markup=False)


@stubs_app.command("serve")
def stubs_serve(
    biller: Annotated[str, typer.Option(help="biller slug (fixtures/billers/SLUG.yaml) or a profile's path")],
    port: Annotated[int, typer.Option(help="port of the partner's API (default: a free one)")] = 0,
    host: Annotated[str, typer.Option(help="address to serve on (0.0.0.0: every interface)")] = "127.0.0.1",
    sftp_port: Annotated[int, typer.Option(help="port of the sFTP server (default: a free one)")] = 0,
    operator: Annotated[str | None, typer.Option(
        help="the SE who executes the SIT (default: $SIT_OPERATOR, then the biller profile's operator)")] = None,
    project: ProjectOpt = Path("."),
    store: StoreOpt = None,
) -> None:
    """Serve the partner's stubs and the biller's test accounts to a real platform test environment.

    Every exchange is recorded as it arrives (a run, mode serve) and checked against the partner's
    rules; Ctrl-C finishes the run. Exit 0 when every exchange kept the rules, 1 otherwise.
    """
    from harness.serve import ServedPartner, ServeOptions, serve

    project = project.resolve()
    options = ServeOptions(project=project, biller=biller, host=host, port=port, sftp_port=sftp_port,
                           store=_store_url(project, store), operator=operator)
    raise typer.Exit(serve(ServedPartner(options, notify=_say), _say))


def _say(line: str) -> None:
    """A console line of a served run, as written: no markup, no highlighting, no wrapping of ours undone."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("serve")
def serve_platform(
    biller: Annotated[str, typer.Option(help="a CloudPay biller's slug (fixtures/billers/SLUG.yaml) or profile path")],
    port: Annotated[int, typer.Option(help="port to serve on (default: a free one)")] = 0,
    host: Annotated[str, typer.Option(help="address to serve on (0.0.0.0: every interface; give --public-url)")]
    = "127.0.0.1",
    public_url: Annotated[str | None, typer.Option(
        help="the URL the vendor's instance and the payer's browser reach this server by, when not host:port")]
    = None,
    operator: Annotated[str | None, typer.Option(
        help="the SE who executes the SIT (default: $SIT_OPERATOR, then the biller profile's operator)")] = None,
    probe_postbacks: Annotated[bool, typer.Option(
        "--probe-postbacks", help="after each postback the vendor takes, send it again and send a forged one: "
        "each one the vendor accepts is flagged in the sign-off (the postback is unauthenticated)")] = False,
    project: ProjectOpt = Path("."),
    store: StoreOpt = None,
) -> None:
    """Serve the platform's CloudPay side (API, hosted payment page, postbacks) to a vendor application's test instance.

    Prints the URL and API key to configure; every request, page view, payment and postback is recorded as it
    happens (a run, mode serve-platform); Ctrl-C finishes the run. Exit 0 when a payment was settled and
    posted back and none failed, 1 otherwise.
    """
    from harness.serve import CloudPayOptions, ServedCloudPay, serve

    project = project.resolve()
    options = CloudPayOptions(project=project, biller=biller, host=host, port=port, public_url=public_url,
                              store=_store_url(project, store), operator=operator, probe_postbacks=probe_postbacks)
    raise typer.Exit(serve(ServedCloudPay(options, notify=_say), _say))


@invoices_app.command("check")
def invoices_check(
    file: Annotated[Path, typer.Argument(help="a partner invoice file")],
    biller: Annotated[str, typer.Option(help="biller slug or profile path: its partner's layout is used")],
    each: Annotated[bool, typer.Option("--each", help="print every accepted record too, not only the rejections "
                                       "and the counts")] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """Map a partner's invoice file to BIF exactly as a run would; exit 0 only if all records load.

    Prints each rejection (record, line and field) and the counts; `--each` also prints every accepted record.
    """
    from harness.platform.invoices import Rejection, iter_invoice_file
    from harness.profiles import load_biller

    if not file.is_file():
        raise InputError(f"{file}: no such file")
    profile = load_biller(project.resolve(), biller)
    bid, invoice_type = profile.profile.bid, profile.profile.invoice_types[0].id
    if (spec := profile.file_for("invoice_load")) is not None:
        raise typer.Exit(_check_layout_file(file, spec, bid, invoice_type, each))
    export = profile.partner.invoice_file
    assert export is not None  # a biller's invoices are its partner's export or a file of its own
    accepted = rejected = 0
    for item in iter_invoice_file(file, export, bid, invoice_type):
        if isinstance(item, Rejection):
            rejected += 1
            console.print(f"[red]REJECTED[/red] {item}", highlight=False)
            continue
        accepted += 1
        if each:
            console.print(f"[green]ACCEPTED[/green] account {item.account_number} invoice {item.invoice_number} "
                          f"due {item.due_date} amount {item.amount_due} past due {item.past_due}", highlight=False)
    console.print(f"{file.name}: {accepted} accepted, {rejected} rejected (BID {bid}, invoice type {invoice_type})")
    if rejected or not accepted:
        if not accepted and not rejected:
            console.print(f"{file.name}: no {export.record} records found")
        raise typer.Exit(1)


def _check_layout_file(file: Path, spec: FileSpec, bid: int, invoice_type: int, each: bool) -> int:
    """`sit invoices check` of a file in the biller's own layout: taken whole, or refused whole."""
    from harness.platform.reference.files import read_bills

    taken = read_bills(file, spec, bid, invoice_type)
    for rejection in [taken.refusal] if taken.refusal else []:
        console.print(f"[red]REFUSED[/red] {rejection}", highlight=False)
    for rejection in taken.rejected:
        console.print(f"[red]REJECTED[/red] {rejection}", highlight=False)
    for line, bill in taken.records if each else []:
        console.print(f"[green]ACCEPTED[/green] line {line}: account {bill.account_number} invoice "
                      f"{bill.invoice_number} due {bill.due_date} amount {bill.amount_due} past due {bill.past_due}",
                      highlight=False)
    console.print(f"{file.name}: {len(taken.records)} accepted, {len(taken.rejected)} rejected"
                  f"{', the whole file refused' if taken.refusal else ''} (BID {bid}, invoice type {invoice_type})")
    return 1 if taken.refusal or taken.rejected or not taken.records else 0


@app.command()
def lint(
    biller: Annotated[str | None, typer.Option(help="only this biller (slug or profile path) and its partner")]
    = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Check profiles, stub packs and features before a run; exit 1 on any error (warnings alone pass)."""
    from datetime import UTC, datetime

    from harness.profiles.lint import check_project

    result = check_project(project.resolve(), datetime.now(UTC).date(), biller)
    for finding in result.findings:
        console.print(str(finding), style="red" if finding.level == "error" else "yellow", markup=False,
                      highlight=False)
    console.print(f"{_count(result.billers, 'biller')}, {_count(result.partners, 'partner')}, "
                  f"{_count(result.scenarios, 'scenario')} checked: "
                  f"{_count(result.errors, 'error')}, {_count(result.warnings, 'warning')}", highlight=False)
    raise typer.Exit(1 if result.errors else 0)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


RunArg = Annotated[str, typer.Argument(metavar="RUN", help="a run id (`sit runs` lists them)")]
REPORT_FOLDER = "folder (default: RUN beside a SQLite store; PROJECT/reports/RUN for a database)"


@app.command()
def report(
    target: Annotated[str, typer.Argument(metavar="RUN|FILE.jsonl", help="a run id, or an exported JSONL file")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help=REPORT_FOLDER)]
    = None,
    partner_pack: Annotated[bool, typer.Option(
        "--partner-pack", help="write what goes to the partner: its exchanges only, personal data masked")] = False,
    html: Annotated[bool, typer.Option(help="also build the Allure HTML report (needs Node)")] = True,
    interrupted: Annotated[bool, typer.Option(
        "--interrupted", help="report a run that did not finish; every document then says INTERRUPTED")] = False,
    project: ProjectOpt = Path("."),
    store: StoreOpt = None,
) -> None:
    """Project a run's log into Allure results and HTML, the workbook and the sign-off (the log alone)."""
    from harness.reports import ReportOptions, open_run

    log = open_run(target, _store_url(project, store))
    _write_report(log, output, ReportOptions(project=project.resolve(), html=html, partner_pack=partner_pack,
                                             interrupted=interrupted))


def _write_report(log: RunLog, output: Path | None, options: ReportOptions) -> None:
    from harness.reports import write_report

    # Beside the log they project: PROJECT/reports/RUN for the default store, and for a store with no local
    # file (PostgreSQL) too.
    paths = write_report(log, output or log.beside(options.project / REPORTS) / log.run_id, options)
    console.print(f"Reports of run {log.run_id} in {paths.root}:", highlight=False)
    shown = [paths.allure_single, paths.allure_report, paths.workbook_xlsx, paths.workbook_csv,
             paths.signoff_html, paths.signoff_pdf, paths.allure_results]
    for path in (p for p in shown if p is not None):
        console.print(f"  {path.relative_to(paths.root)}", highlight=False)


@app.command()
def workbook(
    biller: Annotated[str, typer.Option(help="biller slug (fixtures/billers/SLUG.yaml) or a profile's path")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="folder (default: PROJECT/reports/workbook-SLUG)")] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Write the blank SIT workbook (before any run), N/A cases already marked with their reason."""
    from harness.cases import biller_workbook
    from harness.profiles import load_biller
    from harness.reports import write_blank_workbook

    project = project.resolve()
    profile = load_biller(project, biller)
    out = output or project / REPORTS / f"workbook-{profile.slug}"
    for path in write_blank_workbook(biller_workbook(project, profile), profile, out):
        console.print(f"wrote {path}", highlight=False)


@app.command()
def signoff(
    run_id: RunArg,
    sign: Annotated[Path | None, typer.Option("--sign", metavar="KEY", help="Ed25519 private key (PEM; `sit keygen`)")]
    = None,
    signer: Annotated[str, typer.Option(help="who signs, as the sign-off names them (required with --sign)")] = "",
    output: Annotated[Path | None, typer.Option("-o", "--output", help=REPORT_FOLDER)]
    = None,
    project: ProjectOpt = Path("."),
    store: StoreOpt = None,
) -> None:
    """Write the run's sign-off (and the rest of its report); with --sign, sign its head hash first.

    Only a finished run is signed, and the same key signs the same evidence once."""
    from harness.reports import ReportOptions, open_run, sign_run

    url = _store_url(project, store)
    log = open_run(run_id, url)
    if sign is not None:  # signing refuses what reporting would (by the same run state), before anything is signed
        if log.from_jsonl:
            raise InputError(f"{run_id}: sign the run in its event store (`sit runs` lists them), not an export")
        with open_store(url) as events:
            signed = sign_run(events, run_id, sign, signer)
        console.print(f"signed event {signed.data['signed_seq']} (hash {signed.data['signed_hash']}) "
                      f"with key {signed.data['key_id']}", highlight=False)
    _write_report(log, output, ReportOptions(project=project.resolve()))


def main() -> None:
    """Entry point: user errors are one line on stderr with a non-zero exit, never a traceback."""
    try:
        with interrupts.handled():  # SIGTERM and SIGHUP unwind like Ctrl-C: staged reports are removed
            app()
    except SystemExit:
        # Everything is closed by now; a frozen heap spares the interpreter's final collection
        # over every object a run created (0.3 s of a 4 s run).
        gc.freeze()
        if (stopped := interrupts.untold()) is not None:  # typer turns any Ctrl-C into a silent exit 130
            print(f"sit: interrupted ({stopped.reason})", file=sys.stderr)
            sys.exit(stopped.exit_code)
        raise
    except (SitError, EventLogError) as exc:  # both carry the exit code of their kind (harness.errors)
        print(f"sit: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        print("sit: interrupted", file=sys.stderr)
        sys.exit(exc.exit_code if isinstance(exc, interrupts.Interrupted) else 130)


if __name__ == "__main__":
    main()
