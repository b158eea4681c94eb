"""Output of ``eval CONFIG --inputs RECORDING``: each recorded loss module call of a training run with
the value it recorded and losstune's on the same inputs (and the value the config gives now, where
it changed since the run), then each term of the loss dict as logged and as replayed."""

from __future__ import annotations

import os
from typing import Any

from losstune.engine.replaycalls import RTOL, Change, Replay, ReplayedCall, ReplayedTerm
from losstune.render.eval import step_data, step_lines
from losstune.render.json import document, value
from losstune.render.palette import paint
from losstune.render.safe import printable
from losstune.render.wrap import hang
from losstune.words import count


def _rtol() -> str:
    return f"{RTOL:.0e}".replace("e-0", "e-")


def _fmt(v: float | None) -> str:
    return "?" if v is None else f"{v:.6g}"


def _setting(v: Any, given: bool) -> str:
    return repr(v) if given else "not set"


def _change_line(c: Change) -> str:
    return f"{c.key}.{c.param}: {_setting(c.recorded, c.recorded_set)} in the run, {_setting(c.now, c.now_set)} now"


def _iterations(replay: Replay) -> str:
    numbers = [it.iteration for it in replay.recording.iterations]
    if not numbers:
        return "no iteration"
    if numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 1:
        return f"iterations {numbers[0]}-{numbers[-1]}"
    return ("iteration " if len(numbers) == 1 else "iterations ") + ", ".join(str(n) for n in numbers)


def header(replay: Replay) -> str:
    """Where the calls come from and how they are run again."""
    rec = replay.recording
    versions = ", ".join(
        f"{name} {rec.versions[name]}" for name in ("mmdet", "mmengine", "torch") if rec.versions.get(name)
    ).replace("mmdet", "MMDetection")
    run = f" ({versions})" if versions else ""
    short = (
        f"; the run stopped after {count(len(rec.iterations), 'iteration')} of {rec.asked} asked"
        if len(rec.iterations) < rec.asked
        else ""
    )
    # The run may have been on another machine: its config is told apart from the one replayed by name.
    of = f" of {rec.config}" if rec.config and os.path.basename(rec.config) != os.path.basename(replay.config) else ""
    return (
        f"{count(len(rec.calls), 'loss module call')} of {_iterations(replay)} recorded in a training run{of}{run}{short}, "
        f"each run again by losstune's engine on its recorded inputs, as MMDetection {replay.version}.x computes it"
    )


def _verdict(call: ReplayedCall) -> str:
    if call.equal is True:
        return " (agrees)"
    if call.equal is False:
        return " (DIFFERS)"
    return ""


def call_line(call: ReplayedCall) -> str:
    """One call: where, which, the recorded value, losstune's, and the value with the config now."""
    term = f" → {call.term}" if call.term else ""
    line = f"{call.key}  {call.type}  call {call.of[0]} of {call.of[1]}{term}: recorded {_fmt(call.recorded)}"
    if call.value is not None:
        line += f", losstune {_fmt(call.value)}{_verdict(call)}"
    if call.now_value is not None:
        line += f"; with the config now {_fmt(call.now_value)}"
    if call.note:
        line += f"; {call.note}"
    return line


def term_line(term: ReplayedTerm, changed: bool) -> str:
    """One term of an iteration's loss dict: as logged, from losstune's values of its calls, and now."""
    line = f"{term.name} = {_fmt(term.logged)} logged"
    if term.value is not None:
        line += f"; losstune {_fmt(term.value)} from its {count(len(term.calls), 'call')}"
        if term.scale is not None:
            line += f" (the head's factor {_fmt(term.scale)} after them, as recorded)"
    if changed and term.now_value is not None:
        line += f"; with the config now {_fmt(term.now_value)}"
    return line


def summary(replay: Replay) -> str:
    """Whether losstune's values agree with the recorded ones."""
    compared = [c for c in replay.calls if c.equal is not None]
    differ = [c for c in compared if c.equal is False]
    skipped = len(replay.calls) - len(compared)
    rest = f"; {count(skipped, 'call')} not evaluated (said on each)" if skipped else ""
    if not compared:
        return f"no call was evaluated{rest}"
    if differ:
        return (
            f"{count(len(differ), 'call')} of {len(compared)} DIFFER from the recorded values (rtol {_rtol()}){rest}; "
            "please report this"
        )
    every = "the call" if len(compared) == 1 else f"all {len(compared)} calls"
    return f"losstune's values agree with the recorded ones on {every} (rtol {_rtol()}){rest}"


def render_text(replay: Replay, key: str | None, *, color: bool = False, width: int | None = None) -> str:
    """The calls (with their steps when one loss, ``key``, is asked for), iteration by iteration."""
    out = hang(printable(header(replay)), width, rest="  ")
    if replay.changes:
        out += ["", *hang("the config differs from the run's:", width)]
        for c in replay.changes:
            out += hang(printable(_change_line(c)), width, "  ", rest="    ")
    if key is not None and not replay.calls:
        out += ["", *hang(f"the recording has no call of {printable(key)}", width)]
    for it in replay.recording.iterations:
        calls = [c for c in replay.calls if c.iteration == it.iteration]
        if not calls:
            continue
        out += ["", paint(f"iteration {it.iteration}", "bold", color)]
        for call in calls:
            out += hang(printable(call_line(call)), width, "  ", rest="    ")
            if key is not None:
                trace = call.now or call.trace
                if call.now is not None:
                    out += hang("the steps with the config now:", width, "    ", rest="      ")
                if trace is not None:
                    out += step_lines(trace.steps, width, indent="    ")
        for term in (t for t in replay.terms if t.iteration == it.iteration):
            out += [
                paint(line, "bold", color)
                for line in hang(printable(term_line(term, replay.changed)), width, "  ", rest="    ")
            ]
        total = replay.totals.get(it.iteration)
        if total is not None:
            logged, now = total
            line = f"loss = {_fmt(logged)} logged" + (
                f"; with the config now {_fmt(now)}" if replay.changed and now is not None else ""
            )
            out += hang(line, width, "  ", rest="    ")
    out += ["", *hang(printable(summary(replay)), width)]
    return "\n".join(out) + "\n"


def _call_data(c: ReplayedCall) -> dict[str, Any]:
    return {
        "iteration": c.iteration,
        "index": c.index,
        "key": c.key,
        "type": c.type,
        "call": c.of[0],
        "calls": c.of[1],
        "term": c.term,
        "recorded": value(c.recorded),
        "losstune": value(c.value),
        "equal": c.equal,
        "now": value(c.now_value),
        "note": c.note,
        "steps": None if c.trace is None else step_data(c.trace.steps),
        "now_steps": None if c.now is None else step_data(c.now.steps),
    }


def render_json(replay: Replay, key: str | None) -> str:
    """The same as JSON: ``"kind": "eval"``, ``"path": "recording"``."""
    rec = replay.recording
    compared = [c.equal for c in replay.calls if c.equal is not None]
    data = {
        "path": "recording",
        "key": key,
        "inputs": rec.path,
        "mmdet_version": replay.version,
        "recording": {
            "versions": rec.versions,
            "config": rec.config,
            "asked": rec.asked,
            "iterations": [it.iteration for it in rec.iterations],
        },
        "changes": [
            {
                "key": c.key,
                "param": c.param,
                "recorded": value(c.recorded) if c.recorded_set else None,
                "now": value(c.now) if c.now_set else None,
            }
            for c in replay.changes
        ],
        "calls": [_call_data(c) for c in replay.calls],
        "terms": [
            {
                "iteration": t.iteration,
                "name": t.name,
                "logged": value(t.logged),
                "losstune": value(t.value),
                "now": value(t.now_value) if replay.changed else None,
                "scale": value(t.scale),
                "calls": t.calls,
            }
            for t in replay.terms
        ],
        "totals": [
            {"iteration": n, "logged": value(logged), "now": value(now) if replay.changed else None}
            for n, (logged, now) in replay.totals.items()
        ],
        "equal": all(compared) if compared else None,
    }
    return document("eval", data)
