"""The partner side as a scenario sees it: a WireMock loaded with the partner's stub pack."""

from __future__ import annotations

from typing import Any

from harness.errors import StubServerError
from harness.events import Event, Recorder
from harness.stubs.admin import WireMockAdmin
from harness.stubs.journal import Decoder, exchange_data
from harness.stubs.pack import StubPack

SCENARIO_METADATA = {"sit": "scenario"}


class StubSide:
    def __init__(self, admin: WireMockAdmin, pack: StubPack, recorder: Recorder, decode: Decoder) -> None:
        self.admin, self.pack, self._recorder, self._decode = admin, pack, recorder, decode
        self._seen: set[str] = set()
        self._added: list[str] = []

    def load(self) -> None:
        """Put the pack on a fresh server; a mapping WireMock refuses is named with its file."""
        self.admin.reset()
        try:
            self.admin.import_mappings(list(self.pack.mappings))
        except StubServerError:
            self.admin.reset()
            for mapping, source in zip(self.pack.mappings, self.pack.sources, strict=True):
                try:
                    self.admin.add_mapping(mapping)
                except StubServerError as exc:
                    name = mapping.get("name", "unnamed")
                    raise StubServerError(f"{source}: WireMock refused mapping '{name}': {exc}") from None
            raise
        self._seen.clear()

    def reset(self) -> None:
        """Between scenarios: only the pack's mappings, fresh scenario states, an empty journal.

        Removing what the scenario added (rather than reloading the pack) keeps this to a few
        milliseconds, which matters with a few dozen scenarios a run.
        """
        for mapping_id in self._added:
            self.admin.remove_mapping(mapping_id)
        self._added.clear()
        self.admin.reset_scenarios()
        self.admin.reset_journal()
        self._seen.clear()

    def add(self, mapping: dict[str, Any]) -> str:
        """A mapping for this scenario only (faults, arranged accounts); gone at the next reset."""
        meta = {**mapping.get("metadata", {}), **SCENARIO_METADATA}
        mapping_id = self.admin.add_mapping({**mapping, "metadata": meta})
        self._added.append(mapping_id)
        return mapping_id

    def remove(self, mapping_id: str) -> None:
        self.admin.remove_mapping(mapping_id)
        self._added.remove(mapping_id)

    def drain(self) -> list[Event]:
        """Every request WireMock saw since the last drain, appended as ``partner.exchange`` events."""
        events = []
        for entry in self.admin.journal():
            if entry["id"] in self._seen:
                continue
            self._seen.add(entry["id"])
            events.append(self._recorder.append("partner.exchange", **exchange_data(entry, self._decode)))
        return events
