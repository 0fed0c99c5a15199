"""`sit lint` rules for one biller: the partner version against the partner's oldest working one,
and the OAuth token's expiry date; both read from profile data, with fake dates."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from harness.profiles import Biller, BillerProfile, Finding, lint_biller, load_partner, read_model
from harness.profiles.lint import TOKEN_WARNING_DAYS, parse_version

PROJECT = Path(__file__).resolve().parents[2]
CLAYTON = PROJECT / "fixtures" / "billers" / "clayton-county-water.yaml"
TODAY = date(2026, 3, 1)
MINIMUM = "2021.02.160"


def biller(tmp_path: Path, min_version: str | None = MINIMUM, notes: tuple[str, ...] = (),
           **changes: object) -> Biller:
    """Clayton's profile with ``changes``, written to tmp/fixtures/billers/x.yaml; cayenta with ``min_version``."""
    data = {**yaml.safe_load(CLAYTON.read_text(encoding="utf-8")), **changes}
    path = tmp_path / "fixtures" / "billers" / "x.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    partner = load_partner(PROJECT, "cayenta").model_copy(update={"min_version": min_version, "notes": list(notes)})
    return Biller(profile=read_model(path, BillerProfile), partner=partner, path=path)


def line_of(path: Path, field: str) -> int:
    return next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith(f"{field}:"))


@pytest.mark.parametrize(("text", "expected"), [
    ("Caselle Connect 2021.02.160", (2021, 2, 160)),
    ("Cayenta Utilities 7.9.2 (CSS gen 3)", (7, 9, 2)),
    ("v10.1", (10, 1)),
    ("Connect 2021 build 7", None),
    ("", None),
])
def test_parse_version_takes_the_first_dotted_number(text: str, expected: tuple[int, ...] | None) -> None:
    assert parse_version(text) == expected


def test_an_older_version_warns_naming_file_line_both_versions_and_the_reason(tmp_path: Path) -> None:
    note = f"Connect {MINIMUM} or later: earlier versions drop the OAuth header."
    b = biller(tmp_path, notes=("Batch closure is custom.", note), partner_version="Cayenta 2020.11.300")
    [finding] = lint_biller(b, TODAY)
    assert finding.level == "warning"
    assert finding.where == f"fixtures/billers/x.yaml:{line_of(b.path, 'partner_version')}"
    assert finding.message == (
        f"partner version 2020.11.300 is older than {MINIMUM}, the oldest Cayenta Utilities version that works "
        f"(Connect {MINIMUM} or later: earlier versions drop the OAuth header); "
        "upgrade every biller workstation before SIT")


@pytest.mark.parametrize("version", [MINIMUM, "Connect 2021.2.160", "2021.02.161", "2022.1", "Connect 2021.10.1 r2"])
def test_an_equal_or_newer_version_is_fine(tmp_path: Path, version: str) -> None:
    assert lint_biller(biller(tmp_path, partner_version=version), TODAY) == []


def test_versions_compare_as_numbers_not_text(tmp_path: Path) -> None:
    [finding] = lint_biller(biller(tmp_path, min_version="7.10.0", partner_version="7.9.2"), TODAY)
    assert "7.9.2 is older than 7.10.0" in finding.message
    assert "(" not in finding.message.split("works")[1].split(";")[0]  # no note names 7.10.0: no reason shown


def test_a_version_without_a_number_cannot_be_checked(tmp_path: Path) -> None:
    [finding] = lint_biller(biller(tmp_path, partner_version="Caselle Connect (latest)"), TODAY)
    assert finding.level == "warning"
    assert "'Caselle Connect (latest)' has no version number" in finding.message
    assert f"cannot be checked against {MINIMUM}" in finding.message


def test_no_min_version_no_version_rule(tmp_path: Path) -> None:
    assert lint_biller(biller(tmp_path, min_version=None, partner_version="0.1"), TODAY) == []


@pytest.mark.parametrize(("days", "expected"), [
    (-40, "OAuth token expired on 2026-01-20: ask the partner for a new one"),
    (0, "OAuth token expired on 2026-03-01: ask the partner for a new one"),
    (1, "OAuth token expires on 2026-03-02, in 1 day: renew it before SIT "
        "(tokens with manual authorization last six months)"),
    (10, "OAuth token expires on 2026-03-11, in 10 days: renew it before SIT "
         "(tokens with manual authorization last six months)"),
    (TOKEN_WARNING_DAYS, "OAuth token expires on 2026-03-31, in 30 days: renew it before SIT "
                         "(tokens with manual authorization last six months)"),
])
def test_a_token_expired_or_expiring_within_30_days_warns(tmp_path: Path, days: int, expected: str) -> None:
    b = biller(tmp_path, min_version=None, token_expires=TODAY + timedelta(days=days))
    assert lint_biller(b, TODAY) == [
        Finding("warning", f"fixtures/billers/x.yaml:{line_of(b.path, 'token_expires')}", expected)]


@pytest.mark.parametrize("days", [TOKEN_WARNING_DAYS + 1, 45, 180])
def test_a_token_with_more_than_30_days_left_is_fine(tmp_path: Path, days: int) -> None:
    assert lint_biller(biller(tmp_path, min_version=None, token_expires=TODAY + timedelta(days=days)), TODAY) == []


def test_both_rules_at_once_version_first_and_a_finding_prints_as_one_line(tmp_path: Path) -> None:
    b = biller(tmp_path, partner_version="2020.11.300", token_expires=TODAY)
    findings = lint_biller(b, TODAY)
    assert [f.where.rsplit(":", 1)[1] for f in findings] == [
        str(line_of(b.path, "partner_version")), str(line_of(b.path, "token_expires"))]
    assert str(findings[1]) == (f"WARNING fixtures/billers/x.yaml:{line_of(b.path, 'token_expires')}: "
                                "OAuth token expired on 2026-03-01: ask the partner for a new one")


def test_a_profile_outside_fixtures_is_named_by_its_path(tmp_path: Path) -> None:
    b = biller(tmp_path, min_version=None, token_expires=TODAY)
    moved = tmp_path / "elsewhere.yaml"
    b.path.rename(moved)
    [finding] = lint_biller(Biller(profile=b.profile, partner=b.partner, path=moved), TODAY)
    assert finding.where.startswith(f"{moved}:")


def test_the_real_billers_have_nothing_to_fix_in_the_profile_rules() -> None:
    from harness.profiles import lint_project

    assert [f for f in lint_project(PROJECT, date.today()) if f.level == "error"] == []


def test_test_accounts_a_live_run_could_never_use_are_named_with_their_line(tmp_path: Path) -> None:
    accounts = [{"number": "100200300", "holds": {"balance": "120.50", "budget_amount": "95.00"}},
                {"number": "100200300", "holds": {"balance": "1.00"}}]
    b = biller(tmp_path, min_version=None, test_data={"accounts": accounts})
    findings = [str(f) for f in lint_biller(b, TODAY)]
    assert len(findings) == 2
    assert "test account 100200300 holds 'budget_amount', which Cayenta Utilities's balance reply has no field" \
        in findings[0]
    assert findings[1].endswith("test account 100200300 is named twice; name it once")
    assert all(f.startswith("WARNING fixtures/billers/x.yaml:") for f in findings)
