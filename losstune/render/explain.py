"""Output of ``losstune explain``: every loss with its parameters, where each is set, its sampler
and its steps on sample tensors; as terminal text (rich) or JSON."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from losstune.render.json import diagnostic, document, origin, value
from losstune.render.paths import Paths, shorter_from, shown
from losstune.render.safe import printable
from losstune.report import ExplainReport, LossView, Param, SamplerView
from losstune.schema.scopes import project_name
from losstune.words import count

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from losstune.render.param_table import Row

# rich (and the cells built with it) is imported by the text renderer alone: JSON needs none of it.


def _rows(params: list[Param], paths: Paths) -> list[Row]:
    from rich.text import Text

    from losstune.render.param_table import Row
    from losstune.render.rich_text import fmt_origin, fmt_value

    rows = []
    for p in params:
        meaning = p.description
        if p.unknown:
            meaning = "unknown parameter" + (f": did you mean `{p.did_you_mean}`?" if p.did_you_mean else "")
        origin = Text("default", style="dim") if p.default else fmt_origin(p.origin, paths, whole=True)
        rows.append(Row(printable(p.name), fmt_value(p.value), origin, printable(meaning), p.default, p.unknown))
    return rows


def _indented(text: Text, by: int) -> RenderableType:
    """``text``, its wrapped lines under its first."""
    from rich.padding import Padding

    return Padding(text, (0, 0, 0, by), expand=False)


def _sampler_params(loss: LossView) -> list[Param]:
    """The parameters of the sampler a loss's table shows (none for the implicit one)."""
    return loss.sampler.params if loss.sampler is not None and not loss.sampler.default else []


_SAMPLER_INDENT = 4  # the sampler's table is under its name, itself under the loss's table


def _loss_block(loss: LossView, paths: Paths, width: int | None, shorten: bool) -> RenderableType:
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from losstune.render import param_table
    from losstune.render.rich_text import t, type_text, where

    title = Text()
    title.append(printable(loss.key), style="bold")
    title.append("  ")
    type_text(title, loss.type)
    placed: list[RenderableType] = []
    if loss.origin is not None:
        placed.append(_indented(Text(f"set at {where(loss.origin.span, paths=paths)}", style="dim"), 2))
    rows = _rows(loss.params, paths)
    table = (
        param_table.render(rows, width, shorten)
        if rows
        else _indented(Text("(no parameters set)", style="dim"), param_table.INDENT)
    )
    sampler = Text("  sampler: ", style="bold")
    under: list[RenderableType] = []
    if loss.sampler is None and loss.sampler_note:
        sampler.append(f"none  ({printable(loss.sampler_note)})", style="dim")
    elif loss.sampler is None:
        sampler.append("none configured", style="dim")
    elif loss.sampler.default:
        type_text(sampler, loss.sampler.type, style="magenta")
        sampler.append("  (default: no sampler in this head's train_cfg)", style="dim")
    else:
        type_text(sampler, loss.sampler.type, style="magenta")
        key = Text(printable(loss.sampler.key or ""), style="dim")
        if loss.sampler.origin is not None:
            key.append(f"  set at {where(loss.sampler.origin.span, paths=paths)}", style="dim")
        under.append(_indented(key, 4))
        sampler_rows = _rows(_sampler_params(loss), paths)
        if sampler_rows:
            under.append(param_table.render(sampler_rows, width, shorten, indent=_SAMPLER_INDENT))
    parts: list[RenderableType] = [title, *placed, table, sampler, *under]
    if loss.note:
        parts.append(_indented(Text(printable(loss.note), style="yellow"), 2))
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
        parts.append(Padding(grid, (0, 0, 0, 3), expand=False))
    elif loss.steps_note:
        # a grid, so a long reason wraps under itself
        note = Table.grid(padding=(0, 1))
        note.add_column(no_wrap=True)
        note.add_column(overflow="fold")
        note.add_row(Text("steps:", style="bold"), Text(f"not evaluated: {printable(loss.steps_note)}", style="dim"))
        parts.append(Padding(note, (0, 0, 0, 2), expand=False))
    return Group(*parts, Text(""))


# which path made the numbers of a term computed without MMDetection
MODEL = "losstune's head model"
MODEL_HOW = "MMDetection's loss code modelled, on synthetic inputs; --through-head runs MMDetection's own head"
_PATHS = {"model": MODEL}


def _share(v: Any, total: float | None) -> str:
    return f"{v / total:.1%}" if isinstance(v, float) and total else "–"


def _number(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else "not one number"


def _summary_block(report: ExplainReport) -> RenderableType:
    """The loss terms of the config on the sample batch: name as the log prints it, value, share
    of the total, the loss key it comes from, and what computed it."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    total = report.total
    title = "loss terms on the sample batch, as the training log names them"
    title += f" (total {total:.6g}):" if total is not None else ":"
    grid = Table.grid(padding=(0, 2))
    for justify in ("left", "right", "right", "left", "left"):
        grid.add_column(justify=justify, overflow="fold")
    grid.add_row(*(Text(h, style="dim") for h in ("term", "value", "share", "loss", "computed by")))
    for t in report.terms:
        grid.add_row(
            Text(printable(t.name), style="bold"),
            Text(_number(t.value)),
            Text(_share(t.value, total)),
            Text(printable(t.key)),
            Text(printable(_PATHS.get(t.path, t.path)), style="dim"),
        )
    parts: list[RenderableType] = [Text(title, style="bold"), Padding(grid, (0, 0, 0, 2), expand=False)]
    made = [t for t in report.terms if t.how]  # terms of the head's own code: how each arises
    if made:
        # a grid, so a long sentence wraps under itself
        how = Table.grid(padding=(0, 1))
        how.add_column(no_wrap=True)
        how.add_column(overflow="fold")
        for t in made:
            how.add_row(Text(f"{printable(t.name)}:", style="dim"), Text(printable(t.how), style="dim"))
        parts.append(Padding(how, (0, 0, 0, 2), expand=False))
    if any(t.path == "model" for t in report.terms):
        parts.append(Padding(Text(printable(f"numbers: {MODEL} ({MODEL_HOW})"), style="dim"), (0, 0, 0, 2)))
    for phase in dict.fromkeys(loss.phase for loss in report.losses if loss.phase):
        parts.append(Padding(Text(printable(f"phase: {phase}"), style="dim"), (0, 0, 0, 2)))
    return Group(*parts, Text(""))


_TORCH_HINT = "(pip install torch to also see each loss evaluated step by step on sample tensors)\n"

# Wide enough for any line of a report: the width of a console that shortens nothing.
_UNBOUNDED = 100_000


def _version_line(report: ExplainReport) -> str:
    how = {
        "--mmdet-version": f"--mmdet-version {report.version}",
        "default": "the default: neither train_dataloader nor data=dict(...) is set",
        "data": "detected: data=dict(...) is set",
        "lr_config": "detected: optimizer and lr_config are set",
    }.get(report.version_from, f"detected: {report.version_from} is set")
    return f"MMDetection {report.version}.x ({how})"


def _scope_line(report: ExplainReport) -> str:
    if report.scope is None:
        return "registry: unknown (default_scope is not a string)"
    owner = f"{project_name(report.scope)}'s"
    if report.scope_key is not None:
        return f"registry: {owner} (default_scope={report.scope!r})"
    return (
        f"registry: {owner} (" + ("2.x has no scopes" if report.version == 2 else "by default: no default_scope") + ")"
    )


def _choose_paths(report: ExplainReport, width: int | None, shorten: bool) -> Paths:
    """The working directory's paths, unless the config's folder gives shorter ones with which the
    tables lay out better at ``width``, or fewer paths wrap."""
    here = Paths()
    folder = os.path.dirname(report.config)
    if width is None or not shorter_from(folder, report.files):
        return here
    there = Paths(folder)
    return there if _layout_cost(report, there, width, shorten) < _layout_cost(report, here, width, shorten) else here


def _layout_cost(report: ExplainReport, paths: Paths, width: int, shorten: bool) -> tuple[int, int]:
    """How well the report's tables lay out at ``width`` with these paths (the sum of their
    layouts' ranks), and by how many columns in all its paths are too long for their lines."""
    from losstune.render.param_table import INDENT, cost
    from losstune.render.rich_text import where

    tables = [(loss.params, INDENT) for loss in report.losses]
    tables += [(_sampler_params(loss), _SAMPLER_INDENT) for loss in report.losses]
    costs = [cost(_rows(params, paths), width, shorten, indent) for params, indent in tables if params]
    lines = [f"  set at {where(loss.origin.span, paths=paths)}" for loss in report.losses if loss.origin]
    lines += [
        f"    {loss.sampler.key}  set at {where(loss.sampler.origin.span, paths=paths)}"
        for loss in report.losses
        if loss.sampler is not None and loss.sampler.origin is not None
    ]
    over = sum(max(0, len(line) - width) for line in lines)
    return sum(rank for rank, _ in costs), sum(wrap for _, wrap in costs) + over


def render_text(
    report: ExplainReport,
    *,
    color: bool = False,
    width: int | None = 100,
    shorten: bool = False,
    torch_hint: bool = False,
) -> str:
    """The explain report as terminal text, laid out for ``width`` columns (``None``: as wide as
    its lines are); with ``shorten``, a meaning that has no room is cut with an ellipsis (nothing
    else ever is); with ``torch_hint``, a last line saying how to also see each loss step by step."""
    from rich.text import Text

    from losstune.render.rich_text import capture

    paths = _choose_paths(report, width, shorten)
    head = Text()
    head.append(printable(shown(report.config)), style="bold")
    counts = f"{count(len(report.files), 'file', 'files')}, {count(len(report.losses), 'loss', 'losses')}"
    head.append(f"  ({counts})", style="dim")
    where = (
        f"relative to the config's folder, {printable(os.path.join(shown(paths.base), ''))}"
        if paths.base is not None
        else "relative to the working directory"
    )
    lines = [_version_line(report), _scope_line(report), f"paths: {where}"]
    parts: list[RenderableType] = [head, *(_indented(Text(line, style="dim"), 2) for line in lines), Text("")]
    parts += [_loss_block(loss, paths, width, shorten) for loss in report.losses]
    if report.terms:
        parts.append(_summary_block(report))
    if not report.losses:
        parts.append(Text("No loss found in this config.", style="yellow"))
    return capture(parts, color, width or _UNBOUNDED) + (_TORCH_HINT if torch_hint else "")


def _params(params: list[Param]) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "value": value(p.value),
            "origin": origin(p.origin),
            "is_default": p.default,
            "description": p.description,
            "unknown": p.unknown,
            "did_you_mean": p.did_you_mean,
        }
        for p in params
    ]


def _sampler(s: SamplerView | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "key": s.key,
        "type": s.type,
        "is_default": s.default,
        "origin": origin(s.origin),
        "params": _params(s.params),
    }


def render_json(report: ExplainReport, extra: dict[str, Any] | None = None) -> str:
    """The explain report as JSON text (with ``extra``'s keys after its own)."""
    return document(
        "explain",
        {
            "config": shown(report.config),
            "files": [shown(f) for f in report.files],
            "mmdet_version": {"major": report.version, "from": report.version_from},
            "scope": {"registry": report.scope, "set_by": report.scope_key},
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
                | ({"phase": loss.phase} if loss.phase else {})
                | ({"computed_by_head": loss.by_head} if loss.by_head else {})
                | ({"sampler_note": loss.sampler_note} if loss.sampler_note else {})
                for loss in report.losses
            ],
            "terms": [
                {
                    "name": t.name,
                    "value": value(t.value),
                    "share": (t.value / report.total) if isinstance(t.value, float) and report.total else None,
                    "key": t.key,
                    "path": t.path,
                }
                | ({"how": t.how} if t.how else {})
                for t in report.terms
            ],
            "total": value(report.total),
            "diagnostics": [diagnostic(d) for d in report.diagnostics],
        }
        | (extra or {}),
    )
