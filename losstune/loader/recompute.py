"""One expression of a config evaluated again, on its own, with the names it reads given: what a
value computed in a base would be with a child's definitions (mmengine never computes it again).
Nothing runs: the expression goes through the config interpreter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from losstune.loader import pysource
from losstune.loader.pyeval import Interpreter
from losstune.loader.source import SourceText
from losstune.loader.values import contains_opaque
from losstune.model import Diagnostic

FAILED: Any = object()
"""What :func:`evaluate` gives for an expression that does not evaluate to a known value."""


def evaluate(text: str, names: Mapping[str, Any] | None = None) -> Any:
    """The value of the expression ``text`` with the top-level ``names`` bound, or :data:`FAILED`
    where it cannot be parsed, fails, or is not known statically. ``text`` may span lines (as
    the source segment of an expression inside brackets does)."""
    wrapped = text
    try:
        tree = pysource.parse_expression(text)
    except SyntaxError:
        if "\n" not in text:
            return FAILED
        # A segment that breaks its line outside brackets is valid only inside the brackets it
        # was written in.
        wrapped = f"(\n{text}\n)"
        try:
            tree = pysource.parse_expression(wrapped)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return FAILED
    except (ValueError, RecursionError, MemoryError):
        return FAILED
    diagnostics: list[Diagnostic] = []
    interp = Interpreter(SourceText.plain("<value>", wrapped), None, diagnostics)
    for name, value in (names or {}).items():
        interp.globals.set(name, value, None)
    value = interp.eval_expression(tree.body)
    if diagnostics or contains_opaque(value):
        return FAILED
    return value
