"""``eval CONFIG --inputs RECORDING``: the loss module calls recorded in a training run, each run
again by losstune's engine on exactly its recorded inputs, with the five steps.

Each call is evaluated with the loss's config as the run had it (the recording keeps it), and the
result is held against the output the run recorded: that says losstune computes what MMDetection
computed. Where the config (read statically, as always) now gives the loss other parameters, the
call is evaluated with those too: what the new numbers give on the real inputs. Then each term of
the loss dict, as the run logged it and as the calls that fed it give it now (the factor the head
applied after the calls returned kept as recorded)."""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

from losstune import keypath
from losstune.config import LoadedConfig
from losstune.engine.evaluation import evaluate
from losstune.engine.inputs import require_device
from losstune.engine.realhead.attribute import logged_value
from losstune.engine.recording import RecordedCall, Recording
from losstune.engine.session import as_built, head_of, loss_impl
from losstune.engine.trace import Step, Trace, agrees
from losstune.loader.envmask import EnvMask
from losstune.locate import LossNode
from losstune.schema.catalogue import bare_type
from losstune.schema.mmdet_version import detect_version

RTOL = 1e-4
_UNSET = object()


@dataclass(frozen=True)
class Change:
    """A parameter of a loss whose value in the config now is not the run's (``None`` text: unset)."""

    key: str
    param: str
    recorded: Any
    now: Any
    recorded_set: bool = True
    now_set: bool = True


@dataclass
class ReplayedCall:
    """One recorded call run again: ``trace`` with the run's config (``equal``: whether it gives the
    recorded output), ``now`` with the config as it is now (None: the same config)."""

    iteration: int
    index: int
    of: tuple[int, int]  # this module's call number in the iteration, and how many it made
    key: str
    type: str
    term: str | None
    recorded: float
    value: float | None = None
    trace: Trace | None = None
    equal: bool | None = None
    now_value: float | None = None
    now: Trace | None = None
    note: str = ""
    now_failed: bool = False  # the config now changes the loss, and the call cannot be evaluated with it


@dataclass
class ReplayedTerm:
    """A term of an iteration's loss dict: as logged, and as losstune's values of its calls give it
    with the run's config and with the config now (the head's factor after the calls kept)."""

    iteration: int
    name: str
    logged: float
    calls: list[int] = field(default_factory=list)
    value: float | None = None
    now_value: float | None = None
    scale: float | None = None


@dataclass
class Replay:
    """A recording replayed on a config."""

    recording: Recording
    config: str  # the config replayed, as given
    version: int
    calls: list[ReplayedCall]
    terms: list[ReplayedTerm]
    changes: list[Change]
    totals: dict[int, tuple[float, float | None]]  # iteration: the logged total, and with the config now

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _path(module: str) -> keypath.Path:
    return ("model", *(int(p) if p.isdigit() else p for p in module.split(".")))


def _same(a: Any, b: Any) -> bool:
    """Equal as config values: a tuple and a list of the same items are the same parameter."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def changes(key: str, recorded: dict[str, Any], now: dict[str, Any]) -> list[Change]:
    """The parameters of the loss at ``key`` whose values in ``now`` are not those of ``recorded``."""
    out = []
    for name in dict.fromkeys([*recorded, *now]):
        if name == "_scope_":
            continue
        a, b = recorded.get(name, _UNSET), now.get(name, _UNSET)
        if a is _UNSET or b is _UNSET or not _same(a, b):
            out.append(
                Change(
                    key, name, None if a is _UNSET else a, None if b is _UNSET else b, a is not _UNSET, b is not _UNSET
                )
            )
    return out


@dataclass
class _Loss:
    """A recorded loss module and the config it has: in the run (``recorded``) and now (``now``,
    None where the config has none losstune evaluates, ``why`` says so)."""

    key: str
    recorded: dict[str, Any] | None
    now: dict[str, Any] | None
    head: dict[str, Any]
    why: str = ""
    type_now: str = ""  # the loss's type in the config now ("" where it has none there)
    changes: list[Change] = field(default_factory=list)


def _loss(
    losses: dict[keypath.Path, LossNode],
    cfg: LoadedConfig,
    plain_tree: dict[str, Any],
    module: str,
    recorded: dict[str, Any] | None,
    version: int,
) -> _Loss:
    """The loss module at ``module`` with its config in the run and now (``losses``: the config's, by path)."""
    path = _path(module)
    key = keypath.format_path(path)
    node = losses.get(path)
    if node is None:
        return _Loss(key, recorded, None, {}, f"the config has no loss at {key} now")
    head = head_of(cfg, node)
    try:
        loss_impl(cfg, node, version)
    except Exception as e:  # a loss losstune does not evaluate (now): said on each of its calls
        return _Loss(key, recorded, None, head, str(e), node.type)
    found = keypath.get(plain_tree, path)
    now = found if isinstance(found, dict) else None
    done = _Loss(key, recorded, now, head, type_now=node.type)
    if recorded is None:
        done.why = "the run's config of this loss was not recorded: losstune's value is the config's now"
    elif now is not None:
        done.changes = changes(key, recorded, now)
    return done


def _to(value: Any, device: str) -> Any:
    if hasattr(value, "to") and hasattr(value, "dtype"):
        return value.to(device)
    if isinstance(value, tuple):
        return tuple(_to(v, device) for v in value)
    if isinstance(value, list):
        return [_to(v, device) for v in value]
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value


def _autocast(call: RecordedCall, device: str) -> Any:
    """The autocast the call was made under in the run (AMP), on ``device``; none where it had none."""
    import contextlib

    import torch

    if call.autocast is None:
        return contextlib.nullcontext()
    dtype = getattr(torch, call.autocast["dtype"], None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"the run's autocast dtype {call.autocast['dtype']!r} is not one of torch's")
    return torch.autocast(device, dtype=dtype)


def _run(loss_cfg: dict[str, Any], call: RecordedCall, version: int, device: str) -> Trace:
    args = [_to(a, device) for a in call.args]
    kwargs = {k: _to(v, device) for k, v in call.kwargs.items()}
    with _autocast(call, device):
        return evaluate(loss_cfg, *args, mmdet_version=version, **kwargs)


def _as_recorded(loss_cfg: dict[str, Any], call: RecordedCall, of: tuple[int, int]) -> Step:
    """Step 1 of a replayed call: its arguments as the head passed them in the run."""
    from losstune.engine.losses import LOSSES
    from losstune.engine.realhead.run import inputs_text

    impl = LOSSES.get(bare_type(str(loss_cfg.get("type", ""))))
    signature = inspect.signature(impl.forward) if impl is not None else inspect.Signature()
    params = [p for p in signature.parameters.values() if p.name not in ("self", "trace")]
    text, numbers = inputs_text(signature.replace(parameters=params), call.args, call.kwargs)
    return Step(
        "sampling", f"as the head passed it in iteration {call.iteration} (call {of[0]} of {of[1]}): {text}", numbers
    )


def _version(recording: Recording, cfg: LoadedConfig, asked: int | None) -> int:
    if asked is not None:
        return asked
    mmdet = recording.versions.get("mmdet") or ""
    major = mmdet.split(".")[0]
    return int(major) if major in ("2", "3") else detect_version(cfg.tree)


def replay(
    cfg: LoadedConfig,
    recording: Recording,
    *,
    key: str | None = None,
    mmdet_version: int | None = None,
    device: str = "cpu",
) -> Replay:
    """Every recorded call (those of the loss at ``key``, where given, a full or short key) run by
    losstune's engine with the run's config and with ``cfg``'s, and each logged term again."""
    require_device(device)
    version = _version(recording, cfg, mmdet_version)
    mask = EnvMask.of(cfg)
    wanted: set[keypath.Path] | None = None
    if key is not None:
        from losstune.engine.session import find_loss

        wanted = {find_loss(cfg, key).path}
    plain_tree = cfg.to_dict()
    losses = {n.path: n for n in cfg.losses()}
    known = {m: _loss(losses, cfg, plain_tree, m, rc, version) for m, rc in recording.configs.items()}
    calls: list[ReplayedCall] = []
    for it in recording.iterations:
        counts: dict[str, int] = {}
        for c in it.calls:
            counts[c.module] = counts.get(c.module, 0) + 1
        seen: dict[str, int] = {}
        for c in it.calls:
            seen[c.module] = seen.get(c.module, 0) + 1
            if wanted is not None and _path(c.module) not in wanted:
                continue
            loss = known.get(c.module) or _loss(losses, cfg, plain_tree, c.module, None, version)
            done = _call(loss, c, (seen[c.module], counts[c.module]), version, device)
            for trace in (done.trace, done.now):
                for step in trace.steps if trace is not None else []:
                    step.description = mask.text(step.description)
                    step.compact()  # a recording's calls are many and large: their summaries are what is shown
            calls.append(done)
    every = [ch for loss in known.values() for ch in loss.changes]
    terms, totals = _terms(recording, calls, wanted is None)
    return Replay(recording, cfg.path, version, calls, terms, every, totals)


def _call(loss: _Loss, c: RecordedCall, of: tuple[int, int], version: int, device: str) -> ReplayedCall:
    """One recorded call, run with the run's config (or the config now, where the run's was not
    recorded) against its recorded output, and with the config now where it changed."""
    kind = str((loss.recorded or loss.now or {}).get("type", "?"))
    recorded = logged_value(c.output) if c.output is not None else float("nan")
    done = ReplayedCall(c.iteration, c.index, of, loss.key, bare_type(kind), c.term, recorded)
    notes = [c.note] if c.note else []
    if c.note:
        done.note = c.note
        return done
    if loss.why:
        notes.append(loss.why)
    same = loss.recorded if loss.recorded is not None else loss.now
    # a type losstune does not evaluate now, and the run had the same: not evaluated either way
    unsupported = loss.now is None and bool(loss.type_now) and bare_type(loss.type_now) == bare_type(kind)
    if same is not None and not unsupported:
        try:
            done.trace = _run(as_built(same, loss.head, loss.key.rsplit(".", 1)[-1]), c, version, device)
            done.trace.steps.insert(0, _as_recorded(same, c, of))
            done.value = logged_value(done.trace.loss)
            done.equal = agrees(done.trace.loss, c.output, RTOL)
        except Exception as e:  # a loss losstune does not evaluate, or inputs it cannot take: said, not hidden
            notes.append(f"losstune's engine cannot evaluate this call: {type(e).__name__}: {e}")
    if loss.changes and loss.now is not None:
        try:
            done.now = _run(as_built(loss.now, loss.head, loss.key.rsplit(".", 1)[-1]), c, version, device)
            done.now.steps.insert(0, _as_recorded(loss.now, c, of))
            done.now_value = logged_value(done.now.loss)
        except Exception as e:  # the recorded inputs do not fit the loss as configured now
            done.now_failed = True
            notes.append(f"with the config now, losstune's engine cannot evaluate it: {type(e).__name__}: {e}")
    done.note = "; ".join(notes)
    return done


def _terms(
    recording: Recording, calls: list[ReplayedCall], whole: bool
) -> tuple[list[ReplayedTerm], dict[int, tuple[float, float | None]]]:
    """Each logged term of each iteration, with losstune's values of the calls that fed it; the
    totals only when every call was replayed (``whole``)."""
    by_call = {(c.iteration, c.index): c for c in calls}
    terms: list[ReplayedTerm] = []
    totals: dict[int, tuple[float, float | None]] = {}
    for it in recording.iterations:
        shift = 0.0
        complete = True
        for name, logged in it.log.items():
            if name == "loss":
                continue
            fed = [c for c in it.calls if c.term == name]
            replayed = [by_call[(it.iteration, c.index)] for c in fed if (it.iteration, c.index) in by_call]
            if not replayed:
                continue
            term = ReplayedTerm(it.iteration, name, logged, [c.index for c in fed])
            recorded_sum = sum(c.recorded for c in replayed)
            # the head's factor after the calls; none where it cannot be told (a sum of 0, inf or NaN)
            ratio = logged / recorded_sum if recorded_sum and math.isfinite(recorded_sum) else 1.0
            term.scale = ratio if abs(ratio - 1) > 1e-6 else None
            if len(replayed) == len(fed) and all(c.value is not None for c in replayed):
                term.value = sum(c.value or 0.0 for c in replayed) * ratio
                if any(c.now_failed for c in replayed):  # unknown with the config now, and so is the total
                    complete = complete and "loss" not in name
                else:
                    term.now_value = (
                        sum(c.now_value if c.now_value is not None else (c.value or 0.0) for c in replayed) * ratio
                    )
                    if "loss" in name:
                        shift += term.now_value - logged
            elif "loss" in name:
                complete = False
            terms.append(term)
        if whole and "loss" in it.log:
            totals[it.iteration] = (it.log["loss"], it.log["loss"] + shift if complete else None)
    return terms, totals
