"""A stub pack: plain WireMock mappings under ``stubs/<partner>/`` (``mappings/*.json``, ``__files/``).

Bodies a mapping names with ``bodyFileName`` are inlined when the pack is read, so the
same pack loads into a local process, a container or a remote WireMock alike.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import StubServerError

PACK_METADATA = {"sit": "pack"}
# A pack written from a recorded run (`sit stubs record`) says so, and where it came from, in this file.
PACK_FILE = "pack.json"


@dataclass(frozen=True)
class StubPack:
    name: str
    root: Path
    mappings: tuple[dict[str, Any], ...]
    sources: tuple[Path, ...]  # the file each mapping came from, for error messages
    sha256: str  # over every file of the pack, names and bytes: what a run records it ran against
    # ``pack.json`` of a pack recorded from a run (run id, biller, partner, seed...); empty for a written pack.
    recording: dict[str, Any] = field(default_factory=dict)

    @property
    def recorded(self) -> bool:
        """Recorded from a run: it answers as the recorded partner did, scenario by scenario, so a run on
        it arranges nothing at the partner (see ``harness.session.SitSession.arranges``)."""
        return bool(self.recording.get("recorded"))


def load_pack(root: Path) -> StubPack:
    if not (root / "mappings").is_dir():
        raise StubServerError(f"{root}: no stub pack here (expected a mappings/ folder of WireMock JSON)")
    files = tuple(sorted((root / "mappings").glob("*.json")))
    mappings: list[dict[str, Any]] = []
    sources: list[Path] = []
    for path in files:
        for mapping in _read_mappings(path):
            mappings.append(_inline(root, path, mapping))
            sources.append(path)
    return StubPack(name=root.name, root=root, mappings=tuple(mappings), sources=tuple(sources),
                    sha256=pack_digest(root), recording=_recording(root / PACK_FILE))


def _recording(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StubServerError(f"{path}: cannot read the pack's description ({exc}); fix or remove the file") from None
    if not isinstance(data, dict):
        raise StubServerError(f"{path}: not a JSON object; fix or remove the file")
    return data


def pack_digest(root: Path) -> str:
    """SHA-256 over each file under ``root`` in path order: its relative path, then its bytes, each length-prefixed."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for part in (path.relative_to(root).as_posix().encode("utf-8"), path.read_bytes()):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def _read_mappings(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StubServerError(
            f"{path}:{exc.lineno}:{exc.colno}: broken mapping JSON ({exc.msg}); fix the file or remove it"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StubServerError(f"{path}: cannot read the mapping ({exc})") from None
    found = data.get("mappings", [data]) if isinstance(data, dict) else None
    if not isinstance(found, list) or not all(isinstance(m, dict) and "request" in m for m in found):
        raise StubServerError(f"{path}: not a WireMock mapping (needs 'request' and 'response', or 'mappings')")
    return found


def _inline(root: Path, path: Path, mapping: dict[str, Any]) -> dict[str, Any]:
    mapping = {**mapping, "metadata": {**mapping.get("metadata", {}), **PACK_METADATA}}
    response = dict(mapping.get("response", {}))
    name = response.pop("bodyFileName", None)
    if name is None:
        return mapping
    body_path = root / "__files" / name
    try:
        raw = body_path.read_bytes()
    except OSError:
        raise StubServerError(f"{path}: bodyFileName '{name}' is missing from {root / '__files'}") from None
    try:
        response["body"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        response["base64Body"] = base64.b64encode(raw).decode("ascii")
    return {**mapping, "response": response}
