"""The file of loss module calls recorded in a training run (by the ``RecordLossInputs`` hook of
:mod:`losstune.mmengine`), written and read back: plain tensors, lists, tuples, dicts, numbers and
strings only, so that ``torch.load(FILE, weights_only=True)`` reads it.

The layout (``layout`` and ``version`` mark it)::

    {"layout": "losstune-loss-inputs", "version": 1,
     "versions": {"torch": ..., "mmengine": ..., "mmdet": ...},   # mmdet None where not imported
     "config": the run's config file (or None), "asked": iterations asked for,
     "configs": {module path: the loss's config as the run's config gives it (or None)},
     "iterations": [{"iteration": 1, "log": {term: value, ..., "loss": total},
                     "calls": [{"module": "bbox_head.loss_cls", "args": [...], "kwargs": {...},
                                "output": tensor, "term": "loss_cls" or None, "note": "",
                                "autocast": {"device": "cuda", "dtype": "float16"} under AMP, else None}]}],
     "seconds": time the hook spent recording, the file's writing excluded}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from losstune.engine import tensorfile
from losstune.engine.realhead.attribute import tensors
from losstune.errors import LosstuneError

LAYOUT = "losstune-loss-inputs"
VERSION = 1


class NotARecording(LosstuneError):
    """A file that is not a recording of loss inputs this losstune reads (or cannot be read at all)."""


@dataclass
class RecordedCall:
    """One call of a loss module in a training iteration: the module's path under the model
    (``bbox_head.loss_cls``), its arguments and output (plain, on the CPU), the term of the loss
    dict it fed (None: not known), and why it could not be recorded (``note``; then no arguments)."""

    iteration: int
    index: int
    module: str
    args: list[Any]
    kwargs: dict[str, Any]
    output: Any
    term: str | None = None
    note: str = ""
    autocast: dict[str, str] | None = None  # the autocast (AMP) the call was made under


@dataclass
class RecordedIteration:
    """A training iteration (1 is the run's first) and the loss dict as mmengine logged it."""

    iteration: int
    log: dict[str, float]
    calls: list[RecordedCall] = field(default_factory=list)


@dataclass
class Recording:
    """A recording read back: where it came from, each loss module's config, and the iterations."""

    path: str
    versions: dict[str, str | None]
    config: str | None
    asked: int
    configs: dict[str, dict[str, Any] | None]
    iterations: list[RecordedIteration]

    @property
    def calls(self) -> list[RecordedCall]:
        return [c for it in self.iterations for c in it.calls]


def write(path: str, data: dict[str, Any]) -> None:
    """Write the recording ``data`` (the layout above, without ``layout`` and ``version``) to
    ``path`` whole: a temporary file beside it, renamed over it; a write that fails (a full disk)
    is the ``OSError`` that says why, and leaves ``path`` as it was."""
    tensorfile.save(path, {"layout": LAYOUT, "version": VERSION, **data})


def _damaged(path: str, what: str) -> NotARecording:
    return NotARecording(f"`{path}` is a damaged recording of loss inputs: {what}; record it again")


def _call(path: str, iteration: int, index: int, raw: Any) -> RecordedCall:
    if not isinstance(raw, dict) or not isinstance(raw.get("module"), str):
        raise _damaged(path, f"call {index + 1} of iteration {iteration} has no module path")
    args, kwargs = raw.get("args"), raw.get("kwargs")
    note = raw.get("note") or ""
    if not note and (not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict)):
        raise _damaged(path, f"call {index + 1} of iteration {iteration} has no arguments")
    if not note and not tensors(raw.get("output")):
        raise _damaged(path, f"call {index + 1} of iteration {iteration} has no output tensor")
    term = raw.get("term")
    autocast = raw.get("autocast")
    if autocast is not None and not (
        isinstance(autocast, dict) and all(isinstance(autocast.get(k), str) for k in ("device", "dtype"))
    ):
        raise _damaged(
            path, f"call {index + 1} of iteration {iteration} has an autocast that is not a device and dtype"
        )
    return RecordedCall(
        iteration,
        index,
        raw["module"],
        list(args) if isinstance(args, (list, tuple)) else [],
        dict(kwargs) if isinstance(kwargs, dict) else {},
        raw.get("output"),
        term if isinstance(term, str) else None,
        str(note),
        {"device": autocast["device"], "dtype": autocast["dtype"]} if autocast is not None else None,
    )


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _log(path: str, iteration: int, log: Any) -> dict[str, float]:
    """An iteration's loss dict as logged: term names and numbers."""
    if not isinstance(log, dict) or not all(isinstance(k, str) and _number(v) for k, v in log.items()):
        raise _damaged(path, f"the loss dict of iteration {iteration} is not a dict of numbers")
    return {k: float(v) for k, v in log.items()}


def read(path: str) -> Recording:
    """The recording at ``path``; :class:`NotARecording` (naming the file, saying why) for a file
    that is missing, unreadable, cut short, not a recording, or of a later version."""
    try:
        data = tensorfile.load(path)
    except tensorfile.TensorFileError as e:
        if not e.opened:
            raise NotARecording(str(e)) from None
        raise NotARecording(f"`{path}` is not a recording of loss inputs: it {e.reason}") from None
    return parse(path, data)


def peek(path: str) -> Any:
    """What the torch file at ``path`` holds; None where it cannot be read as one."""
    try:
        return tensorfile.load(path)
    except tensorfile.TensorFileError:  # the caller decides what the file was meant to be
        return None


def is_recording(data: Any) -> bool:
    """Whether ``data`` (a loaded file) says it is a recording of loss inputs."""
    return isinstance(data, dict) and data.get("layout") == LAYOUT


def parse(path: str, data: Any) -> Recording:
    """The recording in ``data`` (loaded from ``path``); :class:`NotARecording` where it is none."""
    if not is_recording(data):
        raise NotARecording(
            f"`{path}` is not a recording of loss inputs (its `layout` is not {LAYOUT!r}); record one with the "
            "RecordLossInputs hook of losstune.mmengine, or give --loss KEY for a file of one loss's "
            "forward arguments by name"
        )
    version = data.get("version")
    if type(version) is not int or version != VERSION:  # True == 1, and is not the version written
        raise NotARecording(
            f"`{path}` is a recording of loss inputs of version {version!r}, and this losstune reads version "
            f"{VERSION}: replay it with the losstune that recorded it, or record it again"
        )
    raw_iterations = data.get("iterations")
    configs = data.get("configs")
    if not isinstance(raw_iterations, list) or not isinstance(configs, dict):
        raise _damaged(path, "it has no list of iterations or no loss configs")
    iterations = []
    for raw in raw_iterations:
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("iteration"), int)
            or isinstance(raw.get("iteration"), bool)
            or not isinstance(raw.get("calls"), list)
        ):
            raise _damaged(path, "an iteration has no number or no calls")
        it = RecordedIteration(raw["iteration"], _log(path, raw["iteration"], raw.get("log", {})))
        it.calls = [_call(path, it.iteration, i, c) for i, c in enumerate(raw["calls"])]
        iterations.append(it)
    versions = data.get("versions")
    config = data.get("config")
    asked = data.get("asked")
    return Recording(
        path,
        {str(k): (str(v) if v is not None else None) for k, v in versions.items()}
        if isinstance(versions, dict)
        else {},
        config if isinstance(config, str) else None,
        asked if type(asked) is int else len(iterations),
        {str(k): (v if isinstance(v, dict) else None) for k, v in configs.items()},
        iterations,
    )
