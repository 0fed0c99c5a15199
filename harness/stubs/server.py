"""Where WireMock runs: a local process (default), a Docker container, or an existing URL."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx

from harness.errors import StubServerError
from harness.stubs import orphans
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


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
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

    @property
    def leftovers(self) -> list[Path]:
        """What a JVM stopped without its owner leaves: the dump nobody publishes."""
        return [self._dump] if self.dumping else []


QUIET_NOTE = (
    "[sit-harness] WireMock is up. Its console is not kept from here on: it echoes unmatched requests "
    "in wrapped tables that line-by-line masking cannot make safe. Every request, matched or not, is "
    "in the run's event log (partner.exchange, masked).\n"
)


class ProcessWireMock(WireMockServer):
    """The standalone JAR as a child process on 127.0.0.1 (or ``host``: `sit stubs serve --host`).

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
        host: str = "127.0.0.1",
    ) -> None:
        self._project, self._workdir, self.log_path, self.host = project, workdir, log_path, host
        self._scrub, self._port, self._timeout = scrub, port, start_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._cds: ClassArchive | None = None
        self._entry = ""  # the JVM's name in the registry of servers a killed run may leave behind
        self._up = threading.Event()
        self.base_url = ""

    def start(self) -> None:
        if self._port and not _port_free(self._port, self.host):
            raise StubServerError(
                f"WireMock cannot start: port {self._port} on {self.host} is in use; "
                "free it or leave the port out to pick a free one"
            )
        java, jar = find_java(), find_wiremock_jar(self._project)
        port = self._port or _free_port(self.host)
        self._cds = ClassArchive(self._project / ".cache", java, jar)
        root = self._workdir / "wiremock-root"
        (root / "mappings").mkdir(parents=True, exist_ok=True)
        (root / "__files").mkdir(exist_ok=True)
        # C1-only JIT and the serial GC: a short-lived stub server on 2 cores starts ~0.3 s
        # sooner this way and answers as fast (measured: 1.1 s vs 1.4 s to first answer).
        jvm = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", *self._cds.jvm_options()]
        cmd = [java, *jvm, "-jar", str(jar), "--port", str(port), "--bind-address", self.host,
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
        self._entry = orphans.register_jvm(self._proc.pid, self._workdir, self._cds.leftovers)
        # The admin API is asked where the harness itself reaches the server: loopback, unless bound elsewhere.
        self.base_url = f"http://{_reachable(self.host)}:{port}"
        self._wait_ready(port)

    @property
    def running(self) -> bool:
        """Started and not exited since."""
        return self._proc is not None and self._proc.poll() is None

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
                orphans.release(self._entry)  # it is gone: nothing for a later run to stop
                if self._reader:
                    self._reader.join(timeout=5)
                raise StubServerError(self._exit_reason(port))
            time.sleep(0.05)
        self.stop()
        raise StubServerError(
            f"WireMock did not answer on port {port} within {self._timeout:.0f} s; see {self.log_path}"
        )

    def _exit_reason(self, port: int) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        if "Address already in use" in text or "BindException" in text:
            return f"WireMock cannot start: port {port} on {self.host} is in use; free it or pick another"
        last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "no output")
        return f"WireMock exited while starting ({last[:200]}); see {self.log_path}"

    def stop(self) -> None:
        """SIGKILL, and the JVM is gone at once: a stub server keeps nothing a graceful shutdown would
        save, which took ~0.4 s the run waited on before it could exit. The run that dumps the class
        archive is the exception: the JVM writes it as it exits, so it gets SIGTERM and is waited for."""
        proc, self._proc, self._reader = self._proc, None, None
        if proc is None:
            return
        dumping = self._cds is not None and self._cds.dumping
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM if dumping else signal.SIGKILL)
        orphans.release(self._entry)  # told to stop, the JVM leaves the registry: _reap kills it if SIGTERM did not
        _reap(proc)
        if dumping and self._cds is not None:
            self._cds.publish()


def _reachable(host: str) -> str:
    """Where this machine reaches a server bound to ``host``: a wildcard address is reached on loopback."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _reap(proc: subprocess.Popen[str]) -> None:
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _reason(exc: BaseException) -> str:
    """The first line of what the engine said (docker-py's ``explanation``), short enough for one line."""
    text = str(getattr(exc, "explanation", None) or exc)
    return text.splitlines()[0][:200] if text.strip() else type(exc).__name__


def _provide_image(image: str) -> None:
    """An engine answers and has ``image`` (pulled if need be), or one line saying which is missing."""
    import docker  # loaded only for this backend

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # docker-py raises several kinds when no engine answers
        raise StubServerError(
            f"--stub-backend container needs a Docker engine and none answered ({_reason(exc)}); "
            "use the default process backend"
        ) from None
    try:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            client.images.pull(image)  # offline or behind a proxy, the engine answers 500 from images/create
    except Exception as exc:  # an APIError, or the transport giving up on a registry that never answers
        raise StubServerError(
            f"--stub-backend container: the Docker engine has no image {image} and cannot pull it "
            f"({_reason(exc)}); provide it under that name: `docker pull {image}` where a registry answers, "
            "`docker load -i FILE` of a saved copy, or build it locally (`scripts/docker-engine.sh --image`; README, "
            "\"WireMock in a container\"); or use the default process backend"
        ) from None
    finally:
        client.close()


class ContainerWireMock(WireMockServer):
    """WireMock's image (``$SIT_WIREMOCK_IMAGE``, default the official one) through testcontainers.

    Testcontainers' ryuk sidecar is not used: it needs an image of its own (a second one to provide
    where no registry answers) and a privileged container holding the engine's socket. Its one job,
    removing the container of a run that was killed, is the registry's (``harness.stubs.orphans``),
    as for the JVM: the next run removes it.
    """

    backend = "container"

    def __init__(self, image: str | None = None, workdir: Path | None = None) -> None:
        self.image = image or os.environ.get("SIT_WIREMOCK_IMAGE") or WIREMOCK_IMAGE
        self._workdir = workdir  # the run's temporary folder: removed with the container should the run be killed
        self._container: Any = None
        self._entry = ""
        self.base_url = ""

    def start(self) -> None:
        from testcontainers.core.config import testcontainers_config
        from testcontainers.core.container import DockerContainer

        _provide_image(self.image)
        # The process backend's JIT and GC choice (see ProcessWireMock.start): without it a cold JVM in a
        # container answers the first matched call in more than a partner's 1 s timeout on 2 cores.
        self._container = (DockerContainer(self.image).with_exposed_ports(8080)
                           .with_env("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
                           .with_command("--local-response-templating --disable-banner --disable-request-logging"))
        ryuk, testcontainers_config.ryuk_disabled = testcontainers_config.ryuk_disabled, True
        try:
            self._container.start()
            self._entry = orphans.register_container(self._container.get_wrapped_container().id, self._workdir)
            self.base_url = (f"http://{self._container.get_container_host_ip()}:"
                             f"{self._container.get_exposed_port(8080)}")
        except Exception as exc:
            self.stop()
            raise StubServerError(f"the WireMock container ({self.image}) did not start: {_reason(exc)}") from None
        finally:
            testcontainers_config.ryuk_disabled = ryuk
        deadline = time.monotonic() + 60
        while not _answers(self.base_url):
            if time.monotonic() > deadline:
                self.stop()
                raise StubServerError(f"WireMock container at {self.base_url} did not answer within 60 s")
            time.sleep(0.2)

    def stop(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            container.stop()
        except Exception:  # the engine went away meanwhile: the entry stays, the next run removes it
            return
        orphans.release(self._entry)


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
