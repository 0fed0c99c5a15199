"""One reader for every layout: records stream out in file order, and the file as a whole is checked
as it goes (a header first, a trailer last, nothing after it) and at its end (control counts and totals).

Two ways to read, one behaviour:
- ``read`` streams (flat memory for any size): it yields each ``Record`` and each ``Rejection`` as met.
  A rejection with ``whole_file`` set means the file does not stand, and it may come last (a trailer
  that disagrees is only known at the end): a caller that stores records as they come must stage
  them and commit only when the stream ended without a whole-file rejection.
- ``load`` does that staging for you: a ``LoadedFile`` that is either accepted whole (its header,
  records and trailer; rejected records listed beside) or rejected whole, holding no record at all.

A bad field rejects its record (the file stands); a bad header or trailer, a missing one, a record
after the trailer, a count or total that disagrees, bytes not in the encoding or malformed quoting
or XML reject the file. Controls check the file as sent, not what loads of it: the count is of
the detail records in the file, rejected ones included, and the total adds every amount that
reads (a record rejected for its date still adds its amount; one whose amount does not read
cannot be added, so it shows as a total that disagrees, and the file is rejected).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO

from harness.layouts.models import CsvLayout, FixedLayout, LayoutField, RecordKind, XmlLayout
from harness.layouts.parse import Bad, Parsed, parse_csv, parse_fixed, parse_xml
from harness.layouts.records import WHOLE, FileFault, LoadedFile, Record, Rejection
from harness.layouts.values import Value

AnyLayout = CsvLayout | FixedLayout | XmlLayout


def read(path: Path, layout: AnyLayout) -> Iterator[Record | Rejection]:
    """Each record of the file (header, details, trailer) or rejection, in file order."""
    try:
        with path.open("rb") as stream:
            yield from _Sequence(path.name, layout).run(_parse(stream, path.name, layout))
    except OSError as exc:
        yield Rejection(path.name, None, None, f"cannot read the file: {exc.strerror or exc}",
                        f"{WHOLE}: check the path and its permissions", whole_file=True)


def load(path: Path, layout: AnyLayout) -> LoadedFile:
    """The file read whole: accepted with every good record, or rejected with none (see the module doc)."""
    loaded = LoadedFile(path.name)
    for item in read(path, layout):
        if isinstance(item, Rejection):
            loaded.rejected.append(item)
        elif item.kind == "detail":
            loaded.records.append(item)
        elif item.kind == "header":
            loaded.header = item
        else:
            loaded.trailer = item
    if not loaded.accepted:
        loaded.header, loaded.records, loaded.trailer = None, [], None
    return loaded


def _parse(stream: IO[bytes], file: str, layout: AnyLayout) -> Iterator[Parsed]:
    if isinstance(layout, CsvLayout):
        return parse_csv(stream, file, layout)
    if isinstance(layout, FixedLayout):
        return parse_fixed(stream, file, layout)
    return parse_xml(stream, file, layout)


class _Sequence:
    """Order and control totals over the parsed records of one file."""

    def __init__(self, file: str, layout: AnyLayout) -> None:
        self.file = file
        self.layout = layout
        self.count = 0
        totals = {f.of for r in (layout.header, layout.trailer) if r for f in r.fields if f.of}
        self.totals: dict[str, Decimal] = dict.fromkeys(totals, Decimal(0))
        self.controls: list[Record] = []  # header and trailer, when they read well
        self.bad_control = False

    def run(self, parsed: Iterator[Parsed]) -> Iterator[Record | Rejection]:
        try:
            yield from self._each(parsed)
        except FileFault as fault:
            yield Rejection(self.file, fault.line, None, fault.reason, fault.hint, whole_file=True)
            return
        if not self.bad_control:
            yield from self._check_controls()

    def _each(self, parsed: Iterator[Parsed]) -> Iterator[Record | Rejection]:
        header, trailer = self.layout.header, self.layout.trailer
        first, trailer_line = True, 0
        for item in parsed:
            if trailer_line:
                raise FileFault(item.line, f"a record after the trailer (line {trailer_line})",
                                f"{WHOLE}: the trailer must be the last record")
            if first and header is not None and item.kind != "header":
                raise FileFault(item.line, f"no header record ({header.code}): the file starts with "
                                f"{'a ' + item.kind if item.kind else 'an unknown'} record",
                                f"{WHOLE}: ask for the file with its header")
            if not first and item.kind == "header":
                raise FileFault(item.line, "a second header record", f"{WHOLE}: only the first record is a header")
            first = False
            if item.kind == "trailer":
                trailer_line = item.line
            yield from self._take(item)
        if first and header is not None:
            raise FileFault(None, f"no header record ({header.code}): the file is empty",
                            f"{WHOLE}: ask for the file again")
        if trailer is not None and not trailer_line:
            raise FileFault(None, f"no trailer record ({trailer.code}): the file may be cut short",
                            f"{WHOLE}: ask for the file again")

    def _take(self, item: Parsed) -> Iterator[Record | Rejection]:
        if isinstance(item, Bad):
            if item.kind == "detail":
                self._add(item.values or {})
            elif item.kind is not None:  # a header or trailer that does not read: nothing to check against
                self.bad_control = True
            whole = item.kind in ("header", "trailer")
            for rejection in item.rejections:
                yield Rejection(rejection.file, rejection.line, rejection.field, rejection.reason,
                                f"{WHOLE}: the {item.kind} record does not read" if whole else rejection.hint,
                                whole_file=whole)
            return
        if item.kind == "detail":
            self._add(item.values)
        else:
            self.controls.append(item)
        yield item

    def _add(self, values: Mapping[str, Value]) -> None:
        self.count += 1
        for name in self.totals:
            value = values.get(name)
            if isinstance(value, Decimal):
                self.totals[name] += value

    def _check_controls(self) -> Iterator[Rejection]:
        for record in self.controls:
            layout = self.layout.header if record.kind == "header" else self.layout.trailer
            assert layout is not None  # a header or trailer record is only read where the layout has one
            for spec in layout.fields:
                if spec.control and (fault := self._disagrees(spec, record.values.get(spec.name), record.kind)):
                    yield Rejection(self.file, record.line, spec.name, fault,
                                    f"{WHOLE}: it is incomplete or altered; ask for it again", whole_file=True)

    def _disagrees(self, spec: LayoutField, stated: object, kind: RecordKind) -> str | None:
        if spec.control == "count":
            if stated != self.count:
                return f"the {kind} says {stated} records ({spec.name}), the file has {self.count}"
            return None
        assert spec.of is not None
        actual = self.totals[spec.of]
        if stated != actual:
            return f"the {kind} says {spec.of} totals {stated} ({spec.name}), the records add up to {actual}"
        return None
