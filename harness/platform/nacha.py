"""NACHA codes: R-codes are returns (money moved back), C-codes notifications of change."""

from __future__ import annotations

import re

RETURN_REASONS = {
    "R01": "insufficient funds", "R02": "account closed", "R03": "no account / unable to locate account",
    "R04": "invalid account number", "R07": "authorization revoked by customer", "R08": "payment stopped",
    "R10": "customer advises not authorized", "R16": "account frozen", "R20": "non-transaction account",
    "R29": "corporate customer advises not authorized",
}
_RETURN = re.compile(r"R(0[1-9]|[1-7][0-9]|8[0-5])")
_CHANGE = re.compile(r"C(0[1-9]|1[0-3])")


def is_return(code: str) -> bool:
    return bool(_RETURN.fullmatch(code))


def is_change_notice(code: str) -> bool:
    return bool(_CHANGE.fullmatch(code))
