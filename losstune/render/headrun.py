"""Output of ``--through-head``: each call of a loss module as MMDetection's head made it, with
losstune's five steps on its inputs, then the loss dict as the head returns it and mmengine logs it."""

from __future__ import annotations

from typing import Any

from losstune.engine.realhead.magnitude import LIMIT
from losstune.engine.realhead.run import HeadRun, LogTerm, LossCall
from losstune.render.eval import step_data, step_lines
from losstune.render.json import value
from losstune.render.palette import paint
from losstune.render.safe import printable
from losstune.render.wrap import hang
from losstune.words import count


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def path_line(run: HeadRun) -> str:
    """Which path produced the numbers."""
    ops = "; mmcv's compiled operators absent, none was called" if run.stand_in else ""
    return f"numbers: {run.describe()}, run on the batch (mmcv {run.mmcv}{ops})"


def _check(call: LossCall) -> str:
    if call.equal is True:
        return "losstune's steps give the module's output"
    if call.equal is False:
        return "STEPS DIFFER from the module's output; please report this"
    return call.note


def _term_line(term: LogTerm, calls: list[LossCall], own: str | None = None) -> str:
    """A term of the loss dict, with the calls it is made from (``own``: the head's method that
    computes the terms where it calls no loss module)."""
    made = ", ".join(dict.fromkeys(calls[i].key for i in term.calls))
    by = f"computed by {own}" if own else "computed by the head"
    how = f"{count(len(term.calls), 'call')} of {made}" if term.calls else f"no loss module call ({by})"
    if term.scale is not None:
        how += f"; the head scales their sum by {_fmt(term.scale)} after they return"
    return f"{printable(term.name)} = {_fmt(term.value)}  ({printable(how)})"


def _own(run: HeadRun, term: str) -> str | None:
    """The head's method that computes ``term``, where the head calls no loss module for it."""
    return f"{run.head_type}.{run.own_method}" if run.own_method is not None and term in run.own_terms else None


def render_text(run: HeadRun, key: str | None, *, color: bool = False, width: int | None = None) -> str:
    """The calls of the loss at ``key`` (every call when None), then the whole loss dict."""
    calls = [c for c in run.calls if key is None or c.key == key]
    out: list[str] = []
    if key is not None:
        kind = calls[0].type if calls else ""
        header = f"{key}  {kind}  (through {run.describe()}; inputs: {run.batch.describe()})"
        lines = hang(printable(header), width, rest="  ")
        lines[0] = paint(printable(key), "bold", color) + lines[0][len(printable(key)) :]
        out += [*lines, ""]
        own = _own(run, key.rsplit(".", 1)[-1])
        if not calls and own is not None:
            text = f"{own} computes {key} in its own code ({count(len(run.own), 'call')}, one per image), calling no loss module: its term is in the loss dict below"
            out += hang(printable(text), width, "  ", rest="  ")
            out.append("")
        elif not calls:
            out += hang(f"the head made no call of {printable(key)} on this batch", width, "  ", rest="  ")
            out.append("")
    for call in calls:
        term = f" → {call.term}" if call.term else ""
        out += hang(
            printable(f"{call.key} {call.type}, call {call.index + 1} of the head's {len(run.calls)}{term}"),
            width,
            rest="  ",
        )
        if call.trace is not None:
            out += step_lines(call.trace.steps, width)
        out += hang(printable(f"output = {_fmt(call.output)}; {_check(call)}"), width, "  ", rest="    ")
        out.append("")
    return "\n".join(out) + "\n" + render_terms(run, color=color, width=width)


def render_terms(run: HeadRun, *, color: bool = False, width: int | None = None) -> str:
    """The loss dict as the head returns it and mmengine logs it, and which path made the numbers."""
    out = hang(
        "loss dict, as MMDetection returns it and mmengine logs it (a list of per-level terms summed):",
        width,
        rest="  ",
    )
    for logged in run.terms:
        out += [
            paint(line, "bold", color)
            for line in hang(_term_line(logged, run.calls, _own(run, logged.name)), width, "  ", rest="    ")
        ]
    out += hang(f"loss = {_fmt(run.total)}  (the sum of the terms named loss*)", width, "  ", rest="    ")
    if run.phase:
        out += hang(printable(f"phase: {run.phase}"), width, rest="  ")
    out += hang(printable(path_line(run)), width, rest="  ")
    if run.not_loaded:
        named = "; ".join(c.describe() for c in run.not_loaded)
        out += hang(
            printable(f"pretrained weights not loaded (the model is freshly initialised): {named}"), width, rest="  "
        )
    if run.one_process:
        out += hang(printable(run.one_process), width, rest="  ")
    if run.features.blown_up:
        out += hang(printable(features_line(run)), width, rest="  ")
    if run.saved is not None:
        out += hang(printable(f"batch and head weights written to {run.saved}"), width, rest="  ")
    return "\n".join(out) + "\n"


def features_line(run: HeadRun) -> str:
    """The feature maps the heads received, where they are far beyond a trained network's: how large,
    why, and what to do."""
    f = run.features
    return (
        f"FEATURE MAPS BLOWN UP: the heads received maps of mean |x| {f.finest_mean_abs:.3g} at the finest level "
        f"(a normalised network's are below {LIMIT:g}): {f.why()}; the terms are right for this batch, but not "
        f"a training run's: {f.remedy()}"
    )


def _features_data(run: HeadRun) -> dict[str, Any]:
    f = run.features
    return {
        "mean_abs": [value(v) for v in f.mean_abs],
        "finest": f.finest,
        "finest_mean_abs": value(f.finest_mean_abs),
        "limit": LIMIT,
        "blown_up": f.blown_up,
        "frozen_norms": f.frozen_norms,
        "why": f.why() or None,
        "options": f.options,
        "normalised_mean_abs": value(f.normalised),
        "remedy": f.remedy() or None,
    }


def run_data(run: HeadRun, key: str | None = None) -> dict[str, Any]:
    """The run as JSON data: every call (or those of ``key``) with its steps and the log name of
    the term it feeds, and every term of the loss dict with its log name and value."""
    return {
        "path": "head",
        "numbers": run.describe(),
        "detector": run.detector,
        "head": {"key": run.head_key, "type": run.head_type},
        "mmdet": run.mmdet,
        "mmcv": {"version": run.mmcv, "compiled_ops": not run.stand_in},
        "inputs": run.batch.describe(),
        "batch": {"seed": run.batch.seed, "images": run.batch.images, "size": run.batch.size, "boxes": run.batch.boxes},
        "calls": [
            {
                "index": c.index,
                "key": c.key,
                "type": c.type,
                "term": c.term,
                "output": value(c.output),
                "equal": c.equal,
                "note": c.note,
                "steps": None if c.trace is None else step_data(c.trace.steps),
            }
            for c in run.calls
            if key is None or c.key == key
        ],
        "losses": [
            {"name": t.name, "value": value(t.value), "calls": t.calls, "scale": value(t.scale)} for t in run.terms
        ],
        "loss": value(run.total),
        "saved": run.saved,
        "not_loaded": [{"key": c.key, "checkpoint": c.checkpoint} for c in run.not_loaded],
        "features": _features_data(run),
    } | (
        ({"phase": {"epoch": run.batch.epoch, "description": run.phase}} if run.phase else {})
        | ({"one_process": run.one_process} if run.one_process else {})
    )
