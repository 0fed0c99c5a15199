"""`sit diff` end to end: real runs of the demo biller compared through the real command.

Two runs besides the session's ``demo_run``: one as it is (nothing may differ) and one whose
partner profile sends another alert code (the change must be named, field by field).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from harness.events import SQLiteStore
from tests.cli.test_cli import BILLER, DemoRun, assert_one_line_error
from tests.conftest import run_sit

ALERT_CODE = "XMLREQUEST/Request/_PostAutopayChangeXML/Params/ALERT_CODE"


@pytest.fixture(scope="module")
def demo_export(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo run as a JSONL export, so that it can be compared with a run in another store."""
    run_id, store, _ = demo_run
    path = tmp_path_factory.mktemp("diff") / "demo.jsonl"
    proc = run_sit("export", run_id, "-o", str(path), "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    return path


def sit_run(store: Path, *options: str, expect: int) -> str:
    """`sit run` of the demo biller into ``store``, which must exit ``expect``; the run's id."""
    proc = run_sit("run", "--biller", BILLER, "--store", str(store), *options)
    assert proc.returncode == expect, f"{proc.stdout}\n{proc.stderr}"
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
    return run_id


def sit_diff(a: str, b: str, store: Path) -> subprocess.CompletedProcess[str]:
    proc = run_sit("diff", a, b, "--store", str(store))
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def test_two_runs_with_the_default_seed_do_not_differ(demo_export: Path, tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    proc = sit_diff(str(demo_export), sit_run(store, expect=0), store)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    last = proc.stdout.splitlines()[-1]
    found = re.fullmatch(r"no differences \((\d+) SIT IDs, (\d+) calls compared; volatile fields ignored: (.+)\)", last)
    assert found, proc.stdout
    assert int(found[1]) >= 30 and int(found[2]) > 0
    assert "REFERENCE_NO" in found[3].split(", ")


def test_another_alert_code_is_named_with_its_sit_id_and_field(
    demo_export: Path, project_copy: Path, tmp_path: Path
) -> None:
    partner = project_copy / "fixtures" / "partners" / "cayenta.yaml"
    text, count = re.subn(r"alert_code: AUTOP\b", "alert_code: AUTOX", partner.read_text(encoding="utf-8"))
    assert count == 1
    partner.write_text(text, encoding="utf-8")
    store = tmp_path / "events.sqlite"
    proc = sit_diff(str(demo_export), sit_run(store, "--project", str(project_copy), expect=1), store)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "SIT-CHG-002  status passed -> failed" in lines
    assert "SIT-CHG-002  _PostAutopayChangeXML #1 changed" in lines
    assert f"    request {ALERT_CODE}: 'AUTOP' -> 'AUTOX'" in lines
    assert "    fields alert_code: 'AUTOP' -> 'AUTOX'" in lines
    assert not any(line.startswith("SIT-PAY-") for line in lines), proc.stdout  # the payments did not change
    # SIT-CHG-002, -003 and -006: the scenarios that send an autopay change
    assert re.fullmatch(r"3 SIT IDs differ \(.*\)", lines[-1]), lines[-1]


def test_unknown_run_is_one_line(demo_run: DemoRun) -> None:
    run_id, store, _ = demo_run
    assert_one_line_error(sit_diff("nope", run_id, store), "no run 'nope'", "sit runs", code=2)


def test_missing_export_is_one_line(demo_run: DemoRun, tmp_path: Path) -> None:
    run_id, store, _ = demo_run
    missing = tmp_path / "missing.jsonl"
    assert_one_line_error(sit_diff(run_id, str(missing), store), f"{missing}: no such file", code=2)


def test_tampered_export_is_one_line(demo_run: DemoRun, demo_export: Path, tmp_path: Path) -> None:
    run_id, store, _ = demo_run
    lines = demo_export.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[5])
    event["data"]["edited"] = True
    lines[5] = json.dumps(event)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_one_line_error(sit_diff(run_id, str(tampered), store), str(tampered), "chain broken at event 6", code=1)
