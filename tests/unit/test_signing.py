"""Ed25519 sign-off signatures: real keys, a real SQLite store, real tampering."""

from __future__ import annotations

import base64
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness.errors import InputError, RunNotFound
from harness.events import EventLogError, IncompleteEvidence, SQLiteStore, read_jsonl, write_jsonl
from harness.reports.signing import (
    SIGNOFF_KIND,
    SignatureCheck,
    generate_key,
    load_private_key,
    read_public_key,
    read_signature_file,
    sign_run,
    signature_file_data,
    statement,
    verify_signatures,
    write_signature_file,
)

RUN = "run-1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    events = SQLiteStore(tmp_path / "events.sqlite")
    for kind in ("run.started", "step", "step", "run.finished"):
        events.append(RUN, kind, {"what": kind})
    events.append("other-run", "run.started", {})  # a second chain must not confuse the first
    yield events
    events.close()


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "biller.pem"
    generate_key(path)
    return path


def _checks(store: SQLiteStore, **kwargs: object) -> list[SignatureCheck]:
    return verify_signatures(store.events(RUN), **kwargs)  # type: ignore[arg-type]


def _only(checks: list[SignatureCheck]) -> SignatureCheck:
    assert len(checks) == 1, [c.line() for c in checks]
    return checks[0]


def test_generate_key_writes_a_private_pem_0600_and_a_public_pem(key: Path) -> None:
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    pub = key.with_name("biller.pem.pub")
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert read_public_key(pub) == read_public_key(key)  # a private key file gives its public half


def test_generate_key_refuses_to_overwrite_unless_forced(key: Path) -> None:
    before = key.read_bytes()
    with pytest.raises(InputError, match="already exists; pass --force") as raised:
        generate_key(key)
    assert str(key) in str(raised.value)
    assert key.read_bytes() == before
    generate_key(key, force=True)
    assert key.read_bytes() != before
    assert key.stat().st_mode & 0o777 == 0o600


def test_sign_then_verify_is_valid(store: SQLiteStore, key: Path) -> None:
    head = store.head(RUN)
    event = sign_run(store, RUN, key, signer="Clayton County Water")
    assert (event.kind, event.seq) == (SIGNOFF_KIND, head.seq + 1)
    assert event.data["statement"] == statement(RUN, head.seq, head.hash)
    check = _only(_checks(store))
    assert check.valid and check.signed_seq == head.seq and check.signed_hash == head.hash
    assert check.line() == (f"SIGNED by key {event.data['key_id']} (Clayton County Water) over event {head.seq} "
                            f"hash {head.hash}: valid")


def test_a_second_signer_signs_the_same_evidence(store: SQLiteStore, key: Path, tmp_path: Path) -> None:
    partner = tmp_path / "partner.pem"
    generate_key(partner)
    first = sign_run(store, RUN, key, signer="biller")
    second = sign_run(store, RUN, partner, signer="partner")
    assert second.data["signed_seq"] == first.data["signed_seq"]  # the earlier signature is not evidence
    checks = _checks(store)
    assert [c.valid for c in checks] == [True, True]
    assert {c.key_id for c in checks} == {first.data["key_id"], second.data["key_id"]}


def test_tampered_signature_is_invalid(store: SQLiteStore, key: Path, tmp_path: Path) -> None:
    event = sign_run(store, RUN, key, signer="SE")
    raw = bytearray(base64.b64decode(event.data["signature"]))
    raw[0] ^= 1
    data = {**signature_file_data(event), "signature": base64.b64encode(bytes(raw)).decode()}
    exported = tmp_path / "run.jsonl"
    write_jsonl((e for e in store.events(RUN) if e.kind != SIGNOFF_KIND), exported)
    check = _only(verify_signatures(read_jsonl(exported), signature_file=data))
    assert not check.valid
    assert check.line().startswith("INVALID: signature file (key ")
    assert "signature does not match the statement and public key" in check.line()


def test_evidence_appended_after_signing_is_named(store: SQLiteStore, key: Path) -> None:
    sign_run(store, RUN, key, signer="SE")
    late = store.append(RUN, "step", {"what": "late"})
    check = _only(_checks(store))
    assert not check.valid
    assert f"evidence was added after signing: event {late.seq} (step) follows it" in check.line()


def test_wrong_public_key_is_refused(store: SQLiteStore, key: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    generate_key(other)
    sign_run(store, RUN, key, signer="SE")
    right = _checks(store, public_key_pem=read_public_key(key.with_name("biller.pem.pub")))
    assert [c.valid for c in right] == [True]
    wrong = _checks(store, public_key_pem=read_public_key(other))
    assert [c.valid for c in wrong] == [True, False]
    assert "no valid signature was made with the required public key" in wrong[1].line()


def test_edited_evidence_breaks_the_chain_before_any_signature_counts(store: SQLiteStore, key: Path,
                                                                      tmp_path: Path) -> None:
    sign_run(store, RUN, key, signer="SE")
    conn = sqlite3.connect(tmp_path / "events.sqlite", isolation_level=None)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET data = ? WHERE run_id = ? AND seq = 2", ('{"what":"edited"}', RUN))
    conn.close()
    check = _only(_checks(store))
    assert check.line() == "INVALID: chain: broken at event 2: hash does not match its content"
    with pytest.raises(EventLogError, match="chain broken at event 2"):
        sign_run(store, RUN, key, signer="SE")  # nobody vouches for a tampered log


def test_signature_file_checks_a_jsonl_export(store: SQLiteStore, key: Path, tmp_path: Path) -> None:
    event = sign_run(store, RUN, key, signer="biller")
    sig = tmp_path / "sig.json"
    write_signature_file(event, sig)
    assert read_signature_file(sig) == {**event.data, "run_id": RUN}
    exported = tmp_path / "run.jsonl"
    write_jsonl(store.events(RUN), exported)  # carries the signature event too: both are checked
    checks = verify_signatures(read_jsonl(exported), signature_file=read_signature_file(sig))
    assert [c.valid for c in checks] == [True, True]


def test_signature_file_of_another_run_is_invalid(store: SQLiteStore, key: Path) -> None:
    data = {**signature_file_data(sign_run(store, RUN, key, signer="SE")), "run_id": "other-run"}
    checks = verify_signatures(store.events(RUN), signature_file=data)
    assert checks[-1].line() == f"INVALID: signature file: it is for run 'other-run', not {RUN}"


def test_a_signature_rewritten_onto_other_evidence_is_invalid(store: SQLiteStore, key: Path) -> None:
    data = signature_file_data(sign_run(store, RUN, key, signer="SE"))
    forged = {**data, "signed_seq": 2, "statement": statement(RUN, 2, data["signed_hash"])}
    check = verify_signatures(store.events(RUN), signature_file=forged)[-1]
    assert "signature does not match the statement" in check.line()


def test_unsigned_run_has_one_failure(store: SQLiteStore) -> None:
    check = _only(_checks(store))
    assert check.line() == (f"INVALID: run {RUN}: carries no signature; sign it with "
                            f"`sit signoff {RUN} --sign KEY`")


def test_sign_unknown_run(store: SQLiteStore, key: Path) -> None:
    with pytest.raises(RunNotFound, match="no run 'nosuch'"):
        sign_run(store, "nosuch", key, signer="SE")


def test_a_run_still_running_is_refused_at_once_even_while_it_holds_the_write_lock(tmp_path: Path,
                                                                                  key: Path) -> None:
    """A run stopped in the middle of an append (a debugger, SIGSTOP) holds the store's write lock: signing it
    says it is still running, without waiting out the lock first."""
    path = tmp_path / "running.sqlite"
    with SQLiteStore(path) as writer, writer.running("live"):
        writer.append("live", "run.started", {})
        with writer.batch():
            writer.append("live", "step.started", {})  # the write transaction is open
            started = time.monotonic()
            with SQLiteStore(path) as signer, pytest.raises(IncompleteEvidence, match="is still running"):
                sign_run(signer, "live", key, signer="SE")
            assert time.monotonic() - started < 5.0


def _pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(None, "no such key file; make a key pair with `sit keygen", id="missing"),
        pytest.param(b"not a key at all\n", "not a PEM private key", id="not-pem"),
        pytest.param(_pem(rsa.generate_private_key(65537, 2048)), "RSA key, not Ed25519", id="rsa"),
        pytest.param(_pem(ec.generate_private_key(ec.SECP256R1())), "EC key, not Ed25519", id="ec"),
    ],
)
def test_unusable_key_file_is_one_line_naming_it(tmp_path: Path, content: bytes | None, problem: str) -> None:
    path = tmp_path / "key.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as raised:
        load_private_key(path)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and problem in message


def test_public_key_file_is_not_a_signing_key(key: Path) -> None:
    with pytest.raises(InputError, match="not a PEM private key"):
        load_private_key(key.with_name("biller.pem.pub"))


def test_signature_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "sig.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not a signature file"):
        read_signature_file(path)


def test_malformed_signature_event_is_invalid_not_a_crash(store: SQLiteStore) -> None:
    store.append(RUN, SIGNOFF_KIND, {"signed_seq": "4"})
    check = _only(_checks(store))
    assert "field 'signed_seq' is missing or not an integer" in check.line()



def test_an_old_signature_replayed_after_new_evidence_is_invalid(store: SQLiteStore, key: Path) -> None:
    old = sign_run(store, RUN, key, signer="SE")
    late = store.append(RUN, "step", {"what": "late"})
    store.append(RUN, SIGNOFF_KIND, old.data)  # a valid signature, copied past evidence it never saw
    checks = _checks(store)
    assert [c.valid for c in checks] == [False, False]
    assert (f"evidence was added after signing: it signs event {old.data['signed_seq']} but the evidence runs "
            f"to event {late.seq} (step)") in checks[1].line()


def test_the_same_key_signs_the_same_evidence_once(store: SQLiteStore, key: Path, tmp_path: Path) -> None:
    sign_run(store, RUN, key, signer="SE")
    with pytest.raises(InputError, match=r"is already signed with key .*another party signs with their own key"):
        sign_run(store, RUN, key, signer="SE again")
    other = tmp_path / "partner.pem"
    generate_key(other)
    sign_run(store, RUN, other, signer="Partner")  # a second party: its own key
    assert [c.valid for c in _checks(store)] == [True, True]


def test_who_signs_must_be_named(store: SQLiteStore, key: Path) -> None:
    with pytest.raises(InputError, match="--signer"):
        sign_run(store, RUN, key, signer="  ")
    assert store.head(RUN).kind == "run.finished"  # type: ignore[union-attr]


@pytest.mark.parametrize("ending", [None, "run.interrupted"])
def test_a_run_that_did_not_finish_is_never_signed(tmp_path: Path, key: Path, ending: str | None) -> None:
    with SQLiteStore(tmp_path / "unfinished.sqlite") as events:
        events.append(RUN, "run.started", {})
        events.append(RUN, "step", {})
        if ending is not None:
            events.append(RUN, ending, {"reason": "SIGTERM"})
        with pytest.raises(IncompleteEvidence, match="only a finished run is signed"):
            sign_run(events, RUN, key, signer="SE")
        assert [e.kind for e in events.events(RUN)][-1] != SIGNOFF_KIND
