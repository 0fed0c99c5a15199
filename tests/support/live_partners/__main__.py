"""``python -m tests.support.live_partners PARTNER --cert DIR [--data FILE] [--drift] [--port 0]``.

Starts one live partner over HTTPS on loopback and prints its base URL on one line of stdout
when it accepts connections. ``--cert DIR`` holds the CA and the server certificate
(``ca.pem``, ``server.pem``, ``server-key.pem``); they are made there if missing, and
``DIR/ca.pem`` is the CA to give a run (``--partner-ca``). Credentials come from the
environment variables the partner profile names; one left unset takes the harness's demo value
(``demo-<variable name in lower case>``), so `sit run` with the demo values talks to it as is.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tests.support.live_partners import caselle, cayenta
from tests.support.live_partners.certs import Certificates, make_certificates
from tests.support.live_partners.ledger import DataError, load_ledger
from tests.support.live_partners.server import App, serve

DATA = Path(__file__).resolve().parent / "data"
PARTNERS = ("cayenta", "caselle")


def credential(name: str) -> str:
    """The variable's value; the harness's demo value when it is unset (see harness/secrets.py)."""
    value = os.environ.get(name)
    if not value:
        print(f"{name} is not set: taking the demo value", file=sys.stderr, flush=True)
    return value or f"demo-{name.lower()}"


def make_app(partner: str, data: Path, drift: bool) -> App:
    ledger = load_ledger(data)
    if partner == "cayenta":
        return cayenta.Cayenta(ledger, *map(credential, cayenta.CREDENTIALS), drift=drift)
    return caselle.Caselle(ledger, *map(credential, caselle.CREDENTIALS), drift=drift)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.live_partners", description=__doc__.split("\n")[2])
    parser.add_argument("partner", choices=PARTNERS)
    parser.add_argument("--cert", type=Path, required=True, metavar="DIR", help="folder of the CA and server PEMs")
    parser.add_argument("--data", type=Path, metavar="FILE", help="the partner's accounts (default: its own)")
    parser.add_argument("--drift", action="store_true", help="answer one field as a new release would")
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (default) or localhost: what the cert names")
    parser.add_argument("--parent", type=int, metavar="PID", help="stop when process PID, which started this, is gone")
    args = parser.parse_args(argv)
    try:
        app = make_app(args.partner, args.data or DATA / f"{args.partner}.yaml", args.drift)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    certs = Certificates.in_folder(args.cert)
    if not certs.exist():
        make_certificates(args.cert)
        print(f"made a CA and a server certificate in {args.cert}: give a run --partner-ca {certs.ca}",
              file=sys.stderr, flush=True)
    return serve(app, certs, args.host, args.port, parent=args.parent)


if __name__ == "__main__":
    sys.exit(main())
