"""CloudPay billers as data: the vendor table, a biller's vendor application checked at load, `sit lint`
checking it against its vendor's needs, and the scope rules that follow (``@cloudpay:v1|v2``, withheld cases)."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import ProfileError
from harness.profiles import lint_biller, load_biller, scenario_scope
from harness.profiles.vendors import Need, VendorTable, vendors_path

PROJECT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 30)
# Every vendor the CloudPay playbook lists (../shared/DOMAIN.md).
PLAYBOOK = ("Accela", "Avitar", "SmartGov (Granicus)", "CityView", "CityWorks", "Full Circle PermitEyes", "GovQA",
            "PeopleGIS", "RecDesk", "CloudPermit", "CitizenServe", "Conduent", "Laserfiche", "LOGIS",
            "Navient OnBase", "Peak", "EPR", "Community Core", "GovOS")


def _project(tmp_path: Path, slug: str, change: Any) -> Path:
    """A project whose biller ``slug`` is changed by ``change`` (its data), beside the real fixtures."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "fixtures", project / "fixtures")
    path = project / "fixtures" / "billers" / f"{slug}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return project


def _table() -> VendorTable:
    return VendorTable.model_validate(yaml.safe_load(vendors_path(PROJECT).read_text()))


def test_the_vendor_table_holds_every_vendor_of_the_playbook_with_what_it_says() -> None:
    vendors = _table().vendors
    assert sorted(v.name for v in vendors.values()) == sorted(PLAYBOOK)
    accela = vendors["accela"]
    assert (accela.version, [t.id for t in accela.invoice_types], accela.settings) == (2, [43, 57, 93],
                                                                                     {30: "ACCELA-"})
    assert Need.AGENCY_ID in accela.needs
    assert {Need.API_KEY, Need.INVOICE_TYPE} <= set(vendors["cloudpermit"].needs)
    assert vendors["peak"].needs == [Need.ONE_INVOICE_TYPE]
    assert {key: vendors[key].version for key in ("permiteyes", "govqa", "peoplegis", "recdesk")} == dict.fromkeys(
        ("permiteyes", "govqa", "peoplegis", "recdesk"), 1)


def test_the_demo_billers_are_an_accela_v2_biller_and_a_recdesk_v1_biller_lint_clean() -> None:
    lakemont, cedar = load_biller(PROJECT, "lakemont-permits"), load_biller(PROJECT, "cedar-bluff-recreation")
    assert (lakemont.vendor and lakemont.vendor.name, lakemont.cloudpay_version) == ("Accela", 2)
    assert (cedar.vendor and cedar.vendor.name, cedar.cloudpay_version) == ("RecDesk", 1)
    assert [t.id for t in lakemont.profile.invoice_types] == [43, 57, 93]
    assert lint_biller(lakemont, TODAY) == [] and lint_biller(cedar, TODAY) == []
    # The vendor's settings join what SIT-CFG-001 checks on the platform.
    assert [(r.number, r.value) for r in lakemont.required_configuration] == [(30, "ACCELA-")]


@pytest.mark.parametrize("slug", ["clayton-county-water", "newport-or", "galveston-county"])
def test_the_other_partners_keep_cloudpay_not_applicable_with_the_reason(slug: str) -> None:
    biller = load_biller(PROJECT, slug)
    reason = scenario_scope(biller, ["capability:cloudpay"])
    assert reason is not None and "CloudPay" in reason and biller.vendor is None


@pytest.mark.parametrize(("slug", "change", "message"), [
    ("lakemont-permits", lambda d: d["cloudpay"].update(vendor="acela"),
     r"lakemont-permits.yaml:\d+: field 'cloudpay.vendor': no vendor 'acela' in fixtures/cloudpay/vendors.yaml "
     r"\(known: accela, "),
    ("lakemont-permits", lambda d: d["cloudpay"].update(version=1),
     r"field 'cloudpay.version': Accela uses CloudPay v2, not v1"),
    ("lakemont-permits", lambda d: d["cloudpay"].update(vendor="laserfiche"),
     r"field 'cloudpay.version': the vendor table does not say which CloudPay version Laserfiche uses"),
    ("lakemont-permits", lambda d: d["cloudpay"].update(invoice_types=[43, 44]),
     r"field 'cloudpay.invoice_types': 44 is not one of the biller's invoice_types \(43, 57, 93\)"),
    ("lakemont-permits", lambda d: d.pop("cloudpay"),
     r"field 'cloudpay': a CloudPay biller names its vendor's application"),
    ("clayton-county-water", lambda d: d.update(cloudpay={"vendor": "accela"}),
     r"field 'cloudpay': Cayenta Utilities has no CloudPay \(CloudPay and CloudPay web services are not available"),
])
def test_a_vendor_application_the_table_cannot_stand_behind_is_a_profile_fault(
        tmp_path: Path, slug: str, change: Any, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load_biller(_project(tmp_path, slug, change), slug)


@pytest.mark.parametrize(("slug", "change", "message"), [
    ("lakemont-permits", lambda d: d["cloudpay"].pop("agency_id"),
     "Accela needs the biller in its configuration table with its AgencyID: give cloudpay.agency_id"),
    ("lakemont-permits", lambda d: d["settings"].update({30: "PERMITS-"}),
     r"Accela needs advanced setting 30 = 'ACCELA-' \(it is 'PERMITS-'\)"),
    ("lakemont-permits", lambda d: d.pop("settings"),
     r"Accela needs advanced setting 30 = 'ACCELA-' \(it is not set\)"),
    ("lakemont-permits", lambda d: d.update(api_keys=[{"env": "SIT_X", "active": False}]),
     r"Accela's application authenticates with the biller's API key \(CloudPay v2\): give an active one"),
    ("lakemont-permits", lambda d: d["cloudpay"].update(vendor="cloudpermit", invoice_types=[]),
     "CloudPermit is configured with the invoice types it pays: name them in cloudpay.invoice_types"),
    ("lakemont-permits", lambda d: d["cloudpay"].update(vendor="peak", version=2, invoice_types=[43, 57]),
     r"Peak takes one invoice type only, not 2 \(43, 57\)"),
])
def test_lint_checks_a_cloudpay_biller_against_its_vendors_needs(
        tmp_path: Path, slug: str, change: Any, message: str) -> None:
    biller = load_biller(_project(tmp_path, slug, change), slug)
    findings = lint_biller(biller, TODAY)
    assert [f.level for f in findings] == ["error"], findings
    assert re.match(message, findings[0].message), findings[0].message
    assert findings[0].where.startswith(f"fixtures/billers/{slug}.yaml:")


def test_a_case_of_one_cloudpay_version_is_not_applicable_to_the_other_with_the_reason() -> None:
    lakemont, cedar = load_biller(PROJECT, "lakemont-permits"), load_biller(PROJECT, "cedar-bluff-recreation")
    tags = ["capability:cloudpay", "cloudpay:v2"]
    assert scenario_scope(lakemont, tags) is None
    assert scenario_scope(cedar, tags) == ("RecDesk's application uses CloudPay v1 (the payer's browser brings the "
                                           "payment in the link, with no API call): this case is about CloudPay v2")
    with pytest.raises(ProfileError, match="no such CloudPay version"):
        scenario_scope(lakemont, ["cloudpay:v3"])


def test_a_withheld_case_is_not_applicable_where_the_partner_holds_no_accounts() -> None:
    lakemont = load_biller(PROJECT, "lakemont-permits")
    assert scenario_scope(lakemont, ["withheld:credit_posting"]) == (
        "CloudPay vendor holds no accounts the platform could take credits on (neither RTDR nor an adjustment file)")
    # A partner that holds accounts still runs it where the biller withholds the capability.
    assert scenario_scope(load_biller(PROJECT, "newport-or"), ["withheld:phone_change"]) is None
