"""Output of ``losstune eval``: the steps of one loss, with their numbers."""

from __future__ import annotations

from typing import Any

from losstune import words
from losstune.engine.phases import At
from losstune.engine.session import EvalResult, logged_terms
from losstune.engine.trace import Step, summarize, terms
from losstune.render.explain import MODEL, MODEL_HOW
from losstune.render.json import document, value
from losstune.render.palette import paint
from losstune.render.safe import printable
from losstune.render.wrap import GLUE, hang


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _value(summary: dict[str, Any]) -> str:
    """A value as a line: a number, or a tensor's shape and statistics (never a raw dict or tensor)."""
    if "value" in summary:
        v = summary["value"]
        if isinstance(v, dict):
            return ", ".join(f"{k}{GLUE}{_fmt(x)}" for k, x in v.items())
        return _fmt(v)
    shape = words.shape(summary["shape"])
    if summary.get("numel") == 0:
        return f"{shape}  empty"
    if summary["shape"] == []:
        return f"{shape}  {_fmt(summary['mean'])}"
    stats = ", ".join(f"{k}{GLUE}{_fmt(summary[k])}" for k in ("min", "mean", "max", "sum"))
    return f"{shape}  {stats}"


def _term(value: Any) -> str:
    """A term of the final loss: its number, or the statistics of a loss kept element-wise."""
    if hasattr(value, "numel") and value.numel() == 1:
        return _fmt(float(value.item()))
    return _value(summarize(value))


def step_lines(steps: list[Step], width: int | None, indent: str = "  ") -> list[str]:
    """One paragraph per step: its number, name and description, then its numbers under them."""
    out = []
    for i, step in enumerate(steps, start=1):
        first = f"{indent}{i}. {step.name:<11} "
        out += hang(printable(step.description), width, first)
        summary = step.summary()
        if "value" in summary and isinstance(summary["value"], dict):
            continue  # the sampling's counts: its description states them (JSON has them as numbers)
        out += hang(_value(summary), width, " " * len(first))
    return out


def step_data(steps: list[Step]) -> list[dict[str, Any]]:
    """The steps as JSON data."""
    return [{"name": s.name, "description": s.description, **value(s.summary())} for s in steps]


def render_text(result: EvalResult, *, color: bool = False, width: int | None = None) -> str:
    """One paragraph per step, then the loss; every line wrapped at ``width`` (``None``: unbounded)."""
    key = printable(result.loss.key)
    header = f"{key}  {printable(result.loss.type)}  (as MMDetection {result.version}.x computes it; "
    header += f"inputs: {printable(result.inputs)})"
    lines = hang(header, width, rest="  ")
    lines[0] = paint(key, "bold", color) + lines[0][len(key) :]
    out = [*lines, "", *step_lines(result.trace.steps, width), ""]
    logged = logged_terms(result)
    for name, loss in logged.items():
        term = f"{printable(name)} = {_term(loss)}"
        out += [paint(line, "bold", color) for line in hang(term, width, rest="  ")]
    for own in result.own_terms:  # the head's terms its own code makes of no call of this loss
        if own.name not in logged:
            line = f"{own.name} = {_fmt(own.value)}  (the head's other term on the same image: {own.how})"
            out += hang(printable(line), width, rest="  ")
    for note in result.notes:
        out += hang(printable(f"note: {note}"), width, rest="  ")
    if result.check is not None:
        out += hang(printable(_check_line(result)), width, rest="  ")
    if result.phase is not None:
        out += hang(printable(f"phase: {result.phase.describe()}"), width, rest="  ")
    out += hang(printable(path_line(result)), width, rest="  ")
    return "\n".join(out) + "\n"


def path_line(result: EvalResult) -> str:
    """Which path produced the numbers."""
    if not result.log_name:
        return "numbers: losstune's loss engine on the inputs read (no head involved)"
    if result.family is None:
        return f"numbers: {MODEL}, which does not model this head and feeds it as an anchor head ({MODEL_HOW})"
    return f"numbers: {MODEL} of {result.family} ({MODEL_HOW})"


def phase_data(at: At) -> dict[str, Any]:
    """The phase modelled as JSON data."""
    return {"name": at.phase.name, "epoch": at.epoch, "description": at.text, "others": dict(at.others)}


def _check_line(result: EvalResult) -> str:
    check = result.check
    assert check is not None
    if check.equal is True:
        steps = result.trace.steps
        module_steps = next((i for i, s in enumerate(steps) if s.name == "head"), len(steps))
        what = f"the module's result (step {module_steps})" if module_steps < len(steps) else "equal to"
        if what == "equal to":
            return f"checked: equal to {check.reference} called on the same inputs"
        return f"checked: {what} is equal to {check.reference} called on the same inputs"
    if check.equal is False:
        return f"CHECK FAILED: {check.reference} called on the same inputs differs: {check.detail}; please report this"
    return f"not checked against MMDetection: {check.detail}"


def _plain(loss: Any) -> Any:
    if isinstance(loss, tuple):  # a pair of terms (AssociativeEmbeddingLoss's pull and push)
        loss = terms(loss)
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
        "path": "model",
        "inputs": result.inputs,
        "steps": step_data(result.trace.steps),
        "loss": value(_plain(loss)),
        "log": {name: value(_plain(v)) for name, v in logged_terms(result).items()},
        "head": result.family,
        "check": None
        if result.check is None
        else {"reference": result.check.reference, "equal": result.check.equal, "detail": result.check.detail},
        "notes": list(result.notes),
    }
    if result.phase is not None:  # a head whose losses follow the epoch
        data["phase"] = phase_data(result.phase)
    if result.own_terms:  # a head whose log's terms are its own code: every one, and the loss entering it
        data["head_terms"] = [
            {"name": t.name, "value": value(t.value), "loss": t.loss, "how": t.how} for t in result.own_terms
        ]
    return document("eval", data)
