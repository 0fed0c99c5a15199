"""The platform's CloudPay side, played by the harness for a vendor's application under test.

A real HTTP server on loopback (see ``server``): the CloudPay v2 API, v1's redirect, the hosted
payment page with its printable receipt, and the postback to the vendor. What is public and what is
assumed about the real platform's wire is in this package's README.md.
"""

from harness.cloudpay.cards import APPROVING_CARD, DECLINING_CARD
from harness.cloudpay.config import CloudPayBiller, Observe, PostbackPolicy
from harness.cloudpay.server import CloudPayServer

__all__ = ["APPROVING_CARD", "DECLINING_CARD", "CloudPayBiller", "CloudPayServer", "Observe", "PostbackPolicy"]
