"""Positions between losstune's spans (1-based lines, 1-based character columns, the end column
exclusive) and the Language Server Protocol's (0-based lines, 0-based UTF-16 code unit offsets)."""

from __future__ import annotations

from losstune.loader.source import SourceText
from losstune.model import Span

Point = tuple[int, int]
"""An LSP position: 0-based line, 0-based UTF-16 offset in the line."""


def utf16_length(text: str) -> int:
    """How many UTF-16 code units ``text`` takes (a character beyond the BMP takes two)."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def to_point(src: SourceText, line: int, column: int) -> Point:
    """The LSP position of 1-based ``line`` and character ``column`` of ``src``."""
    text = src.line_text(line)
    prefix = text[: max(column - 1, 0)]
    return max(line - 1, 0), utf16_length(prefix) + max(column - 1 - len(text), 0)


def to_range(src: SourceText, span: Span) -> tuple[Point, Point]:
    """The LSP range of ``span`` in ``src`` (the text of the span's file)."""
    return to_point(src, span.line, span.column), to_point(src, span.end_line, span.end_column)


def from_point(src: SourceText, point: Point) -> tuple[int, int]:
    """The 1-based line and character column of an LSP position in ``src``."""
    line, units = point
    text = src.line_text(line + 1)
    count = 0
    for i, c in enumerate(text):
        if count >= units:
            return line + 1, i + 1
        count += 2 if ord(c) > 0xFFFF else 1
    return line + 1, len(text) + 1
