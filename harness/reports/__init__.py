"""Evidence projected from a run's event log: Allure results and HTML, the SIT workbook,
the sign-off (HTML and PDF, optionally signed), and the comparison of two runs.

Reports read the event log, the features and the profiles, never the platform, the stubs
or the partner adapters: that is what makes them reproducible from the log alone.
"""

from harness.reports.cases import SitCase, load_cases
from harness.reports.diff import RunDiff, diff_runs, render_diff, volatile_fields
from harness.reports.log import RunLog, open_run
from harness.reports.report import ReportOptions, ReportPaths, write_report
from harness.reports.signing import generate_key, sign_run, verify_signatures
from harness.reports.workbook import write_blank_workbook

__all__ = [
    "ReportOptions",
    "ReportPaths",
    "RunDiff",
    "RunLog",
    "SitCase",
    "diff_runs",
    "generate_key",
    "load_cases",
    "open_run",
    "render_diff",
    "sign_run",
    "verify_signatures",
    "volatile_fields",
    "write_blank_workbook",
    "write_report",
]
