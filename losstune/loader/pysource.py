"""Python source parsed into an ``ast`` tree, with the warnings Python's parser gives kept as data.

``ast.parse`` prints ``SyntaxWarning``/``DeprecationWarning`` lines (an invalid escape sequence, an
invalid decimal literal) straight to stderr, in the middle of losstune's own output. Every parse of
config text goes through :func:`parse`, which collects them instead.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from msgspec import Struct

# What ``ast.parse`` raises on text it cannot parse: a syntax error, null bytes, nesting too deep.
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)


class ParserWarning(Struct, frozen=True):
    """A warning Python's parser gave at a 1-based ``line``."""

    line: int
    message: str


@contextmanager
def kept_warnings() -> Iterator[list[ParserWarning]]:
    """Collect the warnings Python's parser or compiler gives inside the block, none printed."""
    found: list[ParserWarning] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SyntaxWarning)
        warnings.simplefilter("always", DeprecationWarning)
        yield found
    found.extend(
        ParserWarning(w.lineno or 1, str(w.message))
        for w in caught
        if issubclass(w.category, (SyntaxWarning, DeprecationWarning))
    )


def _parse(text: str, filename: str, mode: str) -> tuple[ast.AST, list[ParserWarning]]:
    with kept_warnings() as found:
        tree = ast.parse(text, filename=filename, mode=mode)
    return tree, found


def parse(text: str, filename: str = "<config>") -> tuple[ast.Module, list[ParserWarning]]:
    """``ast.parse(text)`` and the parser's warnings, none of them printed."""
    tree, found = _parse(text, filename, "exec")
    return cast(ast.Module, tree), found


def parse_quietly(text: str, filename: str = "<config>") -> ast.Module:
    """``ast.parse(text)`` with the parser's warnings dropped (for text already reported on)."""
    return parse(text, filename)[0]


def parse_expression(text: str) -> ast.Expression:
    """``ast.parse(text, mode="eval")`` with the parser's warnings dropped."""
    return cast(ast.Expression, _parse(text, "<value>", "eval")[0])
