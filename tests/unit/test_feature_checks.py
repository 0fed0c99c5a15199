"""The feature checks `sit lint` reports and `sit run` refuses to start on, against the real step catalogue
and partner profiles, on features written into a throwaway project."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import parse
import pytest

from harness.catalogue import StepDoc, project_catalogue
from harness.feature_checks import Finding, check_features
from harness.features import read_feature_steps

PROJECT = Path(__file__).resolve().parents[2]
CATALOGUE = project_catalogue(PROJECT)
KNOWN = "Given the partner holds an account with a balance of 10.00"


def project(tmp_path: Path, *features: str, profiles: bool = True) -> Path:
    """A project holding ``features`` as features/f1.feature, f2.feature... and the checkout's profiles."""
    root = tmp_path / "project"
    (root / "features").mkdir(parents=True)
    if profiles:
        (root / "fixtures").symlink_to(PROJECT / "fixtures")
    for n, text in enumerate(features, 1):
        (root / "features" / f"f{n}.feature").write_text(text, encoding="utf-8")
    return root


def scenario(sit_id: str, *steps: str, tags: str = "@capability:payment_posting", name: str = "S") -> str:
    lines = "".join(f"    {step}\n" for step in steps)
    return f"\n  @{sit_id} {tags}\n  Scenario: {name} {sit_id}\n{lines}"


def feature(*scenarios: str) -> str:
    return "Feature: F\n" + "".join(scenarios)


def errors(root: Path) -> list[str]:
    check = check_features(root, CATALOGUE)
    assert all(f.level == "error" for f in check.findings)
    return [f"{f.where}: {f.message}" for f in check.findings]


def test_the_real_features_have_nothing_to_fix() -> None:
    check = check_features(PROJECT, CATALOGUE)
    assert check.findings == []
    assert check.scenarios == sum(len(read_feature_steps(p, p.name))
                                  for p in (PROJECT / "features").glob("*.feature"))


def test_a_sit_id_used_twice_names_both_places(tmp_path: Path) -> None:
    root = project(tmp_path, feature(scenario("SIT-A-001", KNOWN, name="first")),
                   feature(scenario("SIT-B-001", KNOWN), scenario("SIT-A-001", KNOWN, name="second")))
    assert errors(root) == [
        "features/f2.feature:8: SIT ID SIT-A-001 of scenario 'second SIT-A-001' is also the ID of 'first SIT-A-001' "
        "at features/f1.feature:4: one result would replace the other in the workbook; give each scenario its own ID"]


def test_no_sit_id_or_two_of_them(tmp_path: Path) -> None:
    text = feature(scenario("SIT-A-001", KNOWN, tags="@SIT-A-002 @capability:payment_posting"),
                   "\n  @capability:payment_posting\n  Scenario: untagged\n    " + KNOWN + "\n")
    assert errors(project(tmp_path, text)) == [
        "features/f1.feature:4: scenario 'S SIT-A-001' has 2 SIT IDs (@SIT-A-001, @SIT-A-002): the workbook keeps "
        "only SIT-A-001; give it one",
        "features/f1.feature:8: scenario 'untagged' has no SIT ID tag (@SIT-...): runs and the workbook skip it"]


def test_gherkin_that_does_not_parse_names_its_line_and_the_other_files_are_still_checked(tmp_path: Path) -> None:
    root = project(tmp_path, "Feature: Bad\n  Scenario: a\n    Given x\n    Foo bar\n",
                   feature(scenario("SIT-A-001", "Given nothing of the sort")))
    found = errors(root)
    assert found[0].startswith("features/f1.feature:4: not valid Gherkin (")
    assert found[1].startswith("features/f2.feature:5: step 'Given nothing of the sort' is in no Given phrase")
    assert len(found) == 2


def test_an_unknown_phrase_names_the_nearest_of_its_kind(tmp_path: Path) -> None:
    root = project(tmp_path, feature(scenario("SIT-A-001", "Given the partner hold an account with a balance of 5.00",
                                              "When the payer open the account on the payment route")))
    assert errors(root) == [
        "features/f1.feature:5: step 'Given the partner hold an account with a balance of 5.00' is in no Given "
        "phrase of the step catalogue; the nearest is 'Given the partner holds an account with a balance of "
        "{balance}' (`sit steps` lists them all)",
        "features/f1.feature:6: step 'When the payer open the account on the payment route' is in no When phrase of "
        "the step catalogue; the nearest is 'When the payer opens the account on the payment route' "
        "(`sit steps` lists them all)"]


@pytest.mark.parametrize(("step", "refusal"), [
    ("When the payer pays 10.00 by cheque", "{method} takes card or ACH, not 'cheque'"),
    ("When the payer pays ten by card", "{amount} takes an amount such as 45.10, not 'ten'"),
    ("When the payer pays ten by cheque",
     "{amount} takes an amount such as 45.10, not 'ten'; {method} takes card or ACH, not 'cheque'"),
])
def test_a_value_the_step_refuses_says_which_parameter_and_what_it_takes(
        tmp_path: Path, step: str, refusal: str) -> None:
    root = project(tmp_path, feature(scenario("SIT-A-001", KNOWN, step)))
    assert errors(root) == [f"features/f1.feature:6: step '{step}': {refusal} "
                            "(phrase 'When the payer pays {amount} by {method}')"]


def test_and_and_but_take_the_kind_of_the_step_before_them(tmp_path: Path) -> None:
    ok = feature(scenario("SIT-A-001", KNOWN, "When the payer pays 4.00 by card", "And the payer pays 6.00 by ACH",
                          "Then the payment route shows a balance of 10.00",
                          "But the payment route shows 0.00 past due"))
    assert errors(project(tmp_path / "ok", ok)) == []
    wrong = feature(scenario("SIT-A-001", KNOWN, "Then the payment route shows a balance of 10.00",
                             "And the payer pays 6.00 by ACH"))
    assert errors(project(tmp_path / "wrong", wrong)) == [
        "features/f1.feature:7: step 'And the payer pays 6.00 by ACH' is not a Then step: 'When the payer pays "
        "{amount} by {method}' reads it; write it as a When step (And/But take the kind of the step before them)"]


def test_a_scenario_and_its_background_each_begin_with_a_kind(tmp_path: Path) -> None:
    """pytest-bdd gives background and scenario steps their kinds separately: an And cannot open either."""
    text = ("Feature: F\n  Background:\n    " + KNOWN + "\n"
            + scenario("SIT-A-001", "And the payer pays 6.00 by ACH", "Then the payment route shows 0.00 past due"))
    assert errors(project(tmp_path, text)) == [
        "features/f1.feature:7: step 'And the payer pays 6.00 by ACH' comes first in its scenario or background: "
        "begin with Given, When or Then"]


def test_every_example_of_an_outline_is_checked_at_its_steps_line(tmp_path: Path) -> None:
    text = ("Feature: F\n\n  @SIT-A-001 @capability:payment_posting\n  Scenario Outline: pays <m>\n    " + KNOWN +
            "\n    When the payer pays <a> by <m>\n    Examples:\n      | a | m |\n      | 1.00 | card |\n"
            "      | 2.00 | cash |\n      | 3.00 | ACH |\n")
    assert errors(project(tmp_path, text)) == [
        "features/f1.feature:6: step 'When the payer pays 2.00 by cash': {method} takes card or ACH, not 'cash' "
        "(phrase 'When the payer pays {amount} by {method}')"]


def test_a_step_that_needs_a_setting_tag_is_refused_without_it(tmp_path: Path) -> None:
    blocks = "Given the partner blocks card payments for an account"
    without = feature(scenario("SIT-A-001", blocks, "Given the biller lets only RTDR set payment blocks"))
    assert errors(project(tmp_path / "without", without)) == [
        f"features/f1.feature:5: step '{blocks}' needs the tag @setting:block_codes:CC on its scenario, so that the "
        "scenario is N/A for a biller whose settings do not provide it",
        "features/f1.feature:6: step 'Given the biller lets only RTDR set payment blocks' needs the tag "
        "@setting:portal_block_lock on its scenario, so that the scenario is N/A for a biller whose settings do not "
        "provide it"]
    tagged = feature(scenario("SIT-A-001", blocks, "Given the biller lets only RTDR set payment blocks",
                              tags="@capability:rtdr_balance @setting:block_codes:CC @setting:portal_block_lock"))
    assert errors(project(tmp_path / "tagged", tagged)) == []


@pytest.mark.parametrize(("tag", "message"), [
    ("@setting:portal_lock", "tag @setting:portal_lock: no partner profile names a biller setting 'portal_lock' "
                             "(settings: block_codes, credit_posting, past_due_field, portal_block_lock, "
                             "vendor_prefix)"),
    ("@setting:block_codes:EFT", "tag @setting:block_codes:EFT: setting 'block_codes' has no key 'EFT' "
                                 "(keys: ACH, CC)"),
    ("@setting:portal_block_lock:CC", "tag @setting:portal_block_lock:CC: setting 'portal_block_lock' has no key "
                                      "'CC' (keys: none: it is not a list per key)"),
    ("@capability:teleport", "tag @capability:teleport: no entry for 'teleport' in the capability matrix of "
                             "fixtures/partners/caselle.yaml, fixtures/partners/cayenta.yaml, "
                             "fixtures/partners/cloudpay.yaml, fixtures/partners/stw.yaml; add it with its status "
                             "and reason"),
    ("@withheld:bill_images", "tag @withheld:bill_images: the platform makes nothing for 'bill_images' that it could "
                              "hold back (it makes what ach_reject_posting, autopay_change, credit_posting, "
                              "email_change, paperless_change, payment_posting, phone_change, void_posting post); "
                              "tag the scenario @capability:bill_images instead, so that it is N/A with the reason "
                              "where the capability is not in scope"),
    ("@withheld:payment_posting", "tag @withheld:payment_posting: the scenario also carries "
                                  "@capability:payment_posting, so it never applies (a withheld scenario runs only "
                                  "where the capability is out of scope); keep one of the two tags"),
])
def test_tags_that_name_profile_data_are_checked_against_the_partner_profiles(
        tmp_path: Path, tag: str, message: str) -> None:
    root = project(tmp_path, feature(scenario("SIT-A-001", KNOWN, tags=f"@capability:payment_posting {tag}")))
    assert errors(root) == [f"features/f1.feature:4: {message}"]


def test_tag_rules_wait_for_partner_profiles(tmp_path: Path) -> None:
    """Without any partner profile there is nothing to check a tag against (`sit lint` reports the profiles)."""
    root = project(tmp_path, feature(scenario("SIT-A-001", KNOWN, tags="@capability:teleport @setting:nothing")),
                   profiles=False)
    assert errors(root) == []


def test_ambiguous_phrases_are_named(tmp_path: Path) -> None:
    twice = [*CATALOGUE, StepDoc("Given", "the partner holds an account with a balance of {amount:Money}",
                                 (("amount", "an amount"),), "a copy", "tests")]
    root = project(tmp_path, feature(scenario("SIT-A-001", KNOWN)))
    [finding] = check_features(root, twice).findings
    assert finding == Finding("error", "features/f1.feature:5", (
        f"step '{KNOWN}' matches 2 phrases (Given the partner holds an account with a balance of {{balance}}; "
        "Given the partner holds an account with a balance of {amount}): make the step definitions distinct"))


def test_no_features_folder_is_one_finding(tmp_path: Path) -> None:
    [finding] = check_features(tmp_path, CATALOGUE).findings
    assert finding.where == "features" and "no features folder" in finding.message


def test_patterns_are_compiled_once_however_many_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real: Callable[..., Any] = parse.compile
    monkeypatch.setattr(parse, "compile", lambda pattern, *a, **k: compiled.append(pattern) or real(pattern, *a, **k))
    many = feature(*(scenario(f"SIT-A-{n:03}", KNOWN, f"When the payer pays {n}.00 by card") for n in range(200)))
    assert errors(project(tmp_path, many)) == []
    assert len(compiled) <= 2 * len(CATALOGUE)  # each phrase strict, and loose when it has typed fields
