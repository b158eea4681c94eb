"""Terminal output: the same reports as the JSON renderer, laid out for people.

Pure: a finished report in, a string out. Colour is on only when asked for. Text that comes from a
config, a file name or a schema enters a renderable only through :func:`fmt_value`, :func:`_t`,
:func:`_where` (escaped by :func:`~losstune.render.safe.printable`, and never
read as rich markup: cells are ``Text``, not markup strings).
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from losstune.loader.values import Opaque
from losstune.model import Origin, Span
from losstune.render.safe import printable
from losstune.report import DiffReport, ExplainReport, LossView, Side
from losstune.schema.registry import Entry, Schema


def _console(color: bool, width: int) -> Console:
    return Console(
        file=io.StringIO(),
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        emoji=False,
    )


def _capture(renderables: list[RenderableType], color: bool, width: int) -> str:
    console = _console(color, width)
    for r in renderables:
        console.print(r)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return "\n".join(line.rstrip(" ") for line in out.split("\n"))  # rich pads cells to their column


def fmt_value(v: Any) -> str:
    """A value as the user would write it in a Python config."""
    if isinstance(v, Opaque):
        return printable(f"<unknown: {v.text}>")
    return printable(repr(v))


def _t(text: str, style: str = "") -> Text:
    """A run of text from a config, a file name or a schema."""
    return Text(printable(text), style=style)


def _where(span: Span, short: bool = True) -> str:
    """``file:line`` (or ``file:line:column``) of a span."""
    return printable(span.short if short else str(span))


def fmt_origin(o: Origin | None) -> Text:
    """``file:line``, with how the value was written when it is not a plain literal."""
    if o is None:
        return Text("default", style="dim")
    text = Text(_where(o.span), style="cyan")
    if o.kind == "variable":
        text.append(f"\nvia `{printable(o.text)}`", style="dim")
        if o.via is not None:
            text.append(f" ({_where(o.via.span)})", style="dim")
    elif o.kind in ("expression", "base-reference") and o.text:
        text.append(f"\n= {printable(_clip(o.text))}", style="dim")
    return text


def _clip(s: str, n: int = 40) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _type_text(text: Text, type_name: str, style: str = "bold magenta") -> None:
    """``FocalLoss``, or ``FocalLoss (mmdet.models.losses.focal_loss)`` for an imported class."""
    module, _, bare = type_name.rpartition(".")
    text.append(printable(bare), style=style)
    if module:
        text.append(f" ({printable(module)})", style="dim")


def _loss_block(loss: LossView, width: int) -> RenderableType:
    title = Text()
    title.append(printable(loss.key), style="bold")
    title.append("  ")
    _type_text(title, loss.type)
    if loss.origin is not None:
        title.append(f"\n  set at {_where(loss.origin.span)}", style="dim")
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2, 0, 2))
    # The first three columns keep their width; the meaning takes what is left, cut to one line.
    name_w = max([len("parameter"), *(len(printable(p.name)) for p in loss.params)])
    value_w = min(48, max([len("value"), *(len(fmt_value(p.value)) for p in loss.params)]))
    origin_w = max([len("set at"), *(len(_where(p.origin.span)) if p.origin else 7 for p in loss.params)])
    table.add_column("parameter", no_wrap=True, min_width=name_w)
    table.add_column("value", style="green", overflow="fold", min_width=value_w, max_width=48)
    table.add_column("set at", no_wrap=True, min_width=origin_w)
    rest = width - (name_w + value_w + origin_w) - 4 * 4 - 2
    meaning = rest >= 16  # too narrow a terminal: leave the meanings to `losstune schema`
    if meaning:
        table.add_column("meaning", style="dim", no_wrap=True, overflow="ellipsis", max_width=rest)
    for p in loss.params:
        if p.default:
            row: list[RenderableType] = [
                _t(p.name, style="dim"),
                Text(fmt_value(p.value), style="dim"),
                Text("default", style="dim"),
            ]
        else:
            row = [_t(p.name), Text(fmt_value(p.value)), fmt_origin(p.origin)]
        table.add_row(*row, *([_t(p.description)] if meaning else []))
    if not loss.params:
        table.add_row(Text("(no parameters set)", style="dim"), "", "", *([""] if meaning else []))
    sampler = Text("  sampler: ", style="bold")
    if loss.sampler is None:
        sampler.append("none (this head does not sample)", style="dim")
    elif loss.sampler.default:
        _type_text(sampler, loss.sampler.type, style="magenta")
        sampler.append("  (default: no sampler in this head's train_cfg)", style="dim")
    else:
        _type_text(sampler, loss.sampler.type, style="magenta")
        sampler.append(f"\n    {printable(loss.sampler.key or '')}", style="dim")
        if loss.sampler.origin is not None:
            sampler.append(f"  set at {_where(loss.sampler.origin.span)}", style="dim")
        args = ", ".join(f"{printable(p.name)}={fmt_value(p.value)}" for p in loss.sampler.params)
        if args:
            sampler.append(f"\n    {args}")
    parts: list[RenderableType] = [title, table, sampler]
    if loss.steps:
        parts.append(Text("  on sample tensors:", style="bold"))
        # a grid, so a long formula wraps under itself rather than under the step's number
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=3, no_wrap=True)
        grid.add_column(style="bold", no_wrap=True, min_width=11)
        grid.add_column(overflow="fold")
        for i, st in enumerate(loss.steps, start=1):
            text = _t(st.description)
            if st.plain:
                text.append(f"\n{printable(st.plain)}", style="dim")
            grid.add_row(Text(f"   {i}."[-3:] if i < 10 else f"{i}.", style="bold"), _t(st.name), text)
        parts.append(Padding(grid, (0, 0, 0, 3)))
    elif loss.steps_note:
        parts.append(Text(f"  steps: {printable(loss.steps_note)}", style="dim"))
    return Group(*parts, Text(""))


_TORCH_HINT = "(pip install torch to also see each loss evaluated step by step on sample tensors)\n"


def render_explain(report: ExplainReport, *, color: bool = False, width: int = 100, torch_hint: bool = False) -> str:
    """The explain report as terminal text; with ``torch_hint``, a last line saying how to also
    see each loss step by step."""
    head = Text()
    head.append(printable(report.config), style="bold")
    n = len(report.files)
    head.append(f"  ({n} file{'s' if n != 1 else ''}, {len(report.losses)} losses)", style="dim")
    parts: list[RenderableType] = [head, Text("")]
    parts += [_loss_block(loss, width) for loss in report.losses]
    if not report.losses:
        parts.append(Text("No loss found in this config.", style="yellow"))
    return _capture(parts, color, width) + (_TORCH_HINT if torch_hint else "")


def _side(s: Side) -> Text:
    if not s.present:
        return Text("(absent)", style="dim")
    t = Text(fmt_value(s.value), style="green")
    t.append("    ")
    t.append_text(fmt_origin(s.origin))
    return t


def render_diff(report: DiffReport, *, color: bool = False, width: int = 100) -> str:
    """The diff report as terminal text: each differing key, then each side with its origin."""
    head = Text()
    head.append(f"a: {printable(report.a)}\nb: {printable(report.b)}", style="bold")
    parts: list[RenderableType] = [head, Text("")]
    if not report.diffs:
        return _capture([*parts, Text("No loss or sampler field differs.", style="green")], color, width)
    for d in report.diffs:
        block = _t(d.key, style="bold")
        for name, side in (("a", d.a), ("b", d.b)):
            block.append(f"\n  {name}: ")
            block.append_text(_side(side))
        parts.append(block)
    n = len(report.diffs)
    parts.append(Text(f"\n{n} field{'s' if n != 1 else ''} differ{'s' if n == 1 else ''}."))
    return _capture(parts, color, width)


def render_schema_list(schema: Schema, *, width: int = 100) -> str:
    """A table of every known loss and sampler."""
    parts: list[RenderableType] = []
    for kind, title in (("loss", "Losses"), ("sampler", "Bbox samplers")):
        table = Table(title=title, title_justify="left", box=None, header_style="bold", padding=(0, 2, 0, 0))
        table.add_column("type", no_wrap=True)
        table.add_column("mmdet", no_wrap=True)
        table.add_column("what it computes")
        for e in schema.entries.values():
            if e.kind == kind:
                table.add_row(_t(e.name), Text(", ".join(f"{v}.x" for v in e.versions)), _t(e.summary))
        parts += [table, Text("")]
    parts.append(Text("losstune schema NAME shows one with its parameters, defaults and formula."))
    return _capture(parts, False, width)


def render_entry(entry: Entry, *, color: bool = False, width: int = 100) -> str:
    """One loss or sampler: summary, formula, and a table of its parameters."""
    head = Text()
    head.append(printable(entry.name), style="bold magenta")
    head.append(f"  ({entry.kind}, MMDetection {', '.join(f'{v}.x' for v in entry.versions)})", style="dim")
    parts: list[RenderableType] = [head]
    if entry.summary:
        parts.append(_t(entry.summary))
    if entry.formula:
        parts.append(Text(f"\n  {printable(entry.formula)}", style="bold"))
    if entry.balances_itself:
        parts.append(Text("\nBalances positives and negatives itself: use it with a PseudoSampler.", style="dim"))
    if entry.accepts_unknown_keys:
        parts.append(Text("\nMMDetection silently ignores keys it does not know here.", style="dim"))
    table = Table(box=None, header_style="bold", padding=(0, 2, 0, 0))
    table.add_column("parameter", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("default", no_wrap=True)
    table.add_column("allowed")
    table.add_column("description")
    for p in entry.params.values():
        if p.internal:
            continue
        allowed = []
        if p.choices is not None:
            allowed.append(" | ".join(fmt_value(c) for c in p.choices))
        if p.range_text():
            allowed.append(p.range_text())
        if p.literal:
            allowed.append(f"exactly {fmt_value(p.default)}")
        if p.versions != entry.versions:
            allowed.append(f"only {', '.join(f'{v}.x' for v in p.versions)}")
        default = "required" if p.required else (fmt_value(p.default) if p.has_default else "")
        table.add_row(_t(p.name), _t(p.type.text), Text(default), _t("; ".join(allowed)), _t(p.description))
    parts += [Text(""), table]
    return _capture(parts, color, width)
