"""Served runs: `sit stubs serve` (the partner served to a real platform test environment, its exchanges checked
against the partner's rules as they arrive) and `sit serve` (the platform's CloudPay side served to a vendor
application's test instance); each recorded as a run until Ctrl-C."""

from harness.serve.cloudpay import CloudPayOptions, ServedCloudPay
from harness.serve.partner import ServedPartner, ServeOptions
from harness.serve.rules import Broken, PartnerRules, Verdict
from harness.serve.run import Served, serve

__all__ = ["Broken", "CloudPayOptions", "PartnerRules", "ServeOptions", "Served", "ServedCloudPay", "ServedPartner",
           "Verdict", "serve"]
