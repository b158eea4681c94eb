"""Spans as LSP positions: 0-based lines, columns in UTF-16 code units."""

from __future__ import annotations

import pytest

pytest.importorskip("lsprotocol")

from losstune.loader.source import SourceText
from losstune.model import Span
from losstune.server.positions import from_point, to_range

TEXT = "a = 1\nnote = 'é😀'; gama = 2\r\nlast"


def test_a_span_after_an_astral_character_counts_it_twice() -> None:
    src = SourceText.plain("/x.py", TEXT)
    column = "note = 'é😀'; ".__len__() + 1  # characters: é is one, 😀 one
    assert to_range(src, Span("/x.py", 2, column, 2, column + 4)) == ((1, column), (1, column + 4))


def test_positions_past_the_end_of_a_line_stay_past_it() -> None:
    src = SourceText.plain("/x.py", TEXT)
    assert to_range(src, Span("/x.py", 3, 1, 3, 6)) == ((2, 0), (2, 5))


@pytest.mark.parametrize("column", range(1, 20))
def test_from_point_inverts_to_range(column: int) -> None:
    src = SourceText.plain("/x.py", TEXT)
    (point, _) = to_range(src, Span("/x.py", 2, column, 2, column))
    assert from_point(src, point) == (2, min(column, len(src.line_text(2)) + 1))
