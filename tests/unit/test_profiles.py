"""Profile loading errors and the capability scope rule."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from harness.errors import ProfileError
from harness.profiles import (
    InvoiceFile,
    belongs,
    load_biller,
    load_partner,
    out_of_scope,
    scenario_scope,
    withheld_rule,
)

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
    with pytest.raises(ProfileError,
                       match=r"no such biller 'nosuch' \(known: brazos-valley-utilities, cedar-bluff-recreation, "
                             r"clayton-county-water"):
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


def test_scenario_scope_reads_capability_tags() -> None:
    clayton = load_biller(PROJECT, "clayton-county-water")
    assert scenario_scope(clayton, {"SIT-PAY-001", "capability:payment_posting", "partner:cayenta"}) is None
    both = {"capability:paperless_change", "capability:phone_change"}
    assert "Phone number change logs" in (scenario_scope(clayton, both) or "")


def test_a_scenario_for_another_partner_is_outside_the_billers_workbook() -> None:
    clayton = load_biller(PROJECT, "clayton-county-water")
    assert belongs(clayton, {"SIT-PAY-001", "capability:payment_posting"})
    assert belongs(clayton, {"partner:cayenta"}) and belongs(clayton, {"partner:cayenta", "partner:caselle"})
    assert not belongs(clayton, {"SIT-CSL-001", "partner:caselle"})


def test_balance_fields_follow_the_billers_setting() -> None:
    clayton = load_biller(PROJECT, "clayton-county-water")
    assert clayton.balance_field("past_due") == "PASTDUE_AMT"  # setting 107
    assert clayton.balance_field("balance") == "BALANCE"
    assert clayton.balance_field("budget_amount") is None


# --- biller settings, typed by the partner profile -----------------------------------------------


def _settings_variant(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """Clayton's YAML with the line starting ``old`` replaced by ``new``; the file and that line's number."""
    text = CLAYTON.read_text()
    line = next(t for t in text.splitlines() if t.startswith(old))
    path = tmp_path / "biller.yaml"
    path.write_text(text.replace(line, new))
    return path, next(n for n, t in enumerate(path.read_text().splitlines(), 1) if t == new)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("  32:", '  32: "false"', r"field 'settings.32': setting 32 \(only RTDR sets payment block flags; biller-portal "
                               r"users may not\) takes true or false \(without quotes\), got 'false'$"),
    ("  32:", "  32: 1", r"field 'settings.32': .* takes true or false, got 1$"),
    ("  114:", "  114: yes please", r"field 'settings.114': setting 114 \(credits are posted through the data pump "
                                    r"\(AddARItem, transaction type 6\)\) takes true or false, got 'yes please'$"),
    ("  107:", "  107: 30", r"field 'settings.107': setting 107 \(the past due field in the RTDR reply "
                            r"\(PASTDUE_AMT\)\) takes text, got 30$"),
    ("  107:", "  107: ' '", r"field 'settings.107': .* takes text, got ' '$"),
    ("  107:", "  99: true", r"field 'settings.99': cayenta has no advanced setting 99 \(its settings: 28 "
                             r"\(block_codes\), 32 \(portal_block_lock\), 107 \(past_due_field\), 114 "
                             r"\(credit_posting\); their meaning is in fixtures/partners/cayenta.yaml\)$"),
    ("    CC:", "    CC: C", r"field 'settings.28.CC': .* takes a list of codes for CC such as \[A, B\], got 'C'$"),
    ("    CC:", "    CC: [C, 7]", r"field 'settings.28.CC': .* got \['C', 7\]$"),
    ("    CC:", "    EFT: [C]", r"field 'settings.28.EFT': .* has a list of codes for each of CC, ACH; 'EFT' is "
                                r"none of them$"),
    ("name:", "name: ''", r"field 'name': String should have at least 1 character \(got ''\)$"),
    ("name:", "name: '   '", r"field 'name': String should have at least 1 character"),
])
def test_a_biller_setting_of_the_wrong_type_names_line_field_meaning_and_value(
        tmp_path: Path, old: str, new: str, message: str) -> None:
    path, line = _settings_variant(tmp_path, old, new)
    with pytest.raises(ProfileError) as caught:
        load_biller(PROJECT, str(path))
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert re.search(message, str(caught.value)), str(caught.value)


def test_a_codes_setting_with_keys_is_a_list_per_key(tmp_path: Path) -> None:
    path = variant(tmp_path, settings={28: ["C", "E"]})
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if t.startswith("  28:"))
    with pytest.raises(ProfileError, match=rf"biller.yaml:{line}: field 'settings.28': setting 28 \(.*\) takes a "
                                           r"list of codes for each of CC, ACH, got \['C', 'E'\]$"):
        load_biller(PROJECT, str(path))


def test_settings_of_each_type_load_as_written(tmp_path: Path) -> None:
    """The negative control: the values of the real profiles, and of a number setting, are accepted."""
    project = _project_with_partner_settings(tmp_path, grace_days={"number": 200, "type": "number",
                                                                   "meaning": "days of grace after the due date"})
    biller = project / "fixtures" / "billers" / "clayton-county-water.yaml"
    data = yaml.safe_load(CLAYTON.read_text())
    for value in (5, 2.5, 0):
        data["settings"][200] = value
        biller.write_text(yaml.safe_dump(data))
        loaded = load_biller(project, "clayton-county-water")
        assert loaded.setting("grace_days") == value
        assert loaded.setting("portal_block_lock") is True and loaded.setting("block_codes")["ACH"] == ["E", "B"]
    data["settings"][200] = True  # a boolean is no number
    biller.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=r"field 'settings.200': setting 200 \(days of grace after the due "
                                           r"date\) takes a number, got True"):
        load_biller(project, "clayton-county-water")


def _project_with_partner_settings(tmp_path: Path, **settings: object) -> Path:
    """A project whose fixtures are a copy, Cayenta's settings extended (or replaced) by ``settings``."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "fixtures", project / "fixtures")
    path = project / "fixtures" / "partners" / "cayenta.yaml"
    data = yaml.safe_load(path.read_text())
    data["settings"] = {**data["settings"], **settings}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return project


@pytest.mark.parametrize(("settings", "message"), [
    ({"portal_lock_again": {"number": 32, "type": "boolean", "meaning": "x"}},
     r"field 'settings': Value error, 'portal_block_lock' and 'portal_lock_again' both name setting 32"),
    ({"portal_block_lock": {"number": 32, "type": "boolean", "meaning": "x", "keys": ["CC"]}},
     r"field 'settings.portal_block_lock.keys': Value error, only a setting of type codes has keys"),
    ({"portal_block_lock": {"number": 32, "type": "flag", "meaning": "x"}},
     r"field 'settings.portal_block_lock.type': Input should be 'boolean', 'number', 'text' or 'codes'"),
    ({"portal_block_lock": {"number": 32, "type": "boolean", "meaning": ""}},
     r"field 'settings.portal_block_lock.meaning': String should have at least 1 character"),
    ({"credit_posting": {"number": 114, "type": "text", "meaning": "x"}},
     r"field 'capabilities.credit_posting.setting': 'credit_posting' is a setting of type text; name a boolean "
     r"setting of 'settings'"),
])
def test_a_partner_settings_table_that_contradicts_itself_is_refused(
        tmp_path: Path, settings: dict[str, object], message: str) -> None:
    project = _project_with_partner_settings(tmp_path, **settings)
    with pytest.raises(ProfileError, match=message) as caught:
        load_partner(project, "cayenta")
    assert re.match(rf"{project}/fixtures/partners/cayenta.yaml:\d+: ", str(caught.value)), str(caught.value)


# --- scenarios that depend on a biller setting: N/A from the profile, before they run ------------


def test_a_setting_tag_is_in_scope_only_when_the_billers_setting_provides_it(tmp_path: Path) -> None:
    clayton = load_biller(PROJECT, "clayton-county-water")
    for need in ("portal_block_lock", "block_codes", "block_codes:CC", "block_codes:ACH", "past_due_field"):
        assert scenario_scope(clayton, {"capability:rtdr_balance", f"setting:{need}"}) is None, need
    off = load_biller(PROJECT, str(variant(tmp_path, settings={28: {"CC": ["B"], "ACH": ["E", "B"]}, 32: False})))
    assert scenario_scope(off, {"setting:portal_block_lock"}) == (
        "Biller setting 32 is off for Clayton County Water Authority "
        "(only RTDR sets payment block flags; biller-portal users may not)")
    assert scenario_scope(off, {"setting:block_codes:CC"}) == (
        "Biller setting 28 has no code for CC alone for Clayton County Water Authority (Cayenta customer block "
        "EFT indicator: the codes that block card (CC) or ACH payments)")
    assert scenario_scope(off, {"setting:block_codes:ACH"}) is None
    unset = load_biller(PROJECT, str(variant(tmp_path, settings={})))
    assert "Biller setting 107 is not set for Clayton County Water Authority" in (
        scenario_scope(unset, {"setting:past_due_field"}) or "")
    assert "Biller setting 28 is not set" in (scenario_scope(unset, {"setting:block_codes"}) or "")
    newport = load_biller(PROJECT, "newport-or")
    assert scenario_scope(newport, {"setting:past_due_field"}) == (
        "Not configurable for Caselle Connect: its profile names no biller setting 'past_due_field'")
    # A capability out of scope is the reason given first.
    assert "Budget billing" in (scenario_scope(off, {"capability:budget_billing", "setting:portal_block_lock"}) or "")


def test_the_sole_code_is_listed_for_one_key_only() -> None:
    clayton = load_biller(PROJECT, "clayton-county-water")  # CC: [C, B], ACH: [E, B]
    assert (clayton.sole_code("block_codes", "CC"), clayton.sole_code("block_codes", "ACH")) == ("C", "E")
    assert clayton.sole_code("block_codes", "EFT") is None
    assert clayton.sole_code("portal_block_lock", "CC") is None  # not a codes setting


# --- scenarios that need a part of the partner's invoice file layout ------------------------------


def test_a_layout_tag_is_in_scope_only_where_the_partners_layout_has_the_part() -> None:
    clayton, newport = load_biller(PROJECT, "clayton-county-water"), load_biller(PROJECT, "newport-or")
    assert scenario_scope(clayton, {"layout:charge_lines"}) is None
    assert scenario_scope(newport, {"layout:item_status"}) is None
    assert scenario_scope(newport, {"layout:charge_lines"}) == (
        "Not in the invoice file of Caselle Connect: its layout has no charge lines (invoice_file.lines)")
    assert scenario_scope(clayton, {"layout:item_status"}) == (
        "Not in the invoice file of Cayenta Utilities: its layout has no item status for the items it does not "
        "load (invoice_file.only_when, otherwise)")
    with pytest.raises(ProfileError, match=r"tag @layout:lines: no such part of an invoice file layout \(parts: "):
        scenario_scope(clayton, {"layout:lines"})


def test_otherwise_names_an_only_when_element_with_another_value() -> None:
    layout = load_partner(PROJECT, "caselle").invoice_file.model_dump()
    for otherwise, message in (({"Status": "Closed"}, "'Status' is not an element of only_when (ItemStatus)"),
                               ({"ItemStatus": "Open"}, "'ItemStatus: Open' is the value of a record that loads")):
        with pytest.raises(ValueError, match=re.escape(message)):
            InvoiceFile.model_validate({**layout, "otherwise": otherwise})


def test_a_withheld_scenario_applies_exactly_where_the_capability_is_out_of_scope(tmp_path: Path) -> None:
    clayton, newport = load_biller(PROJECT, "clayton-county-water"), load_biller(PROJECT, "newport-or")
    posted_in = {"ach_reject_posting": ["SIT-ACH-001", "SIT-ACH-002"], "credit_posting": ["SIT-PAY-003"]}
    returns, credits = {"withheld:ach_reject_posting"}, {"withheld:credit_posting"}
    assert scenario_scope(clayton, returns, posted_in) is None  # Clayton did not take ACH reject posting
    assert scenario_scope(newport, credits, posted_in) is None  # Caselle takes no credits
    assert scenario_scope(clayton, {"withheld:phone_change"}) is None
    assert scenario_scope(newport, returns, posted_in) == (
        "City of Newport posts ACH returns to Caselle Connect (Caselle Connect takes them from every biller): "
        "see SIT-ACH-001, SIT-ACH-002")
    assert scenario_scope(clayton, credits, posted_in) == (
        "Clayton County Water Authority posts credits to Cayenta Utilities (setting 114 is on): see SIT-PAY-003")
    took = load_biller(PROJECT, str(variant(tmp_path, capabilities=["ach_reject_posting"])))
    assert scenario_scope(took, returns) == (
        "Clayton County Water Authority posts ACH returns to Cayenta Utilities (it took ACH reject posting)")
    assert scenario_scope(clayton, {"withheld:bill_images"}) == (
        "The platform makes nothing for bill images that it could hold back")


def test_the_rule_that_withholds_a_transaction_is_the_setting_or_the_capabilitys_reason(tmp_path: Path) -> None:
    clayton, newport = load_biller(PROJECT, "clayton-county-water"), load_biller(PROJECT, "newport-or")
    assert withheld_rule(clayton, "ach_return").startswith("Posting ACH rejects (AddReturnedCheck) is optional")
    assert withheld_rule(clayton, "phone_change") == "Phone number change logs are not supported for Cayenta."
    assert withheld_rule(newport, "credit") == "The details page names no credit posting for Caselle Connect."
    no_credits = load_biller(PROJECT, str(variant(tmp_path, settings={28: {}, 114: False})))
    assert withheld_rule(no_credits, "credit") == "setting 114"
    with pytest.raises(ProfileError, match="posts credits to Cayenta Utilities: nothing withholds them"):
        withheld_rule(clayton, "credit")
