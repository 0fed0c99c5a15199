"""Partner callbacks in a real `sit run`: the platform's callback server on loopback, played by
a real HTTP client, with canary API keys from the environment that must appear nowhere the run
wrote (store, console, logs) while the scenarios that used them pass."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from runs import Run, explain, sit, sit_run

from harness.events import MASK, SQLiteStore

LIVE, RETIRED = "CANARY-bk-live-6c1d", "CANARY-bk-old-2f9e"
CANARIES = {"SIT_NEWPORT_API_KEY": LIVE, "SIT_NEWPORT_RETIRED_API_KEY": RETIRED}
CALLBACKS = ("SIT-CB-001", "SIT-CB-002", "SIT-CB-003", "SIT-CB-004", "SIT-CB-005")
SELECT = ("-k", "callback")


def _leaks(data: bytes) -> list[str]:
    forms = {form.encode(): key for key in CANARIES.values() for form in (key, quote(key, safe=""), quote_plus(key))}
    found = {key for form, key in forms.items() if form in data}
    if b"canary" in data.lower():  # a piece of a key, in any case, is a leak too
        found.add("canary")
    return sorted(found)


@pytest.fixture(scope="module")
def newport(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("callbacks")
    tmpdir = root / "tmpdir"  # the harness's scratch dirs land under root, so they are searched too
    tmpdir.mkdir()
    return sit_run(root / "events.sqlite", "newport-or", *SELECT, extra_env=CANARIES | {"TMPDIR": str(tmpdir)})


def test_the_callback_scenarios_pass_with_the_canary_keys(newport: Run) -> None:
    assert newport.statuses() == dict.fromkeys(CALLBACKS, "passed")
    assert not {"SIT_NEWPORT_API_KEY", "SIT_NEWPORT_RETIRED_API_KEY"} & set(newport.started()["demo_secrets"])


def test_the_refused_attempts_are_logged_with_the_key_masked(newport: Run) -> None:
    refused = {sit_id: [e.data for e in newport.scenario(sit_id) if e.kind == "platform.callback_refused"]
               for sit_id in CALLBACKS}
    assert refused["SIT-CB-001"] == []
    assert [d["reason"] for d in refused["SIT-CB-003"]] == ["inactive API key"]
    assert [d["url"] for d in refused["SIT-CB-002"] + refused["SIT-CB-003"]] == [f"/callbacks/caselle?BK={MASK}"] * 2
    received = [e.data for e in newport.scenario("SIT-CB-001") if e.kind == "platform.callback_received"]
    assert [d["url"] for d in received] == [f"/callbacks/caselle?BK={MASK}"]


def test_a_refused_callback_reaches_nothing(newport: Run) -> None:
    for sit_id in ("SIT-CB-002", "SIT-CB-003", "SIT-CB-004"):
        assert newport.exchanges(sit_id) == []
        assert {kind for kind in newport.kinds()[sit_id] if kind.startswith("platform.")} == {
            "platform.callback_refused"}


def test_no_key_in_events_console_or_files(newport: Run) -> None:
    events = json.dumps([e.to_dict() for e in newport.events]).encode()
    assert b"callback_refused" in events  # not vacuous
    assert _leaks(events) == []
    assert _leaks((newport.result.stdout + newport.result.stderr).encode()) == []
    files = sorted(p for p in newport.root.rglob("*") if p.is_file())
    names = {p.relative_to(newport.root).as_posix() for p in files}
    assert f"logs/wiremock-{newport.run_id}.log" in names
    assert {name: bad for path in files if (bad := _leaks(path.read_bytes()))
            for name in [path.relative_to(newport.root).as_posix()]} == {}


def test_the_keys_are_found_without_redaction(newport: Run, tmp_path: Path) -> None:
    """The search above can find a key: a file holding one is caught."""
    leaked = tmp_path / "leak.txt"
    leaked.write_text(f"POST /callbacks/caselle?BK={quote_plus(RETIRED)}")
    assert _leaks(leaked.read_bytes()) == [RETIRED, "canary"]


def test_a_partner_without_callbacks_has_no_callback_cases(tmp_path: Path) -> None:
    """The callback scenarios are Caselle's (@partner:caselle): not N/A rows of a Cayenta biller's workbook."""
    store = tmp_path / "events.sqlite"
    result = sit("run", "--biller", "clayton-county-water", "--store", str(store), "--no-report", *SELECT)
    assert result.returncode == 2 and "no scenario matches -k 'callback'" in result.stderr, explain(result)
    with SQLiteStore(store) as events:
        assert events.run_ids() == []
