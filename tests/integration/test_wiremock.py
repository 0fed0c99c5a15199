"""WireMock control against the real standalone JAR: process, pack, reset, journal, errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.errors import StubServerError
from harness.events import Recorder, Redactor, SQLiteStore
from harness.stubs import ProcessWireMock, StubSide, WireMockAdmin, load_pack

PROJECT = Path(__file__).resolve().parents[2]
CANARY = "CANARY-wiremock-5d1e"


@pytest.fixture(scope="module")
def wiremock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessWireMock]:
    tmp = tmp_path_factory.mktemp("wiremock")
    server = ProcessWireMock(PROJECT, tmp, tmp / "wiremock.log", Redactor([CANARY]).scrub)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def side(wiremock: ProcessWireMock, tmp_path: Path) -> Iterator[tuple[StubSide, Recorder, list[int]]]:
    sent = [0]
    with SQLiteStore(tmp_path / "events.sqlite") as store:
        recorder = Recorder(store, "run", Redactor())
        stub_side = StubSide(WireMockAdmin(wiremock.base_url), load_pack(PROJECT / "stubs" / "cayenta"), recorder,
                             lambda *request: ("call", {}), traffic=lambda: sent[0])
        stub_side.load()
        yield stub_side, recorder, sent
        stub_side.admin.close()


def balance(base_url: str, account: str, path: str = "/CayentaAPI/XMLRequest") -> str:
    params = f"<Params><ACCOUNT_NO>{account}</ACCOUNT_NO></Params>"
    xml = f"<Request><GetAccountBalance>{params}</GetAccountBalance></Request>"
    return httpx.post(f"{base_url}{path}", data={"XMLREQUEST": xml}, auth=("u", "p")).text


def test_the_jar_runs_on_loopback_and_keeps_no_request_in_its_log(wiremock: ProcessWireMock) -> None:
    assert wiremock.base_url.startswith("http://127.0.0.1:")
    admin = WireMockAdmin(wiremock.base_url)
    assert admin.version().startswith("3.")
    admin.import_mappings(list(load_pack(PROJECT / "stubs" / "cayenta").mappings))
    # Unmatched, near a mapping: WireMock prints a diff table with the body, wrapped over lines.
    balance(wiremock.base_url, f"{CANARY}-{CANARY}-{CANARY}", "/CayentaAPI/XMLRequestX")
    admin.journal()
    log = wiremock.log_path.read_text()
    assert "version:" in log and "[sit-harness] WireMock is up" in log
    assert CANARY not in log and CANARY[:12] not in log
    admin.reset()


def test_the_pack_answers_and_reset_drops_only_what_the_scenario_added(
    side: tuple[StubSide, Recorder, list[int]], wiremock: ProcessWireMock
) -> None:
    stub_side, _, _ = side
    assert "<BALANCE>120.50</BALANCE>" in balance(wiremock.base_url, "100200300")
    assert "<STATUS>-3</STATUS>" in balance(wiremock.base_url, "555")
    stub_side.add({"priority": 1, "request": {"method": "POST", "urlPath": "/CayentaAPI/XMLRequest"},
                   "response": {"status": 200, "body": "arranged"}})
    assert balance(wiremock.base_url, "555") == "arranged"
    stub_side.reset()
    assert "<STATUS>-3</STATUS>" in balance(wiremock.base_url, "555")
    assert "<BALANCE>120.50</BALANCE>" in balance(wiremock.base_url, "100200300")


def test_the_journal_is_read_after_traffic_and_always_when_forced(
    side: tuple[StubSide, Recorder, list[int]], wiremock: ProcessWireMock
) -> None:
    stub_side, _, sent = side
    stub_side.reset()
    balance(wiremock.base_url, "100200300")
    assert stub_side.drain() == []  # the client said it sent nothing: no journal read
    assert len(stub_side.drain(force=True)) == 1
    balance(wiremock.base_url, "100200300")
    sent[0] += 1
    (event,) = stub_side.drain()
    assert event.kind == "partner.exchange" and event.data["stub"] == "GetAccountBalance demo account 100200300"
    assert event.data["request_headers"]["Authorization"] == "***"
    assert stub_side.drain(force=True) == []  # nothing is recorded twice


def write_pack(root: Path, mapping: object, files: dict[str, bytes] | None = None) -> Path:
    (root / "mappings").mkdir(parents=True)
    (root / "__files").mkdir()
    (root / "mappings" / "m.json").write_text(mapping if isinstance(mapping, str) else json.dumps(mapping))
    for name, content in (files or {}).items():
        (root / "__files" / name).write_bytes(content)
    return root


def test_body_files_are_inlined_text_or_base64(tmp_path: Path) -> None:
    mappings = {"mappings": [
        {"request": {"url": "/t"}, "response": {"status": 200, "bodyFileName": "t.xml"}},
        {"request": {"url": "/b"}, "response": {"status": 200, "bodyFileName": "b.pdf"}},
    ]}
    pack = load_pack(write_pack(tmp_path / "p", mappings, {"t.xml": b"<a/>", "b.pdf": b"%PDF\xff\x00"}))
    text, binary = (m["response"] for m in pack.mappings)
    assert text == {"status": 200, "body": "<a/>"}
    assert base64.b64decode(binary["base64Body"]) == b"%PDF\xff\x00"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ('{"request": {"url": "/x"},\n  "response": {"status": 200,}}', r"m.json:2:\d+: broken mapping JSON"),
        ('["not", "a", "mapping"]', r"m.json: not a WireMock mapping"),
        ({"request": {"url": "/x"}, "response": {"bodyFileName": "gone.xml"}}, r"bodyFileName 'gone.xml' is missing"),
    ],
)
def test_a_broken_pack_is_one_line_naming_the_file(tmp_path: Path, mapping: object, message: str) -> None:
    with pytest.raises(StubServerError, match=message) as caught:
        load_pack(write_pack(tmp_path / "p", mapping))
    assert "\n" not in str(caught.value)


def test_a_mapping_wiremock_refuses_is_named_with_its_file(wiremock: ProcessWireMock, tmp_path: Path) -> None:
    pack = load_pack(write_pack(tmp_path / "p", {"request": {"url": "/x", "bodyPatterns": [{"nonsense": 1}]},
                                                   "response": {"status": 200}}))
    with SQLiteStore(tmp_path / "e.sqlite") as store:
        recorder = Recorder(store, "r", Redactor())
        stub_side = StubSide(WireMockAdmin(wiremock.base_url), pack, recorder, lambda *a: ("", {}))
        with pytest.raises(StubServerError, match=r"m.json: WireMock refused mapping"):
            stub_side.load()


def test_a_jar_that_is_not_wiremock_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bogus = tmp_path / "wiremock.jar"
    bogus.write_text("not a jar")
    monkeypatch.setenv("SIT_WIREMOCK_JAR", str(bogus))
    server = ProcessWireMock(PROJECT, tmp_path, tmp_path / "wm.log", lambda line: line)
    with pytest.raises(StubServerError, match=r"WireMock exited while starting \(.*jar.*\); see") as caught:
        server.start()
    assert "\n" not in str(caught.value)


def test_without_a_traffic_count_the_journal_is_read_every_time(wiremock: ProcessWireMock, tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "e.sqlite") as store:
        stub_side = StubSide(WireMockAdmin(wiremock.base_url), load_pack(PROJECT / "stubs" / "cayenta"),
                             Recorder(store, "r", Redactor()), lambda *request: ("call", {}))
        stub_side.load()
        for _ in range(3):  # a platform the harness does not drive: every drain must look
            balance(wiremock.base_url, "100200300")
            assert len(stub_side.drain()) == 1
        stub_side.reset()
        assert stub_side.drain() == []  # the journal was emptied by the reset
        stub_side.admin.close()

