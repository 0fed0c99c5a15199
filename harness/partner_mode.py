"""What stands for the partner in a run: its stub pack, or a live partner (through WireMock or direct).

Decided from the run's options before anything starts, one part of the run's composition: which
pack WireMock serves, whom the client calls and how it trusts it, which credentials it needs, and
what the run records about it. Bad combinations are one line naming the options.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import InputError
from harness.profiles import Biller
from harness.profiles.loader import project_relative
from harness.secrets import Secrets
from harness.stubs import StubPack, load_pack
from harness.stubs.pack import PACK_FILE

# Where the partner's answers come from: WireMock's stub pack; the live partner through WireMock's
# proxy, which journals it; the live partner called directly, its exchanges captured by the client.
PARTNER_MODES = ("stub", "record", "live")


@dataclass(frozen=True)
class PartnerMode:
    mode: str
    url: str | None  # the live partner's test endpoint (record and live)
    ca: Path | None  # its CA, or its own certificate pinned
    pack: StubPack  # what WireMock serves: the stub pack, or (record) one mapping proxying to ``url``

    @classmethod
    def of(cls, mode: str, url: str | None, ca: Path | None, stub_pack: Path | None, backend: str,
           project: Path, biller: Biller) -> PartnerMode:
        """The run's partner side, its options checked together."""
        if mode not in PARTNER_MODES:
            raise InputError(f"--partner-mode {mode}: use one of {', '.join(PARTNER_MODES)}")
        if biller.partner.posts_back and not biller.partner.has_api and mode != "stub":
            raise InputError(f"--partner-mode {mode}: a {biller.partner.display_name}'s application is the system "
                             "under test, not a partner the platform calls; serve the platform's side to its test "
                             f"instance with `sit serve --biller {biller.slug}`")
        if not biller.partner.has_api and not biller.partner.posts_back:
            return cls._files(mode, stub_pack, project, biller)
        if mode == "stub":
            return cls(mode, None, None, _stub_pack(stub_pack or project / "stubs" / biller.partner.name, biller))
        if stub_pack is not None:
            raise InputError(f"--stub-pack serves a pack in stub mode; --partner-mode {mode} calls the partner "
                             "itself: leave one of them out")
        if mode == "live" and backend != "process":
            raise InputError(f"--stub-backend {backend}: a live run calls the partner directly, with no WireMock "
                             "to place; use --partner-mode record to go through WireMock")
        if urlsplit(url or "").scheme not in ("http", "https") or not urlsplit(url or "").hostname:
            raise InputError(f"--partner-mode {mode} needs --partner-url, the partner's test endpoint "
                             f"(https://HOST[:PORT]); got {url or 'none'}")
        proxy = {"name": f"proxy to {url}", "request": {"urlPattern": ".*"}, "response": {"proxyBaseUrl": url}}
        pack = StubPack(name="proxy", root=project, mappings=(proxy,), sources=(Path("--partner-url"),),
                        sha256=hashlib.sha256((url or "").encode()).hexdigest())
        return cls(mode, url, ca, pack)

    @classmethod
    def _files(cls, mode: str, stub_pack: Path | None, project: Path, biller: Biller) -> PartnerMode:
        """A partner whose integration is files: the harness plays its side over the real sFTP server, so
        there is no stub pack to serve and no endpoint to call (its layouts are in the profiles)."""
        name = biller.partner.display_name
        if mode != "stub" or stub_pack is not None:
            option = f"--partner-mode {mode}" if mode != "stub" else "--stub-pack"
            raise InputError(f"{option}: {name} exchanges files only, over the harness's sFTP server; run it in "
                             "stub mode without a stub pack")
        root = project / "stubs" / biller.partner.name
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(root.glob("*.md")))).hexdigest()
        return cls(mode, None, None, StubPack(name=biller.partner.name, root=root, mappings=(), sources=(),
                                             sha256=digest))

    @property
    def live(self) -> bool:
        return self.mode == "live"

    @property
    def real(self) -> bool:
        """Whether the partner is (or, on a pack recorded from it, was) a real one: it is what it is, so
        scenarios use the biller's test accounts, or do not run where they need what it cannot be made to do."""
        return self.mode != "stub" or self.pack.recording.get("partner_mode", "stub") != "stub"

    @property
    def arranges(self) -> bool:
        """Whether steps arrange the partner (accounts, faults, failures) on its stubs. Not a real partner,
        nor a recorded pack: that answers every call as the recorded partner did, its accounts, faults and
        changes in their order, scenario by scenario, and an arranged mapping would only shadow it. What a
        step asks is still checked and kept (``PartnerSide.holds``), so the steps read the same."""
        return self.mode == "stub" and not self.pack.recorded

    def require_real_credentials(self, biller: Biller, secrets: Secrets) -> None:
        """A real partner is called with real credentials: the demo values only open the stubs."""
        creds = biller.partner.credentials
        if creds is None:
            return
        unset = [name for name in (creds.user_env, creds.secret_env) if name in secrets.demo]
        if self.mode != "stub" and unset:
            raise InputError(f"--partner-mode {self.mode}: {unset[0]} is not set; a live partner needs the "
                             f"credentials it issued for its test endpoint (export {' and '.join(unset)})")

    def issued_token(self, biller: Biller, secrets: Secrets) -> str:
        """The OAuth token the partner issued; against a live partner, none when the environment holds none
        (the client fetches one with its credentials rather than sending the demo value)."""
        name = biller.partner.credentials.token_env if biller.partner.credentials else None
        if not name or (name in secrets.demo and self.mode != "stub"):
            return ""
        return secrets.get(name)

    def facts(self, project: Path, backend: str, certificate: dict[str, Any]) -> dict[str, Any]:
        """Against what the run ran: the stub pack, or the live partner, the certificate it showed and the CA
        trusted (``run.started``)."""
        if self.mode == "stub":
            pack: dict[str, Any] = {"path": project_relative(self.pack.root, project), "sha256": self.pack.sha256}
            if self.pack.recorded:
                pack["recorded_from"] = self.pack.recording.get("run_id")
            return {"stub_pack": pack}
        ca = {"path": str(self.ca), "sha256": hashlib.sha256(self.ca.read_bytes()).hexdigest()} if self.ca else None
        return {"partner_url": self.url, "partner_certificate": certificate, "partner_ca": ca,
                "stub_backend": backend if self.mode == "record" else None}


def _stub_pack(root: Path, biller: Biller) -> StubPack:
    """The partner's stub pack, or the one ``--stub-pack`` names; a recorded pack must be the biller's partner's."""
    partner = biller.partner.name
    pack = load_pack(root)
    recorded_for = pack.recording.get("partner")
    if recorded_for is not None and recorded_for != partner:
        raise InputError(f"{pack.root / PACK_FILE}: recorded from a run with partner {recorded_for}, but "
                         f"{biller.slug}'s partner is {partner}; record a run of a {partner} biller")
    return pack

