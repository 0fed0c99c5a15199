"""The platform's CloudPay side for a biller as its profiles configure it: the same for a run and for
`sit serve`."""

from __future__ import annotations

from harness.cloudpay.config import CloudPayBiller, Observe, PostbackPolicy
from harness.cloudpay.server import CloudPayServer
from harness.profiles import Biller
from harness.secrets import Secrets


def for_biller(biller: Biller, secrets: Secrets, observe: Observe, host: str = "127.0.0.1", port: int = 0,
               public_url: str | None = None) -> CloudPayServer:
    """The server for a CloudPay biller (one whose profile names its vendor): its versions, its invoice types,
    its active API keys, and the postback schedule of its profile (``pump``)."""
    profile, vendor, version = biller.profile, biller.vendor, biller.cloudpay_version
    assert vendor is not None and version is not None and profile.cloudpay is not None, "a CloudPay biller"
    types = profile.cloudpay.invoice_types or [t.id for t in profile.invoice_types]
    keys = [secrets.get(key.env) for key in profile.api_keys if key.active]
    pump = biller.pump
    return CloudPayServer(
        CloudPayBiller(profile.bid, profile.name, (f"v{version}",), vendor.name, tuple(map(str, types))), keys,
        observe, PostbackPolicy(pump.attempts, pump.backoff_seconds, pump.timeout_seconds), host=host, port=port,
        public_url=public_url)
