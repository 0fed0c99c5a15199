"""Secrets never reach the event log: each masking rule, and a canary that must vanish."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from harness.events import MASK, Recorder, Redactor, SQLiteStore
from harness.events.redact import SENSITIVE_NAMES, TRIGGERS

CANARY = "Can4ry/s3cret+value&x=1"


def test_every_sensitive_name_contains_a_trigger() -> None:
    # scrub() skips text with no trigger, so a name without one would never be masked.
    for name in SENSITIVE_NAMES:
        assert any(trigger in name for trigger in TRIGGERS), name


@pytest.mark.parametrize(
    "key", ["Authorization", "PROXY-AUTHORIZATION", "cookie", "Set-Cookie", "x-api-key", "Api_Key", "BK",
            "Password", "pwd", "client_secret", "ClientSecret", "client-id", "access_token", "WebServiceKey"],
)  # fmt: skip
def test_sensitive_keys_are_masked_whatever_their_case(key: str) -> None:
    assert Redactor().redact({"outer": {key: "value-1"}, "plain": "value-1"}) == {
        "outer": {key: MASK},
        "plain": "value-1",
    }


def test_empty_sensitive_values_are_kept_and_input_is_not_changed() -> None:
    data = {"token": "", "password": None, "cookie": [], "headers": ("a", "b")}
    assert Redactor().redact(data) == data
    original = {"inner": {"Password": "p4ss"}}
    assert Redactor().redact(original) == {"inner": {"Password": MASK}}
    assert original == {"inner": {"Password": "p4ss"}}


def test_known_secret_and_its_url_encoded_forms() -> None:
    redactor = Redactor([CANARY])
    text = f"raw {CANARY} quoted {quote(CANARY, safe='')} plus {quote_plus(CANARY)}"
    assert redactor.scrub(text) == f"raw {MASK} quoted {MASK} plus {MASK}"


def test_short_secrets_are_ignored() -> None:
    redactor = Redactor(["abc"])
    redactor.add_secret("xy")
    assert redactor.scrub("abc xy") == "abc xy"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/bills?account=7&BK=k3y-1&x=2", f"/bills?account=7&BK={MASK}&x=2"),
        ("api_key=abc#frag", f"api_key={MASK}#frag"),
        ("grant=x&CLIENT_SECRET=abc def", f"grant=x&CLIENT_SECRET={MASK} def"),
        ('<a href="/x?password=abc">', f'<a href="/x?password={MASK}">'),
        ("token=abc<br>", f"token={MASK}<br>"),
        ("pagetoken=abc&page=2", "pagetoken=abc&page=2"),  # only whole parameter names
    ],
)
def test_sensitive_query_and_form_parameters(text: str, expected: str) -> None:
    assert Redactor().scrub(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<PASSWORD>hunter2</PASSWORD>", f"<PASSWORD>{MASK}</PASSWORD>"),
        ('<ns:ClientSecret id="1">abc</ns:ClientSecret>', f'<ns:ClientSecret id="1">{MASK}</ns:ClientSecret>'),
        ("<bk><![CDATA[a<b]]></bk>", f"<bk>{MASK}</bk>"),
        ("<Account>123</Account>", "<Account>123</Account>"),
        ("<Password></Password>", "<Password></Password>"),
    ],
)
def test_sensitive_xml_elements(text: str, expected: str) -> None:
    assert Redactor().scrub(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic dXNlcjpwYXNz\r\nHost: x", f"Authorization: Basic {MASK}\r\nHost: x"),
        ("authorization: bearer eyJ.abc.def", f"authorization: bearer {MASK}"),
        ("{'Proxy-Authorization': 'Bearer abc'}", f"{{'Proxy-Authorization': 'Bearer {MASK}'}}"),
        ("Basic setup, no credentials", "Basic setup, no credentials"),
    ],
)
def test_authorization_credentials_in_free_text(text: str, expected: str) -> None:
    assert Redactor().scrub(text) == expected


def test_canary_appears_nowhere_after_redact() -> None:
    redactor = Redactor()
    redactor.add_secret(CANARY)
    data = {
        "request": {
            "url": f"https://p.example/api?BK={quote_plus(CANARY)}&n=1",
            "headers": {"X-Custom": f"prefix {CANARY}", "Authorization": f"Bearer {CANARY}"},
            "body": f"<Req><Note>{CANARY}</Note><WebServiceKey>{CANARY}</WebServiceKey></Req>",
        },
        "log": [f"sent {quote(CANARY, safe='')}", (CANARY, 3)],
        CANARY: "as a key",
    }
    out = json.dumps(redactor.redact(data))
    for form in (CANARY, quote(CANARY, safe=""), quote_plus(CANARY), "Can4ry"):
        assert form not in out


def test_recorder_stores_redacted_data_and_tracks_its_scope(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "events.db") as store:
        recorder = Recorder(store, "run-1", Redactor([CANARY]))
        recorder.append("run.started", profile="p")
        recorder.open_scope()
        sent = recorder.append(
            "partner.request", kind="soap", url=f"/x?token={CANARY}", headers={"Cookie": "s=1"}, note=CANARY
        )
        recorder.append("partner.response", status=200)

        stored = list(store.events("run-1"))
        assert stored[1] == sent
        assert stored[1].data == {"kind": "soap", "url": f"/x?token={MASK}", "headers": {"Cookie": MASK},
                                  "note": MASK}  # fmt: skip
        assert CANARY not in json.dumps([e.data for e in stored])
        assert [e.kind for e in recorder.scope_events()] == ["partner.request", "partner.response"]
        assert recorder.scope_events("partner.response") == [stored[2]]
        assert (recorder.run_id, recorder.store) == ("run-1", store)


def test_a_secret_added_later_is_masked_in_strings_seen_before() -> None:
    """Scrubbed strings are cached; adding a secret must not leave a stale, unmasked result."""
    redactor = Redactor()
    assert redactor.scrub("token-value-9f2") == "token-value-9f2"
    redactor.add_secret("value-9f2")
    assert redactor.scrub("token-value-9f2") == f"token-{MASK}"
