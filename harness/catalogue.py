"""The step catalogue: every step phrase with its parameters and one-line meaning.

Step modules use ``given``/``when``/``then`` from here instead of pytest-bdd's, so that
``sit steps`` can show partners and SEs the phrases they may write scenarios with.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar, cast

import parse

from harness.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


def _with_pattern(pattern: str) -> Callable[[F], F]:
    """``parse.with_pattern``, typed (parse ships none): it sets the function's ``pattern`` and returns it."""
    return cast(Callable[[F], F], parse.with_pattern(pattern))


@_with_pattern(r"-?\d+(?:\.\d+)?")
def _money(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:  # the pattern admits only numbers; kept for a clear message
        raise ValueError(f"{text!r} is not an amount") from None


@_with_pattern(r"\d+")
def _count(text: str) -> int:
    return int(text)


@_with_pattern(r"[^\"]*")
def _text(text: str) -> str:
    return text


@_with_pattern(r"card|ACH")
def _method(text: str) -> str:
    return "CC" if text == "card" else "ACH"


@_with_pattern(r"payment|credit|void|return")
def _role(text: str) -> str:
    return "ach_return" if text == "return" else text


@_with_pattern(r"payment|credit")
def _original(text: str) -> str:
    return text


@_with_pattern(r"paperless billing|paperless|autopay|phone|email")
def _program(text: str) -> str:
    return text.removesuffix(" billing")


@_with_pattern(r"[A-Z][A-Za-z0-9]*")
def _name(text: str) -> str:
    return text


TYPES: dict[str, Callable[[str], Any]] = {
    "Money": _money, "Count": _count, "Text": _text, "Method": _method, "Role": _role, "Program": _program,
    "Name": _name, "Original": _original,
}
TYPE_HELP = {
    "Money": "an amount such as 45.10", "Count": "a whole number", "Text": "free text in quotes",
    "Method": "card or ACH", "Role": "payment, credit, void or return",
    "Program": "paperless, autopay, phone or email", "Name": "a name the scenario gives an account: A, B",
    "Original": "payment or credit",
}


@dataclass(frozen=True)
class StepDoc:
    keyword: str
    pattern: str
    params: tuple[tuple[str, str], ...]
    meaning: str
    module: str
    needs: str = ""  # a tag the scenario must carry, "setting:block_codes:{method}" (its parameters filled in)

    @property
    def phrase(self) -> str:
        """The pattern as a reader writes it: ``{amount}``, its kind explained beside it."""
        return re.sub(r"{(\w+):\w+}", r"{\1}", self.pattern)


CATALOGUE: list[StepDoc] = []


def _register(keyword: str, pattern: str, target_fixture: str | None, needs: str) -> Callable[[F], F]:
    # pytest-bdd only where steps are defined: readers of the catalogue (`sit lint`, the profiles) need not load it.
    import pytest_bdd
    from pytest_bdd import parsers

    decorator: Callable[..., Callable[[F], F]] = getattr(pytest_bdd, keyword.lower())
    names = parse.compile(pattern, extra_types=TYPES).named_fields

    def wrap(func: F) -> F:
        meaning = " ".join((func.__doc__ or "").strip().split("\n\n")[0].split())
        params = tuple((name, _spec(pattern, name)) for name in names)
        CATALOGUE.append(StepDoc(keyword, pattern, params, meaning, func.__module__, needs))
        # stacklevel 2: pytest-bdd injects the step fixture into the module that called ``wrap``.
        return decorator(parsers.parse(pattern, extra_types=TYPES), target_fixture=target_fixture, stacklevel=2)(func)

    return wrap


def _spec(pattern: str, name: str) -> str:
    start = pattern.find("{" + name)
    inner = pattern[start + 1 : pattern.find("}", start)]
    kind = inner.partition(":")[2]
    return TYPE_HELP.get(kind, "a word")


def given(pattern: str, target_fixture: str | None = None, needs: str = "") -> Callable[[F], F]:
    """A Given step. ``needs``: the tag a scenario using it must carry (``setting:ROLE``, with
    ``{param}`` filled in from the step's values), so that it is N/A where the biller lacks it."""
    return _register("Given", pattern, target_fixture, needs)


def when(pattern: str, target_fixture: str | None = None, needs: str = "") -> Callable[[F], F]:
    return _register("When", pattern, target_fixture, needs)


def then(pattern: str, target_fixture: str | None = None, needs: str = "") -> Callable[[F], F]:
    return _register("Then", pattern, target_fixture, needs)


def load_catalogue(modules: list[str]) -> list[StepDoc]:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a step module is project code: any fault in it is the user's to fix
            where = f"{exc.filename}:{exc.lineno}" if isinstance(exc, SyntaxError) else name
            raise InputError(f"{where}: the step module {name} does not import "
                             f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    return sorted(CATALOGUE, key=lambda s: ("Given When Then".index(s.keyword), s.pattern))


def project_catalogue(project: Path) -> list[StepDoc]:
    """The catalogue of the project's step modules (``steps.STEP_MODULES``), imported from ``project``."""
    root = str(project.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        from steps import STEP_MODULES
    except ImportError:
        raise InputError(f"{root}: no steps/ package here; run from the sit-harness checkout") from None
    return load_catalogue(STEP_MODULES)
