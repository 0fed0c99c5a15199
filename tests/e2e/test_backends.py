"""Where WireMock runs: an external server the harness does not own, a container, and the
misuse of `--stub-backend external` without a URL.

Each test runs the real `sit` command in a subprocess, against a real WireMock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runs import BILLER, PROJECT, explain, sit, sit_run

from harness.stubs import ProcessWireMock, WireMockAdmin

CARD_PAYMENT = "card_payment_posts"  # -k: only test_a_card_payment_posts_to_the_partner (SIT-PAY-001)


@pytest.fixture
def external_wiremock(tmp_path: Path) -> Iterator[str]:
    """A WireMock this test owns: the harness only borrows it."""
    server = ProcessWireMock(PROJECT, tmp_path / "wm-work", tmp_path / "wm.log", scrub=lambda s: s)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


def test_external_backend_uses_the_given_server_and_leaves_it_running(external_wiremock: str, tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    run = sit_run(store, BILLER, "--stub-backend", "external", "--wiremock-url", external_wiremock, "-k", CARD_PAYMENT)

    assert run.started()["stub_backend"] == "external"
    assert run.finished("SIT-PAY-001")["status"] == "passed"
    exchanges = run.exchanges("SIT-PAY-001")
    assert [x["call"] for x in exchanges] == ["AddARItem"]

    # The server is still up (the harness must not stop a server it does not own), and its
    # journal holds exactly the requests the store recorded for the run's last scenario
    # (the harness resets the journal when a scenario opens, not when it ends).
    admin = WireMockAdmin(external_wiremock)
    try:
        assert admin.version()
        journal = admin.journal()
    finally:
        admin.close()
    assert {entry["id"] for entry in journal} == {x["journal_id"] for x in exchanges}
    (entry,) = journal
    assert entry["request"]["url"] == "/CayentaAPI/XMLRequest"
    assert "AddARItem" in entry["request"]["body"]
    # ...and no log of it was written where a process backend would have put one.
    assert not (tmp_path / "logs").exists()


@pytest.mark.docker
def test_container_backend(tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    try:
        docker.from_env().ping()
    except Exception as exc:  # docker-py raises several kinds when no engine answers
        pytest.skip(f"no Docker engine answers: {str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__}")
    store = tmp_path / "events.sqlite"
    run = sit_run(store, BILLER, "--stub-backend", "container", "-k", CARD_PAYMENT, timeout=600)
    assert run.started()["stub_backend"] == "container"
    assert run.finished("SIT-PAY-001")["status"] == "passed"
    calls = [x["call"] for x in run.exchanges("SIT-PAY-001")]
    assert calls == ["AddARItem"]


def test_external_backend_without_url_is_one_line_exit_2(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    result = sit("run", "--biller", BILLER, "--store", str(store), "--no-report", "--stub-backend", "external",
                 timeout=60)
    assert result.returncode == 2, explain(result)
    assert result.stderr.splitlines() == ["sit: --stub-backend external needs --wiremock-url URL"]
    assert result.stdout == ""
    assert not store.exists()
