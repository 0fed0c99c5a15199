"""The contract every partner side meets, wherever WireMock runs and whatever stands for the partner.

One scenario that reaches the partner (SIT-PAY-001, a card payment posted) runs through the real
`sit run` on each WireMock backend (process, container, external) and in each partner mode (stub,
record, live: the last two against an independent HTTPS partner). Every combination must record the
same evidence: the run's facts say what stood for the partner, and the partner's one posting is a
``partner.exchange`` event of the same shape, decoded the same way, for the scenario's account.

To cover a new backend or mode, add it to SIDES.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from harness.stubs import ProcessWireMock
from tests.e2e.runs import BILLER, PROJECT, Run, docker_engine, sit_run
from tests.support.live_partners.fixtures import demo_credentials, start_partner

CARD_PAYMENT = "card_payment_posts"  # -k: SIT-PAY-001
# Every key of a partner.exchange event, in every mode: the evidence a report reads.
EXCHANGE_KEYS = {"journal_id", "call", "fields", "method", "url", "request_headers", "request_body", "status",
                 "response_headers", "response_body", "matched", "stub", "fault", "timing_ms", "logged_at"}
CREDENTIALS = {name: value.replace("demo-", "issued-") for name, value in demo_credentials("cayenta").items()}


@dataclass(frozen=True)
class Side:
    backend: str | None  # where WireMock runs; None: no WireMock (a live partner is called directly)
    mode: str


SIDES = {
    "process-stub": Side("process", "stub"),
    "container-stub": Side("container", "stub"),
    "external-stub": Side("external", "stub"),
    "process-record": Side("process", "record"),
    "external-record": Side("external", "record"),
    "live": Side(None, "live"),
}


@pytest.fixture(scope="module", params=list(SIDES))
def side(request: pytest.FixtureRequest) -> Side:
    return SIDES[str(request.param)]


@pytest.fixture(scope="module")
def run(side: Side, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """SIT-PAY-001 on ``side``, with what it needs started for it (an external WireMock, a live partner):
    once per side, for every clause of the contract."""
    tmp_path = tmp_path_factory.mktemp("side")
    if side.backend == "container":
        docker_engine()  # skipped, with the reason, where no engine answers
    options = ["-k", CARD_PAYMENT, *([f"--stub-backend={side.backend}"] if side.backend else [])]
    with ExitStack() as started:
        if side.backend == "external":
            wiremock = ProcessWireMock(PROJECT, tmp_path / "wm", tmp_path / "wm.log", scrub=lambda line: line)
            started.enter_context(wiremock)
            options.append(f"--wiremock-url={wiremock.base_url}")
        if side.mode != "stub":
            live = started.enter_context(start_partner("cayenta", tmp_path / "partner", credentials=CREDENTIALS))
            options += [f"--partner-mode={side.mode}", f"--partner-url={live.base_url}", f"--partner-ca={live.ca}"]
        yield sit_run(tmp_path / "events.sqlite", BILLER, *options, extra_env=CREDENTIALS, timeout=600)


def test_the_run_says_what_stood_for_the_partner(side: Side, run: Run) -> None:
    facts = run.started()
    assert facts["partner_mode"] == side.mode
    assert facts["stub_backend"] == side.backend
    if side.mode == "stub":
        assert facts["stub_pack"]["path"] == "stubs/cayenta" and len(facts["stub_pack"]["sha256"]) == 64
    else:
        assert facts["partner_url"].startswith("https://127.0.0.1:")
        assert len(facts["partner_certificate"]["sha256"]) == 64


def test_the_partners_one_posting_is_the_same_evidence_on_every_side(side: Side, run: Run) -> None:
    assert run.statuses() == {"SIT-PAY-001": "passed"}
    exchanges = run.exchanges("SIT-PAY-001")
    assert all(set(x) == EXCHANGE_KEYS for x in exchanges)
    (payment,) = [x for x in exchanges if x["fields"].get("role") == "payment"]
    (made,) = [e.data for e in run.scenario("SIT-PAY-001") if e.kind == "platform.tx_created"]
    assert (payment["call"], payment["method"], payment["url"], payment["status"]) == (
        "AddARItem", "POST", "/CayentaAPI/XMLRequest", 200)
    assert (payment["fields"]["account"], payment["fields"]["reference"]) == (made["account"], made["key"])
    assert (payment["fields"]["amount"], payment["fields"]["method"]) == ("45.10", "CC")
    assert payment["matched"] and payment["fault"] is None
    assert "<STATUS>0</STATUS>" in payment["response_body"]
    assert "***" in str(payment["request_headers"]), "the credentials are masked"
