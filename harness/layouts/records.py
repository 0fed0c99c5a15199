"""What the reader gives: typed records and rejections, each with its line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.layouts.models import RecordKind
from harness.layouts.values import Value


@dataclass(frozen=True, slots=True)
class Record:
    """One record read from a file: its kind, the line it starts on and its typed values
    (Decimal amounts, dates, ints, text; None for an empty optional number or date)."""

    kind: RecordKind
    line: int
    values: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record, or with ``whole_file`` the file, is not loaded: ``reason`` says what is wrong
    (naming the field and where it sits), ``hint`` what to do. ``line`` None: the file as a whole."""

    file: str
    line: int | None
    field: str | None
    reason: str
    hint: str
    whole_file: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}; {self.hint}"


@dataclass
class LoadedFile:
    """A file read whole. Either it stands (``accepted``: its header, records and trailer, with any
    rejected records listed) or it is rejected as a whole and holds no records at all."""

    file: str
    header: Record | None = None
    records: list[Record] = field(default_factory=list)
    trailer: Record | None = None
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not any(r.whole_file for r in self.rejected)


class FileFault(Exception):
    """A fault that ends the reading of a file: the whole file is rejected."""

    def __init__(self, line: int | None, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason
        self.hint = hint


WHOLE = "the whole file is rejected"
