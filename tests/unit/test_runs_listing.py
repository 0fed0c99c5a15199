"""`sit runs` as a person reads it: aligned at 80 columns, the run id never cut, whole lines in a pipe."""

from __future__ import annotations

from harness.cli import _columns

HEADER = ["RUN", "BILLER", "PARTNER", "STATUS", "PASS", "FAIL", "N/A"]
ROWS = [HEADER, ["20261130-004643-ab12", "clayton-county-water-authority-georgia", "cayenta", "passed", "23", "0", "7"],
        ["20261130-004701-cd34", "newport-or", "caselle", "running", "", "", ""]]


def test_a_narrow_terminal_cuts_the_biller_never_the_run_id() -> None:
    lines = [line.plain for line in _columns(ROWS, 80)]
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[1].startswith("20261130-004643-ab12  clayton-county-water-a") and "…" in lines[1]
    assert lines[1].split()[-4:] == ["passed", "23", "0", "7"]
    assert lines[2].split() == ["20261130-004701-cd34", "newport-or", "caselle", "running"]


def test_a_pipe_gets_whole_lines() -> None:
    lines = [line.plain for line in _columns(ROWS, None)]
    assert "clayton-county-water-authority-georgia" in lines[1] and "…" not in "".join(lines)
    assert [len(line.split()) for line in lines] == [7, 7, 4]
    assert lines[0].index("PARTNER") == lines[1].index("cayenta") == lines[2].index("caselle")  # aligned
