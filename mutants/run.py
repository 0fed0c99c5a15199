"""`make mutants`: how many realistic integration faults the workbook catches.

First the baseline: the project as it is, copied, must pass for every demo biller. Then each fault
of ``mutants/faults.toml`` is applied to a fresh copy of the project (its files as ``git ls-files``
knows them, untracked-but-not-ignored ones included, with their contents on disk) and the workbook
of each demo biller it applies to runs there, through the real CLI in a child process that imports
the copy's ``harness`` (checked before anything runs). A fault is

- killed: a run exited 1, a scenario failed (the SIT IDs and the first failing sentence are shown);
- killed by a crash: no scenario failed but a run was a harness error (exit 3), another exit, or
  timed out: detected, but weaker evidence than a scenario saying what arrived instead;
- survived: every run passed.

Prints one line per fault, then ``killed K / applied N (score P%)`` and the survivors with what each
models. Exit 0 whenever the measurement ran, whatever the score; 2 when it could not run (a stale or
malformed fault list, a baseline that fails, no git checkout, no WireMock JAR).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.events import SQLiteStore
from harness.secrets import secret_names
from mutants.faults import FAULTS_FILE, Fault, FaultListError, load_faults

ROOT = Path(__file__).resolve().parent.parent
# Every biller of the project's fixtures: each is a demo biller whose workbook must pass.
DEMO_BILLERS = tuple(sorted(path.stem for path in (ROOT / "fixtures" / "billers").glob("*.yaml")))
JOBS = 2  # the machine has 2 cores; each run also starts a JVM (WireMock)
RUN_TIMEOUT_S = 300.0  # a whole workbook takes seconds; a fault that hangs the harness is cut off here
STOP_GRACE_S = 20.0  # after SIGTERM, time for `sit run` to stop its WireMock and sFTP server
WIREMOCK_JAR_GLOB = "node_modules/wiremock/build/wiremock-standalone-*.jar"
SENTENCE_CHARS = 220


class CannotRun(Exception):
    """The measurement cannot run; the message is the one line that says why."""


@dataclass(frozen=True)
class Failure:
    """A failed scenario: its SIT ID, the first line of its failure, and who the run blames."""

    sit_id: str
    sentence: str
    category: str  # "platform": an expectation was not met; "harness": a step or the harness broke

    @property
    def rank(self) -> int:
        """Which failure is the best evidence: a sentence saying what arrived instead, then any
        platform failure, then a harness error (a step that broke on what it saw)."""
        return 0 if self.sentence.startswith("expected ") else 1 if self.category == "platform" else 2


@dataclass(frozen=True)
class BillerRun:
    """One workbook run of one biller in one copy of the project."""

    biller: str
    exit_code: int | None  # None: timed out
    failed: tuple[Failure, ...] = ()  # in run order
    error: str = ""  # for a crash: the last line the run printed
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        if self.exit_code == 0:
            return "passed"
        return "failed" if self.exit_code == 1 and self.failed else "crashed"


@dataclass
class Result:
    fault: Fault
    runs: list[BillerRun] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """killed, crashed (killed by a crash) or survived."""
        verdicts = {run.verdict for run in self.runs}
        if "failed" in verdicts:
            return "killed"
        return "crashed" if "crashed" in verdicts else "survived"

    def sit_ids(self) -> str:
        parts = []
        for run in self.runs:
            if run.verdict == "failed":
                parts.append(f"{', '.join(dict.fromkeys(f.sit_id for f in run.failed))} ({run.biller})")
            elif run.verdict == "crashed":
                parts.append(f"crash ({run.biller})")
        return "; ".join(parts)

    def best_failure(self) -> Failure | None:
        """The failure that best says what went wrong (the first of the best rank)."""
        failures = [f for run in self.runs if run.verdict == "failed" for f in run.failed]
        return min(failures, key=lambda f: f.rank) if failures else None

    @property
    def weak(self) -> bool:
        """Killed, but only by steps or the harness breaking: no expectation said what arrived."""
        best = self.best_failure()
        return best is not None and best.rank == 2

    def first_sentence(self) -> str:
        if best := self.best_failure():
            return f"{best.sit_id}: {best.sentence}"
        for run in self.runs:
            if run.verdict == "crashed":
                return f"{run.biller}: {run.error}"
        return ""


# -- the project copy ----------------------------------------------------------------------------------
def project_files(root: Path) -> list[str]:
    """The project's files: tracked ones (as on disk) and untracked ones git does not ignore."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CannotRun(f"mutants: {root} is not a git checkout (git ls-files: {exc})") from None
    names = sorted({name for name in listed.decode().split("\0") if name})
    # A tracked file deleted in the work tree is not part of the project as it is now.
    return [name for name in names if (root / name).is_file() or (root / name).is_symlink()]


def copy_project(root: Path, files: Iterable[str], into: Path) -> Path:
    """A copy of the project's ``files`` under ``into``, with the project's node_modules linked."""
    for name in files:
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target, follow_symlinks=False)
    (into / "node_modules").symlink_to((root / "node_modules").resolve(), target_is_directory=True)
    return into


# -- the environment of a run ----------------------------------------------------------------------------
def _yaml(path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CannotRun(f"mutants: cannot read {path.relative_to(ROOT)}: {exc}") from None
    if not isinstance(data, dict):
        raise CannotRun(f"mutants: {path.relative_to(ROOT)} is not a mapping")
    return data


def partners_of(root: Path, billers: Sequence[str]) -> dict[str, str]:
    """Demo biller -> its partner's name, from the biller profiles."""
    return {b: str(_yaml(root / "fixtures" / "billers" / f"{b}.yaml").get("partner", "")) for b in billers}


def run_env(root: Path, partner_of: Mapping[str, str]) -> dict[str, str]:
    """This environment without the demo billers' secrets (a run then uses the documented demo values,
    as `make demo` does) and without pytest's variables; NO_COLOR and a wide console for plain lines."""
    secrets: set[str] = set()
    for biller, partner in partner_of.items():
        secrets.update(secret_names(_yaml(root / "fixtures" / "partners" / f"{partner}.yaml"),
                                    _yaml(root / "fixtures" / "billers" / f"{biller}.yaml")))
    env = {k: v for k, v in os.environ.items() if k not in secrets and not k.startswith("PYTEST_")}
    env.pop("FORCE_COLOR", None)
    return env | {"NO_COLOR": "1", "COLUMNS": "1000", "PYTHONDONTWRITEBYTECODE": "1"}


def _child_env(env: Mapping[str, str], copy: Path) -> dict[str, str]:
    # PYTHONPATH comes before site-packages: the copy's harness is imported, not the installed one.
    return {**env, "PYTHONPATH": str(copy)}


def check_imports_copy(copy: Path, env: Mapping[str, str]) -> None:
    """The child process imports the copy's harness (else every fault would 'survive')."""
    probe = subprocess.run([sys.executable, "-c", "import harness.platform, harness.partners; print(harness.__file__)"],
                           cwd=copy, env=_child_env(env, copy), capture_output=True, text=True, timeout=60)
    imported = Path(probe.stdout.strip() or "?").resolve()
    if probe.returncode != 0 or not imported.is_relative_to(copy.resolve()):
        raise CannotRun(f"mutants: a run in the project copy imports {imported}, not the copy's harness: "
                        "check PYTHONPATH and how sit-harness is installed")


# -- one workbook run ----------------------------------------------------------------------------------
class Children:
    """The `sit run` processes alive now, so that an interrupted measurement stops them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[str]] = set()

    def add(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self._live.add(process)

    def discard(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self._live.discard(process)

    def stop_all(self) -> None:
        with self._lock:
            live = list(self._live)
        for process in live:
            _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM to the run's process group (`sit run` then stops its servers), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_workbook(copy: Path, biller: str, env: Mapping[str, str], children: Children,
                 timeout: float = RUN_TIMEOUT_S) -> BillerRun:
    """`sit run --biller BILLER` in ``copy`` with the copy's harness; what it ended in."""
    store = copy / ".mutants" / f"{biller}.sqlite"
    store.parent.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "harness.cli", "run", "--biller", biller, "--no-report",
               "--store", str(store), "--project", str(copy)]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=copy, env=_child_env(env, copy), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    children.add(process)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        return BillerRun(biller, None, error=f"timed out after {timeout:g} s", seconds=time.monotonic() - started)
    finally:
        children.discard(process)
    took = time.monotonic() - started
    if process.returncode == 0:
        return BillerRun(biller, 0, seconds=took)
    failed = _failed_scenarios(store)
    error = _last_line(err) or _last_line(out) or f"exit {process.returncode}"
    return BillerRun(biller, process.returncode, failed, f"exit {process.returncode}: {error}", took)


def _failed_scenarios(store: Path) -> tuple[Failure, ...]:
    """Each failed scenario the run recorded, in run order."""
    if not store.is_file():
        return ()
    try:
        with SQLiteStore(store) as events:
            run_ids = events.run_ids()
            if not run_ids:
                return ()
            return tuple(
                Failure(str(e.data["sit_id"]), _first_line(str(e.data.get("error") or "failed")),
                        str(e.data.get("category") or "harness"))
                for e in events.events(run_ids[-1])
                if e.kind == "scenario.finished" and e.data.get("status") == "failed"
            )
    except Exception:  # a store the mutated harness damaged: the exit code still tells
        return ()


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= SENTENCE_CHARS else line[: SENTENCE_CHARS - 1] + "…"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _first_line(lines[-1]) if lines else ""


# -- the measurement -----------------------------------------------------------------------------------
@dataclass
class Setup:
    files: list[str]
    env: dict[str, str]
    partner_of: dict[str, str]
    children: Children = field(default_factory=Children)


def _in_copy(setup: Setup, work: Callable[[Path], Result]) -> Result:
    with tempfile.TemporaryDirectory(prefix="sit-mutant-") as tmp:
        return work(copy_project(ROOT, setup.files, Path(tmp) / "project"))


def try_fault(fault: Fault, setup: Setup) -> Result:
    def work(copy: Path) -> Result:
        fault.apply(copy)
        result = Result(fault)
        for biller in fault.applies_to(setup.partner_of):
            result.runs.append(run_workbook(copy, biller, setup.env, setup.children))
        return result

    return _in_copy(setup, work)


def baseline(setup: Setup, jobs: int) -> None:
    """Every demo biller passes in an unmutated copy, run exactly as the faults will be."""
    def work(copy: Path) -> Result:
        check_imports_copy(copy, setup.env)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            runs = list(pool.map(lambda b: run_workbook(copy, b, setup.env, setup.children), setup.partner_of))
        return Result(Fault("baseline", "", "", "", "the project as it is"), runs)

    result = _in_copy(setup, work)
    for run in result.runs:
        if run.exit_code != 0:
            why = f"{run.failed[0].sit_id}: {run.failed[0].sentence}" if run.failed else run.error
            raise CannotRun(f"mutants: the baseline fails for {run.biller} ({why}): "
                            "the workbook must pass before faults can be measured")
    took = ", ".join(f"{run.biller} {run.seconds:.0f} s" for run in result.runs)
    print(f"baseline passed ({took})", flush=True)


def _line(result: Result) -> str:
    label = {"killed": "killed", "crashed": "crashed", "survived": "SURVIVED"}[result.verdict]
    detail = result.sit_ids() if result.verdict != "survived" else ", ".join(r.biller for r in result.runs)
    line = f"{label:<9} {result.fault.id:<44} {detail}"
    if sentence := result.first_sentence():
        line += f"\n{'':<10}{sentence}"
    return line


def summary(results: Sequence[Result], pending: Sequence[Fault], seconds: float) -> str:
    killed = [r for r in results if r.verdict in ("killed", "crashed")]
    crashed = [r for r in results if r.verdict == "crashed"]
    weak = [r for r in results if r.verdict == "killed" and r.weak]
    survivors = [r for r in results if r.verdict == "survived"]
    score = 100 * len(killed) / len(results) if results else 0.0
    lines = ["", f"killed {len(killed)} / applied {len(results)} (score {score:.0f}%)"
             + (f", {len(crashed)} of them only by a harness crash" if crashed else "")]
    if crashed:
        lines += ["", "killed by a crash (detected, but no scenario said what arrived instead):"]
        lines += [f"  {r.fault.id}: {r.first_sentence()}" for r in crashed]
    if weak:
        lines += ["", "killed only by a step or the harness breaking (no expectation said what arrived instead):"]
        lines += [f"  {r.fault.id}: {r.first_sentence()}" for r in weak]
    if survivors:
        lines += ["", "survivors:"]
        lines += [f"  {r.fault.id} ({r.fault.file}; {', '.join(x.biller for x in r.runs)}): {r.fault.models}"
                  for r in survivors]
    if pending:
        lines += ["", "pending (listed, not applied, not counted):"]
        lines += [f"  {f.id}: {f.models} [{f.pending}]" for f in pending]
    lines += ["", f"wall time {int(seconds // 60)} min {seconds % 60:.0f} s"]
    return "\n".join(lines)


def _as_json(results: Sequence[Result], pending: Sequence[Fault], seconds: float) -> dict[str, object]:
    killed = sum(r.verdict != "survived" for r in results)
    return {
        "killed": killed, "applied": len(results), "seconds": round(seconds, 1),
        "faults": [{"id": r.fault.id, "file": r.fault.file, "models": r.fault.models, "verdict": r.verdict,
                    "runs": [{"biller": x.biller, "exit": x.exit_code,
                              "failed": [{"sit_id": f.sit_id, "sentence": f.sentence, "category": f.category}
                                         for f in x.failed],
                              "error": x.error, "seconds": round(x.seconds, 1)} for x in r.runs]}
                   for r in results],
        "pending": [{"id": f.id, "models": f.models, "why": f.pending} for f in pending],
    }


def measure(faults: Sequence[Fault], setup: Setup, jobs: int) -> list[Result]:
    """Each fault in its own copy, ``jobs`` at a time; a line per fault as it finishes."""
    results: dict[str, Result] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(try_fault, fault, setup): fault for fault in faults}
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()
            results[result.fault.id] = result
            print(f"[{done}/{len(faults)}] {_line(result)}", flush=True)
    return [results[f.id] for f in faults]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="ID", help="try only this fault (repeatable)")
    parser.add_argument("--jobs", type=int, default=JOBS, help=f"faults tried at a time (default {JOBS})")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--list", action="store_true", help="list the faults and what each models, run nothing")
    return parser.parse_args(argv)


def _prepare(args: argparse.Namespace) -> tuple[list[Fault], list[Fault], Setup]:
    faults = load_faults(FAULTS_FILE, DEMO_BILLERS)
    if args.only:
        unknown = set(args.only) - {f.id for f in faults}
        if unknown:
            raise CannotRun(f"mutants: no fault {', '.join(sorted(unknown))} in {FAULTS_FILE.name}")
        faults = [f for f in faults if f.id in args.only]
    applied = [f for f in faults if not f.pending]
    for fault in applied:
        fault.mutated(ROOT)  # a stale fault stops the measurement before anything runs
    if not sorted(ROOT.glob(WIREMOCK_JAR_GLOB)):
        raise CannotRun("mutants: no WireMock JAR under node_modules/: run `make setup`")
    partner_of = partners_of(ROOT, DEMO_BILLERS)
    setup = Setup(project_files(ROOT), run_env(ROOT, partner_of), partner_of)
    return applied, [f for f in faults if f.pending], setup


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    started = time.monotonic()
    setup: Setup | None = None
    try:
        applied, pending, setup = _prepare(args)
        if args.list:
            for fault in [*applied, *pending]:
                print(f"{fault.id:<44} {', '.join(fault.applies_to(setup.partner_of))}: {fault.models}")
            return 0
        print(f"{len(applied)} faults, {args.jobs} at a time; baseline first", flush=True)
        baseline(setup, args.jobs)
        results = measure(applied, setup, args.jobs)
    except (FaultListError, CannotRun) as exc:
        print(exc if str(exc).startswith("mutants:") else f"mutants: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if setup is not None:
            setup.children.stop_all()
        print("mutants: interrupted", file=sys.stderr)
        return 130
    seconds = time.monotonic() - started
    print(summary(results, pending, seconds))
    if args.json:
        args.json.write_text(json.dumps(_as_json(results, pending, seconds), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
