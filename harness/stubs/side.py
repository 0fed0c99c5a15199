"""The partner side as a scenario sees it: a WireMock loaded with the partner's stub pack."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import StubServerError
from harness.events import Event, Recorder
from harness.stubs.admin import WireMockAdmin
from harness.stubs.journal import Decoder, exchange_data
from harness.stubs.pack import StubPack

# What else an exchange's event holds, given the exchange's data (`sit stubs serve`: its section and verdict).
Judge = Callable[[dict[str, Any]], dict[str, Any]]

SCENARIO_METADATA = {"sit": "scenario"}
# A recorded mapping's metadata: the SIT scenario it was recorded in (absent: recorded outside any).
SIT_ID_KEY, OCCURRENCE_KEY = "sit_id", "sit_occurrence"


class StubSide:
    """``traffic`` counts the requests sent to the partner side; when it is given, the journal
    is read only after it moved (each read costs milliseconds, a step mostly sends nothing).
    Without it (a platform the harness does not drive) the journal is read every time."""

    def __init__(self, admin: WireMockAdmin, pack: StubPack, recorder: Recorder, decode: Decoder,
                 traffic: Callable[[], int] | None = None, judge: Judge | None = None) -> None:
        self.admin, self.pack, self._recorder, self._decode = admin, pack, recorder, decode
        self._traffic, self._judge = traffic, judge
        self._seen: set[str] = set()
        self._added: list[str] = []
        self._drained_at: int | None = None  # the traffic count at the last journal read / reset
        self._reset_at: int | None = None
        self._pack_has_states = any("scenarioName" in m for m in pack.mappings)
        self._states_touched = True
        # A recorded pack: what every scenario shares is loaded at once, each SIT scenario's own
        # answers when it opens (the n-th scenario of a SIT ID gets the n-th one recorded).
        self._shared, self._scoped = _split(pack)
        self._opened: Counter[str] = Counter()
        self._scoped_loaded = False

    def _sent(self) -> int | None:
        """The traffic count now; None when unknown, which never equals a mark: always act."""
        return self._traffic() if self._traffic else None

    def _moved_since(self, mark: int | None) -> bool:
        sent = self._sent()
        return sent is None or sent != mark

    def load(self) -> None:
        """Put the pack on a fresh server; a mapping WireMock refuses is named with its file."""
        self.admin.reset()
        try:
            self.admin.import_mappings([mapping for mapping, _ in self._shared])
        except StubServerError:
            self.admin.reset()
            for mapping, source in self._shared:
                try:
                    self.admin.add_mapping(mapping)
                except StubServerError as exc:
                    name = mapping.get("name", "unnamed")
                    raise StubServerError(f"{source}: WireMock refused mapping '{name}': {exc}") from None
            raise
        self._seen.clear()
        self._reset_at = self._drained_at = self._sent()
        self._states_touched = False
        self._opened.clear()

    def reset(self, sit_id: str | None = None) -> None:
        """Between scenarios: only the pack's mappings, fresh scenario states, an empty journal;
        on a recorded pack, then the answers recorded for the SIT scenario ``sit_id`` opens.

        Removing what the scenario added (rather than reloading the pack) keeps this to a few
        milliseconds, which matters with a few dozen scenarios a run.
        """
        if self._added or self._scoped_loaded:
            key, value = next(iter(SCENARIO_METADATA.items()))
            self.admin.remove_by_metadata(key, value)  # one call, however many were added
            self._added.clear()
            self._scoped_loaded = False
        if self._pack_has_states or self._states_touched:
            self.admin.reset_scenarios()
            self._states_touched = False
        if self._moved_since(self._reset_at):
            self.admin.reset_journal()
            self._reset_at = self._drained_at = self._sent()
        self._seen.clear()
        if sit_id is not None and self._scoped:
            self._load_recorded(sit_id)

    def _load_recorded(self, sit_id: str) -> None:
        self._opened[sit_id] += 1
        mappings = self._scoped.get((sit_id, self._opened[sit_id]), [])
        if mappings:  # gone at the next reset, as a scenario's own mappings are
            self.admin.import_mappings([{**m, "metadata": {**m.get("metadata", {}), **SCENARIO_METADATA}}
                                        for m, _ in mappings])
            self._scoped_loaded = True

    def add(self, mapping: dict[str, Any]) -> str:
        """A mapping for this scenario only (faults, arranged accounts); gone at the next reset."""
        mapping = {**mapping, "metadata": {**mapping.get("metadata", {}), **SCENARIO_METADATA}}
        mapping_id = self.admin.add_mapping(mapping)
        self._added.append(mapping_id)
        self._states_touched |= "scenarioName" in mapping
        self._recorder.append("stub.added", id=mapping_id, name=mapping.get("name"), mapping=mapping)
        return mapping_id

    def remove(self, mapping_id: str) -> None:
        self.admin.remove_mapping(mapping_id)
        self._added.remove(mapping_id)
        self._recorder.append("stub.removed", id=mapping_id)

    def close(self) -> None:
        self.admin.close()

    def drain(self, force: bool = False) -> list[Event]:
        """Every request WireMock saw since the last drain, appended as ``partner.exchange`` events."""
        if not (force or self._moved_since(self._drained_at)):
            return []
        self._drained_at = self._sent()
        events = []
        for entry in self.admin.journal():
            if entry["id"] in self._seen:
                continue
            self._seen.add(entry["id"])
            data = exchange_data(entry, self._decode)
            if self._judge is not None:
                data |= self._judge(data)
            events.append(self._recorder.append("partner.exchange", **data))
        return events


Sourced = tuple[dict[str, Any], Path]  # a mapping and the file it came from


def _split(pack: StubPack) -> tuple[list[Sourced], dict[tuple[str, int], list[Sourced]]]:
    """The mappings every scenario shares, and (recorded packs only) those of each SIT scenario,
    by SIT ID and which of its scenarios (an outline's examples share one SIT ID)."""
    shared: list[Sourced] = []
    scoped: dict[tuple[str, int], list[Sourced]] = {}
    for mapping, source in zip(pack.mappings, pack.sources, strict=True):
        metadata = mapping.get("metadata", {})
        if pack.recorded and isinstance(metadata.get(SIT_ID_KEY), str):
            scope = (metadata[SIT_ID_KEY], int(metadata.get(OCCURRENCE_KEY, 1)))
            scoped.setdefault(scope, []).append((mapping, source))
        else:
            shared.append((mapping, source))
    return shared, scoped
