"""Output of ``losstune explain``: every loss with its parameters, where each is set, its sampler
and its steps on sample tensors; as terminal text (rich) or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from losstune.render.json import diagnostic, document, origin, value
from losstune.render.paths import shown
from losstune.render.safe import printable
from losstune.report import ExplainReport, LossView, Param, SamplerView

if TYPE_CHECKING:
    from rich.console import RenderableType

# rich (and the cells built with it) is imported by the text renderer alone: JSON needs none of it.


def _loss_block(loss: LossView, width: int) -> RenderableType:
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from losstune.render.rich_text import fmt_origin, fmt_value, t, type_text, where

    title = Text()
    title.append(printable(loss.key), style="bold")
    title.append("  ")
    type_text(title, loss.type)
    if loss.origin is not None:
        title.append(f"\n  set at {where(loss.origin.span)}", style="dim")
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2, 0, 2))
    # The first three columns keep their width; the meaning takes what is left, cut to one line.
    name_w = max([len("parameter"), *(len(printable(p.name)) for p in loss.params)])
    value_w = min(48, max([len("value"), *(len(fmt_value(p.value)) for p in loss.params)]))
    origin_w = max([len("set at"), *(len(where(p.origin.span)) if p.origin else 7 for p in loss.params)])
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
                t(p.name, style="dim"),
                Text(fmt_value(p.value), style="dim"),
                Text("default", style="dim"),
            ]
        else:
            row = [t(p.name), Text(fmt_value(p.value)), fmt_origin(p.origin)]
        table.add_row(*row, *([t(p.description)] if meaning else []))
    if not loss.params:
        table.add_row(Text("(no parameters set)", style="dim"), "", "", *([""] if meaning else []))
    described = [p for p in loss.params if p.description]
    legend: Table | None = None
    if not meaning and described and width - name_w - 6 >= 16:
        # no room beside long paths: the meanings go under the table, one line each
        legend = Table(show_header=True, header_style="bold", box=None, padding=(0, 2, 0, 2))
        legend.add_column("parameter", no_wrap=True, min_width=name_w)
        legend.add_column("meaning", style="dim", no_wrap=True, overflow="ellipsis", max_width=width - name_w - 6)
        for p in described:
            legend.add_row(t(p.name, style="dim" if p.default else ""), t(p.description))
    sampler = Text("  sampler: ", style="bold")
    if loss.sampler is None:
        sampler.append("none configured", style="dim")
    elif loss.sampler.default:
        type_text(sampler, loss.sampler.type, style="magenta")
        sampler.append("  (default: no sampler in this head's train_cfg)", style="dim")
    else:
        type_text(sampler, loss.sampler.type, style="magenta")
        sampler.append(f"\n    {printable(loss.sampler.key or '')}", style="dim")
        if loss.sampler.origin is not None:
            sampler.append(f"  set at {where(loss.sampler.origin.span)}", style="dim")
        args = ", ".join(f"{printable(p.name)}={fmt_value(p.value)}" for p in loss.sampler.params)
        if args:
            sampler.append(f"\n    {args}")
    parts: list[RenderableType] = [title, table, *([legend] if legend is not None else []), sampler]
    if loss.note:
        parts.append(Padding(Text(printable(loss.note), style="yellow"), (0, 0, 0, 2)))
    if loss.steps:
        parts.append(Text("  on sample tensors:", style="bold"))
        # a grid, so a long formula wraps under itself rather than under the step's number
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=3, no_wrap=True)
        grid.add_column(style="bold", no_wrap=True, min_width=11)
        grid.add_column(overflow="fold")
        for i, st in enumerate(loss.steps, start=1):
            text = t(st.description)
            if st.plain:
                text.append(f"\n{printable(st.plain)}", style="dim")
            grid.add_row(Text(f"   {i}."[-3:] if i < 10 else f"{i}.", style="bold"), t(st.name), text)
        parts.append(Padding(grid, (0, 0, 0, 3)))
    elif loss.steps_note:
        # a grid, so a long reason wraps under itself
        note = Table.grid(padding=(0, 1))
        note.add_column(no_wrap=True)
        note.add_column(overflow="fold")
        note.add_row(Text("steps:", style="bold"), Text(f"not evaluated: {printable(loss.steps_note)}", style="dim"))
        parts.append(Padding(note, (0, 0, 0, 2)))
    return Group(*parts, Text(""))


_TORCH_HINT = "(pip install torch to also see each loss evaluated step by step on sample tensors)\n"


def render_text(report: ExplainReport, *, color: bool = False, width: int = 100, torch_hint: bool = False) -> str:
    """The explain report as terminal text; with ``torch_hint``, a last line saying how to also
    see each loss step by step."""
    from rich.text import Text

    from losstune.render.rich_text import capture

    head = Text()
    head.append(printable(shown(report.config)), style="bold")
    n = len(report.files)
    head.append(f"  ({n} file{'s' if n != 1 else ''}, {len(report.losses)} losses)", style="dim")
    parts: list[RenderableType] = [head, Text("")]
    parts += [_loss_block(loss, width) for loss in report.losses]
    if not report.losses:
        parts.append(Text("No loss found in this config.", style="yellow"))
    return capture(parts, color, width) + (_TORCH_HINT if torch_hint else "")


def _params(params: list[Param]) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "value": value(p.value),
            "origin": origin(p.origin),
            "default": p.default,
            "description": p.description,
        }
        for p in params
    ]


def _sampler(s: SamplerView | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "key": s.key,
        "type": s.type,
        "default": s.default,
        "origin": origin(s.origin),
        "params": _params(s.params),
    }


def render_json(report: ExplainReport) -> str:
    """The explain report as JSON text."""
    return document(
        "explain",
        {
            "config": shown(report.config),
            "files": [shown(f) for f in report.files],
            "losses": [
                {
                    "key": loss.key,
                    "type": loss.type,
                    "head": loss.head,
                    "origin": origin(loss.origin),
                    "params": _params(loss.params),
                    "sampler": _sampler(loss.sampler),
                    "steps": None
                    if loss.steps is None
                    else [
                        {"name": s.name, "description": s.description, "plain": s.plain, **value(s.summary)}
                        for s in loss.steps
                    ],
                    "steps_note": loss.steps_note,
                    "note": loss.note,
                }
                for loss in report.losses
            ],
            "diagnostics": [diagnostic(d) for d in report.diagnostics],
        },
    )
