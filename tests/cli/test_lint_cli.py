"""`sit lint` end to end: findings as one line each naming file and line, a summary, exit 1 only on errors;
and `sit run` showing the biller's warnings before it starts."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import PROJECT, all_sit_ids, run_sit

BILLER = "clayton-county-water"
CARD_PAYMENT = "card_payment_posts"  # -k: only SIT-PAY-001, a short run
KNOWN_STEP = "Given the partner holds an account with a balance of 10.00"  # a phrase of the catalogue


def lint(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = run_sit("lint", "--project", str(project), *args)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def line_of(path: Path, prefix: str) -> int:
    return next(n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text.startswith(prefix))


def only_clayton(project: Path) -> Path:
    """The copy with Clayton and Cayenta only (profiles others add meanwhile do not count); Clayton's YAML."""
    for folder, keep in (("billers", f"{BILLER}.yaml"), ("partners", "cayenta.yaml")):
        for path in (project / "fixtures" / folder).glob("*.yaml"):
            if path.name != keep:
                path.unlink()
    return project / "fixtures" / "billers" / f"{BILLER}.yaml"


def old_version_and_expiring_token(project: Path) -> Path:
    """Cayenta needing 2021.02.160, Clayton on 2020.11.300 with a token expiring in 10 days."""
    biller = only_clayton(project)
    partner = project / "fixtures" / "partners" / "cayenta.yaml"
    partner.write_text(partner.read_text(encoding="utf-8") + 'min_version: "2021.02.160"\n', encoding="utf-8")
    text = biller.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.startswith("partner_version:"))
    expires = datetime.now(UTC).date() + timedelta(days=10)
    biller.write_text(text.replace(old, 'partner_version: "Cayenta 2020.11.300"') + f"token_expires: {expires}\n",
                      encoding="utf-8")
    return biller


def test_warnings_name_the_file_and_line_and_exit_0(project_copy: Path) -> None:
    biller = old_version_and_expiring_token(project_copy)
    proc = lint(project_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rel = f"fixtures/billers/{BILLER}.yaml"
    lines = proc.stdout.splitlines()
    assert lines[0] == (f"WARNING {rel}:{line_of(biller, 'partner_version:')}: partner version 2020.11.300 is older "
                        "than 2021.02.160, the oldest Cayenta Utilities version that works; "
                        "upgrade every biller workstation before SIT")
    assert lines[1].startswith(f"WARNING {rel}:{line_of(biller, 'token_expires:')}: OAuth token expires on ")
    assert lines[1].endswith(", in 10 days: renew it before SIT (tokens with manual authorization last six months)")
    assert lines[2:] == [f"1 biller, 1 partner, {len(all_sit_ids())} scenarios checked: 0 errors, 2 warnings"]


def test_one_biller_only(project_copy: Path) -> None:
    old_version_and_expiring_token(project_copy)
    (project_copy / "fixtures" / "billers" / "other.yaml").write_text("slug: [\n", encoding="utf-8")
    proc = lint(project_copy, "--biller", BILLER)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("WARNING") == 2 and "ERROR" not in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("1 biller, 1 partner, ")


def test_a_broken_biller_profile_is_an_error_line_and_exit_1(project_copy: Path) -> None:
    only_clayton(project_copy)
    broken = project_copy / "fixtures" / "billers" / "broken.yaml"
    shutil.copy(project_copy / "fixtures" / "billers" / f"{BILLER}.yaml", broken)
    broken.write_text(broken.read_text(encoding="utf-8").replace("bid: 1368", "bid: abc"), encoding="utf-8")
    proc = lint(project_copy)
    assert proc.returncode == 1, proc.stdout
    errors = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert errors == [f"ERROR fixtures/billers/broken.yaml:{line_of(broken, 'bid:')}: field 'bid': "
                      "Input should be a valid integer, unable to parse string as an integer (got 'abc')"]
    assert proc.stdout.splitlines()[-1] == (
        f"2 billers, 1 partner, {len(all_sit_ids())} scenarios checked: 1 error, 0 warnings")


def test_broken_stubs_and_features_are_errors(project_copy: Path) -> None:
    only_clayton(project_copy)
    mapping = project_copy / "stubs" / "cayenta" / "mappings" / "add-ar-item.json"
    mapping.write_text(mapping.read_text(encoding="utf-8") + "garbage }\n", encoding="utf-8")
    (project_copy / "features").unlink()  # a symlink to the checkout's: copy it to break it
    shutil.copytree(PROJECT / "features", project_copy / "features")
    (project_copy / "features" / "extra.feature").write_text(
        f"Feature: Extra\n\n  @SIT-X-001\n  Scenario: tagged\n    {KNOWN_STEP}\n\n"
        f"  Scenario: untagged\n    {KNOWN_STEP}\n",
        encoding="utf-8")
    (project_copy / "features" / "bad.feature").write_text("Feature: Bad\n  Scenario: a\n    Given x\n    Foo bar\n",
                                                           encoding="utf-8")
    proc = lint(project_copy)
    assert proc.returncode == 1
    errors = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert errors[0].startswith("ERROR stubs/cayenta/mappings/add-ar-item.json:")
    assert "broken mapping JSON" in errors[0]
    assert errors[1].startswith("ERROR features/bad.feature:4: not valid Gherkin (")
    assert errors[2] == "ERROR features/extra.feature:7: scenario 'untagged' has no SIT ID tag (@SIT-...): " \
                        "runs and the workbook skip it"
    assert len(errors) == 3
    assert proc.stdout.splitlines()[-1] == (
        f"1 biller, 1 partner, {len(all_sit_ids()) + 2} scenarios checked: 3 errors, 0 warnings")


def own_features(project: Path, extra: str) -> Path:
    """The copy's features as the checkout has them (copied, not linked) plus features/extra.feature."""
    (project / "features").unlink()
    shutil.copytree(PROJECT / "features", project / "features")
    path = project / "features" / "extra.feature"
    path.write_text(extra, encoding="utf-8")
    return path


EXTRA = """Feature: Extra

  @SIT-PAY-001 @capability:payment_posting
  Scenario: A second card payment
    Given the partner holds an account with a balance of 10.00
    When the payer pays 10.00 by cheque
    Then the partnr received nothing
    And the payment route shows a balance of ten

  @SIT-X-001 @capability:rtdr_balance
  Scenario: A block without its tag
    Given the partner blocks ACH payments for an account
    Given the payer pays 10.00 by card
"""


def test_duplicate_ids_unknown_phrases_and_refused_values_are_errors_naming_file_and_line(
        project_copy: Path) -> None:
    only_clayton(project_copy)
    own_features(project_copy, EXTRA)
    first = line_of(PROJECT / "features" / "payment_pump.feature", "  Scenario: A card payment posts")
    proc = lint(project_copy)
    assert proc.returncode == 1, proc.stdout
    assert [line for line in proc.stdout.splitlines() if line.startswith("ERROR")] == [
        "ERROR features/extra.feature:6: step 'When the payer pays 10.00 by cheque': {method} takes card or ACH, "
        "not 'cheque' (phrase 'When the payer pays {amount} by {method}')",
        "ERROR features/extra.feature:7: step 'Then the partnr received nothing' is in no Then phrase of the step "
        "catalogue; the nearest is 'Then the partner received no return' (`sit steps` lists them all)",
        "ERROR features/extra.feature:8: step 'And the payment route shows a balance of ten': {amount} takes an "
        "amount such as 45.10, not 'ten' (phrase 'Then the payment route shows a balance of {amount}')",
        "ERROR features/extra.feature:12: step 'Given the partner blocks ACH payments for an account' needs the tag "
        "@setting:block_codes:ACH on its scenario, so that the scenario is N/A for a biller whose settings do not "
        "provide it",
        "ERROR features/extra.feature:13: step 'Given the payer pays 10.00 by card' is not a Given step: 'When the "
        "payer pays {amount} by {method}' reads it; write it as a When step (And/But take the kind of the step "
        "before them)",
        f"ERROR features/payment_pump.feature:{first}: SIT ID SIT-PAY-001 of scenario 'A card payment posts to "
        "the partner' is also the ID of 'A second card payment' at features/extra.feature:4: one result would "
        "replace the other in the workbook; give each scenario its own ID",
    ]
    assert proc.stdout.splitlines()[-1] == (
        f"1 biller, 1 partner, {len(all_sit_ids()) + 2} scenarios checked: 6 errors, 0 warnings")


def test_an_and_step_takes_the_kind_of_the_step_before_it(project_copy: Path) -> None:
    """The negative control of the wrong-kind rule: And after When is a When step, And after Then a Then step."""
    only_clayton(project_copy)
    own_features(project_copy, """Feature: Extra

  @SIT-X-001 @capability:payment_posting
  Scenario: Two payments
    Given the partner holds an account with a balance of 10.00
    When the payer pays 4.00 by card
    And the payer pays 6.00 by ACH
    Then the payment route shows a balance of 10.00
    But the payment route shows 0.00 past due
""")
    proc = lint(project_copy)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines()[-1].endswith(": 0 errors, 0 warnings")


@pytest.mark.parametrize(("line", "replacement", "field", "message"), [
    ("  32: true", "  32: \"false\"", "settings.32", "setting 32 (only RTDR sets payment block flags; biller-portal "
     "users may not) takes true or false (without quotes), got 'false'"),
    ("  114: true", "  114: yes please", "settings.114", "setting 114 (credits are posted through the data pump "
     "(AddARItem, transaction type 6)) takes true or false, got 'yes please'"),
    ("  107: PASTDUE_AMT", "  99: true", "settings.99", "cayenta has no advanced setting 99 (its settings: "
     "28 (block_codes), 32 (portal_block_lock), 107 (past_due_field), 114 (credit_posting); their meaning is in "
     "fixtures/partners/cayenta.yaml)"),
    ("    ACH: [E, B]", "    EFT: [E, B]", "settings.28.EFT", "setting 28 (Cayenta customer block EFT indicator: "
     "the codes that block card (CC) or ACH payments) has a list of codes for each of CC, ACH; 'EFT' is none of them"),
    ("name: Clayton County Water Authority", "name: ''", "name", "String should have at least 1 character (got '')"),
])
def test_a_biller_setting_of_the_wrong_type_is_an_error_naming_line_and_field(
        project_copy: Path, line: str, replacement: str, field: str, message: str) -> None:
    biller = only_clayton(project_copy)
    text = biller.read_text(encoding="utf-8")
    old = next(t for t in text.splitlines() if t.startswith(line))
    biller.write_text(text.replace(old, replacement), encoding="utf-8")
    at = f"fixtures/billers/{BILLER}.yaml:{line_of(biller, replacement)}"
    proc = lint(project_copy)
    assert proc.returncode == 1, proc.stdout
    assert [t for t in proc.stdout.splitlines() if t.startswith("ERROR")] == [f"ERROR {at}: field '{field}': {message}"]
    run = run_sit("run", "--biller", BILLER, "--project", str(project_copy), "--no-report")  # refused as it loads
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == f"sit: {project_copy}/{at}: field '{field}': {message}\n"


def test_the_real_project_has_no_errors() -> None:
    proc = lint(PROJECT)
    assert proc.returncode == 0, proc.stdout
    assert not [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert ": 0 errors, " in proc.stdout.splitlines()[-1]


def test_sit_run_shows_the_billers_warnings_first(tmp_path: Path, project_copy: Path) -> None:
    biller = old_version_and_expiring_token(project_copy)
    proc = run_sit("run", "--biller", BILLER, "--project", str(project_copy), "--store", str(tmp_path / "e.sqlite"),
                   "--no-report", "-k", CARD_PAYMENT)
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("warning: ")]
    assert warnings[0].startswith(f"warning: fixtures/billers/{BILLER}.yaml:{line_of(biller, 'partner_version:')}: "
                                  "partner version 2020.11.300 is older than 2021.02.160")
    assert "OAuth token expires on " in warnings[1] and len(warnings) == 2
    assert proc.returncode == 0, proc.stdout + proc.stderr  # warnings do not fail a run
