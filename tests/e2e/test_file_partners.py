"""A partner whose integration is files (STW/OpenGov), as an SE runs its billers: `sit run` starts no
WireMock and no HTTP client; every file that moves, either way, is an sFTP transfer with its digest; the
payment file the platform writes at batch close is the one the partner downloads over SSH and reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from runs import PROJECT, explain, sit, sit_run

FILE_BILLERS = ("galveston-county", "brazos-valley-utilities")


@pytest.mark.parametrize("biller", FILE_BILLERS)
def test_every_file_that_moves_is_evidence_with_its_digest(biller: str, tmp_path: Path) -> None:
    run = sit_run(tmp_path / "events.sqlite", biller)
    started = run.started()
    assert (started["partner"], started["wiremock_version"]) == ("stw", None)  # no WireMock: nothing to stub
    written, fetched, read = [], [], []  # per scenario: a scenario starts on an empty outbox
    for sit_id in run.statuses():
        events = run.scenario(sit_id)
        written += [(sit_id, e.data["file"], e.data["sha256"]) for e in events if e.kind == "platform.batch_closed"]
        # Fetched from the platform's outbox/ (Galveston), or put on the partner's own server (Brazos Valley).
        fetched += [(sit_id, e.data["path"].removeprefix("outbox/"), e.data["sha256"]) for e in events
                    if e.kind == "file.transferred" and e.data["direction"] == "platform -> partner"]
        read += [(sit_id, e.data["file"], e.data["accepted"]) for e in events if e.kind == "partner.file_read"]
    assert written and written == fetched
    assert read == [(sit_id, name, True) for sit_id, name, _ in written]
    sent = {e.data["sha256"] for e in run.events
            if e.kind == "file.transferred" and e.data["direction"] == "partner -> platform"}
    taken = {e.data["sha256"] for e in run.events if e.kind in ("platform.file_imported", "platform.file_rejected")}
    assert taken and taken <= sent  # every file the platform took (or refused) came over sFTP, the same bytes
    assert not [e for e in run.events if e.kind == "partner.exchange"]  # no API call was made


def test_a_payment_file_put_on_the_partners_own_server_is_an_upload_there(tmp_path: Path) -> None:
    """Brazos Valley's payment file is put by the platform on STW's own sFTP server (delivery: put): the
    platform delivered it, as the partner's account, and the partner's server saw it arrive whole."""
    run = sit_run(tmp_path / "events.sqlite", "brazos-valley-utilities", "-k", "SIT-PAY-001")
    events = run.scenario("SIT-PAY-001")
    (delivered,) = [e.data for e in events if e.kind == "platform.batch_delivered"]
    (arrived,) = [e.data for e in events
                  if e.kind == "file.transferred" and e.data["direction"] == "platform -> partner"]
    (closed,) = [e.data for e in events if e.kind == "platform.batch_closed"]
    assert delivered["to"].startswith("bvu_payments@127.0.0.1:")
    assert (arrived["user"], arrived["path"], arrived["sha256"]) == ("bvu_payments", closed["file"], closed["sha256"])


@pytest.mark.parametrize("options", [("--partner-mode", "live", "--partner-url", "https://stw.example"),
                                     ("--stub-pack", "stubs/cayenta")])
def test_a_file_partner_refuses_what_only_an_api_partner_has_in_one_line(options: tuple[str, ...],
                                                                         tmp_path: Path) -> None:
    result = sit("run", "--biller", "galveston-county", "--no-report", "--store", str(tmp_path / "e.sqlite"),
                 *options)
    assert result.returncode == 2, explain(result)
    assert "STW/OpenGov exchanges files only" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sit_diff_names_a_line_of_the_payment_file_the_partner_read_otherwise(tmp_path: Path) -> None:
    """Two runs of Galveston, the second with credits coded CR instead of CRD: `sit diff` names the credit
    lines of the payment file by their field, and only what differs by design (references) is ignored."""
    recoded = tmp_path / "galveston-county.yaml"
    recoded.write_text((PROJECT / "fixtures" / "billers" / "galveston-county.yaml").read_text()
                       + "codes:\n  credit: CR\n")
    first = sit_run(tmp_path / "a" / "events.sqlite", "galveston-county", export=True)
    second = sit_run(tmp_path / "b" / "events.sqlite", str(recoded), export=True)
    assert first.export is not None and second.export is not None
    result = sit("diff", str(first.export), str(second.export))
    assert result.returncode == 1, explain(result)
    assert "fields code: 'CRD' -> 'CR'" in result.stdout
    assert "SIT-PAY-003" in result.stdout and "reference" not in result.stdout.split("differ (")[0]
