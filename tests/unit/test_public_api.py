"""The public surface of each package, locked: a change here is a decision, not an accident."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "harness": ["SitError", "__version__"],
    "harness.cloudpay": ["APPROVING_CARD", "DECLINING_CARD", "CloudPayBiller", "CloudPayServer", "Observe",
                         "PostbackPolicy"],
    "harness.events": ["GENESIS", "MASK", "TERMINAL_KINDS", "ChainBreak", "ChainBroken", "ChainChecker", "Event",
                       "EventLogError", "EventStore", "IncompleteEvidence", "Recorder", "Redactor", "SQLiteStore",
                       "StoreDamaged", "StoreUrl", "canonical_json", "event_hash", "open_store", "parse_store",
                       "read_jsonl", "seal", "store_url", "verified", "verify_chain", "write_jsonl"],
    "harness.feature_checks": ["FeatureCheck", "Finding", "check_features"],
    "harness.profiles": ["Biller", "BillerProfile", "Capability", "ChangeLogCall", "FieldMap", "Finding",
                         "InvoiceFile", "PartnerProfile", "PumpPolicy", "Status", "belongs", "known_partners",
                         "lint_biller",
                         "lint_project", "load_biller", "load_partner", "out_of_scope", "read_model",
                         "scenario_scope", "withheld_rule"],
    "harness.layouts": ["CsvLayout", "FixedLayout", "Layout", "LayoutField", "LoadedFile", "Raw", "Record",
                        "RecordLayout", "Rejection", "XmlLayout", "load", "read", "render", "write"],
    "harness.partners": ["FAULTS", "AccountNotFound", "Adapter", "Outcome", "PartnerClient", "PartnerRejected",
                         "PartnerStubs", "PartnerUnavailable", "PostResult", "Posting", "PostingKind", "load_adapter"],
    "harness.platform": ["AccountNotFound", "Balance", "BatchReport", "Bill", "Configuration", "ImportReport",
                         "Platform", "PlatformRefusal", "PumpReport", "Transaction", "TxStatus"],
    "harness.stubs": ["BACKENDS", "ContainerWireMock", "ExternalWireMock", "ProcessWireMock", "StubPack", "StubSide",
                      "WireMockAdmin", "WireMockServer", "find_java", "find_wiremock_jar", "load_pack"],
    "harness.serve": ["Broken", "CloudPayOptions", "PartnerRules", "ServeOptions", "Served", "ServedCloudPay",
                      "ServedPartner", "Verdict", "serve"],
    "harness.transfer": ["Account", "Received", "SftpServer", "TransferError", "download", "listdir", "upload"],
    "harness.reports": ["Leak", "LeakFound", "ReportOptions", "ReportPaths", "RunDiff", "RunLog", "diff_runs",
                        "find_leaks", "generate_key", "open_run", "render_diff", "sign_run", "verify_signatures",
                        "volatile_fields", "write_allure_results", "write_blank_workbook", "write_report"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_api(module: str) -> None:
    imported = importlib.import_module(module)
    assert sorted(imported.__all__) == sorted(PUBLIC[module])
    assert all(hasattr(imported, name) for name in imported.__all__)


def test_events_imports_nothing_else_of_the_harness() -> None:
    """The event log is the bottom layer: everything may depend on it, it on nothing."""
    from pathlib import Path

    root = Path(importlib.import_module("harness.events").__file__).parent
    for path in root.glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("from harness", "import harness")):
                assert line.startswith(("from harness.events", "import harness.events")), f"{path.name}: {line}"


def test_reports_import_no_platform_stubs_partners_or_session() -> None:
    """Reports must be replayable from the log: no platform, stubs, partners or session in them.
    (The workbook's case type is shared with the run that records it; profiles only make the
    blank workbook, before any run. That reports read nothing of the checkout is tested end to end.)"""
    from pathlib import Path

    root = Path(importlib.import_module("harness.reports").__file__).parent
    allowed = ("harness.events", "harness.cases", "harness.profiles", "harness.errors", "harness.reports",
               "harness.secrets")  # which values must never be shown, by the names the recorded profiles give
    for path in root.glob("*.py"):
        for line in path.read_text().splitlines():
            if line.lstrip().startswith(("from harness", "import harness")):
                assert line.split()[1].startswith(allowed), f"{path.name}: {line}"
