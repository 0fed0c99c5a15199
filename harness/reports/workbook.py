"""The SIT workbook: one row per SIT ID, as an SE hands it to a biller (xlsx and csv).

Rows come from the features (section, scenario, steps, expected result) and, after a
run, from the log (status, actual result, evidence, when and by whom), with one
``Result_RunN`` column per run of the biller, this run last. Before any run the same
layout is the blank workbook reviewed with biller and partner (playbook step 39).
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl.cell.cell import Cell, WriteOnlyCell
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from harness.cases import SitCase
from harness.profiles import Biller
from harness.reports.fold import STATUS_RANK, WORKBOOK_STATUS, ScenarioRecord
from harness.reports.summary import RunResults, RunSummary

if TYPE_CHECKING:
    from _typeshed import SizedBuffer, StrPath

COLUMNS = [  # (header, width)
    ("SIT ID", 14), ("Section", 24), ("Scenario", 36), ("Steps", 60), ("Expected result", 48),
    ("Actual result", 48), ("Status", 12), ("N/A reason", 40), ("Evidence", 14), ("Allure link", 30),
    ("Executed at", 20), ("Executed by", 16), ("Defect ID", 14),
]  # fmt: skip
_COLUMN = {header: index for index, (header, _) in enumerate(COLUMNS, start=1)}
_RUN_WIDTH = 13
_TOP = 2  # the header's row: row 1 says what the workbook is (or that its run did not finish)
_TITLE_FILL, _BANNER_FILL = "DCE6F1", "F4B084"
STATUS_FILL = {
    "Pass": "C6EFCE", "Fail": "FFC7CE", "N/A": "D9D9D9", "Not run": "FFEB9C", "Interrupted": "F4B084",
}  # fmt: skip
_LINK = "link"  # the look of a live Allure link (the others are status fills)
# A worse status wins when a run holds the same SIT ID twice.
_RANK = {"": 0} | {WORKBOOK_STATUS[status]: rank for status, rank in STATUS_RANK.items()}  # as the log ranks them
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
    evidence: str = ""  # the event range: "events 12-40"
    allure: str = ""  # the scenario's Allure result, relative to the report folder
    executed_at: str = ""
    executed_by: str = ""
    defect_id: str = ""

    def cells(self) -> list[str]:
        return [self.sit_id, self.section, self.scenario, self.steps, self.expected, self.actual, self.status,
                self.na_reason, self.evidence, self.allure, self.executed_at, self.executed_by, self.defect_id]


@dataclass(frozen=True)
class Heading:
    """What a workbook says besides its rows."""

    title: str  # row 1 of the first sheet, and the Run sheet's title
    facts: list[tuple[str, str]]  # the Run sheet
    when: datetime  # the file's own dates (properties, zip entries): from the log, so a rebuild is byte-identical
    runs: Sequence[RunResults] = ()  # the Result_RunN columns, oldest first
    banner: str = ""  # "INTERRUPTED: ...": row 1 instead of the title, and the csv's first line

    @classmethod
    def of_run(cls, title: str, summary: RunSummary) -> Heading:
        return cls(title, summary.facts, summary.ended, summary.runs, summary.banner)


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
    if scenario.status == "not_run":
        return f"Not run: {scenario.reason}"
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
            evidence=f"events {scenario.first_seq}-{scenario.last_seq}", allure=self._link(scenario),
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


def write_csv(rows: Iterable[Row], path: Path, heading: Heading) -> None:
    """One line per case under one header line; a run that did not finish says so on the line above it.

    The banner breaks an import that expects the header first: an unfinished run is never
    taken for a finished one by a script, and a person opening the file reads it first.
    """
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        if heading.banner:
            writer.writerow([heading.banner])
        writer.writerow([header for header, _ in COLUMNS] + [run.column for run in heading.runs])
        writer.writerows(row.cells() + [run.results.get(row.sit_id, "") for run in heading.runs] for row in rows)


def write_xlsx(rows: list[Row], path: Path, heading: Heading) -> None:
    """The styled workbook: title (or banner) row, frozen header, filters, status colours, a sheet of run facts.

    Its sheets are streamed (openpyxl's write-only mode): a row is written as it is made and not held, so a
    workbook of any length takes the same memory. What comes before the rows in the file (column widths, the
    frozen header, row 1's height) is therefore set first."""
    book = Workbook(write_only=True)
    sheet = _streamed(book.create_sheet("SIT"))
    width = len(COLUMNS) + len(heading.runs)
    last = len(rows) + _TOP
    for column, (_, column_width) in enumerate(_headers(heading.runs), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = column_width
    sheet.row_dimensions[1].height = 36
    sheet.merged_cells.add(CellRange(min_col=1, min_row=1, max_col=len(COLUMNS), max_row=1))  # the title's row
    sheet.freeze_panes = f"B{_TOP + 1}"
    sheet.auto_filter.ref = f"A{_TOP}:{get_column_letter(width)}{last}"
    # A Fail without a defect ID is flagged until someone enters one (IEEE 829: mandatory on Fail).
    status, defect = (get_column_letter(_COLUMN[name]) for name in ("Status", "Defect ID"))
    # types-openpyxl leaves FormulaRule unannotated (openpyxl's own def has no hints either): it returns a Rule.
    flag = FormulaRule(formula=[f'AND(${status}{_TOP + 1}="Fail",${defect}{_TOP + 1}="")'],  # type: ignore[no-untyped-call]
                       fill=PatternFill("solid", fgColor="FF9999"))
    sheet.conditional_formatting.add(f"{defect}{_TOP + 1}:{defect}{max(last, _TOP + 1)}", flag)
    sheet.append([_first_cell(sheet, heading)])
    sheet.append(_header(sheet, heading.runs))
    looks = _Looks()
    for index, row in enumerate(rows, start=_TOP + 1):
        sheet.append(_row(sheet, index, row, heading.runs, looks))
    _facts_sheet(_streamed(book.create_sheet("Run")), heading)
    book.properties.title, book.properties.creator = heading.title, "sit-harness"
    _save(book, path, heading.when)


def _streamed(sheet: Any) -> Worksheet:
    """A sheet of a write-only workbook, typed as the worksheet whose layout attributes it has (openpyxl gives
    it the same ``_setup``; types-openpyxl leaves them out). Rows are only appended to it, in order."""
    return cast(Worksheet, sheet)


def _first_cell(sheet: Worksheet, heading: Heading) -> Cell:
    """Row 1: what the workbook is, or that its run did not finish (in the Interrupted colour)."""
    cell = Cell(sheet, row=1, column=1, value=heading.banner or heading.title)
    cell.font = Font(bold=True, size=13, color="9C0006" if heading.banner else "1F4E78")
    cell.fill = PatternFill("solid", fgColor=_BANNER_FILL if heading.banner else _TITLE_FILL)
    cell.alignment = Alignment(wrap_text=True, vertical="center")
    return cell


def _row(sheet: Worksheet, index: int, row: Row, runs: Sequence[RunResults], looks: _Looks) -> list[Cell]:
    """One case: its cells wrapped, its statuses (this run's and every Result_RunN) coloured, its Allure link live."""
    values = row.cells() + [run.results.get(row.sit_id, "") for run in runs]
    coloured = {_COLUMN["Status"], *range(len(COLUMNS) + 1, len(values) + 1)}
    cells = []
    for column, value in enumerate(values, start=1):
        if column == _COLUMN["Allure link"] and row.allure:
            cells.append(_link(looks.cell(sheet, index, column, value, _LINK), row.allure))
            continue
        cells.append(looks.cell(sheet, index, column, value, STATUS_FILL.get(value) if column in coloured else None))
    return cells


class _Looks:
    """The look of a case's cells (wrapped; a status colour or the link's font), set through openpyxl the first
    time and given as a style array after: openpyxl compares each style object set with every one it holds,
    which was most of the time of a large workbook. The cells and their styles are the same."""

    def __init__(self) -> None:
        self._held: dict[str | None, StyleArray] = {}

    def cell(self, sheet: Worksheet, row: int, column: int, value: str, look: str | None) -> Cell:
        """``look``: a fill colour, ``_LINK`` (the Allure link's font), or ``None`` (wrapped only)."""
        held = self._held.get(look)
        if held is not None:
            return Cell(sheet, row=row, column=column, value=value, style_array=held)
        cell = Cell(sheet, row=row, column=column, value=value)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if look == _LINK:
            cell.font = Font(color="0563C1", underline="single")
        elif look is not None:
            cell.fill = PatternFill("solid", fgColor=look)
        styled: Any = cell  # its style array, which the style attributes above set, is not in types-openpyxl
        self._held[look] = copy(styled._style)
        return cell


def _headers(runs: Sequence[RunResults]) -> list[tuple[str, int]]:
    return COLUMNS + [(run.column, _RUN_WIDTH) for run in runs]


def _header(sheet: Worksheet, runs: Sequence[RunResults]) -> list[Cell]:
    bold, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E78")
    edge = Border(bottom=Side(style="thin"))
    cells = []
    for column, (header, _) in enumerate(_headers(runs), start=1):
        cell = Cell(sheet, row=_TOP, column=column, value=header)
        cell.font, cell.fill, cell.border = bold, fill, edge
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        cells.append(cell)
    return cells


def _link(cell: Cell, link: str) -> Cell:
    """A real hyperlink, relative to the workbook's folder (the Allure single file lies beside it)."""
    target, _, location = link.partition("#")
    cell.hyperlink = Hyperlink(ref=cell.coordinate, target=target, location=location or None, tooltip="Open in Allure")
    return cell


def _facts_sheet(sheet: Worksheet, heading: Heading) -> None:
    """The run's facts, then the biller's runs behind the Result_RunN columns (the last is this run)."""
    sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 24, 90
    lines: list[list[Cell | str | int]] = [[_styled(sheet, heading.title, Font(bold=True, size=14))]]
    if heading.banner:
        lines.append([_styled(sheet, heading.banner, Font(bold=True, color="9C0006"))])
    lines.append([])  # a blank row before the facts
    lines += [[_styled(sheet, name, Font(bold=True)), value] for name, value in heading.facts]
    if any(run.run_id for run in heading.runs):  # a run's workbook; the blank one has no runs yet
        headers = ("Column", "Run", "Started (UTC)", "Status", "Partner", "Pass", "Fail", "N/A", "Not executed")
        lines += [[], [_styled(sheet, header, Font(bold=True)) for header in headers]]
        lines += [[run.column, run.run_id, run.started[:19].replace("T", " "), run.status, run.partner, run.passed,
                   run.failed, run.na, run.other] for run in heading.runs]
    for line in lines:
        sheet.append(line)


def _styled(sheet: Worksheet, value: str, font: Font) -> Cell:
    cell = WriteOnlyCell(sheet, value)
    cell.font = font
    return cell


def _save(book: Workbook, path: Path, when: datetime) -> None:
    """openpyxl stamps the wall clock into docProps and every zip entry: stamp ``when`` instead."""
    naive = when.astimezone(UTC).replace(tzinfo=None)  # openpyxl writes naive datetimes as UTC
    book.properties.created = book.properties.modified = naive
    with _StampedZip(path, naive.timetuple()[:6]) as archive:
        ExcelWriter(book, archive).save()  # not save_workbook: it sets modified=now


class _StampedZip(ZipFile):
    """A zip whose every entry is dated ``stamp`` and readable by all (0644), whatever openpyxl asks for:
    the same log gives the same workbook, byte for byte, compressed once."""

    def __init__(self, path: Path, stamp: tuple[int, int, int, int, int, int]) -> None:
        super().__init__(path, "w", ZIP_DEFLATED)
        self._stamp = stamp

    def writestr(self, zinfo_or_arcname: str | ZipInfo, data: SizedBuffer | str, compress_type: int | None = None,
                 compresslevel: int | None = None) -> None:
        name = zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, ZipInfo) else zinfo_or_arcname
        super().writestr(self._stamped(name), data)

    def write(self, filename: StrPath, arcname: StrPath | None = None, compress_type: int | None = None,
              compresslevel: int | None = None) -> None:
        """A file openpyxl wrote aside (a streamed sheet), copied in a piece at a time."""
        with open(filename, "rb") as source, self.open(self._stamped(str(arcname or filename)), "w") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)

    def _stamped(self, name: str) -> ZipInfo:
        stamped = ZipInfo(name, date_time=self._stamp)
        stamped.compress_type, stamped.external_attr = ZIP_DEFLATED, 0o644 << 16
        return stamped


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
    # The first run's column, empty: the same layout a run's workbook has, to fill in by hand if need be.
    heading = Heading(title, facts, datetime.now(UTC), runs=[RunResults(number=1)])
    out.mkdir(parents=True, exist_ok=True)
    xlsx, csv_path = out / "workbook.xlsx", out / "workbook.csv"
    write_xlsx(rows, xlsx, heading)
    write_csv(rows, csv_path, heading)
    return xlsx, csv_path
