"""The record, stub pack, replay loop as an SE runs it, for each demo partner's protocol:
a run, `sit stubs record RUN -o DIR`, the same workbook on that pack (`sit run --stub-pack DIR`),
and `sit diff` between the two showing nothing beyond the volatile fields the profile names.
A pack whose answer drifted (one field changed) shows in `sit diff` as that field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from runs import explain, sit, sit_run

from harness.events import SQLiteStore


@pytest.mark.parametrize(("biller", "balance_file"), [("clayton-county-water", "getaccountbalance-200-"),
                                                      ("newport-or", "accountbalance-200-")])
def test_a_recorded_pack_replays_the_run_and_diff_shows_nothing_but_volatile_fields(
        biller: str, balance_file: str, tmp_path: Path) -> None:
    recorded = sit_run(tmp_path / "recorded" / "events.sqlite", biller, export=True)
    pack = tmp_path / "pack"
    written = sit("stubs", "record", recorded.run_id, "-o", str(pack), "--store", str(recorded.store), timeout=120)
    assert written.returncode == 0, explain(written)
    assert f"Stub pack {pack}:" in written.stdout
    description = json.loads((pack / "pack.json").read_text())
    assert (description["recorded"], description["run_id"], description["biller"]) == (True, recorded.run_id, biller)
    # The recorded run's references (its key prefix is the run id's tail) are in no matcher and no answer.
    assert all(f"{recorded.run_id[-4:]}-" not in p.read_text() for p in pack.rglob("*") if p.is_file())

    replayed = sit_run(tmp_path / "replayed" / "events.sqlite", biller, "--stub-pack", str(pack), export=True)
    assert replayed.statuses() == recorded.statuses()
    assert replayed.started()["stub_pack"] | {"sha256": ""} == {"path": str(pack), "sha256": "",
                                                                 "recorded_from": recorded.run_id}
    assert not [e for e in replayed.events if e.kind == "stub.added"]  # the pack answered: nothing arranged
    assert len(replayed.exchanges()) == len(recorded.exchanges()) > 0

    compared = sit("diff", str(recorded.export), str(replayed.export), timeout=60)
    assert compared.returncode == 0, explain(compared)
    assert f"no differences ({len(replayed.statuses())} SIT IDs, {len(recorded.exchanges())} calls compared;" in \
        compared.stdout

    # Drift: one recorded balance changed in the pack is what `sit diff` then reports, and nothing else.
    body = next(p for p in sorted((pack / "__files").iterdir()) if p.name.startswith(balance_file)
                and "50.00" in p.read_text())
    body.write_text(body.read_text().replace("50.00", "50.01"))
    drift_store = tmp_path / "drifted" / "events.sqlite"
    sit("run", "--biller", biller, "--store", str(drift_store), "--no-report", "--stub-pack", str(pack), timeout=300)
    with SQLiteStore(drift_store) as events:
        (drifted,) = events.run_ids()
    drift = sit("diff", str(recorded.export), drifted, "--store", str(drift_store), timeout=60)
    assert drift.returncode == 1, explain(drift)
    changes = [line.strip() for line in drift.stdout.splitlines() if line.startswith("    ")]
    assert changes and all(re.fullmatch(r"response \S*(BALANCE|balance): '50\.00' -> '50\.01'", c) for c in changes), \
        drift.stdout
