"""A self-signed CA and a server certificate it signs, for a live partner on loopback.

The CA's PEM is what a run is given as the partner's CA (``--partner-ca FILE``); the server
certificate names ``127.0.0.1`` (an IP SAN) and ``localhost`` (a DNS SAN), so a client that
verifies against the CA accepts either URL and nothing else. Keys are EC P-256: made in
milliseconds, accepted by every TLS stack the harness uses.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE, CERT_FILE, KEY_FILE = "ca.pem", "server.pem", "server-key.pem"
_VALID = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Certificates:
    """Where the PEM files are: the CA a client trusts, the server's certificate and its key."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_folder(cls, folder: Path) -> Certificates:
        return cls(folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE)

    def exist(self) -> bool:
        return self.ca.is_file() and self.cert.is_file() and self.key.is_file()


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sit-harness live partner (test only)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(_name("sit-harness live partner test CA")).issuer_name(_name("sit-harness live partner test CA"))
        .public_key(public).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + _VALID)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server(key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
            now: datetime.datetime) -> x509.Certificate:
    # The SAN names the host (verifiers ignore the CN); strict verifiers (Python 3.13's default
    # VERIFY_X509_STRICT) also want both key identifiers.
    return (
        x509.CertificateBuilder()
        .subject_name(_name("localhost")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + _VALID)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def make_certificates(folder: Path) -> Certificates:
    """Write a new CA and a server certificate for 127.0.0.1 and localhost into ``folder`` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _ca(ca_key, now)
    made = Certificates.in_folder(folder)
    made.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    made.cert.write_bytes(_server(key, ca, ca_key, now).public_bytes(serialization.Encoding.PEM))
    made.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    made.key.chmod(0o600)
    return made
