"""Canary secrets never reach anything a run writes: output, store, logs, exports, reports.

A real `sit run` (WireMock with HTTP basic auth, the sFTP server with a password) gets
distinctive canary credentials from the environment; then every byte it wrote is searched
for them, in plain, URL-encoded and base64 forms. That includes the reports the run writes
at its end and its partner pack (`sit report RUN --partner-pack`), looked into as a reader
would: xlsx members unzipped, PDF text extracted, base64 embedded in the single-file HTML
decoded. A negative control runs the same with the redactor disabled (monkeypatched in a
wrapper: the product has no kill switch) and must find them, in the reports too, so the
search cannot pass vacuously.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from runs import BILLER, SIT, Run, explain, sit, sit_run

from harness.events import MASK, Event

USER, PASSWORD, SFTP_PASSWORD = "CANARY-user-7f3a", "CANARY-pass-91c2", "CANARY-sftp-44be"
# Caselle's OAuth credentials and token, and Newport's platform API keys (the callbacks' BK=).
CLIENT_ID, CLIENT_SECRET, TOKEN = "CANARY-cid-5b80", "CANARY-csecret-0d4e", "CANARY-token-93aa"
API_KEY, RETIRED_KEY = "CANARY-bk-1c7e", "CANARY-bk-old-8d21"
CANARIES = {
    "SIT_CAYENTA_API_USER": USER,
    "SIT_CAYENTA_API_PASSWORD": PASSWORD,
    "SIT_CLAYTON_SFTP_PASSWORD": SFTP_PASSWORD,
    "SIT_CASELLE_CLIENT_ID": CLIENT_ID,
    "SIT_CASELLE_CLIENT_SECRET": CLIENT_SECRET,
    "SIT_CASELLE_OAUTH_TOKEN": TOKEN,
    "SIT_NEWPORT_API_KEY": API_KEY,
    "SIT_NEWPORT_RETIRED_API_KEY": RETIRED_KEY,
    "SIT_NEWPORT_SFTP_PASSWORD": "CANARY-sftp-np-61f0",
}
# A payment (HTTP basic auth to the partner) and an invoice upload (sFTP password login).
PAYMENT_AND_INVOICE = "card_payment_posts or days_invoice_file"
# Redaction switched off inside the child process (no switch in the product): the leak checks a
# run ends with, and every report makes, must then catch the secrets.
UNREDACTED = (
    "import sys; import harness.events.redact as r; "
    "r.Redactor.redact = lambda self, obj: obj; r.Redactor.scrub = lambda self, text: text; "
    "from harness.cli import main; sys.argv = ['sit', *sys.argv[1:]]; main()"
)
# ...and the leak checks switched off too: the negative control of this module's own search.
UNCHECKED = UNREDACTED.replace(
    "from harness.cli import main;",
    "import harness.session as s, harness.reports.report as rr; "
    "s.find_leaks = rr.find_leaks = lambda *args, **kwargs: []; from harness.cli import main;")


def _b64_fragments(secret: bytes) -> list[bytes]:
    """Base64 text that appears whenever ``secret`` is base64-encoded inside any longer value,
    at any of the three byte alignments (as a password is inside Basic ``user:password``)."""
    fragments = []
    for skip in range(3):
        whole = (len(secret) - skip) // 3 * 3
        fragments.append(base64.b64encode(secret[skip:skip + whole]))
    return fragments


def forbidden_forms() -> dict[bytes, str]:
    """Every form a canary could be written in -> which canary it gives away."""
    forms: dict[bytes, str] = {}
    for value in CANARIES.values():
        for form in {value, quote(value, safe=""), quote_plus(value), value.lower()}:
            forms[form.encode()] = value
        for fragment in _b64_fragments(value.encode()):
            forms[fragment] = f"{value} (base64)"
    forms[base64.b64encode(f"{USER}:{PASSWORD}".encode())] = "Basic user:password"
    forms[b"canary"] = "a piece of a canary"  # searched in lowered text: catches partial leaks too
    return forms


def leaks(data: bytes) -> list[str]:
    lowered = data.lower()
    return sorted({name for form, name in forbidden_forms().items()
                   if form in data or (form.islower() and form in lowered)})


# What a report folder holds (`sit report RUN`); the partner pack holds the same under partner-pack/.
REPORT_FILES = ("allure-results", "allure-report", "allure-report.html", "workbook.xlsx", "workbook.csv",
                "signoff.html", "signoff.pdf")
PDFTOTEXT = shutil.which("pdftotext")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")


@dataclass
class ReportedRun(Run):
    """A run whose reports were written too: by `sit run` at its end, then its partner pack."""

    reports: Path = Path()  # RUN beside the run's store, where `sit run` writes its reports
    pack: subprocess.CompletedProcess[str] | None = None  # `sit report RUN --partner-pack`


def _run(root: Path, program: Sequence[str], select: str | None, biller: str = BILLER,
         expect: int = 0) -> ReportedRun:
    root.mkdir()
    tmpdir = root / "tmpdir"  # the harness's scratch dirs (sFTP inbox, WireMock root) land in root too
    tmpdir.mkdir()
    env = CANARIES | {"TMPDIR": str(tmpdir)}
    run = sit_run(root / "events.sqlite", biller, *(["-k", select] if select else []), export=True, program=program,
                  extra_env=env, report=True, expect=expect)
    pack = sit("report", run.run_id, "--partner-pack", "--store", str(run.store), program=program, extra_env=env)
    assert pack.returncode == (3 if expect else 0), explain(pack)
    return ReportedRun(**vars(run), reports=root / run.run_id, pack=pack)


@pytest.fixture(scope="module")
def redacted(tmp_path_factory: pytest.TempPathFactory) -> ReportedRun:
    """The full run: every scenario that uses a credential does."""
    return _run(tmp_path_factory.mktemp("secrets") / "redacted", SIT, None)


@pytest.fixture(scope="module")
def unredacted(tmp_path_factory: pytest.TempPathFactory) -> ReportedRun:
    """Redaction and leak checks off: what this module's search finds when nothing protects the evidence."""
    return _run(tmp_path_factory.mktemp("secrets") / "unredacted", [sys.executable, "-c", UNCHECKED],
                PAYMENT_AND_INVOICE)


@pytest.fixture(scope="module")
def leak_checked(tmp_path_factory: pytest.TempPathFactory) -> ReportedRun:
    """Redaction off, the product's leak checks on: the run fails and no report is written."""
    return _run(tmp_path_factory.mktemp("secrets") / "leak-checked", [sys.executable, "-c", UNREDACTED],
                PAYMENT_AND_INVOICE, expect=3)  # a harness error, not a failed scenario


def assert_the_leak_check_caught(run: ReportedRun, secrets: Collection[str]) -> Event:
    """The run ended failed, as a harness error naming one of ``secrets`` (environment variables) and
    the event holding it, never its value; no report was written. Returns that event."""
    (finished,) = [e for e in run.events if e.kind == "run.finished"]
    assert finished.data["status"] == "failed" and finished.data["category"] == "harness"
    error = finished.data["error"]
    assert error.startswith("a secret reached the event log: ") and " in event " in error, error
    name = error.removeprefix("a secret reached the event log: ").split()[0]
    assert name in secrets, error
    assert leaks(error.encode()) == []  # named, never shown
    seq = int(error.split(" in event ")[1].split()[0])
    leaked = next(e for e in run.events if e.seq == seq)
    held = leaks(json.dumps(leaked.data).encode())
    assert any(found.startswith(CANARIES[name]) for found in held), (name, held)  # the event does hold it
    assert "report withheld, nothing written" in run.result.stdout
    assert not run.reports.exists()
    assert run.pack is not None and "report withheld" in run.pack.stderr
    return leaked


def test_a_secret_in_the_log_fails_the_run_naming_the_event(leak_checked: ReportedRun) -> None:
    leaked = assert_the_leak_check_caught(leak_checked, {"SIT_CAYENTA_API_USER", "SIT_CAYENTA_API_PASSWORD"})
    assert leaked.kind == "partner.exchange"  # the Basic credential of a call to the partner


def _files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def _decoded_base64(data: bytes) -> bytes:
    """Every long base64 run in ``data``, decoded (the single-file Allure report embeds its files so)."""
    decoded = []
    for match in _BASE64_RUN.finditer(data):
        text = match.group().rstrip(b"=")
        text = text[:-1] if len(text) % 4 == 1 else text  # a stray character cannot be decoded
        try:
            decoded.append(base64.b64decode(text + b"=" * (-len(text) % 4)))
        except binascii.Error:
            continue
    return b"\0".join(decoded)


def _contents(path: Path) -> Iterator[tuple[str, bytes]]:
    """What a reader can get out of ``path``, by name: its bytes; an xlsx's members unzipped; a PDF's
    text (its streams are compressed); and each of those with its embedded base64 decoded."""
    data = path.read_bytes()
    parts = [("", data)]
    if data.startswith(b"PK") and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            parts += [(f"!{name}", archive.read(name)) for name in archive.namelist()]
    if data.startswith(b"%PDF") and PDFTOTEXT:  # without pdftotext only the raw bytes are searched
        text = subprocess.run([PDFTOTEXT, "-q", str(path), "-"], capture_output=True, check=True, timeout=60)
        parts.append(("!text", text.stdout))
    for name, part in parts:
        yield name, part
        yield f"{name}!base64", _decoded_base64(part)


def report_leaks(reports: Path) -> dict[str, list[str]]:
    """Every file under ``reports`` (and part of one, see ``_contents``) holding a canary -> which."""
    return {f"{path.relative_to(reports).as_posix()}{part}": bad for path in _files(reports)
            for part, data in _contents(path) if (bad := leaks(data))}


def test_the_run_used_the_canaries(redacted: Run) -> None:
    """Otherwise the search below would be vacuous: demo values would have been used."""
    events = redacted.events
    (started,) = [e.data for e in events if e.kind == "run.started"]
    assert started["demo_secrets"] == []
    kinds = {e.kind for e in events}
    assert {"partner.exchange", "file.transferred"} <= kinds  # HTTP basic auth and sFTP login both happened


def test_no_canary_in_output(redacted: ReportedRun) -> None:
    assert "PASSED" in redacted.result.stdout
    assert f"Reports of run {redacted.run_id} in {redacted.reports}" in redacted.result.stdout
    assert redacted.pack is not None
    for output in (redacted.result.stdout, redacted.result.stderr, redacted.pack.stdout, redacted.pack.stderr):
        assert leaks(output.encode()) == []


def test_no_canary_in_any_file_written(redacted: Run) -> None:
    files = _files(redacted.root)
    names = {path.relative_to(redacted.root).as_posix() for path in files}
    assert {"events.sqlite", "run.jsonl", f"logs/wiremock-{redacted.run_id}.log"} <= names
    assert not any(name.startswith("tmpdir/") for name in names), f"scratch left behind: {sorted(names)}"
    found = {name: bad for path in files if (bad := leaks(path.read_bytes()))
             for name in [path.relative_to(redacted.root).as_posix()]}
    assert found == {}


def test_the_reports_are_searched_as_a_reader_sees_them(redacted: ReportedRun) -> None:
    """Every report file is there, and the search gets at its content: otherwise it is vacuous."""
    for folder in (redacted.reports, redacted.reports / "partner-pack"):
        assert sorted(path.name for path in folder.iterdir() if path.name in REPORT_FILES) == sorted(REPORT_FILES)
        workbook = dict(_contents(folder / "workbook.xlsx"))
        assert any(b"SIT-PAY-001" in data for name, data in workbook.items() if name.startswith("!xl/"))
        # The single-file Allure report embeds the exchanges (in base64), with the masked credential header.
        assert f"Authorization: {MASK}".encode() in dict(_contents(folder / "allure-report.html"))["!base64"]
        if PDFTOTEXT:
            assert redacted.run_id.encode() in dict(_contents(folder / "signoff.pdf"))["!text"]


def test_no_canary_in_the_reports(redacted: ReportedRun) -> None:
    assert report_leaks(redacted.reports) == {}


def test_authorization_is_masked_in_the_export(redacted: Run) -> None:
    exchanges = [e.data for e in redacted.events if e.kind == "partner.exchange"]
    assert len(exchanges) >= 10
    assert {x["request_headers"].get("Authorization") for x in exchanges} == {MASK}


def test_negative_control_without_redaction_the_canary_is_found(unredacted: Run) -> None:
    store_leaks = leaks(unredacted.store.read_bytes() + b"".join(
        p.read_bytes() for p in unredacted.root.glob("events.sqlite-*")))
    assert "Basic user:password" in store_leaks
    assert f"{PASSWORD} (base64)" in store_leaks
    exchanges = [e.data for e in unredacted.events if e.kind == "partner.exchange"]
    assert exchanges
    for exchange in exchanges:
        scheme, credential = exchange["request_headers"]["Authorization"].split()
        assert (scheme, base64.b64decode(credential).decode()) == ("Basic", f"{USER}:{PASSWORD}")
    assert leaks(unredacted.export.read_bytes())


def test_negative_control_without_redaction_the_reports_give_the_canary_away(unredacted: ReportedRun) -> None:
    found = report_leaks(unredacted.reports)
    for prefix in ("", "partner-pack/"):
        leaked = {name.removeprefix(prefix).split("/")[0] for name in found if name.startswith(prefix)}
        # The exchanges' attachments: as written, as the HTML report serves them, embedded in the single file.
        assert {"allure-results", "allure-report", "allure-report.html!base64"} <= leaked, sorted(found)
    assert {bad for leaked in found.values() for bad in leaked} >= {"Basic user:password", f"{PASSWORD} (base64)"}
