"""What every route of the platform shares while the server runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from harness.cloudpay.config import CloudPayBiller, Observe
from harness.cloudpay.ledger import Ledger
from harness.cloudpay.postback import Postbacks


@dataclass
class Context:
    biller: CloudPayBiller
    keys: tuple[str, ...]
    observe: Observe  # already serialized by the server: safe to call from any handler thread
    postbacks: Postbacks
    base_url: str
    now: Callable[[], datetime]
    ledger: Ledger = field(default_factory=Ledger)

    def page_url(self, guid: str) -> str:
        return f"{self.base_url}/cloudpay/pay/{guid}"
