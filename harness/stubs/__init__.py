"""WireMock control: where it runs, its admin API, stub packs and the journal as evidence."""

from harness.stubs.admin import WireMockAdmin
from harness.stubs.pack import StubPack, load_pack
from harness.stubs.runtime import find_java, find_wiremock_jar
from harness.stubs.server import (
    BACKENDS,
    ContainerWireMock,
    ExternalWireMock,
    ProcessWireMock,
    WireMockServer,
)
from harness.stubs.side import StubSide

__all__ = [
    "BACKENDS",
    "ContainerWireMock",
    "ExternalWireMock",
    "ProcessWireMock",
    "StubPack",
    "StubSide",
    "WireMockAdmin",
    "WireMockServer",
    "find_java",
    "find_wiremock_jar",
    "load_pack",
]
