"""Output of ``losstune diff``: each loss or sampler field that differs, each side with where it
is set; as terminal text (rich) or JSON."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from losstune.render.json import diagnostic, document, origin, value
from losstune.render.paths import shown
from losstune.render.rich_text import capture, fmt_origin, fmt_value, t
from losstune.render.safe import printable
from losstune.report import DiffReport, Side


def _side(s: Side) -> Text:
    if not s.present:
        return Text("(absent)", style="dim")
    t = Text(fmt_value(s.value), style="green")
    t.append("    ")
    t.append_text(fmt_origin(s.origin))
    return t


def render_text(report: DiffReport, *, color: bool = False, width: int = 100) -> str:
    """The diff report as terminal text: each differing key, then each side with its origin."""
    head = Text()
    head.append(f"a: {printable(shown(report.a))}\nb: {printable(shown(report.b))}", style="bold")
    parts: list[RenderableType] = [head, Text("")]
    if not report.diffs:
        return capture([*parts, Text("No loss or sampler field differs.", style="green")], color, width)
    for d in report.diffs:
        block = t(d.key, style="bold")
        for name, side in (("a", d.a), ("b", d.b)):
            block.append(f"\n  {name}: ")
            block.append_text(_side(side))
        parts.append(block)
    n = len(report.diffs)
    parts.append(Text(f"\n{n} field{'s' if n != 1 else ''} differ{'s' if n == 1 else ''}."))
    return capture(parts, color, width)


def _side_data(s: Side) -> dict[str, Any] | None:
    if not s.present:
        return None
    return {"value": value(s.value), "origin": origin(s.origin)}


def render_json(report: DiffReport) -> str:
    """The diff report as JSON text."""
    return document(
        "diff",
        {
            "a": shown(report.a),
            "b": shown(report.b),
            "differences": [{"key": d.key, "a": _side_data(d.a), "b": _side_data(d.b)} for d in report.diffs],
            "diagnostics": [diagnostic(d) for d in report.diagnostics],
        },
    )
