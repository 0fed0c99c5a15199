"""pytest-bdd's step lookup, with what each module sees worked out once.

For every step, pytest-bdd asks pytest, fixture name by fixture name, which definitions the
scenario's item sees, and only then tries the step definitions' parsers on the step's text: about
0.7 ms a step with this workbook's hundred-odd fixtures, a quarter of what the harness adds to a
scenario. Once the tests are collected no step definition is added, and the items of one module
(or class) see the same ones: they are gathered once per module and pytest session, and each step
only runs the parsers. The answer is pytest-bdd's own, in its order (a test holds the two equal
for every step of a run); where pytest-bdd lacks the parts this builds on, it looks up as it did.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any
from weakref import WeakKeyDictionary

_bdd = importlib.import_module("pytest_bdd.scenario")  # `pytest_bdd.scenario` is also a function's name
_FIND = "find_fixturedefs_for_step"
_PARTS = (_FIND, "get_fixture_names", "getfixturedefs", "step_function_context_registry")
original: Any = getattr(_bdd, _FIND, None)
# Per pytest session (its fixture manager), per module or class node id: each step definition it sees.
_seen: WeakKeyDictionary[Any, dict[str, list[tuple[Any, Any]]]] = WeakKeyDictionary()


def remembered(step: Any, fixturemanager: Any, node: Any) -> Iterator[Any]:
    """The step definitions that ``node`` sees and that parse ``step``, as pytest-bdd finds them."""
    seen_from = node.parent.nodeid if node.parent is not None else node.nodeid
    by_node = _seen.setdefault(fixturemanager, {})
    if (definitions := by_node.get(seen_from)) is None:
        definitions = by_node[seen_from] = list(_definitions(fixturemanager, node))
    return (fixturedef for fixturedef, context in definitions
            if context.type in (None, step.type) and context.parser.is_matching(step.name))


def _definitions(fixturemanager: Any, node: Any) -> Iterator[tuple[Any, Any]]:
    contexts = _bdd.step_function_context_registry
    for name in _bdd.get_fixture_names(fixturemanager=fixturemanager):
        for fixturedef in _bdd.getfixturedefs(fixturemanager, name, node) or []:
            if (context := contexts.get(fixturedef.func)) is not None:
                yield fixturedef, context


def install() -> None:
    """Look steps up this way from now on (once per process; harmless to call again)."""
    if all(hasattr(_bdd, part) for part in _PARTS) and getattr(_bdd, _FIND) is original:
        setattr(_bdd, _FIND, remembered)
