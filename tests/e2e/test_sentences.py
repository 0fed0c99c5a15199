"""The demo run's expectations, read as a biller reads them: in the log, the Allure results and the workbook.

Every expectation carries its raw values and its sentences; the Allure sub-steps are those sentences
(as expected), the workbook's actual result lists what was seen, and nothing reads like Python.
A failing expectation is in tests/e2e/test_profile_variants.py (fewer pump attempts).
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.events import SQLiteStore
from tests.conftest import reads_like_python

# A few of the demo run's sentences, word for word (Clayton County on Cayenta; the features' amounts).
SAID = {
    "SIT-PAY-001": "the partner received a payment of 45.10 by card with type 1 for the account",
    "SIT-PAY-003": "the partner received a credit of 12.00 with type 6 for the account",
    "SIT-PAY-006": "the partner received the payment 3 times",
    "SIT-BAL-003": "ACH payments are allowed",
    "SIT-BAL-006": "the payment route shows no balance",
    "SIT-VOID-002": "the partner received nothing for the account",
    "SIT-CHG-001": "the partner received a paperless change enrolling with alert code EBILL for the account",
}


@pytest.fixture(scope="module")
def expectations(demo_run: tuple[str, Path, subprocess.CompletedProcess[str]]) -> dict[str, list[dict[str, Any]]]:
    """Per SIT ID, the data of its expectation events, in order."""
    run_id, store, _ = demo_run
    out: dict[str, list[dict[str, Any]]] = {}
    with SQLiteStore(store) as log:
        for event in log.events(run_id):
            if event.kind == "expectation":
                out.setdefault(event.data["sit_id"], []).append(event.data)
    assert len(out) > 20  # every in-scope scenario checks something
    return out


def test_every_expectation_keeps_its_raw_values_and_says_them(expectations: dict[str, list[dict[str, Any]]]) -> None:
    for sit_id, found in expectations.items():
        for data in found:
            assert {"expected", "actual", "ok"} <= data.keys(), f"{sit_id}: {data}"
            for key in ("expected_sentence", "actual_sentence", "sentence"):
                assert data[key] and not reads_like_python(data[key]), f"{sit_id} {key}: {data[key]!r}"
            assert data["ok"] and data["sentence"] == data["actual_sentence"]
    for sit_id, sentence in SAID.items():
        assert sentence in [d["actual_sentence"] for d in expectations[sit_id]], sit_id
    (payment, *_) = expectations["SIT-PAY-001"]
    posted = [{"role": "payment", "amount": "45.10", "method": "CC", "type_code": "1"}]
    assert (payment["expected"], payment["actual"]) == (posted, posted)
    assert payment["expected_sentence"] == "expected the partner to receive a payment of 45.10 by card with type 1 " \
        "for the account"


def test_allure_sub_steps_and_the_workbook_show_the_sentences(
        demo_run: tuple[str, Path, subprocess.CompletedProcess[str]],
        expectations: dict[str, list[dict[str, Any]]]) -> None:
    run_id, store, _ = demo_run
    root = store.parent / run_id
    for path in (root / "allure-results").glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        checks = [sub["name"] for step in result.get("steps", []) for sub in step.get("steps", [])
                  if not sub["name"].startswith("platform.")]
        said = [f"{d['sentence']} (as expected)" for d in expectations.get(result["testCaseId"], [])]
        assert checks == said, result["testCaseId"]
    rows = {row["SIT ID"]: row for row in csv.DictReader((root / "workbook.csv").open(newline="", encoding="utf-8"))}
    for sit_id, found in expectations.items():
        assert rows[sit_id]["Actual result"] == "\n".join(d["actual_sentence"] for d in found), sit_id
    assert not any(reads_like_python(row["Actual result"]) for row in rows.values())
