"""Shared fixtures: running the real `sit` command, a throwaway project, one demo run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from harness.cases import biller_workbook
from harness.events import SQLiteStore
from harness.features import feature_files, read_feature
from harness.profiles import load_biller
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures: a throwaway PostgreSQL)

PROJECT = Path(__file__).resolve().parent.parent
SIT = (sys.executable, "-m", "harness.cli")  # the `sit` command, as run_sit runs it

# Linked into a throwaway project as they are; fixtures/ and stubs/ are copied so a test may break them.
_LINKED = ("features", "steps", "conftest.py", "pyproject.toml", "node_modules", ".cache")
_COPIED = ("fixtures", "stubs")


def sit_ids(biller: str = "clayton-county-water") -> set[str]:
    """Every SIT ID of the biller's workbook: counts in tests follow the features, not a number."""
    return {case.sit_id for case in biller_workbook(PROJECT, load_biller(PROJECT, biller))}


def all_sit_ids() -> set[str]:
    """Every SIT ID of every feature, whichever biller's workbook it belongs to."""
    return {s.sit_id for path in feature_files(PROJECT) for s in read_feature(path, path.name) if s.sit_id}


def na_sit_ids(biller: str) -> set[str]:
    """The SIT IDs of the biller's workbook that are N/A for it, by the same rule a run uses."""
    return {case.sit_id for case in biller_workbook(PROJECT, load_biller(PROJECT, biller)) if case.na_reason}


# What an expectation's sentence must never show: Python's literals and containers, or method codes quoted.
_PYTHONISH = re.compile(r"\b(True|False|None)\b|[\[\]{}]|'(CC|ACH)'")


def reads_like_python(text: str) -> bool:
    """Whether ``text`` shows values as Python prints them (``True``, ``[['45.10', 'CC']]``), not as said."""
    return _PYTHONISH.search(text) is not None


def run_sit(
    *args: str, cwd: Path = PROJECT, env: Mapping[str, str] | None = None, timeout: float = 120,
    program: Sequence[str] = SIT,
) -> subprocess.CompletedProcess[str]:
    """`sit ARGS` in a child process, exactly as a user runs it (through ``harness.cli.main``).

    ``env`` replaces the environment (default: this one, without ``$SIT_STORE``: a team's store the
    caller's shell names never receives a test's runs). Rich's width is fixed so that no
    line is wrapped, and bytecode is not written next to the (shared) sources. ``program``
    replaces the command ARGS are given to (say, ``python -m pytest`` or a wrapper of ``main``).
    """
    environ = dict(os.environ if env is None else env)
    if env is None:
        environ.pop("SIT_STORE", None)
    environ.pop("FORCE_COLOR", None)
    environ.update(COLUMNS="1000", NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([*program, *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=timeout)


def copy_project(root: Path, copied: Sequence[str] = _COPIED) -> Path:
    """A sit-harness project at ``root`` to break things in: ``copied`` folders copied, the rest linked."""
    root.mkdir()
    for name in (*_LINKED, *_COPIED):
        if name in copied:
            shutil.copytree(PROJECT / name, root / name)
        elif (PROJECT / name).exists():
            (root / name).symlink_to(PROJECT / name)
    return root


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A sit-harness project to break things in: sources linked, profiles and stub packs copied."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, subprocess.CompletedProcess[str]]:
    """One real `sit run` of the demo biller: (run id, its event store, the finished process)."""
    store = tmp_path_factory.mktemp("demo-run") / "events.sqlite"
    proc = run_sit("run", "--biller", "clayton-county-water", "--store", str(store))
    assert proc.returncode == 0, f"sit run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    with SQLiteStore(store) as events:
        run_ids = events.run_ids()
    assert len(run_ids) == 1, run_ids
    return run_ids[0], store, proc
