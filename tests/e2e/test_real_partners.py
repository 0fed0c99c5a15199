"""The workbook against a real partner: live, recorded through WireMock, and replayed from the recording.

The partners are the independent HTTPS servers of ``tests/support/live_partners`` (their own books,
their own CA, credentials of their own), started fresh for each test: a run posts to them, and their
balances move. Each test runs the real `sit` in a child process and asserts on the run's events.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from runs import Run, explain, sit, sit_run

from tests.support.live_partners.fixtures import LivePartner, demo_credentials, start_partner

BILLERS = {"cayenta": "clayton-county-water", "caselle": "newport-or"}
# What a live partner cannot be made to do, as the Not run reason says it.
TIMEOUT_NEED = "needs a partner timeout on its payment call, which a live partner cannot be made to produce"


def credentials(partner: str) -> dict[str, str]:
    """The credentials this partner issued: not the harness's demo values, which only open the stubs."""
    return {name: value.replace("demo-", "issued-") for name, value in demo_credentials(partner).items()}


@pytest.fixture(params=sorted(BILLERS))
def partner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, LivePartner]]:
    name = str(request.param)
    with start_partner(name, tmp_path / "partner", credentials=credentials(name)) as live:
        yield name, live


def real_run(store: Path, name: str, live: LivePartner, mode: str, *options: str, expect: int = 0) -> Run:
    return sit_run(store, BILLERS[name], "--partner-mode", mode, "--partner-url", live.base_url,
                   "--partner-ca", str(live.ca), *options, extra_env=credentials(name), expect=expect)


def exported(folder: Path, *runs: Run) -> list[str]:
    """The runs as JSONL files (`sit diff` compares runs of different stores that way)."""
    paths = []
    for run in runs:
        paths.append(str(folder / f"{run.run_id}.jsonl"))
        assert sit("export", run.run_id, "-o", paths[-1], "--store", str(run.store)).returncode == 0
    return paths


def test_a_live_run_runs_what_a_real_partner_allows_and_says_why_the_rest_did_not_run(
        partner: tuple[str, LivePartner], tmp_path: Path) -> None:
    name, live = partner
    run = real_run(tmp_path / "events.sqlite", name, live, "live")
    facts = run.started()
    assert (facts["partner_mode"], facts["partner_url"], facts["stub_backend"]) == ("live", live.base_url, None)
    served = ssl.get_server_certificate(("127.0.0.1", int(live.base_url.rsplit(":", 1)[1])))
    assert facts["partner_certificate"]["sha256"] == hashlib.sha256(ssl.PEM_cert_to_DER_cert(served)).hexdigest()
    assert facts["partner_ca"]["sha256"] == hashlib.sha256(live.ca.read_bytes()).hexdigest()

    statuses = run.statuses()
    assert "failed" not in statuses.values(), explain(run.result)
    assert statuses["SIT-PAY-001"] == "passed"
    assert run.finished("SIT-PAY-005") == {**run.finished("SIT-PAY-005"), "status": "not_run", "reason": TIMEOUT_NEED}
    # A payment reached the real partner, on the test account that stood for the scenario's account.
    (stood,) = [e.data for e in run.scenario("SIT-PAY-001") if e.kind == "partner.test_account"]
    payments = [x for x in run.exchanges("SIT-PAY-001") if x["fields"].get("role") == "payment"]
    assert [p["fields"]["account"] for p in payments] == [stood["account"]]
    assert payments[0]["status"] == 200 and payments[0]["matched"] and payments[0]["stub"] is None
    assert "NOT RUN SIT-PAY-005: needs a partner timeout" in run.result.stdout
    # The partner was asked with the credentials it issued, which the log never shows.
    log = "".join(str(e.data) for e in run.events)
    assert not any(value in log for value in credentials(name).values())


def test_a_recorded_run_replays_from_its_stub_pack_and_sit_diff_finds_nothing_beyond_volatile_fields(
        partner: tuple[str, LivePartner], tmp_path: Path) -> None:
    name, live = partner
    recorded = real_run(tmp_path / "recorded.sqlite", name, live, "record")
    assert recorded.started()["partner_mode"] == "record"
    assert recorded.statuses()["SIT-PAY-001"] == "passed"
    exchanges = recorded.exchanges()
    assert exchanges and all(x["stub"] == f"proxy to {live.base_url}" for x in exchanges)  # through WireMock

    store = tmp_path / "recorded.sqlite"
    pack = tmp_path / "pack"
    written = sit("stubs", "record", recorded.run_id, "-o", str(pack), "--store", str(store), timeout=120)
    assert written.returncode == 0, explain(written)
    replayed = sit_run(tmp_path / "replayed.sqlite", BILLERS[name], "--stub-pack", str(pack))
    assert replayed.statuses() == recorded.statuses()
    assert replayed.started()["stub_pack"]["recorded_from"] == recorded.run_id

    diff = sit("diff", *exported(tmp_path, recorded, replayed))
    assert diff.returncode == 0, explain(diff)
    assert "no differences" in diff.stdout


def test_sit_diff_shows_the_one_field_a_drifted_partner_answers_differently(tmp_path: Path) -> None:
    runs = []
    for drift in (False, True):
        with start_partner("cayenta", tmp_path / f"partner-{drift}", drift=drift,
                           credentials=credentials("cayenta")) as live:
            runs.append(real_run(tmp_path / f"{drift}.sqlite", "cayenta", live, "live"))
    diff = sit("diff", *exported(tmp_path, *runs))
    assert diff.returncode == 1, explain(diff)
    changed = [line.strip() for line in diff.stdout.splitlines() if "->" in line]
    assert changed, diff.stdout
    assert all(line.startswith("response Reply/GetAccountBalance/Params/BALANCE:") for line in changed), changed
    assert "response Reply/GetAccountBalance/Params/BALANCE: '182.40' -> '182.4'" in changed


def test_a_partner_whose_certificate_is_not_trusted_is_one_line_and_no_run(tmp_path: Path) -> None:
    with start_partner("cayenta", tmp_path / "partner", credentials=credentials("cayenta")) as live:
        result = sit("run", "--biller", BILLERS["cayenta"], "--store", str(tmp_path / "events.sqlite"),
                     "--no-report", "--partner-mode", "live", "--partner-url", live.base_url,
                     extra_env=credentials("cayenta"))
    assert result.returncode == 2, explain(result)
    assert result.stderr.splitlines() == [
        f"sit: --partner-url {live.base_url}: the partner's certificate is not trusted "
        "(unable to get local issuer certificate); give its CA or its certificate with --partner-ca FILE"]
    assert not (tmp_path / "events.sqlite").exists(), "nothing is recorded"


def test_a_live_run_with_the_demo_credentials_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = sit("run", "--biller", BILLERS["cayenta"], "--store", str(tmp_path / "events.sqlite"), "--no-report",
                 "--partner-mode", "live", "--partner-url", "https://127.0.0.1:9")
    assert result.returncode == 2, explain(result)
    assert result.stderr.splitlines() == [
        "sit: --partner-mode live: SIT_CAYENTA_API_USER is not set; a live partner needs the credentials it issued "
        "for its test endpoint (export SIT_CAYENTA_API_USER and SIT_CAYENTA_API_PASSWORD)"]


@pytest.mark.parametrize(("options", "line"), [
    (("--partner-mode", "live", "--partner-url", "https://127.0.0.1:9", "--stub-pack", "stubs/cayenta"),
     "sit: --stub-pack serves a pack in stub mode; --partner-mode live calls the partner itself: "
     "leave one of them out"),
    (("--partner-mode", "live", "--partner-url", "https://127.0.0.1:9", "--stub-backend", "container"),
     "sit: --stub-backend container: a live run calls the partner directly, with no WireMock to place; use "
     "--partner-mode record to go through WireMock"),
    (("--partner-mode", "record"), "sit: --partner-mode record needs --partner-url, the partner's test endpoint "
                                   "(https://HOST[:PORT]); got none"),
    (("--partner-mode", "live", "--partner-url", "https://127.0.0.1:9", "--partner-ca", "no-such-ca.pem"),
     "sit: --partner-ca no-such-ca.pem: no such file; give the partner's CA certificate in PEM"),
])
def test_options_that_do_not_go_together_are_one_line_before_anything_starts(
        options: tuple[str, ...], line: str, tmp_path: Path) -> None:
    result = sit("run", "--biller", BILLERS["cayenta"], "--store", str(tmp_path / "events.sqlite"), "--no-report",
                 *options, extra_env=credentials("cayenta"))
    assert (result.returncode, result.stderr.splitlines()) == (2, [line]), explain(result)
    assert not (tmp_path / "events.sqlite").exists()


def test_the_partners_own_certificate_pinned_is_trusted_as_its_ca_is(tmp_path: Path) -> None:
    with start_partner("cayenta", tmp_path / "partner", credentials=credentials("cayenta")) as live:
        pinned = live.ca.parent / "server.pem"
        run = sit_run(tmp_path / "events.sqlite", BILLERS["cayenta"], "-k", "SIT-PAY-001", "--partner-mode", "live",
                      "--partner-url", live.base_url, "--partner-ca", str(pinned), extra_env=credentials("cayenta"))
    assert run.statuses() == {"SIT-PAY-001": "passed"}
    assert run.started()["partner_ca"]["sha256"] == hashlib.sha256(pinned.read_bytes()).hexdigest()
