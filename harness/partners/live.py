"""The partner side of a live run: what the platform client's tap captured, as evidence.

It stands where ``harness.stubs.StubSide`` stands in stub and record modes, with nothing to load
or reset: a live partner is not ours to arrange (``harness.scenario.PartnerSide`` uses the biller's
test accounts instead).
"""

from __future__ import annotations

from harness.events import Event, Recorder
from harness.partners.tap import Tap
from harness.stubs.journal import Decoder, exchange_data


class LiveSide:
    def __init__(self, tap: Tap, recorder: Recorder, decode: Decoder) -> None:
        self._tap, self._recorder, self._decode = tap, recorder, decode

    def load(self) -> None:
        """Nothing to load: the partner serves its own data."""

    def reset(self, sit_id: str | None = None) -> None:
        """Between scenarios: what nobody drained belonged to the scenario before, which drained it."""

    def drain(self, force: bool = False) -> list[Event]:
        """Every exchange since the last drain, appended as ``partner.exchange`` events."""
        return [self._recorder.append("partner.exchange", **exchange_data(entry, self._decode))
                for entry in self._tap.take()]

    def close(self) -> None:
        """The client owns the connections."""
