"""The fault list (``mutants/faults.toml``): loading it, checking it against a tree, applying a fault.

A fault is one exact text replacement in one file of the system under test. The list is data so
that each fault names the integration bug it models; it is checked strictly, because a fault whose
text no longer occurs exactly once would silently stop measuring anything.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FAULTS_FILE = Path(__file__).with_name("faults.toml")
# Where a fault may be applied: the platform under test, the partner adapters, the partner profiles, and the
# file layouts the platform reads partner files with.
MUTABLE = ("harness/platform/", "harness/partners/", "fixtures/partners/", "harness/layouts/", "harness/cloudpay/")
# The platform's CloudPay side serves the CloudPay billers only, and they use nothing else of the platform.
CLOUDPAY_SIDE, CLOUDPAY = "harness/cloudpay/", "cloudpay"
_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_KEYS = {"id", "file", "find", "replace", "models", "billers", "pending"}


class FaultListError(Exception):
    """The fault list is malformed or stale; the message is one line naming the fault."""


@dataclass(frozen=True)
class Fault:
    id: str
    file: str
    find: str
    replace: str
    models: str
    billers: tuple[str, ...] = ()  # empty: the default for its file (see ``applies_to``)
    pending: str = ""  # why it cannot be applied yet; a pending fault is listed, not applied

    def applies_to(self, partner_of: dict[str, str]) -> tuple[str, ...]:
        """The demo billers (of ``partner_of``: biller -> partner) this fault is tried on."""
        if self.billers:
            return self.billers
        path = Path(self.file)
        if self.file.startswith(("harness/partners/", "fixtures/partners/")) and path.stem in partner_of.values():
            return tuple(b for b, partner in partner_of.items() if partner == path.stem)
        cloudpay = self.file.startswith(CLOUDPAY_SIDE)
        return tuple(b for b, partner in partner_of.items() if (partner == CLOUDPAY) == cloudpay)

    def mutated(self, root: Path) -> str:
        """The file's text under ``root`` with the fault applied; FaultListError if it is stale."""
        path = root / self.file
        if not path.is_file():
            raise FaultListError(f"{FAULTS_FILE.name}: fault '{self.id}': no file {self.file}")
        text = path.read_text(encoding="utf-8")
        count = text.count(self.find)
        if count != 1:
            found = "not found" if count == 0 else f"found {count} times"
            raise FaultListError(f"{FAULTS_FILE.name}: fault '{self.id}': its text is {found} in {self.file} "
                                 "(the code changed: update the fault's find/replace)")
        return text.replace(self.find, self.replace)

    def apply(self, root: Path) -> None:
        """Apply the fault to the copy of the project at ``root``."""
        text = self.mutated(root)
        (root / self.file).write_text(text, encoding="utf-8")


def load_faults(path: Path = FAULTS_FILE, demo_billers: Sequence[str] = ()) -> list[Fault]:
    """Every fault of the list, checked for form (not yet against a tree: see ``Fault.mutated``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FaultListError(f"{path.name}: cannot read the fault list: {exc}") from None
    faults = [_fault(path.name, i, entry, demo_billers) for i, entry in enumerate(data.get("fault", []), 1)]
    seen: set[str] = set()
    for fault in faults:
        if fault.id in seen:
            raise FaultListError(f"{path.name}: fault id '{fault.id}' is used twice")
        seen.add(fault.id)
    if not faults:
        raise FaultListError(f"{path.name}: no [[fault]] entries")
    return faults


def _fault(name: str, index: int, entry: dict[str, object], demo_billers: Sequence[str]) -> Fault:
    label = f"{name}: fault {entry.get('id') or f'#{index}'}"
    if unknown := entry.keys() - _KEYS:
        raise FaultListError(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")
    pending = entry.get("pending", "")
    needed = ("id", "file", "models") if pending else ("id", "file", "find", "replace", "models")
    for key in needed:
        if not isinstance(entry.get(key), str) or (key != "replace" and not entry[key]):
            raise FaultListError(f"{label}: field '{key}' must be a non-empty string")
    fault_id, file = str(entry["id"]), str(entry["file"])
    if not _ID.fullmatch(fault_id):
        raise FaultListError(f"{label}: id must be kebab-case (a-z, 0-9, -)")
    if not file.startswith(MUTABLE):
        raise FaultListError(f"{label}: file {file} is not under {', '.join(MUTABLE)}")
    if entry.get("find") == entry.get("replace") and not pending:
        raise FaultListError(f"{label}: find and replace are the same text")
    billers = entry.get("billers", [])
    if not isinstance(billers, list) or not all(isinstance(b, str) for b in billers):
        raise FaultListError(f"{label}: billers must be a list of biller slugs")
    if demo_billers and (unknown_billers := set(billers) - set(demo_billers)):
        raise FaultListError(f"{label}: billers {', '.join(sorted(unknown_billers))} are not demo billers")
    return Fault(id=fault_id, file=file, find=str(entry.get("find", "")), replace=str(entry.get("replace", "")),
                 models=str(entry["models"]), billers=tuple(billers), pending=str(pending))
