"""The contract every file partner's adapter meets, for every biller of such a partner (each its own layouts):
what the platform writes, the partner's codec reads back as the same postings; what the codec writes, the
platform loads. The platform is the reference engine itself, on a real event store; no WireMock, no client.
A partner whose integration is files, in a package of its own, passes the same suite by registering its
adapter and adding a biller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from harness import layouts
from harness.events import Recorder, Redactor, SQLiteStore
from harness.layouts.values import Value
from harness.partners import load_adapter
from harness.partners.files import OUTBOX, FileCodec, control_field
from harness.platform import AccountNotFound
from harness.platform.reference import ReferenceEngine
from harness.profiles import Biller, load_biller
from harness.profiles.loader import fixtures_dir
from harness.profiles.models import FileSpec
from harness.transfer import Account, SftpServer

PROJECT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 30)
FILE_BILLERS = [b for path in sorted((fixtures_dir(PROJECT) / "billers").glob("*.yaml"))
                if not (b := load_biller(PROJECT, path.stem)).partner.has_api and not b.partner.posts_back]


@dataclass
class Files:
    biller: Biller
    codec: FileCodec
    engine: ReferenceEngine
    inbox: Path
    delivered: Path  # where the partner finds the payment files: the platform's outbox, or its own server

    def spec(self, capability: str) -> FileSpec:
        spec = self.biller.file_for(capability)
        assert spec is not None, f"{self.biller.slug}: no file for {capability}"
        return spec

    def sends(self, capability: str, records: list[dict[str, str]], seq: int = 1,
              trailer: dict[str, Value] | None = None) -> str:
        spec = self.spec(capability)
        name = spec.name(TODAY, seq)
        (self.inbox / name).write_bytes(self.codec.file(spec, records, name, TODAY, trailer=trailer))
        return name

    def fetched(self) -> list[tuple[str, layouts.LoadedFile]]:
        spec = self.spec("payment_posting")
        return [(path.name, layouts.load(path, spec.layout)) for path in sorted(self.delivered.glob(spec.glob))]


def test_there_is_a_file_biller_for_every_file_adapter() -> None:
    assert {b.partner.adapter for b in FILE_BILLERS} == {"stw"}
    assert len(FILE_BILLERS) >= 2, "two layouts prove the seam: a CSV and a fixed-width biller"
    assert {b.file_for("payment_posting").delivery for b in FILE_BILLERS} == {"fetch", "put"}  # type: ignore[union-attr]
    assert {b.file_for("invoice_load").layout.format for b in FILE_BILLERS} >= {"csv", "fixed"}  # type: ignore[union-attr]


@pytest.fixture(params=[b.slug for b in FILE_BILLERS])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Files]:
    biller = next(b for b in FILE_BILLERS if b.slug == request.param)
    adapter = load_adapter(biller.partner)
    assert adapter.files is not None and adapter.client is None
    store = SQLiteStore(tmp_path / "events.sqlite")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    payments = biller.file_for("payment_posting")
    with SftpServer(tmp_path / "partner-sftp", {"partner": "contract-secret"}) as own:  # the partner's own server
        put = payments is not None and payments.delivery == "put"
        drop = Account(own.host, own.port, "partner", "contract-secret", own.host_public_key) if put else None
        engine = ReferenceEngine(biller, None, Recorder(store, "contract", Redactor()), inbox, key_prefix="C-",
                                 today=TODAY, drop=drop)
        try:
            yield Files(biller, adapter.files(biller), engine, inbox, own.inbox("partner") if put else inbox / OUTBOX)
        finally:
            store.close()


def test_every_posting_the_platform_writes_the_partner_reads_back(files: Files) -> None:
    engine = files.engine
    paid = engine.pay("004417001", Decimal("45.10"), "CC")
    credited = engine.credit("004417001", Decimal("12.00"))
    returned = engine.pay("004417002", Decimal("52.00"), "ACH")
    voided = engine.pay("004417003", Decimal("19.99"), "ACH")
    engine.run_pump()
    first = engine.close_batch()
    back = engine.return_ach(returned, "R01")
    void = engine.void(voided)
    engine.run_pump()
    second = engine.close_batch()

    assert first.keys == (paid, credited, returned, voided) and second.keys == (back, void)
    read = files.fetched()
    assert [name for name, _ in read] == [first.file, second.file]
    assert all(loaded.accepted for _, loaded in read)  # header, trailer count and total as the partner checks them
    spec = files.spec("payment_posting")
    lines = [files.codec.decode(spec, record.values)[1] for _, loaded in read for record in loaded.records]
    assert [(f["role"], f["reference"], f["account"], f["amount"]) for f in lines] == [
        ("payment", paid, "004417001", "45.10"), ("credit", credited, "004417001", "12.00"),
        ("payment", returned, "004417002", "52.00"), ("payment", voided, "004417003", "19.99"),
        ("ach_return", back, "004417002", "52.00"), ("void", void, "004417003", "19.99")]
    assert (lines[4].get("original"), lines[4].get("return_code")) == (returned, "R01")
    assert lines[5].get("original") == voided
    assert all(engine.transaction(key).status.value == "posted" for key in (*first.keys, *second.keys))


def test_an_adjustment_the_partner_writes_is_the_balance_the_platform_shows(files: Files) -> None:
    spec = files.spec("adjustment_file")
    files.sends("adjustment_file", [files.codec.adjustment(spec, "004417001", {"balance": Decimal("182.40"),
                                                                              "past_due": Decimal("40.00")})])
    report = files.engine.import_inbox()
    assert report.rejected == ()
    shown = files.engine.open_account("004417001")
    assert (shown.balance, shown.past_due) == (Decimal("182.40"), Decimal("40.00"))
    with pytest.raises(AccountNotFound):
        files.engine.open_account("004417999")


def test_invoices_the_partner_writes_are_the_bills_the_platform_presents(files: Files) -> None:
    records = [{"account_number": "004417001", "invoice_number": f"INV-{n}", "customer_name": "Renée Côté",
                "service_address": "1 Main St", "bill_date": "2026-11-30", "due_date": "2026-12-21",
                "amount_due": f"{n}0.25", "past_due": "0.00"} for n in (1, 2)]
    name = files.sends("invoice_load", records)
    report = files.engine.import_inbox()
    assert (report.files, report.accepted, report.rejected) == ((name,), 2, ())
    bill = files.engine.bills("004417001")[-1]
    assert (bill.invoice_number, bill.amount_due, bill.customer_name) == ("INV-2", Decimal("20.25"), "Renée Côté")


def test_a_file_whose_trailer_miscounts_is_refused_whole_and_the_same_bytes_again_are_refused(files: Files) -> None:
    spec = files.spec("invoice_load")
    record = {"account_number": "004417001", "invoice_number": "INV-1", "due_date": "2026-12-21",
              "amount_due": "10.00"}
    name = files.sends("invoice_load", [record], trailer={control_field(spec, "count"): 2})
    report = files.engine.import_inbox()
    assert report.accepted == 0 and "the whole file is rejected" in report.rejected[0]
    assert files.engine.bills("004417001") == []
    good = files.sends("invoice_load", [record], seq=2)
    again = spec.name(TODAY, 3)
    (files.inbox / again).write_bytes((files.inbox / good).read_bytes())
    report = files.engine.import_inbox()
    digest = hashlib.sha256((files.inbox / good).read_bytes()).hexdigest()
    assert (report.files, report.accepted) == ((good,), 1)
    assert report.rejected == (f"{again}: the same file as {good} (sha256 {digest[:12]}...), which the platform took "
                               "already; nothing is loaded from it: ask the partner whether it meant to send another "
                               "file",)
    assert name not in report.files  # the refused file is not read again either


def test_a_payment_file_the_partners_server_refuses_fails_its_postings_never_posts_them(tmp_path: Path) -> None:
    """Put on the partner's own server with a password it refuses: nothing is posted, each posting is marked
    failed naming why (a person resends them), and no batch counts as delivered."""
    biller = load_biller(PROJECT, "brazos-valley-utilities")
    store = SQLiteStore(tmp_path / "events.sqlite")
    with SftpServer(tmp_path / "partner-sftp", {"partner": "right"}) as own:
        engine = ReferenceEngine(biller, None, Recorder(store, "contract", Redactor()), tmp_path, key_prefix="C-",
                                 today=TODAY, drop=Account(own.host, own.port, "partner", "wrong", own.host_public_key))
        paid = engine.pay("004417001", Decimal("45.10"), "CC")
        engine.run_pump()
        assert engine.close_batch().file is None
    tx = engine.transaction(paid)
    assert tx.status.value == "failed"
    assert tx.reason.startswith("the payment file BVUPAY2026113001.DAT could not be put on the partner's sFTP server: "
                                "sFTP login refused for partner@127.0.0.1:")
    assert not [e for e in store.events("contract") if e.kind == "platform.batch_delivered"]
    store.close()
