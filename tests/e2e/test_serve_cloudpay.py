"""`sit serve` as an SE runs it beside a vendor's test instance: the real command in its own process, the vendor's
application and the payer over real HTTP, a real PostBackURL, Ctrl-C to finish; then the run's events, its
verification and its report."""

from __future__ import annotations

import base64
import csv
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.cloudpay import APPROVING_CARD
from harness.cloudpay.payer import Payer
from harness.cloudpay.postback import PERSONAL
from harness.events import Event, SQLiteStore
from tests.e2e.runs import clean_env, explain, in_background, sit
from tests.support.cloudpay_vendor import Vendor, running_vendor

BILLER = "lakemont-permits"  # Accela on CloudPay v2
DEMO_KEY = "demo-sit_lakemont_api_key"  # $SIT_LAKEMONT_API_KEY unset: the documented demo value
DEADLINE_S = 30.0
KINDS = ("cloudpay.request", "cloudpay.payment_created", "cloudpay.page_viewed", "cloudpay.card_refused",
         "cloudpay.payment", "cloudpay.duplicate_submit", "cloudpay.postback")


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    store: Path
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def kinds(self) -> list[str]:
        with suppress(sqlite3.OperationalError), closing(
                sqlite3.connect(f"{self.store.as_uri()}?mode=ro", uri=True, timeout=5)) as db:
            return [str(row[0]) for row in db.execute("SELECT kind FROM events ORDER BY seq")]
        return []

    def wait(self, what: str, ready: Any) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not ready():
            if self.proc.poll() is not None:
                pytest.fail(f"sit serve ended (exit {self.proc.returncode}) before {what}:\n{self.text()}")
            assert time.monotonic() < deadline, f"{what}: not within {DEADLINE_S:.0f} s\n{self.text()}"
            time.sleep(0.05)

    def configured(self) -> tuple[str, str]:
        """The API URL and the run id the console printed, once it says what to configure."""
        self.wait("the configuration is printed", lambda: "Ctrl-C to finish." in self.text())
        printed = self.text()
        api = re.search(r"API URL +(http://127\.0\.0\.1:\d+/cloudpaymentsapi/v2)\n", printed)
        run_id = re.search(r"Run (\S+): every request", printed)
        assert api and run_id, printed
        return api.group(1), run_id.group(1)

    def stop(self, signum: signal.Signals) -> int:
        os.killpg(self.proc.pid, signum)  # as the terminal sends it, to the whole process group
        return self.proc.wait(timeout=30)

    def events(self) -> list[Event]:
        with SQLiteStore(self.store) as store:
            (run_id,) = store.run_ids()
            return list(store.events(run_id))


@contextmanager
def serving(tmp_path: Path, *options: str) -> Iterator[Served]:
    """`sit serve --biller BILLER --port 0 OPTIONS` in its own session, as a shell starts it; nothing outlives it."""
    store, output = tmp_path / "events.sqlite", tmp_path / "serve.out"
    env = clean_env({"NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "80"})
    env.pop("SIT_LAKEMONT_API_KEY", None)
    with in_background(["serve", "--biller", BILLER, "--port", "0", "--store", str(store), *options], env,
                       output) as proc:
        yield Served(proc, store, output)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serving(tmp_path) as started:
        yield started


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    """The vendor's PostBackURL and ReturnURL on loopback: each postback recorded, answered 204."""
    with running_vendor() as running:
        yield running


def create_payment(http: httpx.Client, api_url: str, vendor: Vendor, key: str = DEMO_KEY) -> httpx.Response:
    """What the vendor's application sends when a payer presses Pay Now: Basic base64(KEY), as Koha builds it."""
    body = {"CreateCustomerRecord": True, "BillerReference": "PERMIT-2026-0042",
            "Customers": [{"AccountNumber": "BLD-7731", "Name": "Pat Payer", "Address": "1 Main St",
                           "City": "Lakemont", "State": "NY", "Zip": "12000", "EmailAddress": "pat@example.org",
                           "Invoices": [{"InvoiceNumber": "BP-1001", "TypeID": 43, "BalanceDue": "50.00"},
                                        {"InvoiceNumber": "BL-2002", "TypeID": 57, "BalanceDue": 30}]}],
            "ReturnURL": vendor.return_url, "PostBackURL": vendor.postback_url}
    credential = base64.b64encode(key.encode()).decode()
    return http.post(api_url, json=body, headers={"Authorization": f"Basic {credential}"})


def test_served_cloudpay_records_a_vendors_payment_to_its_postback(served: Served, vendor: Vendor) -> None:
    api_url, run_id = served.configured()
    printed = served.text()
    assert all(len(line) <= 80 for line in printed.splitlines()), printed
    assert "Accela, CloudPay v2" in printed and "test portal BID 5211" in printed
    assert "$SIT_LAKEMONT_API_KEY is unset" in printed and DEMO_KEY in printed and APPROVING_CARD in printed

    with httpx.Client(timeout=10.0) as http:
        created = create_payment(http, api_url, vendor)
        assert created.status_code == 200, created.text
        page_url = created.json()["Data"]["CloudPaymentURL"]
        payer = Payer(http)
        mistyped = payer.pay(page_url, "4111111111111112", "Pat Payer")  # fails the Luhn check: nothing charged
        assert mistyped.status == 400
        receipt = payer.pay(page_url, APPROVING_CARD, "Pat Payer")
        assert receipt.status == 200 and receipt.title == "Payment approved", receipt
        assert payer.submit_again(receipt, APPROVING_CARD, "Pat Payer").status == 200  # a double click
    (postback,) = vendor.wait_for(1)
    fields = postback.fields
    assert postback.content_type.startswith("application/x-www-form-urlencoded")
    assert (fields["Approved"], fields["PaymentAmount"], fields["InvoiceNumber"], fields["BillerReference"],
            fields["CardType"]) == ("True", "80.00", "BP-1001,BL-2002", "PERMIT-2026-0042", "VISA")
    served.wait("the postback is recorded", lambda: "cloudpay.postback" in served.kinds())
    served.wait("the console shows it", lambda: "PAY-001 postback delivered 204 (attempt 1)" in served.text())
    assert served.stop(signal.SIGINT) == 0, served.text()  # Ctrl-C: a payment settled and posted back

    events = served.events()
    _assert_events(events, run_id, fields["PaymentGUID"])
    printed = served.text()
    assert f"Run {run_id}: PASSED, 1 payment: 1 passed, 0 failed, 0 not paid" in printed
    assert "Traceback" not in printed and "POST /cloudpaymentsapi/v2 200" in printed
    _assert_report(served.store, run_id)


def _assert_events(events: list[Event], run_id: str, guid: str) -> None:
    started, last = events[0], events[-1]
    assert started.run_id == run_id and started.kind == "run.started"
    facts = started.data
    assert (facts["partner_mode"], facts["platform"], facts["biller"]) == (
        "serve-platform", "the harness as the platform's CloudPay side", BILLER)
    assert facts["cloudpay"] == {"key": "accela", "vendor": "Accela", "version": 2}
    assert facts["partner_name"] == "Accela (CloudPay v2)"
    assert facts["served"]["api_url"].endswith("/cloudpaymentsapi/v2")
    assert facts["served"]["api_key_env"] == "SIT_LAKEMONT_API_KEY"
    assert "SIT_LAKEMONT_API_KEY" in facts["demo_secrets"]
    assert last.kind == "run.finished" and last.data["status"] == "passed", last.data
    assert last.data["counts"] == {"passed": 1, "failed": 0, "not_run": 0}
    kinds = {event.kind for event in events}
    assert set(KINDS) <= kinds, kinds
    payment = next(e.data for e in events if e.kind == "cloudpay.payment")
    assert (payment["payment"], payment["approved"], payment["last4"]) == (guid, True, "1111")
    requests = [e.data for e in events if e.kind == "cloudpay.request"]
    assert requests[0]["method"] == "POST" and requests[0]["credential"] == "***"
    assert not any(DEMO_KEY in str(e.data) or "Pat Payer" in str(e.data) for e in events)


def _assert_report(store: Path, run_id: str) -> None:
    verified = sit("verify", run_id, "--store", str(store))
    assert verified.returncode == 0, explain(verified)
    reported = sit("report", run_id, "--store", str(store))
    assert reported.returncode == 0, explain(reported)
    folder = store.parent / run_id
    with (folder / "workbook.csv").open(encoding="utf-8", newline="") as rows:
        table = [(r["SIT ID"], r["Section"], r["Status"]) for r in csv.DictReader(rows)]
    assert table == [("PAY-001", "CloudPay payments (the vendor's application)", "Pass")]
    signoff = (folder / "signoff.html").read_text(encoding="utf-8")
    assert "serve-platform: the vendor&#39;s application, real" in signoff
    assert "the harness as the platform" in signoff and "Accela (CloudPay v2), under test" in signoff
    assert (folder / "signoff.pdf").stat().st_size > 0 and (folder / "allure-report.html").stat().st_size > 0


def test_probed_postbacks_say_what_the_vendor_takes_and_the_sign_off_flags_it(tmp_path: Path) -> None:
    """With --probe-postbacks, each postback the vendor took is followed by the same postback again and a forged
    one. This vendor refuses the replay (409) but takes the forgery (204): one finding, flagged; the run passes."""
    with serving(tmp_path, "--probe-postbacks") as served, running_vendor([204, 409, 204]) as vendor:
        api_url, run_id = served.configured()
        assert "each one the vendor takes is followed by the same postback" in served.text()
        with httpx.Client(timeout=10.0) as http:
            page_url = create_payment(http, api_url, vendor).json()["Data"]["CloudPaymentURL"]
            assert Payer(http).pay(page_url, APPROVING_CARD, "Pat Payer").title == "Payment approved"
        real, replayed, forged = vendor.wait_for(3)
        served.wait("both probes are recorded", lambda: served.kinds().count("cloudpay.postback_probe") == 2)
        assert served.stop(signal.SIGINT) == 0, served.text()
    assert replayed.fields == {k: v for k, v in real.fields.items() if k not in PERSONAL}
    assert forged.fields["PaymentGUID"] != real.fields["PaymentGUID"] and forged.fields["Approved"] == "True"
    events = served.events()
    probes = [(e.data["probe"], e.data["status"], e.data["accepted"]) for e in events
              if e.kind == "cloudpay.postback_probe"]
    assert probes == [("replayed", 409, False), ("forged", 204, True)]
    (finding,) = [e.data for e in events if e.kind == "finding"]
    assert finding["sit_id"] == "PAY-001" and finding["text"].startswith("The vendor accepted a forged postback")
    printed = served.text()
    assert "PAY-001 replayed postback sent to the vendor: refused (409)" in printed
    assert "PAY-001 forged postback sent to the vendor: ACCEPTED (204): flagged" in printed
    reported = sit("report", run_id, "--store", str(served.store))
    assert reported.returncode == 0, explain(reported)
    signoff = (served.store.parent / run_id / "signoff.html").read_text(encoding="utf-8")
    assert "1 flag: see Flags" in signoff and "The vendor accepted a forged postback (HTTP 204)" in signoff


def test_sighup_interrupts_the_served_run(served: Served, vendor: Vendor) -> None:
    api_url, run_id = served.configured()
    with httpx.Client(timeout=10.0) as http:
        assert create_payment(http, api_url, vendor).status_code == 200  # created; the payer never pays
    served.wait("the payment is recorded", lambda: "cloudpay.payment_created" in served.kinds())
    assert served.stop(signal.SIGHUP) == 128 + signal.SIGHUP, served.text()
    events = served.events()
    last = events[-1]
    assert last.kind == "run.interrupted" and last.data["reason"] == "SIGHUP", last.data
    assert last.data["counts"] == {"passed": 0, "failed": 0, "not_run": 0, "interrupted": 1}
    assert f"sit report {run_id} --interrupted" in served.text()
    reported = sit("report", run_id, "--interrupted", "--no-html", "--store", str(served.store))
    assert reported.returncode == 0, explain(reported)
    with (served.store.parent / run_id / "workbook.csv").open(encoding="utf-8", newline="") as rows:
        assert next(rows).startswith("INTERRUPTED: ")  # the banner, above the header
        assert [(r["SIT ID"], r["Status"]) for r in csv.DictReader(rows)] == [("PAY-001", "Interrupted")]


def test_nothing_arrived_nothing_to_sign_off(served: Served) -> None:
    _, run_id = served.configured()
    assert served.stop(signal.SIGTERM) == 1, served.text()
    last = served.events()[-1]
    assert last.kind == "run.finished" and last.data["status"] == "failed"
    assert f"Run {run_id}: FAILED, no payment arrived: nothing to sign off" in served.text()


@pytest.mark.parametrize("args", [["--biller", "clayton-county-water"],
                                  ["--biller", BILLER, "--host", "0.0.0.0"],
                                  ["--biller", BILLER, "--port", "PORT_IN_USE"]],
                         ids=["not a CloudPay biller", "every interface without a public URL", "port in use"])
def test_what_cannot_be_served_is_refused_in_one_line(tmp_path: Path, args: list[str]) -> None:
    store = tmp_path / "events.sqlite"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = [str(taken.getsockname()[1]) if arg == "PORT_IN_USE" else arg for arg in args]
        refused = sit("serve", *args, "--store", str(store), timeout=60)
    assert refused.returncode == 2, explain(refused)
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, explain(refused)
    assert re.search(r"is not a CloudPay biller: `sit stubs serve` serves|every interface: give --public-url|"
                     r"is in use: free it, or give another --port", lines[0]), lines[0]
    assert not store.exists(), "a refused serve leaves no store behind"
