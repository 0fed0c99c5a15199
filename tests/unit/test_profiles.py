"""Profile loading errors and the capability scope rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import ProfileError
from harness.profiles import load_biller, out_of_scope, scenario_scope

PROJECT = Path(__file__).resolve().parents[2]
CLAYTON = PROJECT / "fixtures" / "billers" / "clayton-county-water.yaml"


def variant(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(CLAYTON.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / "biller.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"partner": "nosuch"},
         r"biller.yaml:\d+: field 'partner': unknown partner 'nosuch' \(known: caselle, cayenta"),
        ({"bid": None}, r"biller.yaml:1: field 'bid': Field required"),
        ({"bid": "abc"}, r"biller.yaml:\d+: field 'bid': .*integer.*\(got 'abc'\)"),
        ({"capabilities": ["phone_change"]}, r"'phone_change' is not_supported for cayenta"),
        ({"capabilities": ["teleport"]}, r"'teleport' is not a capability of cayenta"),
        ({"colour": "blue"}, r"field 'colour': Extra inputs are not permitted"),
        ({"sit_link": "https://tracker.example/SIT"}, r"field 'sit_link': .*must contain \{\} where the SIT ID goes"),
    ],
)
def test_bad_biller_profiles_are_one_line_naming_file_and_field(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ProfileError, match=message) as caught:
        load_biller(PROJECT, str(variant(tmp_path, **changes)))
    assert "\n" not in str(caught.value)


def test_sit_link_is_the_billers_pattern_or_nothing(tmp_path: Path) -> None:
    assert load_biller(PROJECT, str(CLAYTON)).profile.sit_link is None  # no pattern: reports link no SIT ID
    pattern = "https://tracker.example/SIT/{}"
    assert load_biller(PROJECT, str(variant(tmp_path, sit_link=pattern))).profile.sit_link == pattern


def test_the_line_of_a_nested_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "biller.yaml"
    path.write_text(CLAYTON.read_text().replace("user: clayton", "user: [not, a, string]"))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "not, a, string" in text)
    with pytest.raises(ProfileError, match=rf"biller.yaml:{line}: field 'sftp.user'"):
        load_biller(PROJECT, str(path))


def test_unknown_slug_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"no such biller 'nosuch' \(known: clayton-county-water"):
        load_biller(PROJECT, "nosuch")
    broken = tmp_path / "broken.yaml"
    broken.write_text("slug: x\nbid: [1\n")
    with pytest.raises(ProfileError, match=r"broken.yaml:\d+: not valid YAML"):
        load_biller(PROJECT, str(broken))


def test_scope_follows_the_capability_matrix_and_the_billers_choices(tmp_path: Path) -> None:
    clayton = load_biller(PROJECT, "clayton-county-water")
    assert out_of_scope(clayton, "payment_posting") is None
    assert out_of_scope(clayton, "credit_posting") is None  # optional, switched on by setting 114
    assert "Not supported by Cayenta Utilities: Budget billing" in (out_of_scope(clayton, "budget_billing") or "")
    assert "not taken for Clayton County Water Authority" in (out_of_scope(clayton, "ach_reject_posting") or "")
    no_credits = load_biller(PROJECT, str(variant(tmp_path, settings={28: {}, 114: False})))
    assert "setting 114 is off" in (out_of_scope(no_credits, "credit_posting") or "")
    with pytest.raises(ProfileError, match="no entry for 'teleport'"):
        out_of_scope(clayton, "teleport")


def test_scenario_scope_reads_partner_and_capability_tags() -> None:
    clayton = load_biller(PROJECT, "clayton-county-water")
    assert scenario_scope(clayton, {"SIT-PAY-001", "capability:payment_posting", "partner:cayenta"}) is None
    assert "Specific to partner caselle" in (scenario_scope(clayton, {"partner:caselle"}) or "")
    both = {"capability:paperless_change", "capability:phone_change"}
    assert "Phone number change logs" in (scenario_scope(clayton, both) or "")


def test_balance_fields_follow_the_billers_setting() -> None:
    clayton = load_biller(PROJECT, "clayton-county-water")
    assert clayton.balance_field("past_due") == "PASTDUE_AMT"  # setting 107
    assert clayton.balance_field("balance") == "BALANCE"
    assert clayton.balance_field("budget_amount") is None
