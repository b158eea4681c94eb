"""Fixes of a refused edit said in the terms of the command line that asked for it.

A lint finding's fix speaks of the config's text (``remove the quotes: gamma=1.5``); on the
command line a value is read as a Python literal or else as plain text, so ``gamma=abc`` has no
quotes to remove: the fix says how the value was read and what to type instead.
"""

from __future__ import annotations

from typing import Any

from losstune.edit.values import Assignment, parse_value, python_literal
from losstune.schema.registry import TypeSpec

_KINDS = {str: "a string", int: "an int", float: "a float", bool: "a bool", list: "a list", tuple: "a tuple"}


def wrong_type_fix(assignment: Assignment, name: str, expected: TypeSpec, old: Any) -> str:
    """The fix for ``assignment`` giving parameter ``name`` a value that is not of type
    ``expected``; ``old`` is the value it had (shown as an example when it has that type)."""
    value = assignment.value
    text = assignment.text if assignment.text is not None else python_literal(value)
    unquoted = parse_value(value) if isinstance(value, str) else value
    if isinstance(value, str) and text.strip()[:1] in ("'", '"') and expected.accepts(unquoted):
        return f"remove the quotes: {assignment.key}={value.strip()}"
    if not isinstance(value, str) and expected.accepts(text):
        return f"quote it for a string: {assignment.key}={python_literal(text)}"
    if isinstance(value, str):
        how = f", and {text.strip()} is read as the string {value!r}"
    else:
        how = f", not {_KINDS.get(type(value), type(value).__name__)}"
    kind = expected.text if len(expected.alternatives) > 1 else f"a {expected.text}"
    example = f", like {assignment.key}={python_literal(old)}" if expected.accepts(old) else ""
    return f"`{name}` takes {kind}{how}: give {kind}{example}"
