"""Which biller a test belongs to, read from its node id: what keeps each biller's scenarios on one worker."""

from __future__ import annotations

from harness.biller_groups import biller_of

BILLERS = ["clayton-county-water", "county-water", "newport-or"]


def test_the_biller_is_the_parameter_id_in_the_node_id() -> None:
    assert biller_of("steps/test_workbook.py::test_a_payment[newport-or]", BILLERS) == "newport-or"
    assert biller_of("steps/test_workbook.py::test_a_payment[clayton-county-water]", BILLERS) == "clayton-county-water"


def test_a_biller_whose_slug_ends_another_is_not_taken_for_it() -> None:
    assert biller_of("steps/test_workbook.py::test_a[county-water]", BILLERS) == "county-water"


def test_beside_another_parameter_and_without_any() -> None:
    assert biller_of("steps/test_workbook.py::test_a[example-1-newport-or]", BILLERS) == "newport-or"
    assert biller_of("steps/test_workbook.py::test_a[newport-or-example-1]", BILLERS) == "newport-or"
    assert biller_of("tests/unit/test_x.py::test_plain", BILLERS) is None
    assert biller_of("steps/test_workbook.py::test_a[other]", BILLERS) is None
