"""Output of ``losstune eval``: the steps of one loss, with their numbers."""

from __future__ import annotations

import json
from typing import Any

from losstune.engine.session import EvalResult
from losstune.engine.trace import terms
from losstune.render.json import document, value
from losstune.render.palette import paint
from losstune.render.safe import printable


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _value(summary: dict[str, Any]) -> str:
    if "value" in summary:
        return json.dumps(summary["value"])
    if summary.get("numel") == 0:
        return "empty"
    if summary["shape"] == []:
        return _fmt(summary["mean"])
    return f"min {_fmt(summary['min'])}, mean {_fmt(summary['mean'])}, max {_fmt(summary['max'])}, sum {_fmt(summary['sum'])}"


def render_text(result: EvalResult, *, color: bool = False) -> str:
    """One line per step, then the loss."""
    head = f"{paint(printable(result.loss.key), 'bold', color)}  {printable(result.loss.type)}"
    out = [f"{head}  (as MMDetection {result.version}.x computes it; inputs: {printable(result.inputs)})", ""]
    for i, step in enumerate(result.trace.steps, start=1):
        summary = step.summary()
        shape = "x".join(str(d) for d in summary.get("shape", [])) or ("scalar" if "shape" in summary else "")
        out.append(f"  {i}. {step.name:<11} {printable(step.description)}")
        if "value" in summary and isinstance(summary["value"], dict):
            continue  # the sampling's counts: its description states them (JSON has them as numbers)
        out.append(f"     {'':<11} {shape + '  ' if shape else ''}{_value(summary)}")
    out.append("")
    for name, loss in terms(result.trace.loss).items():
        value = loss.item() if hasattr(loss, "numel") and loss.numel() == 1 else loss
        out.append(paint(f"{printable(name)} = {_fmt(value) if isinstance(value, float) else value}", "bold", color))
    if result.check is not None:
        out.append(printable(_check_line(result)))
    return "\n".join(out) + "\n"


def _check_line(result: EvalResult) -> str:
    check = result.check
    assert check is not None
    if check.equal is True:
        return f"checked: equal to {check.reference} called on the same inputs"
    if check.equal is False:
        return f"CHECK FAILED: {check.reference} called on the same inputs differs: {check.detail}; please report this"
    return f"not checked against MMDetection: {check.detail}"


def _plain(loss: Any) -> Any:
    if isinstance(loss, dict):
        return {k: _plain(v) for k, v in loss.items()}
    return loss.tolist() if hasattr(loss, "tolist") else loss


def render_json(result: EvalResult) -> str:
    """The same as JSON (``"kind": "eval"``, schema version 1)."""
    loss = result.trace.loss
    data = {
        "key": result.loss.key,
        "type": result.loss.type,
        "mmdet_version": result.version,
        "inputs": result.inputs,
        "steps": [{"name": s.name, "description": s.description, **value(s.summary())} for s in result.trace.steps],
        "loss": value(_plain(loss)),
        "check": None
        if result.check is None
        else {"reference": result.check.reference, "equal": result.check.equal, "detail": result.check.detail},
    }
    return document("eval", data)
