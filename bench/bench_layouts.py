"""How fast the layout reader loads files: CSV, fixed width and XML beside today's XML invoice loader.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_layouts.py [--records N]``.

The same N bills (account, invoice number, name, address, two dates, an amount) are written as a
CSV file and a fixed-width file (each with a header and a trailer carrying the record count and
the control total, which the reader checks) and as the Cayenta invoice XML file. Each is read in
full with ``harness.layouts.read`` (typed values, every field checked); the XML file also with
``iter_invoice_file``, the loader the platform uses today, which the figures are ratios against.
The same bills are also written in the demo STW billers' own invoice layouts (Galveston County's CSV,
Brazos Valley's fixed width) and loaded as a run loads them: ``read_bills``, the file taken whole
(trailer checked) and every record made a BIF bill.
The floors are what reading costs with no checks at all: ``csv.reader`` over the CSV, and slicing
each line of the fixed-width file. Each figure is the median of three reads in this one run.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

from pydantic import TypeAdapter

from harness.layouts import Layout, Rejection, read, write
from harness.layouts.models import CsvLayout, FixedLayout, XmlLayout
from harness.partners.files import control_values
from harness.platform.invoices import invoice_layout, iter_invoice_file
from harness.platform.reference.files import read_bills
from harness.profiles import load_biller, load_partner

ROOT = Path(__file__).resolve().parents[1]
# The new formats should load at least as fast as the XML loader they sit beside.
TARGET_RATIO = 1.0
# `sit invoices check` of a file (the command, start to end): within this many times the loader alone (issue 13).
CHECK_RATIO = 1.5

FIELDS = [
    {"name": "account_number", "required": True, "length": 12},
    {"name": "invoice_number", "required": True, "length": 14},
    {"name": "customer_name", "length": 30},
    {"name": "service_address", "length": 40},
    {"name": "bill_date", "type": "date", "length": 8},
    {"name": "due_date", "type": "date", "required": True, "length": 8},
    {"name": "amount_due", "type": "amount", "required": True, "length": 11, "implied_decimals": True},
]
CONTROLS = [
    {"name": "record_count", "type": "integer", "length": 9, "control": "count"},
    {"name": "amount_total", "type": "amount", "length": 15, "implied_decimals": True, "control": "total",
     "of": "amount_due"},
]


def layouts() -> tuple[CsvLayout | FixedLayout | XmlLayout, CsvLayout | FixedLayout | XmlLayout]:
    adapter: TypeAdapter[CsvLayout | FixedLayout | XmlLayout] = TypeAdapter(Layout)
    plain = [{k: v for k, v in f.items() if k not in ("length", "implied_decimals")} for f in FIELDS]
    plain_controls = [{k: v for k, v in f.items() if k not in ("length", "implied_decimals")} for f in CONTROLS]
    csv_layout = adapter.validate_python({
        "format": "csv", "record_type": {"column": 1},
        "header": {"code": "H", "fields": [{"name": "file_date", "type": "date"}]},
        "detail": {"code": "D", "fields": plain}, "trailer": {"code": "T", "fields": plain_controls}})
    fixed_layout = adapter.validate_python({
        "format": "fixed", "date_format": "%Y%m%d", "record_type": {"start": 1, "length": 1},
        "header": {"code": "H", "fields": [{"name": "file_date", "type": "date", "length": 8}]},
        "detail": {"code": "D", "fields": FIELDS}, "trailer": {"code": "T", "fields": CONTROLS}})
    return csv_layout, fixed_layout


def bills(n: int) -> list[dict[str, str | Decimal | date | None]]:
    return [{"account_number": f"{300000 + i}-01", "invoice_number": f"INV-{i:010d}",
             "customer_name": f"Customer {i}", "service_address": f"{i} Tara Blvd, Jonesboro, GA 30236",
             "bill_date": date(2026, 11, 30), "due_date": date(2026, 12, 20),
             "amount_due": Decimal(f"{i % 500}.{i % 100:02d}")} for i in range(n)]


def write_invoice_xml(path: Path, n: int) -> None:
    """Today's invoice file, as the loader's own flat-memory test writes it."""
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<BillHeaders>\n')
        for i in range(n):
            out.write(
                f"  <BillHeader>\n    <ACCOUNT_NO>{300000 + i}-01</ACCOUNT_NO>\n"
                f"    <INVOICE_NO>INV-{i:010d}</INVOICE_NO>\n    <CUSTOMER_NAME>Customer {i}</CUSTOMER_NAME>\n"
                f"    <SERVICE_ADDRESS>{i} Tara Blvd, Jonesboro, GA 30236</SERVICE_ADDRESS>\n"
                "    <BILL_DATE>2026-11-30</BILL_DATE>\n    <DUE_DATE>2026-12-20</DUE_DATE>\n"
                f"    <AMOUNT_DUE>{i % 500}.{i % 100:02d}</AMOUNT_DUE>\n  </BillHeader>\n")
        out.write("</BillHeaders>\n")


def timed(label: str, n: int, work: Callable[[], int]) -> float:
    """Records per second, the median of three reads; ``work`` returns the records it read."""
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        got = work()
        rates.append(n / (time.perf_counter() - start))
        if got != n:
            raise SystemExit(f"{label}: read {got} records, expected {n}")
    return statistics.median(rates)


def counted(path: Path, layout: CsvLayout | FixedLayout | XmlLayout) -> int:
    count = 0
    for item in read(path, layout):
        if isinstance(item, Rejection):
            raise SystemExit(f"unexpected rejection: {item}")
        count += item.kind == "detail"
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records per file (default 100000)")
    n = parser.parse_args().records
    csv_layout, fixed_layout = layouts()
    invoice = load_partner(ROOT, "cayenta").invoice_file
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, fixed_path, xml_path = Path(tmp) / "bills.csv", Path(tmp) / "bills.txt", Path(tmp) / "bills.xml"
        records = bills(n)
        start = time.perf_counter()
        write(csv_path, csv_layout, records, header={"file_date": date(2026, 12, 1)})
        write(fixed_path, fixed_layout, records, header={"file_date": date(2026, 12, 1)})
        wrote = time.perf_counter() - start
        write_invoice_xml(xml_path, n)

        def floor_csv() -> int:
            with csv_path.open(newline="", encoding="utf-8") as stream:
                return sum(1 for row in csv.reader(stream) if row[0] == "D")

        def floor_fixed() -> int:
            count = 0
            with fixed_path.open(encoding="utf-8") as stream:
                for line in stream:
                    if line[0] == "D":
                        _ = (line[1:13], line[13:27], line[27:57], line[57:97], line[97:105], line[105:113],
                             line[113:124])
                        count += 1
            return count

        billers = {}
        for slug in ("galveston-county", "brazos-valley-utilities"):
            spec = load_biller(ROOT, slug).file_for("invoice_load")
            assert spec is not None
            path = Path(tmp) / spec.name(date(2026, 12, 1))
            controls = control_values(spec, load_biller(ROOT, slug), date(2026, 12, 1), path.name)
            write(path, spec.layout, records, header=controls.get("header"), trailer=controls.get("trailer"))
            billers[slug] = (path, spec)

        def platform_loads(slug: str) -> int:
            path, spec = billers[slug]
            taken = read_bills(path, spec, 3780, 42)
            if taken.refusal or taken.rejected:
                raise SystemExit(f"{slug}: {taken.refusal or taken.rejected[0]}")
            return len(taken.records)

        xml_layout = invoice_layout(invoice)
        loader = timed("XML loader", n, lambda: sum(1 for _ in iter_invoice_file(xml_path, invoice, 1, 1)))
        rows = [
            ("XML invoice loader (iter_invoice_file), today", loader),
            ("layouts.read, XML (the same invoice file)", timed("xml", n, lambda: counted(xml_path, xml_layout))),
            ("layouts.read, CSV, header + trailer checked", timed("csv", n, lambda: counted(csv_path, csv_layout))),
            ("layouts.read, fixed width, header + trailer checked",
             timed("fixed", n, lambda: counted(fixed_path, fixed_layout))),
            ("a run's load of Galveston's CSV invoices (read_bills)",
             timed("galveston", n, lambda: platform_loads("galveston-county"))),
            ("a run's load of Brazos Valley's fixed width (read_bills)",
             timed("brazos", n, lambda: platform_loads("brazos-valley-utilities"))),
            ("floor: csv.reader over the CSV, no checks", timed("floor csv", n, floor_csv)),
            ("floor: slicing the fixed-width lines, no checks", timed("floor fixed", n, floor_fixed)),
        ]
        check_s = statistics.median(invoices_check(xml_path) for _ in range(3))
    print(f"{n:,} records a file; wrote CSV and fixed width with layouts.write in {wrote:.2f} s")
    for label, rate in rows:
        print(f"{label:<58} {rate:>10,.0f} records/s  {rate / loader:>5.2f}x the XML loader")
    worst = min(rows[2][1], rows[3][1]) / loader
    verdict = "MET" if worst >= TARGET_RATIO else "NOT MET"
    print(f"CSV and fixed width at least {worst:.2f}x the XML loader; target >= {TARGET_RATIO:.1f}x: {verdict}")
    ratio = check_s / (n / loader)
    met = "MET" if ratio <= CHECK_RATIO else "NOT MET"
    print(f"`sit invoices check` of the XML file, the whole command: {check_s:.2f} s against the loader's "
          f"{n / loader:.2f} s = {ratio:.2f}x; target <= {CHECK_RATIO}x: {met}")


def invoices_check(path: Path) -> float:
    """Seconds `sit invoices check FILE` takes as an SE runs it (a new process, the summary printed)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness.cli", "invoices", "check", str(path), "--biller",
                           "clayton-county-water", "--project", str(ROOT)], capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sit invoices check failed ({done.returncode}): {done.stdout[-300:]}{done.stderr[-300:]}")
    return took


if __name__ == "__main__":
    main()
