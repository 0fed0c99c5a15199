"""`sit keygen` and `sit verify --signature` end to end, on a copy of the one demo run."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.events import SQLiteStore, write_jsonl
from harness.reports.signing import sign_run, write_signature_file
from tests.cli.test_cli import assert_one_line_error
from tests.conftest import run_sit

DemoRun = tuple[str, Path, subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Signed:
    """A copy of the demo store signed once (the demo store itself stays unsigned for other tests)."""

    run_id: str
    store: Path
    key: Path
    key_id: str
    signature_file: Path
    unsigned_export: Path  # exported before signing: only the signature file vouches for it


@pytest.fixture(scope="module")
def signed(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Signed:
    run_id, demo_store, _ = demo_run
    root = tmp_path_factory.mktemp("signed")
    store = root / "events.sqlite"
    shutil.copyfile(demo_store, store)
    key = root / "biller.pem"
    assert run_sit("keygen", str(key)).returncode == 0
    with SQLiteStore(store) as events:
        write_jsonl(events.events(run_id), root / "unsigned.jsonl")
        event = sign_run(events, run_id, key, signer="Clayton County Water")
    write_signature_file(event, root / "sig.json")
    return Signed(run_id, store, key, event.data["key_id"], root / "sig.json", root / "unsigned.jsonl")


def test_keygen_writes_a_key_pair(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "partner.pem"
    proc = run_sit("keygen", str(key))
    assert proc.returncode == 0, proc.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    assert Path(f"{key}.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    lines = proc.stdout.splitlines()
    assert lines[:2] == [f"private key: {key} (mode 0600)", f"public key:  {key}.pub"]
    assert lines[2].startswith("key id:      ") and len(lines[2].split()[-1]) == 16
    assert "out of the repository" in lines[3]


def test_keygen_refuses_an_existing_key(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("precious\n")
    assert_one_line_error(run_sit("keygen", str(key)), f"sit: {key}: already exists; pass --force", code=2)
    assert key.read_text() == "precious\n"
    assert run_sit("keygen", str(key), "--force").returncode == 0


def test_verify_signature_of_an_unsigned_run_fails(demo_run: DemoRun) -> None:
    run_id, store, _ = demo_run
    proc = run_sit("verify", run_id, "--signature", "--store", str(store))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    intact, missing = proc.stdout.splitlines()
    assert intact.startswith(f"INTACT {run_id}: ")
    assert missing == f"INVALID: run {run_id}: carries no signature; sign it with `sit signoff {run_id} --sign KEY`"


def test_verify_signed_run(signed: Signed) -> None:
    proc = run_sit("verify", signed.run_id, "--signature", "--store", str(signed.store))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    intact, line = proc.stdout.splitlines()
    assert intact.startswith(f"INTACT {signed.run_id}: ")
    assert line.startswith(f"SIGNED by key {signed.key_id} (Clayton County Water) over event ")
    assert line.endswith(": valid")


def test_verify_without_flags_does_not_look_at_signatures(signed: Signed) -> None:
    proc = run_sit("verify", signed.run_id, "--store", str(signed.store))
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1, proc.stdout


@pytest.mark.parametrize(("which", "code"), [("own", 0), ("other", 1)])
def test_verify_with_public_key(signed: Signed, tmp_path: Path, which: str, code: int) -> None:
    pub = Path(f"{signed.key}.pub")
    if which == "other":
        assert run_sit("keygen", str(tmp_path / "other.pem")).returncode == 0
        pub = tmp_path / "other.pem.pub"
    proc = run_sit("verify", signed.run_id, "--public-key", str(pub), "--store", str(signed.store))
    assert proc.returncode == code, proc.stdout + proc.stderr
    if code:
        assert proc.stdout.splitlines()[-1].endswith("no valid signature was made with the required public key")


def test_verify_export_with_signature_file(signed: Signed) -> None:
    proc = run_sit("verify", str(signed.unsigned_export), "--signature-file", str(signed.signature_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[1].startswith(f"SIGNED by key {signed.key_id} ")


def test_verify_signed_export_checks_log_and_file(signed: Signed, tmp_path: Path) -> None:
    export = tmp_path / "signed.jsonl"
    assert run_sit("export", signed.run_id, "-o", str(export), "--store", str(signed.store)).returncode == 0
    proc = run_sit("verify", str(export), "--signature-file", str(signed.signature_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line.endswith(": valid") for line in proc.stdout.splitlines()[1:]] == [True, True]


@pytest.mark.parametrize("option", ["--signature-file", "--public-key"])
def test_verify_with_a_missing_file_is_one_line(signed: Signed, tmp_path: Path, option: str) -> None:
    missing = tmp_path / "nosuch"
    proc = run_sit("verify", signed.run_id, option, str(missing), "--store", str(signed.store))
    assert_one_line_error(proc, f"sit: {missing}: no such", code=2)
    assert proc.stdout == ""
