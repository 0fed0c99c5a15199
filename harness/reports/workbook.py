"""The SIT workbook: one row per SIT ID, as an SE hands it to a biller (xlsx and csv).

Rows come from the features (section, scenario, steps, expected result) and, after a
run, from the log (status, actual result, evidence, when and by whom). Before any run
the same layout is the blank workbook reviewed with biller and partner (playbook step 39).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from harness.profiles import Biller
from harness.reports.fold import ScenarioRecord
from harness.workbook import SitCase

COLUMNS = [  # (header, width)
    ("SIT ID", 14), ("Section", 24), ("Scenario", 36), ("Steps", 60), ("Expected result", 48),
    ("Actual result", 48), ("Status", 12), ("N/A reason", 40), ("Evidence", 34), ("Executed at", 20),
    ("Executed by", 16), ("Defect ID", 14),
]  # fmt: skip
STATUS_FILL = {
    "Pass": "C6EFCE", "Fail": "FFC7CE", "N/A": "D9D9D9", "Not run": "FFEB9C", "Interrupted": "F4B084",
}  # fmt: skip
# A worse status wins when a run holds the same SIT ID twice.
_RANK = {"": 0, "Pass": 1, "N/A": 2, "Not run": 3, "Interrupted": 4, "Fail": 5}
Mask = Callable[[str], str]


@dataclass
class Row:
    sit_id: str
    section: str
    scenario: str
    steps: str
    expected: str
    actual: str = ""
    status: str = ""
    na_reason: str = ""
    evidence: str = ""
    executed_at: str = ""
    executed_by: str = ""
    defect_id: str = ""

    def cells(self) -> list[str]:
        return [self.sit_id, self.section, self.scenario, self.steps, self.expected, self.actual, self.status,
                self.na_reason, self.evidence, self.executed_at, self.executed_by, self.defect_id]


def blank_row(case: SitCase) -> Row:
    """A case before it runs: N/A already marked with its reason when the profiles say so."""
    return Row(sit_id=case.sit_id, section=case.section, scenario=case.name, steps="\n".join(case.steps),
               expected="\n".join(case.expected), status="N/A" if case.na_reason else "",
               na_reason=case.na_reason or "")


def utc(ts: str) -> str:
    """An event timestamp as the workbook shows it: to the second, UTC."""
    return datetime.fromisoformat(ts).strftime("%Y-%m-%d %H:%M:%S UTC")


def actual_result(scenario: ScenarioRecord) -> str:
    if scenario.status == "na":
        return ""
    if scenario.status in ("failed", "interrupted"):
        return scenario.error
    seen = [_seen(e) for step in scenario.steps for e in step.expectations]
    return "\n".join(seen) or "All steps passed."


def _seen(expectation: dict[str, Any]) -> str:
    """What an expectation saw, as its sentence ("the partner received 45.10 by card"), or, in a log
    from before sentences, as its label and raw value."""
    if "actual_sentence" in expectation:
        return str(expectation["actual_sentence"])
    return f"{expectation.get('what')}: {expectation.get('actual')}"


class RunRows:
    """The workbook rows of a run: the features' cases, filled in as the fold yields scenarios."""

    def __init__(self, cases: Iterable[SitCase], operator: str, allure_link: Callable[[ScenarioRecord], str],
                 mask: Mask = str) -> None:
        self._cases = {case.sit_id: case for case in cases}
        self._operator, self._link, self._mask = operator, allure_link, mask
        self._run: dict[str, Row] = {}

    def add(self, scenario: ScenarioRecord) -> None:
        case = self._cases.get(scenario.sit_id)
        row = Row(
            sit_id=scenario.sit_id, section=scenario.feature, scenario=scenario.name,
            steps="\n".join(case.steps) if case else "\n".join(f"{s.keyword} {s.text}" for s in scenario.steps),
            expected="\n".join(case.expected) if case else "", actual=self._mask(actual_result(scenario)),
            status=scenario.workbook_status, na_reason=scenario.reason if scenario.status == "na" else "",
            evidence=f"events {scenario.first_seq}-{scenario.last_seq}; {self._link(scenario)}",
            executed_at=utc(scenario.start) if scenario.status != "na" else "",
            executed_by=self._operator if scenario.status != "na" else "",
        )
        held = self._run.get(scenario.sit_id)
        if held is None or _RANK[row.status] >= _RANK[held.status]:
            self._run[scenario.sit_id] = row

    def rows(self) -> list[Row]:
        """Every case of the features in their order, then any SIT ID only the log knows."""
        rows = []
        for sit_id, case in self._cases.items():
            if sit_id in self._run:
                rows.append(self._run[sit_id])
                continue
            row = blank_row(case)
            row.status = row.status or "Not run"
            rows.append(row)
        rows += [row for sit_id, row in self._run.items() if sit_id not in self._cases]
        return rows


def write_csv(rows: Iterable[Row], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([header for header, _ in COLUMNS])
        writer.writerows(row.cells() for row in rows)


def write_xlsx(rows: list[Row], path: Path, title: str, facts: list[tuple[str, str]], when: datetime) -> None:
    """The styled workbook: frozen header, filters, status colours, and a sheet of run facts."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = "SIT"
    _header(sheet)
    wrap = Alignment(wrap_text=True, vertical="top")
    for index, row in enumerate(rows, start=2):
        for column, value in enumerate(row.cells(), start=1):
            cell = sheet.cell(row=index, column=column, value=value)
            cell.alignment = wrap
        if fill := STATUS_FILL.get(row.status):
            sheet.cell(row=index, column=7).fill = PatternFill("solid", fgColor=fill)
    last = len(rows) + 1
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{last}"
    # A Fail without a defect ID is flagged until someone enters one (IEEE 829: mandatory on Fail).
    flag = FormulaRule(formula=['AND($G2="Fail",$L2="")'], fill=PatternFill("solid", fgColor="FF9999"))
    sheet.conditional_formatting.add(f"L2:L{max(last, 2)}", flag)
    _facts_sheet(book.create_sheet("Run"), title, facts)
    book.properties.title, book.properties.creator = title, "sit-harness"
    book.properties.created = book.properties.modified = when
    book.save(path)


def _header(sheet: Worksheet) -> None:
    bold, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E78")
    edge = Border(bottom=Side(style="thin"))
    for column, (header, width) in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=column, value=header)
        cell.font, cell.fill, cell.border = bold, fill, edge
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(column)].width = width


def _facts_sheet(sheet: Worksheet, title: str, facts: list[tuple[str, str]]) -> None:
    sheet.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)
    for index, (name, value) in enumerate(facts, start=3):
        sheet.cell(row=index, column=1, value=name).font = Font(bold=True)
        sheet.cell(row=index, column=2, value=value)
    sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 24, 90


def write_blank_workbook(cases: list[SitCase], biller: Biller, out: Path) -> tuple[Path, Path]:
    """The workbook before any run (playbook step 39): every case, N/A marked with its reason."""
    rows = [blank_row(case) for case in cases]
    profile = biller.profile
    title = f"SIT workbook: {profile.name} (BID {profile.bid}) with {biller.partner.display_name}"
    facts = [("Biller", profile.name), ("BID", str(profile.bid)),
             ("Test portal BID", str(profile.test_portal_bid or "none recorded")),
             ("Partner (CIS)", biller.partner.display_name), ("Product", biller.partner.product),
             ("Partner version", profile.partner_version), ("Platform adapter", profile.platform),
             ("Cases", f"{len(rows)} ({sum(r.status == 'N/A' for r in rows)} N/A)")]
    out.mkdir(parents=True, exist_ok=True)
    xlsx, csv_path = out / "workbook.xlsx", out / "workbook.csv"
    write_xlsx(rows, xlsx, title, facts, datetime.now(UTC).replace(tzinfo=None))
    write_csv(rows, csv_path)
    return xlsx, csv_path
