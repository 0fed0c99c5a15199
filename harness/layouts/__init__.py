"""File layouts as data, and the one reader and writer that serve them all: CSV, fixed width, XML.

A layout (``CsvLayout``, ``FixedLayout``, ``XmlLayout``; in a profile, ``Layout`` picks one by its
``format``) names each record type's fields with their types, positions and formats, and the
header and trailer control fields. ``read`` streams a file's records and rejections; ``load``
takes a file whole or not at all; ``write`` and ``render`` produce files the reader reads back
to the same records.
"""

from harness.layouts.models import CsvLayout, FixedLayout, Layout, LayoutField, RecordLayout, XmlLayout
from harness.layouts.reader import load, read
from harness.layouts.records import LoadedFile, Record, Rejection
from harness.layouts.values import Raw
from harness.layouts.writer import render, write

__all__ = [
    "CsvLayout",
    "FixedLayout",
    "Layout",
    "LayoutField",
    "LoadedFile",
    "Raw",
    "Record",
    "RecordLayout",
    "Rejection",
    "XmlLayout",
    "load",
    "read",
    "render",
    "write",
]
