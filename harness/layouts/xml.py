"""XML files, read safely in flat memory: the root's children one at a time, no DTD, no entities.

``root_children`` is the one XML streaming parser of the harness: the invoice loader and the XML
layout both read through it. It refuses a DTD at the first event (no XXE, no entity bombs, nothing
outside the file is read) and frees each record once the caller is done with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from lxml import etree

from harness.layouts.records import WHOLE, FileFault

# lxml repeats the position at the end of its message; the rejection states it once.
_POSITION_SUFFIX = re.compile(r", line \d+, column \d+$")
NAME = re.compile(r"[A-Za-z_][\w.-]*")
# A path step a writer can create: a name with attribute tests ("Charge[@DESCRIPTOR='30']").
STEP = re.compile(r"[A-Za-z_][\w.-]*(?:\[@[A-Za-z_][\w.-]*=(?:'[^']*'|\"[^\"]*\")\])*")
TEST = re.compile(r"\[@([A-Za-z_][\w.-]*)=(?:'([^']*)'|\"([^\"]*)\")\]")


def dtd_refusal(noun: str) -> str:
    return f"refused: the file declares a DTD (<!DOCTYPE ...>); {noun} may not declare entities"


def root_children(stream: IO[bytes], root: str, noun: str = "files") -> Iterator[etree._Element]:
    """Each finished child element of the root, in file order; freed when the caller asks for the next.
    Raises FileFault for a DTD, another root or malformed XML (records yielded before it stand)."""
    # No entity substitution, no DTD loading, no network and libxml2's size limits: with
    # these, nothing outside the file is read, and the DTD check below runs before content.
    events = etree.iterparse(
        stream, events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    depth = 0
    try:
        for event, element in events:
            if event == "start":
                if depth == 0:
                    _check_root(element, root, noun)
                depth += 1
                continue
            depth -= 1
            if depth == 1:
                yield element
                _drop(element)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        where = f" at line {line}, column {column}" if line else ""
        message = _POSITION_SUFFIX.sub("", exc.msg)
        raise FileFault(line or None, f"malformed XML{where}: {message}; records after this point were not read",
                        f"{WHOLE}: ask for a well-formed file") from None


def _check_root(element: etree._Element, root: str, noun: str) -> None:
    """Refuse the file at its first event: the prolog (and any DTD) is parsed, no content is."""
    docinfo = element.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url or docinfo.public_id:
        raise FileFault(None, dtd_refusal(noun), f"{WHOLE}: ask for the file without a DOCTYPE")
    if element.tag != root:
        tag = element.tag.decode() if isinstance(element.tag, bytes) else str(element.tag)
        raise FileFault(element.sourceline, f"root element is <{tag}>, expected <{root}>",
                        f"{WHOLE}: check the file against the layout's root")


def _drop(element: etree._Element) -> None:
    """Free a finished child of the root and anything before it (comments too)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is None:
        return
    while element.getprevious() is not None:
        del parent[0]


def child_texts(record: etree._Element) -> dict[object, str | None]:
    """The text of each direct child by tag, the first one winning as find() would: one pass over the
    children, where lxml's find() costs microseconds a call and dominates a big file's load time."""
    children: dict[object, str | None] = {}
    for child in record:
        children.setdefault(child.tag, child.text)
    return children


def place(record: etree._Element, path: str) -> etree._Element:
    """The element at ``path`` under ``record``, found or created with its attribute tests; a path a writer
    cannot create (a step that is not a name with ``[@attr='value']`` tests) is a ValueError naming it."""
    element = record
    for step in path.split("/"):
        if not STEP.fullmatch(step):
            raise ValueError(f"cannot write path {path!r}: only names with [@attr='value'] tests")
        child = element.find(step)
        if child is None:
            name = NAME.match(step)
            assert name is not None  # STEP starts with a name
            attrs = {key: single or double for key, single, double in TEST.findall(step)}
            child = etree.SubElement(element, name[0], attrs)
        element = child
    return element
