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
from dataclasses import dataclass, field
from typing import Any

from losstune import keypath
from losstune.config import LoadedConfig
from losstune.engine.evaluation import evaluate
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


def _changes(key: str, recorded: dict[str, Any], now: dict[str, Any]) -> list[Change]:
    out = []
    for name in dict.fromkeys([*recorded, *now]):
        if name == "_scope_":
            continue
        a, b = recorded.get(name, _UNSET), now.get(name, _UNSET)
        if a != b:
            out.append(
                Change(
                    key, name, None if a is _UNSET else a, None if b is _UNSET else b, a is not _UNSET, b is not _UNSET
                )
            )
    return out


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


def _run(loss_cfg: dict[str, Any], call: RecordedCall, version: int, device: str) -> Trace:
    args = [_to(a, device) for a in call.args]
    kwargs = {k: _to(v, device) for k, v in call.kwargs.items()}
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
    version = _version(recording, cfg, mmdet_version)
    losses = {n.path: n for n in cfg.losses()}
    plain_tree = cfg.to_dict()
    mask = EnvMask.of(cfg)
    wanted: set[keypath.Path] | None = None
    if key is not None:
        from losstune.engine.session import find_loss

        wanted = {find_loss(cfg, key).path}
    changes: list[Change] = []
    configs: dict[str, tuple[LossNode | None, dict[str, Any] | None, dict[str, Any] | None, str, bool]] = {}
    for module, recorded_cfg in recording.configs.items():
        path = _path(module)
        node = losses.get(path)
        note = ""
        usable = True
        now_cfg: dict[str, Any] | None = None
        if node is None:
            note = f"the config has no loss at {keypath.format_path(path)} now"
        else:
            try:
                loss_impl(cfg, node, version)
                found = keypath.get(plain_tree, path)
                now_cfg = found if isinstance(found, dict) else None
            except Exception as e:  # a loss losstune does not evaluate: said on each of its calls
                note, usable = str(e), False
        if recorded_cfg is not None and now_cfg is not None:
            changes += _changes(keypath.format_path(path), recorded_cfg, now_cfg)
        elif recorded_cfg is None and not note:
            note = "the run's config of this loss was not recorded: losstune's value is the config's now"
        configs[module] = (node, recorded_cfg, now_cfg, note, usable)

    calls: list[ReplayedCall] = []
    for it in recording.iterations:
        counts: dict[str, int] = {}
        for c in it.calls:
            counts[c.module] = counts.get(c.module, 0) + 1
        seen: dict[str, int] = {}
        for c in it.calls:
            seen[c.module] = seen.get(c.module, 0) + 1
            node, recorded_cfg, now_cfg, note, usable = configs.get(c.module, (None, None, None, "", True))
            path = _path(c.module)
            if wanted is not None and path not in wanted:
                continue
            head = head_of(cfg, node) if node is not None else {}
            kind = str((recorded_cfg or now_cfg or {}).get("type", "?"))
            done = ReplayedCall(
                it.iteration,
                c.index,
                (seen[c.module], counts[c.module]),
                keypath.format_path(path),
                bare_type(kind),
                c.term,
                logged_value(c.output) if c.output is not None else float("nan"),
                note=c.note or note,
            )
            calls.append(done)
            if c.note or not usable:
                continue
            same = now_cfg if recorded_cfg is None else recorded_cfg
            try:
                if same is not None:
                    done.trace = _run(as_built(same, head, path[-1]), c, version, device)
                    done.value = logged_value(done.trace.loss)
                    done.equal = agrees(done.trace.loss, c.output, RTOL)
                if recorded_cfg is not None and now_cfg is not None and _changes("", recorded_cfg, now_cfg):
                    done.now = _run(as_built(now_cfg, head, path[-1]), c, version, device)
                    done.now_value = logged_value(done.now.loss)
            except Exception as e:  # a loss losstune does not evaluate, or inputs it cannot take: said, not hidden
                done.note = f"losstune's engine cannot evaluate this call: {type(e).__name__}: {e}"
            first = _as_recorded(same or recorded_cfg or {}, c, done.of)
            for trace in (done.trace, done.now):
                if trace is not None:
                    trace.steps.insert(0, first)
                    for step in trace.steps:
                        step.description = mask.text(step.description)
    terms, totals = _terms(recording, calls, wanted is None)
    return Replay(recording, version, calls, terms, changes, totals)


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
            ratio = logged / recorded_sum if recorded_sum else 1.0
            term.scale = ratio if abs(ratio - 1) > 1e-6 else None
            if len(replayed) == len(fed) and all(c.value is not None for c in replayed):
                term.value = sum(c.value or 0.0 for c in replayed) * ratio
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
