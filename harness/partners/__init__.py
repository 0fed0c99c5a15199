"""Partner adapters: one module per partner protocol, chosen by the partner profile."""

from harness.partners.base import (
    FAULTS,
    AccountNotFound,
    Adapter,
    Outcome,
    PartnerClient,
    PartnerRejected,
    PartnerStubs,
    PartnerUnavailable,
    Posting,
    PostingKind,
    PostResult,
    load_adapter,
)

__all__ = [
    "FAULTS",
    "AccountNotFound",
    "Adapter",
    "Outcome",
    "PartnerClient",
    "PartnerRejected",
    "PartnerStubs",
    "PartnerUnavailable",
    "PostResult",
    "Posting",
    "PostingKind",
    "load_adapter",
]
