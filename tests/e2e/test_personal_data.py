"""Canary customers in every partner's invoice files never reach the partner pack.

A real `sit run` of each partner's biller (Cayenta: clayton-county-water; Caselle: newport-or; STW,
whose files are the biller's own: galveston-county in CSV, brazos-valley-utilities in fixed width)
runs the invoice load scenarios through a test wrapper (canary_sit.py) that gives every invoice
record a canary customer: name, email and service address, in accepted and rejected records alike.
Then `sit report RUN --partner-pack` writes the pack, and every file of it, recursively, is
searched as a reader would look into it (xlsx unzipped, PDF text extracted, the base64 the
single-file Allure report embeds decoded) for the canary token. Two negative controls, with the
masking switched off inside the wrapper (the product has no switch): the pack is refused by its
own leak check, naming the document; and with that check switched off too, the test's search
finds the canaries in the written pack, so it cannot pass vacuously.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from runs import SIT, Run, explain, scenario_events, sit, sit_run
from test_secrets import REPORT_FILES, _contents, _files

from harness.reports.personal import PERSONAL

TOKEN = "Xqzvk"  # in every canary; searched case-insensitively, so a piece of one is found too
WRAPPER = (sys.executable, str(Path(__file__).with_name("canary_sit.py")))
INVOICE_SCENARIOS = "invoice or faulty or past_due or billing"
BILLERS = ("clayton-county-water", "newport-or", "galveston-county", "brazos-valley-utilities")
# The scenario of each biller's workbook with faulty invoice records (a layout with implied decimals has its own).
FAULTY = {"brazos-valley-utilities": "SIT-INV-019"}


@dataclass
class CanaryRun:
    run: Run
    env: dict[str, str]

    @property
    def root(self) -> Path:
        return self.run.root

    def pack(self, out: str, **switches: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        """`sit report RUN --partner-pack -o ROOT/OUT` (through the wrapper when switches are given)."""
        args = ("report", self.run.run_id, "--partner-pack", "-o", str(self.root / out), "--store", str(self.run.store))
        result = sit(*args, program=WRAPPER if switches else SIT, extra_env=self.env | switches)
        return result, self.root / out / "partner-pack"


@pytest.fixture(scope="module", params=BILLERS)
def canaries(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> CanaryRun:
    root = tmp_path_factory.mktemp(f"personal-{request.param}")
    (root / "tmp").mkdir()
    env = {"SIT_TEST_CANARY": TOKEN, "TMPDIR": str(root / "tmp")}
    run = sit_run(root / "events.sqlite", request.param, "-k", INVOICE_SCENARIOS, program=WRAPPER, extra_env=env)
    return CanaryRun(run, env)


@pytest.fixture(scope="module")
def pack(canaries: CanaryRun) -> Path:
    result, folder = canaries.pack("masked")
    assert result.returncode == 0, explain(result)
    assert TOKEN.lower() not in (result.stdout + result.stderr).lower()
    return folder


def canary_leaks(folder: Path) -> list[str]:
    """Each file (or part of one, see test_secrets._contents) under ``folder`` that holds a canary."""
    return [f"{path.relative_to(folder).as_posix()}{part}" for path in _files(folder)
            for part, data in _contents(path) if TOKEN.lower().encode() in data.lower()]


def test_the_canaries_are_in_accepted_and_rejected_records(canaries: CanaryRun) -> None:
    """Otherwise the search below would be vacuous."""
    run = canaries.run
    assert set(run.statuses().values()) <= {"passed", "na"}, run.statuses()
    loaded = [e.data["bill"] for e in run.events if e.kind == "platform.bill_loaded"]
    assert len(loaded) >= 5 and all(TOKEN in bill["customer_name"] for bill in loaded)
    faulty = scenario_events(run.events, FAULTY.get(run.started()["biller"], "SIT-INV-002"))
    (content,) = [e.data["content"] for e in faulty if e.kind == "file.transferred"]
    if content.startswith("<"):  # the partner's XML export: records by number
        rejected = [e.data["record"] for e in faulty if e.kind == "platform.invoice_rejected"]
        records = list(etree.fromstring(content.encode()))
        assert len(rejected) == 7 and len(records) == 10  # SIT-INV-002: 3 good records, 7 faulty ones
        for number in rejected:
            fields = {child.tag: child.text or "" for child in records[number - 1]}
            assert sum(TOKEN.lower() in value.lower() for value in fields.values()) == 3, fields  # name, email, address
        return
    lines = content.splitlines()  # the biller's own layout: records by line
    rejected = [e.data["line"] for e in faulty if e.kind == "platform.record_rejected"]
    assert len(rejected) >= 5 and all(TOKEN.lower() in lines[line - 1].lower() for line in rejected), rejected


def test_no_canary_anywhere_in_the_partner_pack(pack: Path) -> None:
    assert sorted(path.name for path in pack.iterdir() if path.name in REPORT_FILES) == sorted(REPORT_FILES)
    assert canary_leaks(pack) == []
    # Masked, not dropped: the invoice files are in the pack with their customers masked.
    files = [p.read_text() for p in (pack / "allure-results").glob("*-attachment.txt")]
    invoices = [text for text in files if "partner -> platform via sFTP" in text]
    assert invoices and any(PERSONAL in text for text in invoices)
    # Masked field by field, the rest of each record kept: the amounts due are there.
    assert all("\n\n" + PERSONAL + "\n" not in text for text in invoices)


def test_negative_control_unmasked_the_pack_is_refused(canaries: CanaryRun) -> None:
    result, folder = canaries.pack("unmasked", SIT_TEST_UNMASKED="1")
    assert result.returncode == 3, explain(result)
    (line,) = result.stderr.splitlines()
    assert line.startswith("sit: partner pack refused, nothing written: ") and "holds personal data" in line
    assert TOKEN.lower() not in line.lower()  # named, not shown
    assert not folder.exists() and not (canaries.root / "unmasked").exists()  # not even its folder


def test_negative_control_unmasked_and_unchecked_the_search_finds_the_canaries(canaries: CanaryRun) -> None:
    result, folder = canaries.pack("unchecked", SIT_TEST_UNMASKED="1", SIT_TEST_UNCHECKED="1")
    assert result.returncode == 0, explain(result)
    leaked = {name.split("/")[0] for name in canary_leaks(folder)}
    assert {"allure-results", "allure-report", "allure-report.html!base64"} <= leaked, sorted(leaked)
