"""`sit stubs serve` as an SE runs it: the real command in its own process, a platform's requests over real
HTTP and sFTP, Ctrl-C to finish; then the run's events, its report and the machine left as it was."""

from __future__ import annotations

import csv
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from harness.events import Event, SQLiteStore
from harness.partners import Posting, PostingKind
from harness.partners.cayenta import CayentaClient, request_xml
from harness.profiles import load_biller
from harness.transfer.client import upload
from tests.conftest import PROJECT
from tests.e2e.runs import clean_env, explain, in_background, sit, wiremock_jvms

BILLER = "harbor-falls-utilities"  # its profile names test accounts; it takes ACH rejects, not credits
SFTP_PASSWORD = "s3rve-sftp-Pa55"
API_USER, API_SECRET = "platform-user", "platform-Secr3t"
DEADLINE_S = 90.0


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    store: Path
    tmpdir: Path
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def exchanges(self) -> int:
        with suppress(sqlite3.OperationalError), closing(
                sqlite3.connect(f"{self.store.as_uri()}?mode=ro", uri=True, timeout=5)) as db:
            return int(db.execute("SELECT count(*) FROM events WHERE kind = 'partner.exchange'").fetchone()[0])
        return 0

    def wait(self, what: str, ready: object) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not (ready() if callable(ready) else ready):
            if self.proc.poll() is not None:
                pytest.fail(f"sit stubs serve ended (exit {self.proc.returncode}) before {what}:\n{self.text()}")
            assert time.monotonic() < deadline, f"{what}: not within {DEADLINE_S:.0f} s\n{self.text()}"
            time.sleep(0.05)



@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`sit stubs serve --biller BILLER` in its own session, as a shell starts it; nothing outlives the test."""
    tmpdir, store, output = tmp_path / "tmp", tmp_path / "events.sqlite", tmp_path / "serve.out"
    tmpdir.mkdir()
    env = clean_env({"NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(tmpdir),
                     "SIT_HARBOR_FALLS_SFTP_PASSWORD": SFTP_PASSWORD, "SIT_CAYENTA_API_USER": API_USER,
                     "SIT_CAYENTA_API_PASSWORD": API_SECRET, "COLUMNS": "80"})
    try:
        with in_background(["stubs", "serve", "--biller", BILLER, "--store", str(store)], env, output) as proc:
            yield Served(proc, store, tmpdir, output)
    finally:
        for pid in wiremock_jvms(tmpdir):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _raw(http: httpx.Client, method: str, params: dict[str, str]) -> None:
    """A request as a faulty platform connector writes it: the XML as given, nothing checked."""
    body = urlencode({"XMLREQUEST": request_xml(method, params)})
    answer = http.post("/CayentaAPI/XMLRequest", content=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200, answer.text


def _platform_calls(base_url: str) -> int:
    """What a platform test environment sends the served partner: good postings and bad ones. Returns how many."""
    partner = load_biller(PROJECT, BILLER).partner
    client = CayentaClient(partner, base_url, API_USER, API_SECRET, 5.0)  # the platform's side of Cayenta's API
    try:
        assert client.balance("700100300")["BALANCE"] == "212.40"  # a test account of the biller profile
        payment = Posting(key="SRV-P001", kind=PostingKind.PAYMENT, account="700100200", amount=Decimal("45.10"),
                          method="ACH", channel="web")
        client.post(payment)
        client.post(payment)  # the same reference again, after the partner took it
        client.post(Posting(key="SRV-P002", kind=PostingKind.PAYMENT, account="700100200", amount=Decimal("20.00"),
                            method="CC", channel="POSConnect"))
    finally:
        client.close()
    with httpx.Client(base_url=base_url, auth=(API_USER, API_SECRET), timeout=5.0) as http:
        _raw(http, "AddARItem", {"ACCOUNT_NO": "700100200", "REFERENCE_NO": "SRV-P003", "AMOUNT": "12.5",
                                 "TRAN_TYPE": "1", "PAY_METHOD": "CC"})
        _raw(http, "AddReturnedCheck", {"ACCOUNT_NO": "700100200", "REFERENCE_NO": "SRV-R001", "AMOUNT": "45.10",
                                        "ORIG_REFERENCE_NO": "SRV-P001", "RETURN_CODE": "C01"})
        _raw(http, "_PostAutopayChangeXML", {"ACCOUNT_NO": "700100200", "REFERENCE_NO": "SRV-A001",
                                             "ALERT_CODE": "AUTOP", "VALUE": "Y"})
    return 7


def test_a_served_partner_records_and_checks_what_a_platform_sends(served: Served) -> None:
    served.wait("the configuration is printed", lambda: "Ctrl-C to finish." in served.text())
    printed = served.text()
    base_url = re.search(r"API base URL +(http://127\.0\.0\.1:\d+)", printed)
    sftp = re.search(r"sFTP +127\.0\.0\.1 port (\d+) user harborfalls", printed)
    run_id = re.search(r"Run (\S+): every exchange", printed)
    assert base_url and sftp and run_id, printed
    assert all(len(line) <= 80 for line in printed.splitlines()), printed
    assert "$SIT_HARBOR_FALLS_SFTP_PASSWORD" in printed and SFTP_PASSWORD not in printed
    assert "700100200, 700100300" in printed

    sent = _platform_calls(base_url.group(1))
    upload("127.0.0.1", int(sftp.group(1)), "harborfalls", SFTP_PASSWORD, b"H,1\nT,1\n", "payments_20261130.csv")
    served.wait(f"{sent} exchanges are recorded", lambda: served.exchanges() == sent)
    time.sleep(0.6)  # one more poll: the upload is recorded too, and no exchange beyond those sent
    os.killpg(served.proc.pid, signal.SIGINT)  # Ctrl-C at the terminal
    assert served.proc.wait(timeout=60) == 1, served.text()  # a rule was broken

    with SQLiteStore(served.store) as store:
        assert store.run_ids() == [run_id.group(1)]
        events = list(store.events(run_id.group(1)))
    _assert_events(events, sent)
    assert wiremock_jvms(served.tmpdir) == [] and list(served.tmpdir.iterdir()) == [], "something outlived serving"
    assert "Traceback" not in served.text() and API_SECRET not in served.text()
    _assert_report(served.store, run_id.group(1))


def _assert_events(events: list[Event], sent: int) -> None:
    started, last = events[0], events[-1]
    assert started.kind == "run.started" and started.data["partner_mode"] == "serve"
    assert started.data["biller"] == BILLER and started.data["served"]["test_accounts"] == ["700100200", "700100300"]
    assert last.kind == "run.finished" and last.data["status"] == "failed"
    assert last.data["counts"] == {"passed": 3, "failed": 4}
    exchanges = [e.data for e in events if e.kind == "partner.exchange"]
    assert [x["exchange"] for x in exchanges] == list(range(1, sent + 1))
    verdicts = [(x["section"], x["verdict"], [b["rule"] for b in x["broken"]]) for x in exchanges]
    assert verdicts == [
        ("Real-time balance (RTDR)", "ok", []),
        ("Payment posting (data pump)", "ok", []),
        ("Payment posting (data pump)", "broken", ["reference once"]),
        ("Payment posting (data pump)", "broken", ["channel never pumped"]),
        ("Payment posting (data pump)", "broken", ["amount"]),
        ("ACH rejects", "broken", ["C-code never a return"]),
        ("Account changes (change log)", "ok", []),
    ]
    files = [e.data for e in events if e.kind == "file.transferred"]
    assert [(f["direction"], f["path"], f["size"]) for f in files] == [
        ("platform -> partner", "payments_20261130.csv", 8)]
    assert not any(API_SECRET in str(e.data) or SFTP_PASSWORD in str(e.data) for e in events)


def _assert_report(store: Path, run_id: str) -> None:
    assert sit("verify", run_id, "--store", str(store)).returncode == 0
    reported = sit("report", run_id, "--no-html", "--store", str(store))
    assert reported.returncode == 0, explain(reported)
    with (store.parent / run_id / "workbook.csv").open(encoding="utf-8", newline="") as rows:
        table = [(r["SIT ID"], r["Section"], r["Status"]) for r in csv.DictReader(rows)]
    assert table[0] == ("EXCH-001", "Real-time balance (RTDR)", "Pass")
    assert table[5] == ("EXCH-006", "ACH rejects", "Fail") and len(table) == 7
    signoff = (store.parent / run_id / "signoff.html").read_text(encoding="utf-8")
    assert "serve: served to a real platform" in signoff and "served at http://127.0.0.1:" in signoff
    assert "C01 is a notification of change, not a return" in signoff


@pytest.mark.parametrize(("signum", "code", "last"), [(signal.SIGTERM, 1, "run.finished"),
                                                      (signal.SIGHUP, 128 + signal.SIGHUP, "run.interrupted")],
                         ids=["SIGTERM finishes", "SIGHUP interrupts"])
def test_a_signal_ends_the_served_run_and_leaves_nothing_running(served: Served, signum: signal.Signals, code: int,
                                                                 last: str) -> None:
    served.wait("the configuration is printed", lambda: "Ctrl-C to finish." in served.text())
    os.kill(served.proc.pid, signum)
    assert served.proc.wait(timeout=60) == code, served.text()
    with SQLiteStore(served.store) as store:
        (run_id,) = store.run_ids()
        events = list(store.events(run_id))
    assert events[-1].kind == last and events[-1].data["counts"] == {"passed": 0, "failed": 0}
    if last == "run.finished":  # no exchange came: nothing to sign off
        assert events[-1].data["status"] == "failed"
    else:
        assert events[-1].data["reason"] == "SIGHUP" and f"sit report {run_id} --interrupted" in served.text()
    assert wiremock_jvms(served.tmpdir) == [] and list(served.tmpdir.iterdir()) == [], "something outlived serving"
