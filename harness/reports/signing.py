"""Ed25519 sign-off signatures over a run's evidence, recorded in the run's own event log.

A signature is an event of kind ``signoff.signed`` appended to the run it signs, so the
log stays the single source of truth; the same fields also go to a standalone JSON file,
which is how an exported JSONL is checked on its own. What is signed is the run's
*evidence head*: its last event that is not itself a signature, so a biller and a partner
can both sign the same evidence, one after the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.errors import InputError, RunNotFound
from harness.events import TERMINAL_KINDS, ChainChecker, Event, EventStore, IncompleteEvidence, verified
from harness.reports.runs import RUNNING, run_state

SIGNOFF_KIND = "signoff.signed"
ALGORITHM = "ed25519"
_REQUIRED = {"signed_seq": int, "signed_hash": str, "statement": str, "algorithm": str, "public_key": str,
             "signature": str}


def statement(run_id: str, seq: int, hash_: str) -> str:
    """The exact text signed: one builder for signing and verifying, so they can never drift."""
    return f"sit-harness sign-off v1\nrun: {run_id}\nseq: {seq}\nhash: {hash_}\n"


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a key: the first 16 hex digits of sha256 of its raw 32 bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


# --- keys -------------------------------------------------------------------------------------------

def public_key_path(path: Path) -> Path:
    """Where ``generate_key`` puts the public half of the key at ``path``."""
    return path.with_name(path.name + ".pub")


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    # mkstemp creates the file 0600, so the private key is never readable by others, not even
    # for a moment; the replace means an interrupted keygen leaves no half-written key.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def generate_key(path: Path, force: bool = False) -> str:
    """Write a new Ed25519 key pair: ``path`` (PKCS8 PEM, mode 0600) and ``path.pub``; return its key id.

    Refuses to replace an existing key unless ``force``: a lost signing key cannot be recovered.
    """
    path = Path(path)
    pub = public_key_path(path)
    for existing in (path, pub):
        if existing.exists() and not force:
            raise InputError(f"{existing}: already exists; pass --force to replace the key pair")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomically(path, private_pem, 0o600)
        _write_atomically(pub, _public_pem(key.public_key()).encode("ascii"), 0o644)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the key ({exc.strerror or exc})") from None
    return key_id(key.public_key())


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        # A signer can make a key; a verifier needs the signer's .pub file instead.
        hint = f"; make a key pair with `sit keygen {path}`" if what == "key" else "; ask the signer for the .pub file"
        raise InputError(f"{path}: no such {what} file{hint}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def _kind_of(key: object) -> str:
    return type(key).__name__.lstrip("_").removesuffix("PrivateKey").removesuffix("PublicKey")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``, or an ``InputError`` naming the file."""
    data = _read_key_file(path, "key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # raised when the PEM is encrypted and no password was given
        raise InputError(f"{path}: the key is encrypted; use an unencrypted key from `sit keygen`") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(f"{path}: not a PEM private key; make one with `sit keygen PATH` "
                         "(the .pub file is for verifying)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: {_kind_of(key)} key, not Ed25519; make one with `sit keygen PATH`")
    return key


def read_public_key(path: Path) -> str:
    """The Ed25519 public key in ``path`` as PEM text; a private key file gives its public half."""
    data = _read_key_file(path, "public key")
    try:
        key: object = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        key = load_private_key(path).public_key()  # raises the one-line error if it is neither
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path}: {_kind_of(key)} key, not Ed25519; use the .pub file `sit keygen` made")
    return _public_pem(key)


# --- signing ----------------------------------------------------------------------------------------

@dataclass
class _Signable:
    """What signing needs to know of a run, gathered in one pass over its events."""

    head: Event | None = None  # the evidence head: the last event that is not a signature
    terminal: Event | None = None
    signed: set[tuple[str, str]] = field(default_factory=set)  # (key id, signed hash) of each signature

    def feed(self, event: Event) -> None:
        if event.kind == SIGNOFF_KIND:
            self.signed.add((str(event.data.get("key_id")), str(event.data.get("signed_hash"))))
            return
        self.head = event
        if event.kind in TERMINAL_KINDS:
            self.terminal = event


def _signable(store: EventStore, run_id: str) -> _Signable:
    """The run's evidence head and signatures, once it has finished: a run that did not is never signed,
    nor one with evidence after its end."""
    if store.head(run_id) is None:
        raise RunNotFound(f"no run '{run_id}' in the event store; `sit runs` lists them")
    running = store.is_running(run_id)
    run = _Signable()
    for event in verified(store.events(run_id), run_id):  # signing a tampered log would vouch for it
        run.feed(event)
    state = run_state(run.terminal, running)
    if not state.finished:
        how = "is still running" if state.status == RUNNING else f"did not finish ({state.reason})"
        raise IncompleteEvidence(f"run {run_id} {how}: only a finished run is signed")
    if run.head is not run.terminal:
        raise IncompleteEvidence(f"run {run_id} has evidence after its end (event {run.head.seq if run.head else 0}): "
                                 "only a finished run is signed")
    return run


def sign_run(store: EventStore, run_id: str, key_path: Path, signer: str) -> Event:
    """Sign the finished run's evidence head with the key at ``key_path`` and append ``signoff.signed``.

    ``signer`` names the person, as the sign-off shows them. The same key never signs the same
    evidence twice: a second signature would vouch for nothing new.
    """
    if not signer.strip():
        raise InputError("name who signs with --signer, as the sign-off should show them (e.g. \"Pat Jones (SE)\")")
    key = load_private_key(key_path)  # before reading the run, so a bad key fails at once
    _signable(store, run_id)  # a run still running is refused at once, not after waiting on its write lock
    with store.batch():  # the write lock from the check to the append: two signers never race past it
        return _sign(store, run_id, key, signer)


def _sign(store: EventStore, run_id: str, key: Ed25519PrivateKey, signer: str) -> Event:
    run = _signable(store, run_id)
    head = run.head
    assert head is not None  # a finished run's terminal event is evidence
    public = key.public_key()
    kid = key_id(public)
    if (kid, head.hash) in run.signed:
        raise InputError(f"run {run_id}'s evidence (event {head.seq}) is already signed with key {kid}; "
                         "another party signs with their own key")
    text = statement(run_id, head.seq, head.hash)
    data = {
        "signed_seq": head.seq,
        "signed_hash": head.hash,
        "statement": text,
        "algorithm": ALGORITHM,
        "public_key": _public_pem(public),
        "key_id": kid,
        "signature": base64.b64encode(key.sign(text.encode("utf-8"))).decode("ascii"),
        "signer": signer.strip(),
    }
    return store.append(run_id, SIGNOFF_KIND, data)


def signature_file_data(event: Event) -> dict[str, Any]:
    """The standalone signature file for a ``signoff.signed`` event: its data plus the run id."""
    if event.kind != SIGNOFF_KIND:
        raise ValueError(f"event {event.seq} is a {event.kind}, not a {SIGNOFF_KIND}")
    return {**event.data, "run_id": event.run_id}


def write_signature_file(event: Event, path: Path) -> None:
    """Write ``signature_file_data(event)`` to ``path`` as JSON."""
    text = json.dumps(signature_file_data(event), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        _write_atomically(Path(path), text.encode("utf-8"), 0o644)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the signature file ({exc.strerror or exc})") from None


def read_signature_file(path: Path) -> dict[str, Any]:
    """A signature file's fields, or an ``InputError`` naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such signature file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the signature file ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a signature file (not JSON: {exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a signature file (not a JSON object)")
    return data


# --- verifying --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignatureCheck:
    """The outcome for one signature (or for a missing one): ``line()`` says it to a person."""

    where: str  # "signature in event 12", "signature file", or the run for a run-wide failure
    key_id: str = ""
    signer: str = ""
    signed_seq: int | None = None
    signed_hash: str = ""
    problem: str | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        if self.problem is not None:
            return f"INVALID: {self.where}: {self.problem}"
        signer = f" ({self.signer})" if self.signer else ""
        return f"SIGNED by key {self.key_id}{signer} over event {self.signed_seq} hash {self.signed_hash}: valid"


def _fields_problem(data: dict[str, Any]) -> str | None:
    for name, kind in _REQUIRED.items():
        value = data.get(name)
        # bool is an int subclass but never a seq
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"field {name!r} is missing or not {'an integer' if kind is int else 'a string'}"
    if data["algorithm"] != ALGORITHM:
        return f"algorithm {data['algorithm']!r} is not {ALGORITHM}"
    return None


def _load_public(pem: str) -> Ed25519PublicKey | None:
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def _crypto_problem(data: dict[str, Any], public: Ed25519PublicKey, run_id: str) -> str | None:
    if data.get("key_id", key_id(public)) != key_id(public):
        return f"key_id {data['key_id']} is not the id of its public key ({key_id(public)})"
    if data["statement"] != statement(run_id, data["signed_seq"], data["signed_hash"]):
        return f"statement does not name run {run_id}, event {data['signed_seq']} and its signed hash"
    try:
        public.verify(base64.b64decode(data["signature"], validate=True), data["statement"].encode("utf-8"))
    except (binascii.Error, ValueError):
        return "signature is not base64"
    except InvalidSignature:
        return "signature does not match the statement and public key: it was altered or made with another key"
    return None


def _binding_problem(data: dict[str, Any], head: Event | None) -> str | None:
    """Whether the signature covers exactly the evidence head (the last non-signature event)."""
    seq, hash_ = data["signed_seq"], data["signed_hash"]
    if head is None:
        return "there is no evidence before it to sign"
    if seq < head.seq:
        return (f"evidence was added after signing: it signs event {seq} but the evidence runs to event "
                f"{head.seq} ({head.kind})")
    if seq > head.seq:
        return f"it signs event {seq}, but the evidence ends at event {head.seq}"
    if hash_ != head.hash:
        return f"signed hash {hash_} is not the hash of event {seq} ({head.hash})"
    return None


def check_signature(data: dict[str, Any], run_id: str, head: Event | None, where: str) -> SignatureCheck:
    """Check one signature's fields against ``run_id`` and the evidence ``head`` it must cover."""
    problem = _fields_problem(data)
    if problem is not None:
        return SignatureCheck(where, problem=problem)
    public = _load_public(data["public_key"])
    signer = named if isinstance(named := data.get("signer"), str) else ""
    if public is None:
        return SignatureCheck(where, signer=signer, problem="public_key is not an Ed25519 PEM public key")
    check = SignatureCheck(where, key_id(public), signer, data["signed_seq"], data["signed_hash"])
    problem = _crypto_problem(data, public, run_id) or _binding_problem(data, head)
    return replace(check, where=f"{where} (key {check.key_id})", problem=problem) if problem else check


class SignatureChecker:
    """Checks a run's signatures as its events stream past, keeping only the evidence head.

    Signatures come after the evidence they sign, so each is checked against the evidence
    head when it is seen; a later non-signature event then voids every signature before it.
    """

    def __init__(self, signature_file: dict[str, Any] | None = None, public_key_pem: str | None = None) -> None:
        self._file = signature_file
        self._required = public_key_pem
        self._run_id: str | None = None
        self._head: Event | None = None
        self._checks: list[SignatureCheck] = []
        self._voided_by: dict[int, Event] = {}  # index in _checks -> first evidence event after it
        self._open: list[int] = []  # signatures not yet followed by evidence

    def feed(self, event: Event) -> None:
        if self._run_id is None:
            self._run_id = event.run_id
        if event.kind != SIGNOFF_KIND:
            self._head = event
            self._voided_by.update(dict.fromkeys(self._open, event))
            self._open.clear()
            return
        self._open.append(len(self._checks))
        self._checks.append(check_signature(event.data, event.run_id, self._head, f"signature in event {event.seq}"))

    def watch(self, events: Iterable[Event]) -> Iterator[Event]:
        """``events`` passed through, each fed to the checker on the way (the caller closes ``events``)."""
        for event in events:
            self.feed(event)
            yield event

    def results(self) -> list[SignatureCheck]:
        """One check per signature seen (and the file's), plus any run-wide failure; call after the last event."""
        if self._run_id is None:
            return [SignatureCheck("log", problem="no events, so nothing signed")]
        checks = [self._voided(i, check) for i, check in enumerate(self._checks)]
        if self._file is not None:
            checks.append(self._check_file(self._file, self._run_id))
        if not checks:
            return [SignatureCheck(f"run {self._run_id}", problem=f"carries no signature; sign it with "
                                   f"`sit signoff {self._run_id} --sign KEY`")]
        if self._required is not None:
            checks.extend(self._required_key(checks, self._required))
        return checks

    def _voided(self, index: int, check: SignatureCheck) -> SignatureCheck:
        later = self._voided_by.get(index)
        if later is None or not check.valid:
            return check
        return replace(check, where=f"{check.where} (key {check.key_id})",
                       problem=f"evidence was added after signing: event {later.seq} ({later.kind}) follows it")

    def _check_file(self, data: dict[str, Any], run_id: str) -> SignatureCheck:
        if data.get("run_id") != run_id:
            return SignatureCheck("signature file", problem=f"it is for run {data.get('run_id')!r}, not {run_id}")
        return check_signature(data, run_id, self._head, "signature file")

    @staticmethod
    def _required_key(checks: list[SignatureCheck], pem: str) -> list[SignatureCheck]:
        public = _load_public(pem)
        if public is None:
            return [SignatureCheck("--public-key", problem="not an Ed25519 PEM public key")]
        wanted = key_id(public)
        if any(check.valid and check.key_id == wanted for check in checks):
            return []
        return [SignatureCheck(f"key {wanted}", problem="no valid signature was made with the required public key")]


def verify_signatures(
    events: Iterable[Event], signature_file: dict[str, Any] | None = None, public_key_pem: str | None = None,
) -> list[SignatureCheck]:
    """Check the chain and every signature of one run in a single streaming pass.

    A broken chain is one failed check and ends the pass: no signature vouches for edited evidence.
    """
    chain = ChainChecker()
    checker = SignatureChecker(signature_file, public_key_pem)
    for event in checker.watch(events):
        if broken := chain.check(event):
            return [SignatureCheck("chain", problem=f"broken at event {broken.seq}: {broken.reason}")]
    return checker.results()
