"""Behaviours that only other profiles show: each run is a real `sit run` on a modified copy.

Biller profiles are passed by path; a modified partner profile needs a throwaway project
(the harness reads PROJECT/fixtures/partners/NAME.yaml), whose code, features and stubs
are symlinks to this checkout and whose fixtures/ is a copy.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import yaml
from runs import BILLER, PROJECT, Run, explain, sit
from runs import sit_run as _sit_run

LINKED = ("features", "steps", "conftest.py", "pyproject.toml", "node_modules", ".cache", "stubs")
# SIT-CHG-001/002 are named "... enrollment reaches the partner"; SIT-CHG-003 "every changelog call ...".
CHANGES = "change or enrollment"


def sit_run(tmp: Path, biller: str, select: str, project: Path = PROJECT, expect: int = 0) -> Run:
    """`sit run` of BILLER's scenarios matching ``select`` in ``project``; its events as `sit export` wrote them."""
    return _sit_run(tmp / "events.sqlite", biller, "--project", str(project), "-k", select, expect=expect, export=True)


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def throwaway_project(tmp: Path, **partner_changes: Any) -> Path:
    """A project whose fixtures/partners/cayenta.yaml has top-level fields replaced."""
    project = tmp / "project"
    project.mkdir()
    for name in LINKED:
        if (PROJECT / name).exists():
            (project / name).symlink_to(PROJECT / name)
    shutil.copytree(PROJECT / "fixtures", project / "fixtures")
    partner_path = project / "fixtures" / "partners" / "cayenta.yaml"
    if partner_changes:
        partner = _yaml(partner_path) | partner_changes
        partner_path.write_text(yaml.safe_dump(partner, sort_keys=False), encoding="utf-8")
    return project


def biller_variant(tmp: Path, **changes: Any) -> tuple[Path, Path]:
    """A throwaway project holding a copy of the Clayton profile with top-level fields replaced
    (``settings`` merged); returns the project and the copy's path, inside the project because
    a biller path outside it breaks `sit run` (see test_biller_path_outside_the_project)."""
    project = throwaway_project(tmp)
    data = _yaml(PROJECT / "fixtures" / "billers" / f"{BILLER}.yaml")
    settings = changes.pop("settings", {})
    data["settings"] = {**data["settings"], **settings}
    data |= changes
    path = project / "fixtures" / "billers" / f"{BILLER}-variant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return project, path


# --- a. ACH reject posting taken, b. credits switched off: one biller variant, one run ----


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("variant")
    project, biller = biller_variant(tmp, capabilities=["ach_reject_posting"], settings={114: False})
    return sit_run(tmp, str(biller), "ach or notification or credit", project=project)


def test_ach_reject_posting_taken_runs_every_ach_scenario(variant: Run) -> None:
    for sit_id in ("SIT-ACH-001", "SIT-ACH-002", "SIT-ACH-004", "SIT-ACH-005"):
        assert variant.finished(sit_id)["status"] == "passed", sit_id


def test_ach_returns_post_their_own_codes_and_no_notification_of_change(variant: Run) -> None:
    def returns(sit_id: str | None = None) -> list[dict[str, Any]]:
        return [x for x in variant.exchanges(sit_id) if x["call"] == "AddReturnedCheck"]

    assert sorted(x["fields"].get("return_code") for x in returns()) == ["R01", "R10"]
    (r01,) = returns("SIT-ACH-001")
    assert "<RETURN_CODE>R01</RETURN_CODE>" in unquote_plus(r01["request_body"])
    assert r01["status"] == 200
    (r10,) = returns("SIT-ACH-004")  # account A's payment of 88.00, not the later one of 12.34 on B
    assert "<RETURN_CODE>R10</RETURN_CODE>" in unquote_plus(r10["request_body"])
    assert (r10["fields"].get("amount"), r10["status"]) == ("88.00", 200)
    assert not any("C01" in unquote_plus(x["request_body"]) for x in variant.exchanges())
    assert returns("SIT-ACH-002") == [] and returns("SIT-ACH-005") == []  # a notice, a card payment: no return


def test_credits_switched_off_make_the_credit_scenario_na(variant: Run) -> None:
    finished = variant.finished("SIT-PAY-003")
    assert finished["status"] == "na"
    assert "setting 114" in finished["reason"]
    assert variant.exchanges("SIT-PAY-003") == []


def test_a_credit_with_setting_114_off_is_made_and_held_back_naming_the_setting(variant: Run) -> None:
    """Proven absent, not skipped: SIT-PAY-020 runs where credits are off and the partner gets nothing."""
    assert variant.finished("SIT-PAY-020")["status"] == "passed"
    (held,) = [e.data for e in variant.scenario("SIT-PAY-020") if e.kind == "platform.pump_excluded"]
    assert "setting 114 is off for Clayton County Water Authority" in held["reason"]
    assert [x for x in variant.exchanges("SIT-PAY-020") if x["call"] == "AddARItem"] == []


def test_returns_the_biller_posts_make_the_withheld_return_scenario_na_naming_where_they_post(variant: Run) -> None:
    finished = variant.finished("SIT-ACH-003")
    assert finished["status"] == "na"
    assert finished["reason"].startswith("Clayton County Water Authority posts ACH returns to Cayenta Utilities "
                                         "(it took ACH reject posting): see SIT-ACH-001, SIT-ACH-002")
    assert variant.exchanges("SIT-ACH-003") == []


# --- b2. Block settings the scenarios depend on: off, or without a code for card alone --------

NO_CARD_ONLY_CODE = {"CC": ["B"], "ACH": ["E", "B"]}  # B blocks both, E blocks ACH alone: none for card alone


@pytest.fixture(scope="module")
def blocks_off(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path, Path]:
    tmp = tmp_path_factory.mktemp("blocks-off")
    project, biller = biller_variant(tmp, settings={32: False, 28: NO_CARD_ONLY_CODE})
    return sit_run(tmp, str(biller), "block", project=project), project, biller


def test_a_setting_off_makes_its_scenarios_na_with_the_reason_not_failed(blocks_off: tuple[Run, Path, Path]) -> None:
    run, _, _ = blocks_off
    # SIT-BAL-010 follows the setting whatever its shape: B blocks both here, E ACH, and C (Clayton's
    # card code, not in this setting) nothing.
    # SIT-BAL-011 is the other side of SIT-BAL-005: with setting 32 off, a portal user's block holds.
    assert run.statuses() == {"SIT-BAL-003": "na", "SIT-BAL-004": "passed", "SIT-BAL-005": "na",
                              "SIT-BAL-010": "passed", "SIT-BAL-011": "passed"}
    assert run.finished("SIT-BAL-005")["reason"] == (
        "Biller setting 32 is off for Clayton County Water Authority "
        "(only RTDR sets payment block flags; biller-portal users may not)")
    assert run.finished("SIT-BAL-003")["reason"].startswith(
        "Biller setting 28 has no code for CC alone for Clayton County Water Authority (")
    for sit_id in ("SIT-BAL-003", "SIT-BAL-005"):  # decided before any step: nothing ran, nothing was asked
        kinds = [e.kind for e in run.scenario(sit_id)]
        assert kinds == ["scenario.started", "scenario.finished"], kinds
    # The control: the ACH block has a code of its own (E), so SIT-BAL-004 ran against the partner.
    assert run.exchanges("SIT-BAL-004") and "step.finished" in [e.kind for e in run.scenario("SIT-BAL-004")]


def test_every_block_code_follows_the_billers_own_setting(blocks_off: tuple[Run, Path, Path]) -> None:
    """SIT-BAL-010 arranges its accounts from this biller's setting 28, not Clayton's: C, a card code at
    Clayton, is another biller's code here and blocks nothing."""
    run, _, _ = blocks_off
    said = [e.data["sentence"] for e in run.scenario("SIT-BAL-010") if e.kind == "expectation"]
    foreign = [f"block code {code} (not in the biller's setting) blocks no payments"
               for code in ("C", "NO_CC", "NO_ACH", "NO_ONLINE")]
    assert said == ["block code B blocks card and ACH payments", "block code E blocks ACH payments",
                    "an account without a block code blocks no payments", *foreign]


def test_the_blank_workbook_shows_the_same_na_reasons(blocks_off: tuple[Run, Path, Path], tmp_path: Path) -> None:
    run, project, biller = blocks_off
    rows = {}
    for name, profile in (("variant", str(biller)), ("clayton", BILLER)):
        out = tmp_path / name
        proc = sit("workbook", "--biller", profile, "--project", str(project), "-o", str(out))
        assert proc.returncode == 0, explain(proc)
        rows[name] = {r["SIT ID"]: r for r in csv.DictReader((out / "workbook.csv").open(newline=""))}
    for sit_id in ("SIT-BAL-003", "SIT-BAL-005"):
        assert rows["variant"][sit_id]["Status"] == "N/A"
        assert rows["variant"][sit_id]["N/A reason"] == run.finished(sit_id)["reason"]
        assert rows["clayton"][sit_id]["Status"] == ""  # Clayton as it is: both in scope
    assert rows["variant"]["SIT-BAL-004"]["Status"] == ""


# --- c. The change-log calls swapped as the Cayenta details page lists them ---------------

SWAPPED_AS_THE_PAGE_LISTS_THEM = {
    "autopay": {"call": "_PostPaperLessChangeXML", "alert_code": "AUTOP"},
    "paperless": {"call": "_PostAutopayChangeXML", "alert_code": "EBILL"},
}


@pytest.fixture(scope="module")
def swapped(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("swapped")
    project = throwaway_project(tmp, change_log=SWAPPED_AS_THE_PAGE_LISTS_THEM)
    return sit_run(tmp, BILLER, CHANGES, project=project, expect=1)


def test_swapped_change_log_fails_sit_chg_003_naming_the_call(swapped: Run) -> None:
    finished = swapped.finished("SIT-CHG-003")
    assert finished["status"] == "failed"
    assert "change_log" in finished["error"]
    assert "_PostAutopayChangeXML" in finished["error"] or "_PostPaperLessChangeXML" in finished["error"]
    assert "FAILED SIT-CHG-003" in swapped.result.stdout
    # A sentence naming the call the change arrived on instead, and where to correct it.
    assert finished["error"] == ("expected the paperless change to arrive on a call that names paperless; it arrived "
                                 "on _PostAutopayChangeXML, which does not name paperless "
                                 "(check change_log in fixtures/partners/cayenta.yaml)")


def test_swapped_change_log_fails_the_enrollments_too(swapped: Run) -> None:
    assert swapped.finished("SIT-CHG-001")["status"] == "failed"
    assert swapped.finished("SIT-CHG-002")["status"] == "failed"
    # The calls really went out swapped: paperless on the autopay program's call with EBILL.
    sent = {(x["call"], x["fields"].get("alert_code")) for x in swapped.exchanges("SIT-CHG-001")}
    assert sent == {("_PostAutopayChangeXML", "EBILL")}


# --- d. POSConnect exclusion removed (and the correct change log as control for c) --------


@pytest.fixture(scope="module")
def posconnect_pumped(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("posconnect")
    pump = _yaml(PROJECT / "fixtures" / "partners" / "cayenta.yaml")["pump"]
    project = throwaway_project(tmp, pump={**pump, "excluded_channels": {}})
    return sit_run(tmp, BILLER, f"{CHANGES} or posconnect", project=project)


def test_posconnect_without_exclusion_is_posted_once(posconnect_pumped: Run) -> None:
    assert posconnect_pumped.finished("SIT-PAY-004")["status"] == "passed"
    kinds = [e.kind for e in posconnect_pumped.scenario("SIT-PAY-004")]
    assert kinds.count("platform.pump_posted") == 1
    assert "platform.pump_excluded" not in kinds
    assert [x["call"] for x in posconnect_pumped.exchanges("SIT-PAY-004")] == ["AddARItem"]


def test_correct_change_log_passes_sit_chg_003(posconnect_pumped: Run) -> None:
    """The control for c: the same selection, with the change log as the repo has it."""
    for sit_id in ("SIT-CHG-001", "SIT-CHG-002", "SIT-CHG-003"):
        assert posconnect_pumped.finished(sit_id)["status"] == "passed"


# --- e. A partner profile that retries fewer times than the scenario counts on -------------


@pytest.fixture(scope="module")
def fewer_attempts(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """SIT-PAY-006 drops the connection twice and expects the third attempt to post; with two attempts
    in the partner profile the payment is parked after the second, and the scenario fails."""
    tmp = tmp_path_factory.mktemp("attempts")
    pump = _yaml(PROJECT / "fixtures" / "partners" / "cayenta.yaml")["pump"]
    project = throwaway_project(tmp, pump={**pump, "attempts": 2})
    return _sit_run(tmp / "events.sqlite", BILLER, "--project", str(project), "-k", "dropped", expect=1, report=True)


def test_a_failed_expectation_reads_as_a_sentence_naming_what_arrived_instead(fewer_attempts: Run) -> None:
    sentence = "expected the partner to receive the payment 3 times; it received it twice"
    assert fewer_attempts.statuses() == {"SIT-PAY-006": "failed"}
    assert fewer_attempts.finished("SIT-PAY-006")["error"] == sentence
    assert f"FAILED SIT-PAY-006 A dropped connection is retried and the payment posts once: {sentence}" in " ".join(
        fewer_attempts.result.stdout.split())
    (unmet,) = [e.data for e in fewer_attempts.scenario("SIT-PAY-006") if e.kind == "expectation" and not e.data["ok"]]
    assert (unmet["expected"], unmet["actual"]) == (3, 2)  # the raw values stay beside the sentences
    assert unmet["actual_sentence"] == "the partner received the payment twice"

    reports = fewer_attempts.root / fewer_attempts.run_id
    (row,) = [r for r in csv.DictReader((reports / "workbook.csv").open(newline="")) if r["SIT ID"] == "SIT-PAY-006"]
    assert (row["Status"], row["Actual result"]) == ("Fail", sentence)
    assert sentence in (reports / "signoff.html").read_text(encoding="utf-8")
    (result,) = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")
                 if json.loads(p.read_text())["testCaseId"] == "SIT-PAY-006"]
    checks = [(sub["name"], sub["status"]) for step in result["steps"] for sub in step.get("steps", [])
              if not sub["name"].startswith("platform.")]
    assert checks == [(sentence, "failed")]


# --- a biller profile given by a path outside the project ---------------------------------


def test_biller_path_outside_the_project(tmp_path: Path) -> None:
    biller = tmp_path / "biller.yaml"
    shutil.copy(PROJECT / "fixtures" / "billers" / f"{BILLER}.yaml", biller)
    run = sit_run(tmp_path, str(biller), "credit")
    assert run.finished("SIT-PAY-003")["status"] == "passed"


def test_a_setting_the_partner_needs_at_another_value_fails_the_configuration_case_naming_it(tmp_path: Path) -> None:
    project, biller = biller_variant(tmp_path, settings={107: "AMOUNT_DUE"})
    run = sit_run(tmp_path, str(biller), "SIT-CFG-001", project=project, expect=1)
    error = run.finished("SIT-CFG-001")["error"]
    assert error.startswith("expected the biller's configuration to have setting 28 (Cayenta customer block EFT "
                            "indicator) set, "), error
    assert "setting 107 (Past due field in the RTDR reply) PASTDUE_AMT" in error.split("; it has ")[0]
    assert "setting 107 (Past due field in the RTDR reply) AMOUNT_DUE" in error.split("; it has ")[1]
