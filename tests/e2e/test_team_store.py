"""A team's store: runs from separate working copies, in separate processes with their own WireMock, sFTP
server and ports, append at the same time to one PostgreSQL store; `sit runs`, `sit verify`, `sit report`
and `sit diff` then work from any working copy."""

from __future__ import annotations

import subprocess
from pathlib import Path

from runs import clean_env, explain, sit

from tests.conftest import SIT, copy_project

SELECTION = "SIT-PAY-001 or SIT-PAY-003 or SIT-BAL-001 or SIT-CP-003"


def test_runs_from_two_working_copies_append_at_once_to_one_postgresql_store(postgres_url: str,
                                                                               tmp_path: Path) -> None:
    copies = [copy_project(tmp_path / name) for name in ("desk-a", "desk-b", "desk-c")]
    billers = ("clayton-county-water", "clayton-county-water", "lakemont-permits")
    started = [subprocess.Popen([*SIT, "run", "--biller", biller, "--store", postgres_url, "--project", str(copy),
                                 "--no-report", "-k", SELECTION], cwd=copy, env=clean_env({"COLUMNS": "80"}),
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for biller, copy in zip(billers, copies, strict=True)]
    for proc in started:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"exit {proc.returncode}\n{out[-2000:]}\n{err[-2000:]}"
        assert postgres_url.split("@")[0].split(":")[-1] not in out + err  # the store's password is never shown

    listed = sit("runs", "--store", postgres_url, "--project", str(copies[1]))
    assert listed.returncode == 0, explain(listed)
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert sorted(row[1] for row in rows) == sorted(billers) and {row[3] for row in rows} == {"passed"}
    verified = sit("verify", "--all", "--store", postgres_url)
    assert verified.returncode == 0 and "3 intact, 0 incomplete, 0 broken" in verified.stdout, explain(verified)

    clayton = [row[0] for row in rows if row[1] == "clayton-county-water"]
    diffed = sit("diff", *clayton, "--store", postgres_url, "--project", str(copies[2]))
    assert diffed.returncode == 0, explain(diffed)
    reported = sit("report", clayton[0], "--store", postgres_url, "--project", str(copies[2]),
                   "-o", str(tmp_path / "reports"))
    assert reported.returncode == 0, explain(reported)
    assert (tmp_path / "reports" / "signoff.pdf").stat().st_size > 0


def test_billers_on_workers_append_to_one_postgresql_store(postgres_url: str) -> None:
    """`sit run` with several billers on two workers, each biller its own run, into the team's store."""
    billers = ("clayton-county-water", "newport-or", "lakemont-permits")
    ran = sit("run", *(f"--biller={biller}" for biller in billers), "--workers", "2", "--store", postgres_url,
              "--no-report", "-k", SELECTION)
    assert ran.returncode == 0, explain(ran)
    assert postgres_url.split("@")[0].split(":")[-1] not in ran.stdout + ran.stderr
    listed = sit("runs", "--store", postgres_url)
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert sorted(row[1] for row in rows) == sorted(billers) and {row[3] for row in rows} == {"passed"}, listed.stdout
    verified = sit("verify", "--all", "--store", postgres_url)
    assert verified.returncode == 0 and "3 intact, 0 incomplete, 0 broken" in verified.stdout, explain(verified)
