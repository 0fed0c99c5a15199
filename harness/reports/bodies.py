"""Partner message bodies as people read them and as ``sit diff`` compares them.

A body is parsed by what it is, not by who sent it: JSON, XML, or a form whose
parameters may themselves hold XML or JSON (Cayenta's ``XMLREQUEST``). Parsing never
resolves entities or fetches anything: bodies are evidence, not input to trust.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any, TypedDict
from urllib.parse import parse_qsl

from lxml import etree


class XmlOptions(TypedDict):
    """The keyword arguments of ``etree.XMLParser`` that ``XML_OPTIONS`` sets."""

    resolve_entities: bool
    no_network: bool
    load_dtd: bool
    huge_tree: bool
    encoding: str


# How every body of the log is parsed as XML: no entities, no network, no DTD, and UTF-8 whatever
# the prolog declares (the text was decoded already: a declared encoding would garble it).
XML_OPTIONS: XmlOptions = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False,
                            "encoding": "utf-8"}
_PARSER = etree.XMLParser(remove_blank_text=True, **XML_OPTIONS)
FORM = "application/x-www-form-urlencoded"


def _xml(text: str) -> etree._Element | None:
    if not text.lstrip().startswith("<"):
        return None
    try:
        return etree.fromstring(text.strip().encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return None


def _json(text: str) -> Any:
    if text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _form(text: str, content_type: str) -> list[tuple[str, str]] | None:
    if FORM not in content_type.lower() or not text:
        return None
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None


def content_type(headers: Any) -> str:
    """The Content-Type among a message's recorded headers (names in any case), or ""."""
    if not isinstance(headers, Mapping):
        return ""
    return next((str(value) for name, value in headers.items() if str(name).lower() == "content-type"), "")


def pretty(text: str, content_type: str = "") -> tuple[str, str]:
    """``(pretty text, kind)``: kind is ``json``, ``xml``, ``form`` or ``text``."""
    if (form := _form(text, content_type)) is not None:
        return "\n".join(f"{name} =\n{_indent(pretty(value)[0])}" for name, value in form), "form"
    if (tree := _xml(text)) is not None:
        return etree.tostring(tree, pretty_print=True, encoding="unicode").rstrip(), "xml"
    if (obj := _json(text)) is not None:
        return json.dumps(obj, indent=2, ensure_ascii=False), "json"
    return text, "text"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def fields(text: str, content_type: str = "") -> dict[str, str]:
    """The body flattened to ``path -> value``, for a field-by-field comparison.

    XML paths name elements (``Request/AddARItem/Params/AMOUNT``, ``@attr`` for
    attributes, ``[2]`` for a repeated sibling); JSON paths name keys (``variables.id``,
    ``items[0]``); form parameters prefix what their value holds. Plain text is one field.
    """
    out: dict[str, str] = {}
    if (form := _form(text, content_type)) is not None:
        for name, value in form:
            for path, leaf in fields(value).items():
                out[f"{name}/{path}" if path else name] = leaf
    elif (tree := _xml(text)) is not None:
        _flatten_xml(tree, tree.tag if isinstance(tree.tag, str) else "", out)
    elif (obj := _json(text)) is not None:
        _flatten_json(obj, "", out)
    elif text:
        out[""] = text
    return out


def _flatten_xml(element: etree._Element, path: str, out: dict[str, str]) -> None:
    for name, value in sorted(element.attrib.items()):
        out[f"{path}/@{name}"] = value
    children = [child for child in element if isinstance(child.tag, str)]
    if not children:
        out[path] = (element.text or "").strip()
        return
    tags = [etree.QName(child).localname for child in children]
    total, seen = Counter(tags), Counter[str]()
    for child, tag in zip(children, tags, strict=True):
        seen[tag] += 1
        _flatten_xml(child, f"{path}/{tag}[{seen[tag]}]" if total[tag] > 1 else f"{path}/{tag}", out)


def _flatten_json(obj: Any, path: str, out: dict[str, str]) -> None:
    if isinstance(obj, dict):
        if not obj:
            out[path] = "{}"
        for key, value in obj.items():
            _flatten_json(value, f"{path}.{key}" if path else str(key), out)
    elif isinstance(obj, list):
        if not obj:
            out[path] = "[]"
        for index, value in enumerate(obj):
            _flatten_json(value, f"{path}[{index}]", out)
    else:
        out[path] = json.dumps(obj, ensure_ascii=False) if not isinstance(obj, str) else obj


def leaf_name(path: str) -> str:
    """The field name at the end of a ``fields()`` path: what a volatile-field rule names."""
    tail = path.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
    return tail.split("[", 1)[0].lstrip("@")
