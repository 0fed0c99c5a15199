"""The fault list of `make mutants` against the current tree: a refactor that makes a fault stale fails
here, instead of silently lowering the mutation score."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mutants.faults import FAULTS_FILE, Fault, FaultListError, load_faults
from mutants.run import DEMO_BILLERS, BillerRun, Failure, Result, partners_of

PROJECT = Path(__file__).resolve().parents[2]
FAULTS = load_faults(FAULTS_FILE, DEMO_BILLERS)
APPLIED = [f for f in FAULTS if not f.pending]


@pytest.mark.parametrize("fault", APPLIED, ids=[f.id for f in APPLIED])
def test_fault_applies_once_and_still_parses(fault: Fault) -> None:
    mutated = fault.mutated(PROJECT)  # raises FaultListError unless its text occurs exactly once
    assert mutated != (PROJECT / fault.file).read_text(encoding="utf-8")
    # A fault is a wrong integration, not a syntax error: the mutated file must still load.
    if fault.file.endswith(".py"):
        compile(mutated, fault.file, "exec")
    else:
        assert isinstance(yaml.safe_load(mutated), dict)


def test_ids_are_unique_and_every_fault_says_what_it_models() -> None:
    ids = [f.id for f in FAULTS]
    assert len(ids) == len(set(ids))
    assert all(f.models.strip() for f in FAULTS)
    assert all(f.pending.strip() for f in FAULTS if f.pending)
    assert len(APPLIED) >= 35


def test_every_fault_applies_to_a_demo_biller_of_its_partner() -> None:
    partner_of = partners_of(PROJECT, DEMO_BILLERS)
    assert set(partner_of.values()) == {"cayenta", "caselle", "stw", "cloudpay"}
    for fault in APPLIED:
        billers = fault.applies_to(partner_of)
        assert billers and set(billers) <= set(DEMO_BILLERS), fault.id
        stem = Path(fault.file).stem
        if fault.file.startswith(("harness/partners/", "fixtures/partners/")) and stem in partner_of.values():
            assert {partner_of[b] for b in billers} == {stem}, fault.id


def _list(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "faults.toml"
    path.write_text(body, encoding="utf-8")
    return path


ENTRY = '''
[[fault]]
id = "{id}"
file = "harness/platform/nacha.py"
find = '{find}'
replace = "x"
models = "m"
'''


def test_a_duplicate_id_is_refused_naming_it(tmp_path: Path) -> None:
    path = _list(tmp_path, ENTRY.format(id="same", find="a") + ENTRY.format(id="same", find="b"))
    with pytest.raises(FaultListError, match="fault id 'same' is used twice"):
        load_faults(path)


@pytest.mark.parametrize(("find", "says"), [("no such text anywhere", "not found"), ("return bool", "found 2 times")])
def test_a_stale_fault_is_one_line_naming_fault_and_file(tmp_path: Path, find: str, says: str) -> None:
    (fault,) = load_faults(_list(tmp_path, ENTRY.format(id="stale-one", find=find)))
    with pytest.raises(FaultListError) as raised:
        fault.mutated(PROJECT)
    message = str(raised.value)
    assert "'stale-one'" in message and says in message and "harness/platform/nacha.py" in message
    assert "\n" not in message


def test_a_fault_outside_the_system_under_test_is_refused(tmp_path: Path) -> None:
    body = ENTRY.format(id="steps-fault", find="a").replace("harness/platform/nacha.py", "steps/payments.py")
    with pytest.raises(FaultListError, match=r"steps-fault.*not under harness/platform/"):
        load_faults(_list(tmp_path, body))


def _result(*runs: BillerRun) -> Result:
    return Result(APPLIED[0], list(runs))


def test_a_failed_scenario_kills_and_the_best_evidence_is_shown() -> None:
    step_broke = Failure("SIT-CHG-003", "ValueError: not enough values to unpack", "harness")
    sentence = Failure("SIT-PAY-001", "expected 45.10 by card; it received 45.00 by card", "platform")
    result = _result(BillerRun("clayton-county-water", 1, (step_broke, sentence)), BillerRun("newport-or", 0))
    assert result.verdict == "killed" and not result.weak
    assert result.first_sentence() == f"SIT-PAY-001: {sentence.sentence}"
    assert result.sit_ids() == "SIT-CHG-003, SIT-PAY-001 (clayton-county-water)"
    assert _result(BillerRun("newport-or", 1, (step_broke,))).weak


def test_a_harness_error_or_timeout_is_a_crash_and_passing_runs_survive() -> None:
    crash = _result(BillerRun("newport-or", 3, error="exit 3: sit: harness error"), BillerRun("newport-or", 0))
    assert crash.verdict == "crashed" and crash.first_sentence() == "newport-or: exit 3: sit: harness error"
    assert _result(BillerRun("newport-or", None, error="timed out")).verdict == "crashed"
    assert _result(BillerRun("newport-or", 1)).verdict == "crashed"  # exit 1 with no failed scenario recorded
    assert _result(BillerRun("clayton-county-water", 0), BillerRun("newport-or", 0)).verdict == "survived"
