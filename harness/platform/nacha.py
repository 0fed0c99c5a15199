"""NACHA codes: R-codes are returns (money moved back), C-codes notifications of change.

Which codes are which is the partner profile's ``rules`` (``return_codes``, ``notice_codes``): the
platform obeys the same data that `sit stubs serve` checks a real platform against.
"""

from __future__ import annotations

from harness.profiles.models import PostingRules

RETURN_REASONS = {
    "R01": "insufficient funds", "R02": "account closed", "R03": "no account / unable to locate account",
    "R04": "invalid account number", "R07": "authorization revoked by customer", "R08": "payment stopped",
    "R10": "customer advises not authorized", "R16": "account frozen", "R20": "non-transaction account",
    "R29": "corporate customer advises not authorized",
}


def is_return(code: str, rules: PostingRules) -> bool:
    return bool(rules.is_return(code))


def is_change_notice(code: str, rules: PostingRules) -> bool:
    return bool(rules.is_notice(code))
