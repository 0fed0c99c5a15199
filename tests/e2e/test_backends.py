"""Where WireMock runs: an external server the harness does not own, a container, and the
misuse of `--stub-backend external` without a URL.

Each test runs the real `sit` command in a subprocess, against a real WireMock.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from runs import BILLER, PROJECT, docker_engine, docker_unavailable, explain, sit, sit_run, stored_run

from harness.events import SQLiteStore
from harness.stubs import ProcessWireMock, WireMockAdmin
from harness.stubs.server import WIREMOCK_IMAGE

DemoRun = tuple[str, Path, subprocess.CompletedProcess[str]]  # tests/conftest.py demo_run
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




def _container_run(store: Path, *options: str, **env: str) -> subprocess.CompletedProcess[str]:
    return sit("run", "--biller", BILLER, "--store", str(store), "--no-report", "--stub-backend", "container",
               *options, timeout=600, extra_env=env)


def _run_ids(store: Path) -> list[str]:
    if not store.exists():
        return []
    with SQLiteStore(store) as events:
        return events.run_ids()


def _image_unavailable(result: subprocess.CompletedProcess[str], image: str) -> str:
    """The run stopped with one line naming the image and the ways to provide it; that line."""
    assert "Traceback" not in result.stdout + result.stderr, explain(result)
    assert result.returncode == 2, explain(result)
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"sit: --stub-backend container: the Docker engine has no image {image} "
                           "and cannot pull it ("), line
    for way in (f"`docker pull {image}`", "`docker load -i FILE`", "build it locally"):
        assert way in line, line
    return line


def _statuses(store: Path) -> tuple[str, dict[str, str]]:
    """The stub backend of the only run in ``store``, and each SIT ID's status in it."""
    with SQLiteStore(store) as events:
        (run_id,) = events.run_ids()
        data = [(e.kind, e.data) for e in events.events(run_id)]
    (started,) = [d for kind, d in data if kind == "run.started"]
    return started["stub_backend"], {d["sit_id"]: d["status"] for kind, d in data if kind == "scenario.finished"}


@pytest.mark.docker
def test_container_backend_runs_the_whole_workbook(tmp_path: Path, demo_run: DemoRun) -> None:
    """The demo workbook on WireMock in a container ends, scenario by scenario, as on the process backend (the
    session's demo run), and its container is gone afterwards. Where the engine has no image and cannot pull it,
    the run says so in one line and this test is skipped with that line (and why `make test` could not build it)."""
    client = docker_engine()
    before = {c.id for c in client.containers.list(all=True)}
    store = tmp_path / "events.sqlite"
    result = _container_run(store)
    if result.returncode != 0 and "has no image" in result.stderr:
        line = _image_unavailable(result, WIREMOCK_IMAGE).removeprefix("sit: ")
        pytest.skip(" ".join(filter(None, (line, docker_unavailable()))))
    assert result.returncode == 0, explain(result)
    run = stored_run(result, store)
    assert run.started()["stub_backend"] == "container"
    process_backend, process = _statuses(demo_run[1])
    assert process_backend == "process"
    assert Counter(run.statuses().values()) == Counter(process.values()), "as many passed and N/A"
    assert Counter(process.values())["passed"] > 0
    assert run.statuses() == process
    assert [x["call"] for x in run.exchanges("SIT-PAY-001")] == ["AddARItem"]
    assert {c.id for c in client.containers.list(all=True)} == before, "the run's container was removed"


@pytest.mark.docker
def test_container_backend_names_an_image_the_engine_cannot_have(tmp_path: Path) -> None:
    """An image no registry has: pulled offline or online, the answer is the same one line."""
    client = docker_engine()
    image = "sit-harness.invalid/no-such-wiremock:0"
    before = {c.id for c in client.containers.list(all=True)}
    store = tmp_path / "events.sqlite"
    result = _container_run(store, "-k", CARD_PAYMENT, SIT_WIREMOCK_IMAGE=image)
    _image_unavailable(result, image)
    assert _run_ids(store) == [], "no run is recorded"
    assert {c.id for c in client.containers.list(all=True)} == before


def test_container_backend_without_an_engine_is_one_line(tmp_path: Path) -> None:
    """No engine at the address given (here a socket that does not exist): one line, not a traceback."""
    store = tmp_path / "events.sqlite"
    result = _container_run(store, "-k", CARD_PAYMENT, DOCKER_HOST=f"unix://{tmp_path / 'no-engine.sock'}")
    assert "Traceback" not in result.stdout + result.stderr, explain(result)
    assert result.returncode == 2, explain(result)
    (line,) = result.stderr.splitlines()
    assert line.startswith("sit: --stub-backend container needs a Docker engine and none answered ("), line
    assert line.endswith("use the default process backend"), line
    assert _run_ids(store) == [], "no run is recorded"


def test_external_backend_without_url_is_one_line_exit_2(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    result = sit("run", "--biller", BILLER, "--store", str(store), "--no-report", "--stub-backend", "external",
                 timeout=60)
    assert result.returncode == 2, explain(result)
    assert result.stderr.splitlines() == ["sit: --stub-backend external needs --wiremock-url URL"]
    assert result.stdout == ""
    assert not store.exists()
