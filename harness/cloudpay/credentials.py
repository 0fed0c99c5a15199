"""The application API key a CloudPay v2 client presents in HTTP Basic, however it built the credential.

Public clients differ: one base64-encodes the bare key (with Perl's trailing newline), others send
``KEY:``, ``:KEY`` or ``user:KEY``. The platform takes the key from whichever part holds an active one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable


def candidates(authorization: str | None) -> list[str]:
    """The strings a Basic credential could mean as the key: the whole, the user, the password."""
    if not authorization:
        return []
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return []
    try:
        decoded = base64.b64decode("".join(token.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return []
    decoded = decoded.strip()
    user, colon, password = decoded.partition(":")
    found = [decoded] if not colon else [user.strip(), password.strip()]
    return [value for value in found if value]


def authenticated(authorization: str | None, keys: Iterable[str]) -> bool:
    """Whether the credential carries one of ``keys`` (every comparison made: timing says nothing)."""
    presented = candidates(authorization)
    active = [key.encode() for key in keys]
    return any([hmac.compare_digest(value.encode(), key) for value in presented for key in active])
