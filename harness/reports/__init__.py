"""Evidence projected from a run's event log: Allure results and HTML, the SIT workbook,
the sign-off (HTML and PDF, optionally signed), and the comparison of two runs.

Reports read the event log alone: the features and profiles a run ran with are in it, as
the run recorded them at its start. Never the checkout, the platform, the stubs or the
partner adapters: that is what makes them reproducible from the log alone.

Names load on first use: the writers bring openpyxl, Jinja2, allure-commons and
cryptography (half a second), which `sit verify` or `sit diff` should not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.reports.diff import RunDiff, diff_runs, render_diff, volatile_fields
    from harness.reports.leaks import Leak, LeakFound, find_leaks
    from harness.reports.log import RunLog, open_run
    from harness.reports.report import ReportOptions, ReportPaths, write_allure_results, write_report
    from harness.reports.signing import generate_key, sign_run, verify_signatures
    from harness.reports.workbook import write_blank_workbook

_WHERE = {
    "RunDiff": "diff", "diff_runs": "diff", "render_diff": "diff", "volatile_fields": "diff",
    "Leak": "leaks", "LeakFound": "leaks", "find_leaks": "leaks",
    "RunLog": "log", "open_run": "log",
    "ReportOptions": "report", "ReportPaths": "report", "write_allure_results": "report", "write_report": "report",
    "generate_key": "signing", "sign_run": "signing", "verify_signatures": "signing",
    "write_blank_workbook": "workbook",
}  # fmt: skip

__all__ = [
    "Leak",
    "LeakFound",
    "ReportOptions",
    "ReportPaths",
    "RunDiff",
    "RunLog",
    "diff_runs",
    "find_leaks",
    "generate_key",
    "open_run",
    "render_diff",
    "sign_run",
    "verify_signatures",
    "volatile_fields",
    "write_allure_results",
    "write_blank_workbook",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
