"""Step definitions: thin, business words only; they reach the world through ``sit``."""

STEP_MODULES = [
    "steps.common",
    "steps.invoices",
    "steps.balances",
    "steps.payments",
    "steps.reversals",
    "steps.changes",
    "steps.withheld",
    "steps.images",
    "steps.callbacks",
    "steps.partner_faults",
    "steps.configuration",
    "steps.files",
    "steps.cloudpay",
]
