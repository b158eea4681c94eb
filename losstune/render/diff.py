"""Output of ``losstune diff``: each loss or sampler field that differs, each config's value with
where it is set (or that it is the default); two configs side by side, more as one table; as
terminal text (rich) or JSON."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from losstune.render.json import diagnostic, document, origin, value
from losstune.render.paths import shown
from losstune.render.rich_text import capture, fmt_origin, fmt_value, t
from losstune.render.safe import printable
from losstune.report import DiffReport, Side
from losstune.words import count

_MAX_ALIGN = 40  # a longer value is followed by its origin, not padded to the others'


def summary(report: DiffReport) -> str:
    """The last line: how many fields differ, as written or in effect, and how many written
    differences are only defaults."""
    n, m = len(report.diffs), len(report.default_only)
    if report.written:
        return f"{count(n, 'field differs', 'fields differ')} as written." if n else "No loss or sampler field differs."
    if not n:
        if not m:
            return "No loss or sampler field differs."
        only = count(m, "written difference is only a default", "written differences are only defaults")
        return f"No loss or sampler field differs in effect; {only} (--written lists {'it' if m == 1 else 'them'})."
    text = f"{count(n, 'field differs', 'fields differ')} in effect"
    if m:
        text += f"; {m} more {'written difference is only a default' if m == 1 else 'written differences are only defaults'}"
    return text + "."


def _side(s: Side, column: int) -> Text:
    if not s.present:
        return Text("(absent)", style="dim")
    shown_value = fmt_value(s.value)
    out = Text(shown_value, style="dim" if s.default else "green")
    out.append(" " * max(4, column - len(shown_value)))
    # an origin of two lines (a variable, an expression) keeps its second line under its first
    out.append_text(Text("\n" + " " * (5 + max(column, len(shown_value) + 4))).join(fmt_origin(s.origin).split("\n")))
    return out


def _two(report: DiffReport) -> list[RenderableType]:
    widths = [len(fmt_value(s.value)) for d in report.diffs for s in d.sides if s.present]
    column = min(_MAX_ALIGN, max(widths, default=0)) + 4
    parts: list[RenderableType] = []
    for d in report.diffs:
        block = t(d.key, style="bold")
        for name, side in zip(("a", "b"), d.sides, strict=True):
            block.append(f"\n  {name}: ")
            block.append_text(_side(side, column))
        parts.append(block)
    return parts


def _cell(s: Side) -> Text:
    if not s.present:
        return Text("(absent)", style="dim")
    return Text(fmt_value(s.value) + ("*" if s.default else ""), style="dim" if s.default else "green")


_CELL_WIDTH = 24


def _table_width(report: DiffReport) -> int:
    """The columns the table takes: the field column, then each config's, two apart."""
    first = max(len(printable(x)) for d in report.diffs for x in (d.node, f"  {d.field}"))
    cells = [
        max([len(str(i + 1)), *(min(_CELL_WIDTH, len(_cell(d.sides[i]))) for d in report.diffs)])
        for i in range(len(report.configs))
    ]
    return first + sum(cells) + 2 * len(cells)


def _numbers(indexes: list[int]) -> str:
    """``1-3, 5``: config numbers, runs of three or more as ranges."""
    runs: list[list[int]] = []
    for i in indexes:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"{r[0] + 1}-{r[-1] + 1}" if len(r) > 2 else ", ".join(str(i + 1) for i in r) for r in runs)


def _grouped(report: DiffReport) -> list[RenderableType]:
    """Where the table is wider than the terminal: each field, then each value with the numbers
    of the configs that have it."""
    parts: list[RenderableType] = []
    for d in report.diffs:
        groups: dict[str, list[int]] = {}
        cells: dict[str, Text] = {}
        for i, s in enumerate(d.sides):
            cell = _cell(s)
            groups.setdefault(cell.plain, []).append(i)
            cells.setdefault(cell.plain, cell)
        block = t(d.key, style="bold")
        labels = {k: _numbers(v) for k, v in groups.items()}
        column = max(len(x) for x in labels.values()) + 2
        for k, label in labels.items():
            block.append(f"\n  {label.ljust(column)}")
            block.append_text(cells[k])
        parts.append(block)
    return parts


def _table(report: DiffReport) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2, 0, 0), show_edge=False)
    table.add_column("", no_wrap=True)
    for i in range(len(report.configs)):
        table.add_column(str(i + 1), overflow="fold", max_width=24)
    node = None
    for d in report.diffs:
        if d.node != node:
            node = d.node
            table.add_row(t(node, style="bold"), *([""] * len(report.configs)))
        table.add_row(t(f"  {d.field}"), *(_cell(s) for s in d.sides))
    return table


def render_text(report: DiffReport, *, color: bool = False, width: int = 100) -> str:
    """The diff report as terminal text: with two configs, each differing key and each side with
    its origin; with more, a table of a column per config and a row per differing field."""
    two = len(report.configs) == 2
    n = len(report.configs)
    names = ("a", "b") if two else [str(i + 1).rjust(len(str(n))) for i in range(n)]
    head = Text(
        "\n".join(f"{n}: {printable(shown(c))}" for n, c in zip(names, report.configs, strict=True)), style="bold"
    )
    parts: list[RenderableType] = [head, Text("")]
    if report.diffs:
        if two:
            parts += _two(report)
        else:
            parts += [_table(report)] if _table_width(report) <= width else _grouped(report)
        parts.append(Text(""))
    parts.append(Text(summary(report), style="" if report.diffs else "green"))
    if not two and any(s.default for d in report.diffs for s in d.sides):
        parts.append(Text("* the default: not written in that config.", style="dim"))
    return capture(parts, color, width)


def _side_data(s: Side) -> dict[str, Any] | None:
    if not s.present:
        return None
    return {"value": value(s.value), "origin": origin(s.origin), "is_default": s.default}


def render_json(report: DiffReport) -> str:
    """The diff report as JSON text; with two configs, each side is also under ``a`` and ``b``."""
    two = len(report.configs) == 2
    differences = []
    for d in report.diffs:
        sides = [_side_data(s) for s in d.sides]
        pair = {"a": sides[0], "b": sides[1]} if two else {}
        differences.append({"key": d.key, "node": d.node, "field": d.field, **pair, "values": sides})
    return document(
        "diff",
        {
            **({"a": shown(report.a), "b": shown(report.b)} if two else {}),
            "configs": [shown(c) for c in report.configs],
            "mode": "written" if report.written else "effective",
            "differences": differences,
            "default_only": report.default_only,
            "diagnostics": [diagnostic(d) for d in report.diagnostics],
        },
    )
