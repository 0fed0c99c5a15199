"""The contract every partner adapter meets: its client and its stubs speak the same protocol.

Each adapter registered under the ``sit_harness.partners`` entry points is run against a real
WireMock, for a demo biller of its partner: what its stubs arrange, its client reads; every posting
its client sends, its stubs match, answer and decode back into the platform's words; the faults
its stubs make, its client reports as the platform must see them (retry or give up). A partner in
a package of its own passes the same suite by registering its adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from harness.errors import ProfileError
from harness.partners import (
    Adapter,
    Outcome,
    PartnerClient,
    PartnerRejected,
    PartnerStubs,
    PartnerUnavailable,
    Posting,
    PostingKind,
    load_adapter,
)
from harness.partners.base import ADAPTERS
from harness.profiles import Biller, load_biller
from harness.profiles.loader import fixtures_dir
from harness.stubs import ProcessWireMock, WireMockAdmin, load_pack

PROJECT = Path(__file__).resolve().parents[2]
ACCOUNT = "004417001"
KINDS = {"payment": PostingKind.PAYMENT, "credit": PostingKind.CREDIT, "ach_return": PostingKind.ACH_RETURN,
         "void": PostingKind.VOID}


def _billers() -> dict[str, Biller]:
    """A demo biller per registered adapter (the first whose partner uses it)."""
    found: dict[str, Biller] = {}
    for path in sorted((fixtures_dir(PROJECT) / "billers").glob("*.yaml")):
        biller = load_biller(PROJECT, path.stem)
        found.setdefault(biller.partner.adapter, biller)
    return found


BILLERS = _billers()
# The adapters of partners with an API: a client and stubs (file partners: tests/contract/test_file_adapters.py).
API_BILLERS = {name: biller for name, biller in BILLERS.items() if biller.partner.has_api}


def test_every_registered_adapter_has_a_demo_biller_and_loads() -> None:
    registered = {entry.name for entry in entry_points(group=ADAPTERS)}
    assert registered == set(BILLERS)
    assert all(isinstance(load_adapter(biller.partner), Adapter) for biller in BILLERS.values())


@dataclass
class Sides:
    biller: Biller
    client: PartnerClient
    stubs: PartnerStubs
    admin: WireMockAdmin

    def answers(self, role: str, again: bool = False) -> None:
        """The partner takes ``role``'s postings (or says it already has them)."""
        call, request = self.stubs.fault_request(role)
        self.admin.add_mapping({"priority": 1, "request": request, "response": self.stubs.posted_answer(call, again)})

    def fails(self, role: str, fault: str) -> None:
        for mapping in self.stubs.fault(role, fault, None, delay_ms=1500):
            self.admin.add_mapping(mapping)

    def last_request(self) -> tuple[str, dict[str, str]]:
        entry = self.admin.journal()[-1]["request"]
        return self.stubs.decode(entry["method"], entry["url"], entry.get("headers", {}), entry.get("body", ""))


@pytest.fixture(scope="module")
def wiremock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessWireMock]:
    tmp = tmp_path_factory.mktemp("adapters")
    with ProcessWireMock(PROJECT, tmp, tmp / "wiremock.log", scrub=lambda line: line) as server:
        yield server


@pytest.fixture(params=sorted(API_BILLERS))
def sides(request: pytest.FixtureRequest, wiremock: ProcessWireMock) -> Iterator[Sides]:
    biller = API_BILLERS[str(request.param)]
    adapter = load_adapter(biller.partner)
    assert adapter.client is not None and adapter.stubs is not None
    admin = WireMockAdmin(wiremock.base_url)
    admin.reset()
    admin.import_mappings(list(load_pack(PROJECT / "stubs" / biller.partner.name).mappings))  # its token call too
    client = adapter.client(biller.partner, wiremock.base_url, "contract-user", "contract-secret", 1.0,
                            host=biller.partner_host, codes=biller.codes)
    try:
        yield Sides(biller, client, adapter.stubs(biller.partner, biller.codes), admin)
    finally:
        client.close()
        admin.close()


def _posting(sides: Sides, role: str, key: str = "CONTRACT-1") -> Posting:
    return Posting(key=key, kind=KINDS[role], account=ACCOUNT, amount=Decimal("45.10"), method="ACH",
                   original_key="CONTRACT-0" if role in ("ach_return", "void") else None,
                   return_code="R01" if role == "ach_return" else None, posted_on="2026-11-30", channel="IVR")


def _roles(biller: Biller) -> list[str]:
    return [role for role in KINDS if role in biller.partner.calls]


def test_what_the_stubs_arrange_the_client_reads(sides: Sides) -> None:
    fields = {name: value for role, value in {"balance": "182.40", "past_due": "40.00"}.items()
              if (name := sides.biller.balance_field(role))}
    sides.admin.add_mapping(sides.stubs.account(ACCOUNT, fields))
    read = sides.client.balance(ACCOUNT)
    assert {name: read.get(name) for name in fields} == fields
    call, decoded = sides.last_request()
    assert (call, decoded["role"], decoded["account"]) == (sides.biller.partner.calls["balance"], "balance", ACCOUNT)


def test_every_posting_the_client_sends_the_stubs_match_answer_and_decode(sides: Sides) -> None:
    for role in _roles(sides.biller):
        sides.answers(role)
        result = sides.client.post(_posting(sides, role, key=f"CONTRACT-{role}"))
        assert result.outcome is Outcome.POSTED, role
        call, decoded = sides.last_request()
        assert call == sides.stubs.fault_request(role)[0]
        assert (decoded["role"], decoded["account"], decoded["amount"], decoded["reference"]) == (
            role, ACCOUNT, "45.10", f"CONTRACT-{role}")


def test_a_posting_the_partner_already_has_is_already_posted_not_an_error(sides: Sides) -> None:
    sides.answers("payment", again=True)
    assert sides.client.post(_posting(sides, "payment")).outcome is Outcome.ALREADY_POSTED


@pytest.mark.parametrize(("fault", "raised"), [
    ("server_error", PartnerUnavailable), ("reset", PartnerUnavailable), ("timeout", PartnerUnavailable),
    ("bad_request", PartnerRejected), ("forbidden", PartnerRejected),
])
def test_the_faults_the_stubs_make_the_client_reports_as_retry_or_give_up(
        sides: Sides, fault: str, raised: type[Exception]) -> None:
    sides.fails("payment", fault)
    with pytest.raises(raised):
        sides.client.post(_posting(sides, "payment"))


def test_a_change_for_a_program_the_profile_names_no_call_for_is_refused_by_the_client(sides: Sides) -> None:
    change = Posting(key="CONTRACT-C", kind=PostingKind.CHANGE, account=ACCOUNT, program="carrier_pigeon", value="Y")
    with pytest.raises(PartnerRejected, match="field 'change_log' names no call for carrier_pigeon"):
        sides.client.post(change)


def test_every_change_the_client_sends_the_stubs_match_answer_and_decode(sides: Sides) -> None:
    for program in sides.biller.partner.change_log:
        role = f"{program}_change"
        sides.answers(role)
        change = Posting(key=f"CONTRACT-{program}", kind=PostingKind.CHANGE, account=ACCOUNT, program=program,
                         value="Y")
        assert sides.client.post(change).outcome is Outcome.POSTED, program
        _, decoded = sides.last_request()
        assert (decoded["role"], decoded["account"], decoded["value"]) == (role, ACCOUNT, "Y")


def test_an_adapter_nobody_registered_is_a_profile_fault_naming_the_field_and_the_known_ones() -> None:
    partner = BILLERS["cayenta"].partner.model_copy(update={"adapter": "opengov_v2"})
    with pytest.raises(ProfileError) as raised:
        load_adapter(partner)
    assert str(raised.value) == (
        "partner profile cayenta: field 'adapter': no partner adapter 'opengov_v2' is registered (known: caselle, "
        "cayenta, cloudpay, stw); a package registers one as a 'sit_harness.partners' entry point")


def test_an_adapter_without_what_its_transports_need_is_a_profile_fault() -> None:
    api_partner_on_files = BILLERS["cayenta"].partner.model_copy(update={"adapter": "stw"})
    with pytest.raises(ProfileError, match="the 'stw' adapter has no API client and stubs"):
        load_adapter(api_partner_on_files)
    file_partner_on_api = BILLERS["stw"].partner.model_copy(update={"adapter": "cayenta"})
    with pytest.raises(ProfileError, match="the 'cayenta' adapter has no file codec"):
        load_adapter(file_partner_on_api)
