"""`sit` with canary customers in every invoice record: the test wrapper of test_personal_data.py.

Run as ``python tests/e2e/canary_sit.py ARGS`` (ARGS as for `sit`). It patches the harness inside
this process only; the product has no such switch. Read here and nowhere else:
- ``SIT_TEST_CANARY``: a token; every invoice record a scenario makes gets a customer name, email
  and service address holding it (numbered, so each record's are its own), accepted and rejected
  records alike (faulty records are made from good ones);
- ``SIT_TEST_UNMASKED=1``: the partner pack's masking does nothing (a negative control);
- ``SIT_TEST_UNCHECKED=1``: the partner pack's leak check does nothing (with the above: the pack is
  written with the canaries in it, which the test's own search must then find).
"""

from __future__ import annotations

import itertools
import os
import sys
from typing import Any


def _canary_records(token: str) -> None:
    from harness.scenario import ScenarioContext

    made = ScenarioContext.invoice_record
    numbers = itertools.count(1)

    def invoice_record(self: ScenarioContext, *args: Any, **kwargs: Any) -> dict[str, str]:
        record, n = made(self, *args, **kwargs), next(numbers)
        # An apostrophe, an ampersand and a non-ASCII letter: each is written escaped somewhere.
        return record | {"customer_name": f"Zoë O'{token}{n:02d}", "email": f"{token.lower()}.{n:02d}@example.org",
                         "service_address": f"{n} Mill & {token} Lane"}

    ScenarioContext.invoice_record = invoice_record  # type: ignore[method-assign]


def main() -> None:
    if token := os.environ.get("SIT_TEST_CANARY"):
        _canary_records(token)
    if os.environ.get("SIT_TEST_UNMASKED") == "1":
        from harness.reports.personal import Masker

        Masker.__call__ = lambda self, text: text  # type: ignore[method-assign]
    if os.environ.get("SIT_TEST_UNCHECKED") == "1":
        import harness.reports.report as report

        report.refuse_leaks = lambda values, pack: None  # type: ignore[assignment]
    from harness.cli import main as sit

    sys.argv = ["sit", *sys.argv[1:]]
    sit()


if __name__ == "__main__":
    main()
