"""Python source parsed into an ``ast`` tree, with the warnings Python's parser gives kept as data.

``ast.parse`` prints ``SyntaxWarning``/``DeprecationWarning`` lines (an invalid escape sequence, an
invalid decimal literal) straight to stderr, in the middle of losstune's own output. Every parse of
config text goes through :func:`parse`, which collects them instead.
"""

from __future__ import annotations

import ast
import bisect
import warnings
from collections.abc import Collection, Iterator
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


def reparse(
    module: ast.Module, text: str, line_starts: list[int], edited: Collection[int], filename: str = "<config>"
) -> tuple[ast.Module, list[ParserWarning]] | None:
    """``parse(text)``, where ``module`` is the parse of a text that differs from ``text`` only on
    the lines ``edited``, each line the same line in both (``line_starts``: where the lines of
    ``text`` start): the statements of ``module`` on no edited line are taken as they are, and
    each run of the others is parsed again from its lines of ``text``. The warnings are those of
    the statements parsed again.

    A top-level statement starts where the tokenizer holds nothing open, and the unchanged text
    before it leaves nothing open; a run of lines that parses on its own leaves nothing open
    either, so the whole text parses into the same statements. ``None`` where that argument does
    not hold, and only ``parse`` of the whole text can say: a run does not parse on its own, an
    edited line outside every statement is not a comment, or a ``__future__`` import may change
    the grammar."""
    body = module.body
    if not body or "__future__" in text:
        return None
    firsts = [_first_line(stmt) for stmt in body]
    touched = [False] * len(body)
    for line in edited:
        i = bisect.bisect_right(firsts, line) - 1
        if i >= 0 and line <= _last_line(body[i]):
            touched[i] = True
        elif not _line(text, line_starts, line).lstrip().startswith("#"):
            return None
    # Statements that share a line with one parsed again are parsed with it (`a = 1; b = 2`).
    for i in reversed(range(1, len(body))):
        if touched[i] and firsts[i] == _last_line(body[i - 1]):
            touched[i - 1] = True
    for i in range(len(body) - 1):
        if touched[i] and firsts[i + 1] == _last_line(body[i]):
            touched[i + 1] = True
    out: list[ast.stmt] = []
    with kept_warnings() as found:
        i = 0
        while i < len(body):
            if not touched[i]:
                out.append(body[i])
                i += 1
                continue
            j = i
            while j + 1 < len(body) and touched[j + 1]:
                j += 1
            first, last = firsts[i], _last_line(body[j])
            end = line_starts[last] if last < len(line_starts) else len(text)
            # Blank lines before the run keep every position where it is in the whole text.
            try:
                run = ast.parse("\n" * (first - 1) + text[line_starts[first - 1] : end], filename=filename)
            except PARSE_ERRORS:
                return None
            out.extend(run.body)
            i = j + 1
    return ast.Module(body=out, type_ignores=[]), found


def _first_line(stmt: ast.stmt) -> int:
    """The line where ``stmt`` starts, its decorators included."""
    decorators = getattr(stmt, "decorator_list", None)
    return decorators[0].lineno if decorators else stmt.lineno


def _last_line(stmt: ast.stmt) -> int:
    return stmt.end_lineno or stmt.lineno


def _line(text: str, line_starts: list[int], line: int) -> str:
    end = line_starts[line] if line < len(line_starts) else len(text)
    return text[line_starts[line - 1] : end]
