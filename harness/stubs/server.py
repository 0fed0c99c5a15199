"""Where WireMock runs: a local process (default), a Docker container, or an existing URL."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx

from harness.errors import StubServerError
from harness.stubs.runtime import find_java, find_wiremock_jar, java_major

BACKENDS = ("process", "container", "external")
WIREMOCK_IMAGE = "wiremock/wiremock:3.13.2"


class WireMockServer(ABC):
    """A running WireMock; ``base_url`` is where partner calls and the admin API go."""

    base_url: str
    backend: str

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> WireMockServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/__admin/version", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ClassArchive:
    """An AppCDS archive of WireMock's classes: the JVM answers in ~0.5 s instead of ~0.9 s.

    The first run dumps it when its JVM exits (to a temporary name, published on stop, so a
    concurrent run never maps half a file); later runs map it. It is keyed by the Java binary,
    its version and the JAR; with the JVM's default ``-Xshare:auto`` an archive that does not
    fit is ignored, never fatal.
    """

    def __init__(self, cache: Path, java: str, jar: Path) -> None:
        key = hashlib.sha256(f"{Path(java).resolve()}|{java_major(java)}|{jar.resolve()}".encode()).hexdigest()[:16]
        self.path = cache / f"wiremock-{key}.jsa"
        self._dump = cache / f"wiremock-{key}.jsa.{os.getpid()}.tmp"

    @property
    def dumping(self) -> bool:
        return not self.path.is_file()

    def jvm_options(self) -> list[str]:
        if not self.dumping:
            return [f"-XX:SharedArchiveFile={self.path}"]
        self._dump.parent.mkdir(parents=True, exist_ok=True)
        return [f"-XX:ArchiveClassesAtExit={self._dump}"]

    def publish(self) -> None:
        if self._dump.is_file():
            os.replace(self._dump, self.path)


QUIET_NOTE = (
    "[sit-harness] WireMock is up. Its console is not kept from here on: it echoes unmatched requests "
    "in wrapped tables that line-by-line masking cannot make safe. Every request, matched or not, is "
    "in the run's event log (partner.exchange, masked).\n"
)


class ProcessWireMock(WireMockServer):
    """The standalone JAR as a child process on 127.0.0.1.

    Its console goes through a reader thread into the log file, masked line by line, until
    WireMock answers (what is printed then explains a failed start); afterwards it is read
    and dropped, because WireMock echoes request bodies there.
    """

    backend = "process"

    def __init__(
        self,
        project: Path,
        workdir: Path,
        log_path: Path,
        scrub: Callable[[str], str],
        port: int = 0,
        start_timeout: float = 30.0,
    ) -> None:
        self._project, self._workdir, self.log_path = project, workdir, log_path
        self._scrub, self._port, self._timeout = scrub, port, start_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._cds: ClassArchive | None = None
        self._up = threading.Event()
        self.base_url = ""

    def start(self) -> None:
        if self._port and not _port_free(self._port):
            raise StubServerError(
                f"WireMock cannot start: port {self._port} on 127.0.0.1 is in use; "
                "free it or leave --wiremock-port out to pick a free one"
            )
        java, jar = find_java(), find_wiremock_jar(self._project)
        port = self._port or _free_port()
        self._cds = ClassArchive(self._project / ".cache", java, jar)
        root = self._workdir / "wiremock-root"
        (root / "mappings").mkdir(parents=True, exist_ok=True)
        (root / "__files").mkdir(exist_ok=True)
        # C1-only JIT and the serial GC: a short-lived stub server on 2 cores starts ~0.3 s
        # sooner this way and answers as fast (measured: 1.1 s vs 1.4 s to first answer).
        jvm = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", *self._cds.jvm_options()]
        cmd = [java, *jvm, "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1",
               "--disable-banner", "--root-dir", str(root), "--local-response-templating",
               "--disable-request-logging"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # A session of its own: Ctrl-C at the terminal interrupts the run, which stops WireMock
        # itself; the JVM must not die first and turn an interruption into "WireMock exited".
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        log = self.log_path.open("w", encoding="utf-8")
        self._reader = threading.Thread(target=self._pump_log, args=(self._proc.stdout, log), daemon=True)
        self._reader.start()
        self.base_url = f"http://127.0.0.1:{port}"
        self._wait_ready(port)

    def _pump_log(self, stream: IO[str] | None, log: IO[str]) -> None:
        with log:
            for line in stream or ():
                if self._up.is_set():
                    if not log.closed:
                        log.write(QUIET_NOTE)
                        log.close()
                    continue
                log.write(self._scrub(line))
                log.flush()

    def _wait_ready(self, port: int) -> None:
        deadline = time.monotonic() + self._timeout
        assert self._proc is not None
        while time.monotonic() < deadline:
            if _answers(self.base_url):
                self._up.set()
                return
            if self._proc.poll() is not None:
                self._reader and self._reader.join(timeout=5)
                raise StubServerError(self._exit_reason(port))
            time.sleep(0.05)
        self.stop()
        raise StubServerError(
            f"WireMock did not answer on port {port} within {self._timeout:.0f} s; see {self.log_path}"
        )

    def _exit_reason(self, port: int) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        if "Address already in use" in text or "BindException" in text:
            return f"WireMock cannot start: port {port} on 127.0.0.1 is in use; free it or pick another"
        last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "no output")
        return f"WireMock exited while starting ({last[:200]}); see {self.log_path}"

    def stop(self) -> None:
        """SIGTERM, then reap the JVM in the background: its graceful shutdown takes ~0.4 s that
        nothing waits on until the process exits, except the run that dumps the class archive,
        which must see it done."""
        proc, self._proc, self._reader = self._proc, None, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
        if self._cds is not None and self._cds.dumping:
            _reap(proc)
            self._cds.publish()
        else:
            # Not a daemon: the interpreter waits for it at exit, so the JVM never outlives the run.
            threading.Thread(target=_reap, args=(proc,), name="wiremock-reaper").start()


def _reap(proc: subprocess.Popen[str]) -> None:
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ContainerWireMock(WireMockServer):
    """WireMock's official image through testcontainers; needs a Docker engine."""

    backend = "container"

    def __init__(self, image: str = WIREMOCK_IMAGE) -> None:
        self._image = image
        self._container: object | None = None
        self.base_url = ""

    def start(self) -> None:
        try:
            from testcontainers.core.container import DockerContainer

            container = DockerContainer(self._image).with_exposed_ports(8080).with_command(
                "--local-response-templating --disable-banner --disable-request-logging"
            )
            container.start()
        except Exception as exc:  # docker-py and testcontainers raise many kinds when no engine answers
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise StubServerError(
                f"--stub-backend container needs a Docker engine and none answered ({reason}); "
                "use the default process backend"
            ) from None
        self._container = container
        self.base_url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8080)}"
        deadline = time.monotonic() + 60
        while not _answers(self.base_url):
            if time.monotonic() > deadline:
                self.stop()
                raise StubServerError(f"WireMock container at {self.base_url} did not answer within 60 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()  # type: ignore[attr-defined]
            self._container = None


class ExternalWireMock(WireMockServer):
    """A WireMock somebody else runs (WireMock Cloud, a team server) at a URL."""

    backend = "external"

    def __init__(self, url: str) -> None:
        self.base_url = url.rstrip("/")

    def start(self) -> None:
        if not _answers(self.base_url):
            raise StubServerError(
                f"no WireMock answers at {self.base_url}/__admin/version: check --wiremock-url"
            )

    def stop(self) -> None:
        """The server is not ours to stop."""
