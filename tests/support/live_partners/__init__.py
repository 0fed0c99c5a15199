"""Independent live partners the tests start: Cayenta and Caselle as separate HTTPS server processes.

Not the harness's WireMock pack and no harness code: each partner speaks its protocol from
its own books (``data/<partner>.yaml``), keeps state (a reference is taken once, a payment
lowers the balance), checks credentials, and can drift (``--drift``: one field answered as a
new release would). Start one with ``python -m tests.support.live_partners PARTNER --cert DIR``,
or from a test with ``fixtures.start_partner``.
"""

from tests.support.live_partners.certs import Certificates, make_certificates
from tests.support.live_partners.fixtures import LivePartner, start_partner

__all__ = ["Certificates", "LivePartner", "make_certificates", "start_partner"]
