"""Trusting a live partner's test endpoint: its CA, or its own certificate pinned.

The partner's certificate is checked once before a live or record run starts, and what it
presented is recorded: the evidence names the system the run talked to.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import InputError

CONNECT_TIMEOUT_S = 10.0


def trust(ca: Path | None) -> ssl.SSLContext:
    """The system's CAs, or only ``ca`` (``--partner-ca``): a CA bundle, or the partner's own
    certificate, pinned (a certificate in the file is a trust anchor even if it is not a CA's)."""
    if ca is None:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name; trusts only ``ca``
    try:
        context.load_verify_locations(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"--partner-ca {ca}: not a PEM certificate file ({_why(exc)}); "
                         "give the partner's CA or its certificate in PEM") from None
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def presented(url: str, context: ssl.SSLContext) -> dict[str, Any]:
    """The certificate the partner at ``url`` presents, verified by ``context``; a one-line error
    when it cannot be reached or is not trusted. Nothing for plain HTTP."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return {}
    host, port = parts.hostname or "", parts.port or 443
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            der, cert = tls.getpeercert(binary_form=True), tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        raise InputError(f"--partner-url {url}: the partner's certificate is not trusted ({exc.verify_message}); "
                         "give its CA or its certificate with --partner-ca FILE") from None
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"--partner-url {url}: cannot reach the partner ({_why(exc)}); "
                         "check the URL and that its test endpoint is up") from None
    assert der is not None and cert is not None
    return {"sha256": hashlib.sha256(der).hexdigest(), "subject": _name(cert.get("subject", ())),
            "issuer": _name(cert.get("issuer", ())), "not_after": cert.get("notAfter")}


def _name(rdns: Any) -> str:
    return ", ".join(f"{key}={value}" for rdn in rdns for key, value in rdn)


def _why(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "strerror", None) or exc).split()) or type(exc).__name__
