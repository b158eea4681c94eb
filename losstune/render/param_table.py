"""The parameter table of one loss, laid out for a width: never a column dropped, never a value, a
path or a line number cut; only a meaning may be shortened (with an ellipsis), and only when asked.

Four layouts, the first that fits the width: one row per parameter with its meaning beside it;
the same rows without the meanings, which follow under the table (long paths leave no room beside
them); each parameter on its own row with its value, where it is set and its meaning on lines of
their own (too narrow for the values and paths side by side); the same lines under the name
rather than beside it (too narrow even for the paths beside the names). A value longer than
:data:`VALUE_MAX`, or than what is left beside the paths (down to :data:`VALUE_MIN`), wraps within
its column.
"""

from __future__ import annotations

from enum import Enum

from msgspec import Struct
from msgspec.structs import replace
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

INDENT = 2
GAP = 2
VALUE_MAX = 40
VALUE_MIN = 16  # the narrowest a value column is made to keep the columns side by side
MIN_MEANING = 40  # narrower, a shortened meaning says too little: the meanings go under the table


class Layout(Enum):
    """How the rows are laid out (see the module's docstring)."""

    BESIDE = "beside"
    UNDER = "under"
    STACKED = "stacked"
    LISTED = "listed"


class Row(Struct, frozen=True):
    """One parameter as shown: ``origin`` is its ``set at`` cell (one line or more), ``dim`` a
    default, ``flagged`` a parameter its class does not take (``meaning`` says so)."""

    name: str
    value: str
    origin: Text
    meaning: str
    dim: bool = False
    flagged: bool = False


def _widest(texts: list[str], floor: str) -> int:
    return max([len(floor), *(len(line) for t in texts for line in t.split("\n"))])


class _Widths(Struct, frozen=True):
    name: int
    value: int
    origin: int
    meaning: int
    flagged: int  # the longest meaning that is never shortened

    indent: int

    @classmethod
    def of(cls, rows: list[Row], width: int | None, indent: int) -> _Widths:
        value = _widest([r.value for r in rows], "value")
        w = cls(
            _widest([r.name for r in rows], "parameter"),
            value if width is None else min(value, VALUE_MAX),
            _widest([r.origin.plain for r in rows], "set at"),
            _widest([r.meaning for r in rows], "meaning"),
            max([0, *(len(r.meaning) for r in rows if r.flagged)]),
            indent,
        )
        if width is not None and w.three > width and width - (w.three - w.value) >= VALUE_MIN:
            w = replace(w, value=width - (w.three - w.value))  # a long value wraps in a narrower column
        return w

    @property
    def three(self) -> int:
        """The width of the name, value and origin columns side by side, with the indent."""
        return self.indent + self.name + GAP + self.value + GAP + self.origin


def layout(rows: list[Row], width: int | None, shorten: bool, indent: int = INDENT) -> Layout:
    """The layout of ``rows`` at ``width`` (``None``: unbounded), ``indent`` columns in; with
    ``shorten``, meanings may be cut to what is left beside the other columns."""
    w = _Widths.of(rows, width, indent)
    if width is None or w.three + GAP + w.meaning <= width:
        return Layout.BESIDE
    if shorten and w.three + GAP + max(MIN_MEANING, w.flagged) <= width:
        return Layout.BESIDE
    if w.three <= width:
        return Layout.UNDER
    if w.indent + w.name + GAP + w.origin <= width:
        return Layout.STACKED
    return Layout.LISTED


LISTED_INDENT = 4  # how far under its name a parameter's lines are, in the listed layout


def cost(rows: list[Row], width: int | None, shorten: bool, indent: int = INDENT) -> tuple[int, int]:
    """How far from the best layout ``rows`` are at ``width``: the layout's rank, and by how many
    columns the longest path is too long for a line even in the listed layout, where it wraps (a
    lower cost reads better)."""
    kind = layout(rows, width, shorten, indent)
    w = _Widths.of(rows, width, indent)
    return list(Layout).index(kind), 0 if width is None else max(0, indent + LISTED_INDENT + w.origin - width)


def _meaning(row: Row) -> Text:
    return Text(row.meaning, style="bold red" if row.flagged else "dim")


def _name(row: Row) -> Text:
    return Text(row.name, style="bold red" if row.flagged else "dim" if row.dim else "")


def _value(row: Row) -> Text:
    return Text(row.value, style="dim" if row.dim else "green")


def _grid() -> Table:
    # not Table.grid: at widths below about 100 columns it shrinks columns of fixed width
    return Table(box=None, show_header=False, padding=(0, 0, 0, GAP), pad_edge=False, collapse_padding=False)


def _head(*names: str) -> list[RenderableType]:
    return [Text(n, style="bold") for n in names]


def render(rows: list[Row], width: int | None, shorten: bool, indent: int = INDENT) -> RenderableType:
    """The table of ``rows``, ``indent`` columns in, in the :func:`layout` that fits ``width``."""
    w = _Widths.of(rows, width, indent)
    kind = layout(rows, width, shorten, indent)
    cut = {"no_wrap": True, "overflow": "ellipsis"} if shorten else {"overflow": "fold"}
    if kind in (Layout.STACKED, Layout.LISTED):
        assert width is not None
        return _stacked(rows, w, width, shorten, listed=kind is Layout.LISTED)
    grid = _grid()
    grid.add_column(width=w.name, no_wrap=True)
    grid.add_column(width=w.value, overflow="fold")
    grid.add_column(width=w.origin, no_wrap=True)
    beside = kind is Layout.BESIDE
    if beside:
        room = w.meaning if width is None else min(w.meaning, width - w.three - GAP)
        grid.add_column(width=room, **cut)
    grid.add_row(*_head("parameter", "value", "set at", *(["meaning"] if beside else [])))
    for r in rows:
        grid.add_row(_name(r), _value(r), r.origin, *([_meaning(r)] if beside else []))
    parts: list[RenderableType] = [grid]
    described = [r for r in rows if r.meaning]
    if not beside and described:
        assert width is not None
        legend = _grid()
        legend.add_column(width=w.name, no_wrap=True)
        legend.add_column(width=max(16, width - indent - w.name - GAP), **cut)
        legend.add_row(*_head("parameter", "meaning"))
        for r in described:
            legend.add_row(_name(r), _meaning(r))
        parts.append(legend)
    return Padding(Group(*parts), (0, 0, 0, indent), expand=False)


def _stacked(rows: list[Row], w: _Widths, width: int, shorten: bool, *, listed: bool) -> RenderableType:
    """Each parameter's value, origin and meaning on lines of their own, beside its name or (when
    ``listed``) under it."""
    room = max(16, width - w.indent - (LISTED_INDENT if listed else w.name + GAP))
    grid = _grid()
    if listed:
        grid.add_column(width=room + LISTED_INDENT, overflow="fold")
        grid.add_row(*_head("parameter: value, set at, meaning"))
    else:
        grid.add_column(width=w.name, no_wrap=True)
        grid.add_column(width=room, overflow="fold")
        grid.add_row(*_head("parameter", "value, set at, meaning"))
    for r in rows:
        lines: list[RenderableType] = [_value(r), r.origin]
        if r.meaning:
            meaning = _meaning(r)
            if shorten and not r.flagged:
                meaning.no_wrap, meaning.overflow = True, "ellipsis"
            lines.append(meaning)
        if listed:
            grid.add_row(_name(r))
            grid.add_row(Padding(Group(*lines), (0, 0, 0, LISTED_INDENT), expand=False))
        else:
            grid.add_row(_name(r), Group(*lines))
    return Padding(grid, (0, 0, 0, w.indent), expand=False)
