"""The reference platform's callback endpoint over real HTTP on loopback, with the real event store.

Keys are checked against the biller's active keys (an inactive key is refused like an unknown
one, with its own reason in the log); a refused call reaches nothing but the log; the key is
masked in every event; and a step that holds the store's batch while it waits on the call
does not deadlock with the server thread that records the callback.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from harness.events import MASK, Recorder, Redactor, SQLiteStore
from harness.partners import AccountNotFound, PartnerClient, Posting, PostResult
from harness.platform.reference import ReferenceEngine
from harness.platform.reference.callback import ApiKeys, CallbackServer, account_of
from harness.profiles import Biller, load_biller

PROJECT = Path(__file__).resolve().parents[2]
ACTIVE, RETIRED, UNKNOWN = "live-key-CANARY-3b7e", "old-key-CANARY-8d21", "never-issued-CANARY-55a0"
PATH = "/callbacks/caselle"
ACCOUNT = "100200300"


class FakeCaselle(PartnerClient):
    """Answers RTDR for ACCOUNT only; counts the balance calls the platform made."""

    def __init__(self, biller: Biller) -> None:
        super().__init__(biller.partner, "http://unused", "u", "s", 1.0)
        self.asked: list[str] = []

    def balance(self, account: str) -> dict[str, str]:
        self.asked.append(account)
        if account != ACCOUNT:
            raise AccountNotFound(f"no account {account}")
        return {"balance": "64.20", "pastDue": "0.00", "paymentRestriction": ""}

    def post(self, posting: Posting) -> PostResult:
        raise AssertionError("a callback posts nothing")

    def statement_pdf(self, account: str, invoice_number: str) -> bytes:
        raise AssertionError("a callback fetches no image")

    def close(self) -> None:
        """Nothing to release."""


@pytest.fixture(scope="module")
def newport() -> Biller:
    return load_biller(PROJECT, "newport-or")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "events.sqlite") as opened:
        yield opened


@pytest.fixture
def recorder(store: SQLiteStore) -> Recorder:
    # As the session does: the biller's key values are known secrets (the unknown key is not).
    return Recorder(store, "run", Redactor([ACTIVE, RETIRED]))


@pytest.fixture
def partner(newport: Biller) -> FakeCaselle:
    return FakeCaselle(newport)


@pytest.fixture
def current(newport: Biller, partner: FakeCaselle, recorder: Recorder) -> dict[str, ReferenceEngine | None]:
    """The open scenario's platform, as the session holds it (set to None: between scenarios)."""
    engine = ReferenceEngine(newport, partner, recorder, Path("/nonexistent"), key_prefix="T-", today=date(2026, 11, 1))
    return {"platform": engine}


@pytest.fixture
def server(current: dict[str, ReferenceEngine | None]) -> Iterator[CallbackServer]:
    started = CallbackServer(PATH, ApiKeys(active=(ACTIVE,), inactive=(RETIRED,)), lambda: current["platform"])
    started.start()
    yield started
    started.stop()


def call(server: CallbackServer, key: str | None, account: str = ACCOUNT) -> httpx.Response:
    body = {"event": "account.updated", "accountNumber": account}
    return httpx.post(server.url(key), json=body, timeout=5)


def stored(store: SQLiteStore) -> list[tuple[str, dict[str, object]]]:
    return [(e.kind, e.data) for e in store.events("run")]


def test_an_active_key_is_accepted_and_the_account_refreshed(server: CallbackServer, store: SQLiteStore,
                                                             partner: FakeCaselle) -> None:
    response = call(server, ACTIVE)
    assert (response.status_code, response.json()) == (200, {"status": "accepted"})
    assert partner.asked == [ACCOUNT]
    events = stored(store)
    assert [kind for kind, _ in events] == ["platform.callback_received", "platform.balance_observed"]
    assert events[0][1] == {"url": f"{PATH}?BK={MASK}", "event": "account.updated", "account": ACCOUNT}
    assert events[1][1]["balance"] == "64.20"


@pytest.mark.parametrize(("key", "reason", "url"), [
    (UNKNOWN, "unknown API key", f"{PATH}?BK={MASK}"), (RETIRED, "inactive API key", f"{PATH}?BK={MASK}"),
    (None, "no API key", PATH), ("", "no API key", f"{PATH}?BK="),
])
def test_a_bad_key_gets_401_and_nothing_is_processed(server: CallbackServer, store: SQLiteStore, partner: FakeCaselle,
                                                     key: str | None, reason: str, url: str) -> None:
    response = call(server, key)
    # The answer does not say which key fault it was; the log does.
    assert (response.status_code, response.json()) == (401, {"error": "unauthorized"})
    assert partner.asked == []
    assert stored(store) == [("platform.callback_refused", {"url": url, "reason": reason})]


def test_the_key_is_never_stored_in_any_form(server: CallbackServer, store: SQLiteStore, tmp_path: Path) -> None:
    for key in (ACTIVE, RETIRED, UNKNOWN):
        call(server, key)
    store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("events.sqlite*"))
    assert b"callback_refused" in data  # the search below is not vacuous
    assert b"CANARY" not in data


def test_two_bk_parameters_are_refused(server: CallbackServer, store: SQLiteStore) -> None:
    response = httpx.post(f"{server.url(ACTIVE)}&BK={UNKNOWN}", json={}, timeout=5)
    assert response.status_code == 401
    assert [d["reason"] for _, d in stored(store)] == ["more than one API key"]


def test_no_scenario_open_is_503_and_nothing_recorded(server: CallbackServer, store: SQLiteStore,
                                                      current: dict[str, ReferenceEngine | None]) -> None:
    current["platform"] = None
    assert call(server, ACTIVE).status_code == 503
    assert call(server, UNKNOWN).status_code == 503
    assert stored(store) == []


def test_a_bad_body_is_400_and_recorded(server: CallbackServer, store: SQLiteStore, partner: FakeCaselle) -> None:
    response = httpx.post(server.url(ACTIVE), content=b"not json", timeout=5)
    assert response.status_code == 400
    assert partner.asked == []
    assert stored(store) == [("platform.callback_refused",
                              {"url": f"{PATH}?BK={MASK}", "reason": "bad request: the body is not JSON"})]


def test_an_account_the_partner_does_not_hold_is_404(server: CallbackServer) -> None:
    assert call(server, ACTIVE, account="999").status_code == 404


def test_other_paths_and_methods(server: CallbackServer, store: SQLiteStore) -> None:
    base = server.url(None).removesuffix(PATH)
    assert httpx.post(f"{base}/elsewhere?BK={ACTIVE}", json={}, timeout=5).status_code == 404
    assert httpx.get(server.url(ACTIVE), timeout=5).status_code == 405
    assert stored(store) == []


def test_the_server_writes_nothing_to_the_console(server: CallbackServer, capfd: pytest.CaptureFixture[str]) -> None:
    """http.server logs each request line (BK included) to stderr unless told not to."""
    call(server, UNKNOWN)
    call(server, ACTIVE)
    out, err = capfd.readouterr()
    assert "CANARY" not in out + err
    assert "POST" not in err


def test_a_step_holding_the_batch_does_not_deadlock(server: CallbackServer, store: SQLiteStore,
                                                    recorder: Recorder, tmp_path: Path) -> None:
    """As the plugin runs a step: its batch is open while it waits on the callback, whose events the
    server thread appends; they join the step's batch, in order, and are committed with it."""
    with recorder.batch():
        recorder.append("step.started")
        response = call(server, ACTIVE)  # a deadlock would end in a ReadTimeout here
        reader = sqlite3.connect(tmp_path / "events.sqlite")  # another reader sees nothing yet
        assert reader.execute("SELECT count(*) FROM events").fetchone() == (0,)
        reader.close()
        recorder.append("step.finished")
    assert response.status_code == 200
    kinds = ["step.started", "platform.callback_received", "platform.balance_observed", "step.finished"]
    assert [kind for kind, _ in stored(store)] == kinds
    assert [e.kind for e in recorder.scope_events()] == kinds  # the scope keeps the sequence order


def test_another_threads_append_joins_an_open_batch(store: SQLiteStore) -> None:
    """The store itself: a plain append from another thread neither waits for the batch nor breaks it."""
    done = threading.Event()
    with store.batch():
        store.append("run", "first", {})
        worker = threading.Thread(target=lambda: (store.append("run", "from-thread", {}), done.set()))
        worker.start()
        assert done.wait(5), "the other thread's append waited for the batch"
        store.append("run", "last", {})
    worker.join()
    events = list(store.events("run"))
    assert [(e.seq, e.kind) for e in events] == [(1, "first"), (2, "from-thread"), (3, "last")]
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]


def test_api_keys() -> None:
    keys = ApiKeys(active=("a-key", "b-key"), inactive=("c-key",))
    assert [keys.refusal(k) for k in ("a-key", "b-key", "c-key", "d-key", "", None)] == [
        None, None, "inactive API key", "unknown API key", "no API key", "no API key"]


@pytest.mark.parametrize(("body", "error"), [
    (b"{", "the body is not JSON"), (b"[]", "the body is not an 'account.updated' event"),
    (json.dumps({"event": "account.deleted", "accountNumber": "1"}).encode(), "not an 'account.updated'"),
    (json.dumps({"event": "account.updated"}).encode(), "names no accountNumber"),
])
def test_account_of_says_what_is_wrong(body: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        account_of(body)
