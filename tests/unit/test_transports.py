"""Transports and files as data: how a capability travels, the files a biller's profile gives, and the
scope rules that follow from them (``@transport:``, ``@layout:`` of a file's layout)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import ProfileError
from harness.profiles import load_biller, scenario_scope
from harness.profiles.models import FileSpec, PartnerProfile

PROJECT = Path(__file__).resolve().parents[2]
GALVESTON = PROJECT / "fixtures" / "billers" / "galveston-county.yaml"
STW = PROJECT / "fixtures" / "partners" / "stw.yaml"


def _galveston(tmp_path: Path, change: Any) -> Path:
    data = yaml.safe_load(GALVESTON.read_text())
    change(data)
    path = tmp_path / "galveston.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_capability_travels_as_its_partner_profile_says_else_by_its_default() -> None:
    galveston, clayton = load_biller(PROJECT, "galveston-county"), load_biller(PROJECT, "clayton-county-water")
    assert (galveston.transport("payment_posting").kind, galveston.transport("payment_posting").file) == \
        ("file", "payments")
    assert galveston.file_for("payment_posting") is galveston.profile.files["payments"]
    assert (clayton.transport("payment_posting").kind, clayton.file_for("payment_posting")) == ("api", None)
    assert clayton.transport("invoice_load").file == "invoice_file"  # the XML export: no file of `files`
    assert clayton.file_for("invoice_load") is None
    assert (galveston.partner.has_api, clayton.partner.has_api) == (False, True)


def test_a_partner_with_something_on_api_needs_an_api() -> None:
    data = yaml.safe_load(STW.read_text())
    del data["transports"]["void_posting"]
    with pytest.raises(ValueError, match=r"'void_posting' travels by api .* but the partner has no API"):
        PartnerProfile.model_validate(data)


def test_a_transport_names_its_file_only_when_it_is_a_file() -> None:
    data = yaml.safe_load(STW.read_text())
    data["transports"]["void_posting"] = {"kind": "api", "file": "payments"}
    with pytest.raises(ValueError, match="a file transport names its file"):
        PartnerProfile.model_validate(data)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["files"].pop("adjustments"),
     r"galveston.yaml:\d+: field 'files': stw sends adjustment_file in file 'adjustments' \(transports\)"),
    (lambda d: d["files"]["payments"].update(direction="in"),
     r"field 'files.payments.direction': payment_posting goes out, not in"),
    (lambda d: d["files"]["adjustments"]["layout"]["detail"]["fields"].append({"name": "colour"}),
     r"field 'files.adjustments.layout.detail': 'colour' is not a field the platform knows in this file"),
    (lambda d: d["files"]["payments"]["layout"]["detail"]["fields"].pop(1),
     r"field 'files.payments.layout.detail': the file needs a 'reference' field"),
    (lambda d: d["files"]["payments"]["layout"]["detail"]["fields"].pop(7),
     r"the biller takes paperless_change, which travels in this file, but its layout has no 'value' field"),
    (lambda d: d["files"]["payments"].update(delivery="put"),
     r"galveston.yaml:\d+: field 'partner_sftp': file 'payments' is put on the partner's own sFTP server"),
    (lambda d: d["files"]["adjustments"].update(naming="GALV_BILLS_%Y%m%d_{seq}.csv"),
     r"field 'files.invoices.naming': GALV_BILLS_20260131_01.csv is also a name of file 'adjustments'"),
])
def test_a_biller_file_that_cannot_work_is_one_line_naming_the_field(tmp_path: Path, change: Any,
                                                                      message: str) -> None:
    with pytest.raises(ProfileError, match=message) as raised:
        load_biller(PROJECT, str(_galveston(tmp_path, change)))
    assert "\n" not in str(raised.value)


def test_a_files_glob_takes_its_own_names_only() -> None:
    spec = load_biller(PROJECT, "brazos-valley-utilities").profile.files["invoices"]
    assert spec.name(date(2026, 11, 30), 2) == "BVU2026113002.DAT"
    assert spec.glob == "BVU" + "[0-9]" * 10 + ".DAT"
    with pytest.raises(ValueError, match="not two digits"):
        spec.name(date(2026, 11, 30), 100)
    free = FileSpec.model_validate({**spec.model_dump(), "naming": "pay_%b_%d.txt"})
    assert free.glob == "pay_*_[0-9][0-9].txt"  # a month name is a wildcard


def test_a_transport_tag_is_na_where_the_capability_travels_otherwise() -> None:
    galveston, clayton = load_biller(PROJECT, "galveston-county"), load_biller(PROJECT, "clayton-county-water")
    api_case = {"capability:payment_posting", "transport:api"}
    assert scenario_scope(clayton, api_case) is None
    assert scenario_scope(galveston, api_case) == (
        "Payment posting travels to STW/OpenGov in the payments file (transports.payment_posting): this case is "
        "about its api transport")
    assert scenario_scope(clayton, {"capability:payment_posting", "transport:file"}) == (
        "Payment posting travels to Cayenta Utilities by api (transports.payment_posting): this case is about its "
        "file transport")


def test_a_layout_tag_reads_the_layout_of_the_scenarios_file() -> None:
    galveston, brazos = load_biller(PROJECT, "galveston-county"), load_biller(PROJECT, "brazos-valley-utilities")
    clayton = load_biller(PROJECT, "clayton-county-water")
    assert scenario_scope(brazos, {"capability:invoice_load", "layout:fixed_width"}) is None
    assert scenario_scope(galveston, {"capability:invoice_load", "layout:fixed_width"}) == (
        "Not in the invoice file of Galveston County: its layout has no fixed-width lines")
    assert scenario_scope(galveston, {"capability:adjustment_file", "layout:trailer"}) is None
    assert scenario_scope(clayton, {"capability:invoice_load", "layout:trailer"}) == (
        "Not in the invoice file of Cayenta Utilities: its layout has no trailer with control fields")
    assert scenario_scope(clayton, {"capability:invoice_load", "layout:declared_encoding"}) is None
    assert scenario_scope(galveston, {"capability:invoice_load", "layout:declared_encoding"}) == (
        "Not in the invoice file of Galveston County: its layout has no encoding of the file's own choosing: the "
        "layout fixes one")
