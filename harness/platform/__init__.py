"""The platform under test: the port SIT drives, and the reference engine behind it."""

from harness.platform.port import (
    AccountNotFound,
    Balance,
    BatchReport,
    Bill,
    Configuration,
    ImportReport,
    Platform,
    PlatformRefusal,
    PumpReport,
    Transaction,
    TxStatus,
)

__all__ = [
    "AccountNotFound",
    "Balance",
    "BatchReport",
    "Bill",
    "Configuration",
    "ImportReport",
    "Platform",
    "PlatformRefusal",
    "PumpReport",
    "Transaction",
    "TxStatus",
]
