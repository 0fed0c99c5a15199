"""What every kind of run records about itself at its start: its id, its seed, the profiles as loaded,
the harness and checkout that ran it, and the SE who executes it."""

from __future__ import annotations

import hashlib
import os
import platform as pyplatform
import secrets as pysecrets
import subprocess
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from harness.profiles import Biller
from harness.profiles.loader import partner_path, project_relative
from harness.profiles.vendors import vendors_path
from harness.secrets import Secrets
from harness.transfer import SftpServer


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{pysecrets.token_hex(2)}"


def default_seed(slug: str) -> int:
    """Stable per biller, so two runs of the same biller and code produce the same data."""
    return int.from_bytes(hashlib.sha256(slug.encode()).digest()[:4], "big")


def git_commit(project: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def recorded_profiles(project: Path, biller: Biller) -> dict[str, Any]:
    """The biller's and partner's profiles as a run records them (``run.started``'s ``profiles``):
    where each was read, the SHA-256 of its bytes, and its content as loaded."""
    paths = {"biller": biller.path, "partner": partner_path(project, biller.partner.name)}
    models: dict[str, BaseModel] = {"biller": biller.profile, "partner": biller.partner}
    if biller.vendor is not None:  # a CloudPay biller's vendor, as the vendor table has it
        paths["vendor"], models["vendor"] = vendors_path(project), biller.vendor
    return {which: {"path": project_relative(path, project), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "data": models[which].model_dump(mode="json")} for which, path in paths.items()}


def run_identity(project: Path, biller: Biller, operator: str | None, secrets: Secrets,
                 sftp: SftpServer | None) -> dict[str, Any]:
    """The facts every kind of run records at its start: the biller and partner, the profiles as loaded,
    the harness that ran, the SE who executes it and the sFTP account the platform uses (None: the run
    serves no sFTP, as `sit serve` for CloudPay, which moves no file)."""
    b, p, vendor = biller.profile, biller.partner, biller.vendor
    cloudpay = None if vendor is None or b.cloudpay is None else {
        "key": b.cloudpay.vendor, "vendor": vendor.name, "version": biller.cloudpay_version}
    return {
        "biller": b.slug, "biller_name": b.name, "bid": b.bid, "test_portal_bid": b.test_portal_bid,
        "partner": p.name, "partner_version": b.partner_version, "cloudpay": cloudpay,
        "partner_name": f"{vendor.name} (CloudPay v{biller.cloudpay_version})" if vendor else p.display_name,
        "harness_version": version("sit-harness"), "git_commit": git_commit(project),
        # The SE who executes the SIT, as named; never the login the run happens to use.
        "operator": operator or os.environ.get("SIT_OPERATOR") or b.operator,
        "python": pyplatform.python_version(), "demo_secrets": secrets.demo,
        "sftp": {"host": sftp.host, "port": sftp.port, "user": b.sftp.user} if sftp is not None else None,
        "profiles": recorded_profiles(project, biller),
    }
