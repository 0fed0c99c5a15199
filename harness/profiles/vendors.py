"""The CloudPay vendor table (``fixtures/cloudpay/vendors.yaml``): each vendor whose application hands
the payer to the platform's hosted page, with its CloudPay version, its common invoice types and what
its integration needs of a biller; and the check of a biller against its vendor's needs (`sit lint`)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field

from harness.profiles.models import InvoiceType, NonEmpty, _Model


class Need(StrEnum):
    """What a vendor's integration needs of a biller, beyond the platform's own CloudPay set-up."""

    AGENCY_ID = "agency_id"  # the biller is in the vendor's configuration table with its AgencyID
    API_KEY = "api_key"  # an active application API key the vendor's application is configured with
    INVOICE_TYPE = "invoice_type"  # the invoice type(s) the vendor's application pays, named
    ONE_INVOICE_TYPE = "one_invoice_type"  # exactly one invoice type: the vendor sends no other


class Vendor(_Model):
    name: NonEmpty
    version: Literal[1, 2] | None = Field(
        default=None, description="the CloudPay version its application uses (None: the playbook does not say)")
    invoice_types: list[InvoiceType] = Field(
        default_factory=list, description="the invoice type IDs its billers commonly use")
    emv: bool | None = Field(
        default=None, description="whether its application takes card-present (EMV) payments (None: not known)")
    needs: list[Need] = Field(default_factory=list)
    settings: dict[int, str] = Field(
        default_factory=dict, description="biller advanced settings its integration needs, number -> value")
    notes: list[str] = Field(default_factory=list)


class VendorTable(_Model):
    vendors: dict[str, Vendor]


def vendors_path(project: Path) -> Path:
    return project / "fixtures" / "cloudpay" / "vendors.yaml"
