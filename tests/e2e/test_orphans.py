"""A WireMock left behind by a `kill -9` of `sit run` is stopped by the next run, its folder removed.

The real CLI, the real JAR: the first run is killed with SIGKILL once its WireMock answers; the JVM
must then still be up (the orphan the next run has to find), and gone after the next run.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from runs import BILLER, PROJECT, SIT, clean_env, docker_engine, docker_unavailable, explain

from harness.stubs.server import WIREMOCK_IMAGE
from tests.conftest import run_sit
from tests.support.processes import running

CARD_PAYMENT = "card_payment_posts"  # -k: only SIT-PAY-001


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/__admin/version", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wiremock_of(run: subprocess.Popen[bytes], port: int, jvms: list[psutil.Process]) -> psutil.Process:
    """The run's WireMock JVM, once it answers on ``port`` (added to ``jvms`` as soon as it is seen)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert run.poll() is None, f"the run ended (exit {run.returncode}) before its WireMock was seen"
        if not jvms:  # not `java -version`, which the run also starts
            jvms.extend(p for p in psutil.Process(run.pid).children() if _serves(p, port))
        if jvms and _answers(port):
            return jvms[0]
        time.sleep(0.05)
    raise AssertionError(f"no WireMock answered on port {port} within 60 s")


def _serves(proc: psutil.Process, port: int) -> bool:
    try:
        return "--port" in (cmd := proc.cmdline()) and str(port) in cmd
    except psutil.Error:
        return False


def test_the_next_run_stops_the_wiremock_of_a_killed_run_and_removes_its_folder(tmp_path: Path) -> None:
    tmp, cache = tmp_path / "tmp", tmp_path / "cache"  # the runs' temporary folders and the registry: this test's
    tmp.mkdir()
    env = clean_env({"TMPDIR": str(tmp), "XDG_CACHE_HOME": str(cache)})
    store, port = tmp_path / "events.sqlite", _free_port()
    first = subprocess.Popen([*SIT, "run", "--biller", BILLER, "--store", str(store), "--no-report",
                              "--wiremock-port", str(port)], cwd=PROJECT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jvms: list[psutil.Process] = []
    try:
        jvm = _wiremock_of(first, port, jvms)
        (workdir,) = tmp.glob("sit-20*")  # SitSession's sit-RUN-*: run ids begin with the date
        first.send_signal(signal.SIGKILL)
        first.wait()

        # The control: the killed run's JVM lives on, re-parented, answering; its folder stays.
        time.sleep(0.5)
        assert running(jvm) and jvm.ppid() != first.pid and _answers(port)
        assert workdir.is_dir()

        second = run_sit("run", "--biller", BILLER, "--store", str(store), "--no-report", "-k", CARD_PAYMENT,
                         env=env, timeout=300)

        assert second.returncode == 0, explain(second)
        assert "PASSED" in second.stdout
        (note,) = [line for line in second.stdout.splitlines() if line.startswith("note: cleaned up")]
        # The class archive the killed JVM was dumping, when the project had none yet (a fresh clone), goes too.
        dump = rf"{re.escape(str(PROJECT / '.cache'))}/wiremock-\w+\.jsa\.{first.pid}\.tmp"
        assert re.fullmatch(rf"note: cleaned up after a killed run: stopped WireMock pid {jvm.pid}; "
                            rf"removed {re.escape(str(workdir))}(, {dump})?", note), note
        assert not list((PROJECT / ".cache").glob(f"*.jsa.{first.pid}.tmp"))
        assert not running(jvm) and not _answers(port)
        assert list(tmp.iterdir()) == [], "the killed run's folder is removed, and the second run's own"
        assert list(cache.glob("sit-harness/servers/*/*")) == [], "the orphan's entry is gone, the second run's too"
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        for proc in jvms:
            if running(proc):
                proc.kill()


@pytest.mark.docker
def test_the_next_run_removes_the_container_of_a_killed_run(tmp_path: Path) -> None:
    """The container backend leaves the same orphan (ryuk is not used): the next run removes it."""
    client = _engine_with_image()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = clean_env({"TMPDIR": str(tmp), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    store = tmp_path / "events.sqlite"
    before = {c.id for c in client.containers.list(all=True)}
    first = subprocess.Popen([*SIT, "run", "--biller", BILLER, "--store", str(store), "--no-report",
                              "--stub-backend", "container"], cwd=PROJECT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        container = _container_of(first, client, before)
        (workdir,) = tmp.glob("sit-20*")
        first.send_signal(signal.SIGKILL)
        first.wait()
        time.sleep(0.5)
        container.reload()
        assert container.status == "running", "the control: the killed run's container lives on"

        second = run_sit("run", "--biller", BILLER, "--store", str(store), "--no-report", "-k", CARD_PAYMENT,
                         env=env, timeout=300)

        assert second.returncode == 0, explain(second)
        notes = [line for line in second.stdout.splitlines() if line.startswith("note: cleaned up")]
        assert notes == [f"note: cleaned up after a killed run: stopped WireMock container {container.id[:12]}; "
                         f"removed {workdir}"]
        assert {c.id for c in client.containers.list(all=True)} == before
        assert list(tmp.iterdir()) == []
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        for leftover in client.containers.list(all=True):
            if leftover.id not in before:
                leftover.remove(force=True)


def _engine_with_image() -> Any:
    client = docker_engine()
    try:
        client.images.get(WIREMOCK_IMAGE)
    except pytest.importorskip("docker").errors.ImageNotFound:
        why = docker_unavailable() or "`make test` or `scripts/docker-engine.sh --image` builds it"
        pytest.skip(f"the Docker engine has no image {WIREMOCK_IMAGE} ({why})")
    return client


def _container_of(run: subprocess.Popen[bytes], client: Any, before: set[str]) -> Any:
    """The run's WireMock container, once WireMock answers in it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert run.poll() is None, f"the run ended (exit {run.returncode}) before its container was seen"
        for container in client.containers.list():
            ports = container.ports.get("8080/tcp") or []
            if container.id not in before and ports and _answers(int(ports[0]["HostPort"])):
                return container
        time.sleep(0.2)
    raise AssertionError("no WireMock container answered within 120 s")
