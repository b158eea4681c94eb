"""The source excerpt under a finding: the line in a numbered gutter, clipped around the span,
and a caret marker under the span."""

from __future__ import annotations

from losstune.model import Diagnostic
from losstune.render.palette import paint
from losstune.render.safe import excerpt


def source_excerpt(d: Diagnostic, lines: dict[tuple[str, int], str], indent: str, color: bool) -> list[str]:
    """The source line of ``d`` (``lines`` maps (file, line) to its text) and the marker under
    its span; nothing when the line is not known."""
    source = lines.get((d.span.file, d.span.line)) if d.span is not None else None
    if source is None or d.span is None:
        return []
    gutter = f"{indent}{d.span.line:>4} | "
    end = d.span.end_column - 1 if d.span.end_line == d.span.line else None
    shown = excerpt(source, d.span.column - 1, end)
    return [
        paint(gutter, "dim", color) + shown.text,
        " " * (len(gutter) + shown.marker_at) + paint("^" * shown.marker_width, "bold-red", color),
    ]
