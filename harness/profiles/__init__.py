"""Partner and biller profiles (``fixtures/partners``, ``fixtures/billers``)."""

from harness.feature_checks import Finding
from harness.profiles.lint import lint_biller, lint_project
from harness.profiles.loader import Biller, known_partners, load_biller, load_partner, read_model
from harness.profiles.models import (
    BillerProfile,
    Capability,
    ChangeLogCall,
    FieldMap,
    InvoiceFile,
    PartnerProfile,
    PumpPolicy,
    Status,
)
from harness.profiles.scope import belongs, out_of_scope, scenario_scope, withheld_rule

__all__ = [
    "Biller",
    "BillerProfile",
    "Capability",
    "ChangeLogCall",
    "FieldMap",
    "Finding",
    "InvoiceFile",
    "PartnerProfile",
    "PumpPolicy",
    "Status",
    "belongs",
    "known_partners",
    "lint_biller",
    "lint_project",
    "load_biller",
    "load_partner",
    "out_of_scope",
    "read_model",
    "scenario_scope",
    "withheld_rule",
]
