"""The source excerpt under a finding: the line in a numbered gutter, clipped around the span,
and a caret marker under the span."""

from __future__ import annotations

from losstune.model import Diagnostic
from losstune.render.palette import paint
from losstune.render.safe import EXCERPT_WIDTH, excerpt

_FEWEST = 20  # the fewest characters of the source line shown, however narrow the width


def source_excerpt(
    d: Diagnostic, lines: dict[tuple[str, int], str], indent: str, color: bool, width: int | None = None
) -> list[str]:
    """The source line of ``d`` (``lines`` maps (file, line) to its text) and the marker under
    its span; nothing when the line is not known. With ``width``, the line is clipped to fit in
    it (its gutter and ellipses included), so that no terminal wraps it and the marker stays under
    its text."""
    source = lines.get((d.span.file, d.span.line)) if d.span is not None else None
    if source is None or d.span is None:
        return []
    gutter = f"{indent}{d.span.line:>4} | "
    end = d.span.end_column - 1 if d.span.end_line == d.span.line else None
    room = EXCERPT_WIDTH if width is None else max(_FEWEST, min(EXCERPT_WIDTH, width - len(gutter) - 2))
    shown = excerpt(source, d.span.column - 1, end, room)
    return [
        paint(gutter, "dim", color) + shown.text,
        " " * (len(gutter) + shown.marker_at) + paint("^" * shown.marker_width, "bold-red", color),
    ]
