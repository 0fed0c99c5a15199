"""`sit stubs serve`: the partner served to a real platform test environment, its exchanges checked
against the partner's rules as they arrive and recorded as a run."""

from harness.serve.partner import ServedPartner, ServeOptions
from harness.serve.rules import Broken, PartnerRules, Verdict
from harness.serve.run import serve

__all__ = ["Broken", "PartnerRules", "ServeOptions", "ServedPartner", "Verdict", "serve"]
