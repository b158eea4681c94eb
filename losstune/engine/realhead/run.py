"""``--through-head``: the configured detector built with MMDetection's registry, its ``loss`` run on
a seeded synthetic batch, every loss module call recorded and evaluated step by step by losstune's
engine on exactly its inputs, and the loss dict as MMDetection returns it and mmengine logs it."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from losstune import words
from losstune.engine import tensorfile
from losstune.engine.proposals import train_proposals
from losstune.engine.realhead.attribute import fed_value, feeding, logged_value
from losstune.engine.realhead.batch import BatchSpec, NotPlain, fitted, synthetic, to_plain
from losstune.engine.realhead.checkpoints import Asked, LeftOut, refusing_loads, teacher_path, without_checkpoints
from losstune.engine.realhead.importing import MMDet, load_mmdet, quiet
from losstune.engine.realhead.magnitude import Features, check_norm_eval, measuring_features
from losstune.engine.realhead.ops import CompiledOpMissing
from losstune.engine.realhead.record import (
    Call,
    recording_builds,
    recording_calls,
    recording_head_inputs,
    recording_method,
)
from losstune.engine.realhead.syncbn import one_process_norms, reverted_note
from losstune.engine.trace import Step, Trace, agrees
from losstune.errors import LosstuneError
from losstune.loader.values import contains_opaque
from losstune.schema.catalogue import bare_type

if TYPE_CHECKING:
    from losstune.config import LoadedConfig
    from losstune.engine.phases import At

RTOL = 1e-4


class HeadFailed(LosstuneError):
    """MMDetection could not build or run the configured head on the synthetic batch."""


@dataclass
class LossCall:
    """One call of a loss module, as the head made it: the config key of the module, its type, the
    config it was built from, losstune's steps on the call's inputs (``trace``; ``note`` says why
    none), whether they give the module's output (``equal``), and the term of the loss dict it feeds."""

    index: int
    key: str
    type: str
    output: float
    trace: Trace | None = None
    note: str = ""
    equal: bool | None = None
    term: str | None = None


@dataclass
class LogTerm:
    """A term of the loss dict as mmengine logs it (a list of per-level losses summed), the calls it
    is made from, and the factor the head applies after the modules return (None: none)."""

    name: str
    value: float
    calls: list[int] = field(default_factory=list)
    scale: float | None = None


@dataclass
class HeadRun:
    """The detector's loss through MMDetection's own head on one synthetic batch."""

    detector: str
    head_key: str | None
    head_type: str | None
    mmdet: str
    mmcv: str
    stand_in: bool
    batch: BatchSpec
    calls: list[LossCall]
    terms: list[LogTerm]
    total: float
    saved: str | None = None
    not_loaded: list[LeftOut] = field(default_factory=list)  # the checkpoints the config names, left out
    at: At | None = None  # the phase of the head's training at the batch's epoch, for a head whose losses follow it
    stood_in: list[str] = field(default_factory=list)  # the compiled ops computed otherwise (the comparison's)
    features: Features = field(default_factory=Features)  # the feature maps the heads received, measured
    model: Any = field(default=None, repr=False)  # the detector, as built and run
    recorded: list[Call] = field(default_factory=list, repr=False)  # the calls, as the head made them
    # a head that computes its terms, or reduces its modules' results, in its own code: the calls of
    # the method that does (the arguments by name as ``kwargs``), one per image for SSDHead's
    # loss_by_feat_single, one per level for FSAFHead's reweight_loss_single
    own: list[Call] = field(default_factory=list, repr=False)
    own_method: str | None = None
    own_terms: tuple[str, ...] = ()  # the terms that method computes
    # the calls of a head's methods that count a term's positives and negatives where its loss
    # module's calls do not show them (GuidedAnchorHead's ga sampling, an image a call; Rule.counted_on)
    counting: list[Call] = field(default_factory=list, repr=False)
    # a mask head that computes a term in its own code (YOLACTProtonet's loss_mask): its method's calls
    mask_own: list[Call] = field(default_factory=list, repr=False)
    # the synchronised norm layers built as one process's BatchNorm, in words ("" when none; see :mod:`syncbn`)
    one_process: str = ""

    @property
    def phase(self) -> str:
        """The phase of the head's training the batch ran in, in words ("" for a head whose losses
        do not follow the epoch)."""
        return self.at.text if self.at is not None else ""

    def describe(self) -> str:
        """Which path made the numbers, in words."""
        head = f"{self.head_type} ({self.head_key})" if self.head_type else self.detector
        return f"MMDetection {self.mmdet}'s {head}"


def _model_config(cfg: LoadedConfig) -> tuple[dict[str, Any], list[LeftOut]]:
    """``cfg``'s model as plain data for MMDetection to build, without the checkpoints it names
    (see :mod:`checkpoints`), and those checkpoints."""
    model = cfg.tree.get("model")
    if not isinstance(model, dict):
        raise HeadFailed("the config has no `model` dict for MMDetection to build")
    if contains_opaque(model):
        raise HeadFailed(
            "part of `model` cannot be read without running the config, so MMDetection "
            "cannot be built from it (see the LT010 warnings of `losstune lint`)"
        )
    data = cfg.to_dict()
    left: list[LeftOut] = []
    if isinstance(data.get("load_from"), str):
        left.append(LeftOut("load_from", data["load_from"]))
    plain = without_checkpoints(data["model"], "model", left)
    assert isinstance(plain, dict)
    _with_teacher(plain, "model", left, (Path(cfg.path).absolute(),))
    return plain, left


def _with_teacher(model: dict[str, Any], key: str, left: list[LeftOut], seen: tuple[Path, ...]) -> None:
    """``model`` (at config key ``key``) with the teacher config its ``teacher_config`` names
    replaced by that config's model (see :func:`_teacher_model`), and so on for a teacher's own
    teacher; ``seen``: the configs read on the way, which a teacher must not lead back to."""
    path = teacher_path(model)
    if path is None:
        return
    if path in seen:
        raise HeadFailed(
            f"{key}.teacher_config names {path}, a config it is read from: MMDetection would build the "
            "teacher's teacher for ever; name another teacher config"
        )
    written = f"{key}.teacher_config {model['teacher_config']}: model"
    teacher = _teacher_model(path, written, left)
    _with_teacher(teacher, written, left, (*seen, path))
    model["teacher_config"] = {"model": teacher}


def _teacher_model(path: Path, key: str, left: list[LeftOut]) -> dict[str, Any]:
    """The model of the teacher config at ``path`` (its config key ``key``), read without executing
    it (mmengine's ``Config.fromfile`` would run it), without its checkpoints."""
    from losstune.config import load

    if not path.is_file():
        raise HeadFailed(
            f"model.teacher_config names {path}, which is not a file (mmengine finds it "
            "from the working directory): run from the folder it is relative to, or give its full path"
        )
    teacher = load(path)
    model = teacher.tree.get("model")
    if not isinstance(model, dict) or contains_opaque(model):
        raise HeadFailed(
            f"{path}: the teacher config's `model` cannot be read without running the config, so "
            "MMDetection cannot build the teacher from it"
        )
    plain = without_checkpoints(teacher.to_dict()["model"], key, left)
    assert isinstance(plain, dict)
    return plain


def _import_custom(cfg: LoadedConfig) -> None:
    imports = cfg.to_dict().get("custom_imports")
    if not isinstance(imports, dict):
        return
    from mmengine.utils import import_modules_from_strings

    try:
        import_modules_from_strings(**imports)
    except Exception as e:
        raise HeadFailed(f"custom_imports failed: {type(e).__name__}: {e}") from None


def _num_classes(model: Any) -> int:
    for path in ("bbox_head", "roi_head.bbox_head", "detector.roi_head.bbox_head", "track_head", "rpn_head"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, (list, tuple)) or type(obj).__name__ == "ModuleList":
            obj = obj[0]
        n = getattr(obj, "num_classes", None)
        if isinstance(n, int):
            return n
    return 80


def _engine_config(built: Any) -> dict[str, Any] | None:
    """The loss's config as the head built it, with tensors (DETRHead's class weights) as lists."""
    if not isinstance(built, dict):
        return None

    def plain(v: Any) -> Any:
        if hasattr(v, "tolist"):
            return v.tolist()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    out = plain(built)
    assert isinstance(out, dict)
    return out


def inputs_text(
    signature: inspect.Signature, args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The arguments of a call of a ``forward`` of ``signature``, by name: tensors by shape (one
    of no element too), numbers and strings as they are."""
    import torch

    try:
        bound = signature.bind(*args, **kwargs).arguments
    except TypeError:
        bound = {f"arg{i}": a for i, a in enumerate(args)} | kwargs
    parts, numbers = [], {}
    for name, v in bound.items():
        if isinstance(v, torch.Tensor) and v.numel() != 1:  # an empty one too (a bag of no box)
            parts.append(f"{name} {words.shape(v.shape)}")
        elif v is not None and not isinstance(v, dict):
            number = v.item() if isinstance(v, torch.Tensor) else v
            numbers[name] = number
            parts.append(f"{name}={number:g}" if isinstance(number, float) else f"{name}={number}")
    return ", ".join(parts), numbers


def _steps(model: Any, mmdet_major: int, call: Call, built: Any, head_type: str, of: str) -> LossCall:
    """losstune's five steps on one recorded call, held against the module's own output."""
    from losstune.engine.evaluation import evaluate

    module = model.get_submodule(call.module)
    loss_cfg = _engine_config(built)
    kind = bare_type(str(loss_cfg.get("type"))) if loss_cfg else type(module).__name__
    result = LossCall(call.index, "model." + call.module, kind, logged_value(call.output))
    text, numbers = inputs_text(inspect.signature(module.forward), call.args, call.kwargs)
    first = Step("sampling", f"as {head_type} passed it ({of}): {text}", numbers)
    if loss_cfg is None:
        result.note = "not built from a config the registry saw; losstune cannot evaluate it"
        return result
    try:
        trace = evaluate(loss_cfg, *call.args, mmdet_version=mmdet_major, **call.kwargs)
    except Exception as e:  # a loss losstune does not evaluate, or one it evaluates differently: said, not hidden
        result.note = f"losstune's engine cannot evaluate this call: {type(e).__name__}: {e}"
        return result
    trace.steps.insert(0, first)
    result.trace = trace
    result.equal = agrees(trace.loss, call.output, RTOL)
    return result


def _own_termed() -> dict[str, tuple[str, ...]]:
    """The heads whose terms their ``loss_by_feat`` computes itself, and those terms."""
    from losstune.engine.heads_own import OWN

    return {head: own.terms for head, own in OWN.items()}


def own_method(head: Any) -> str | None:
    """The method of ``head`` whose calls the comparison records, where its class (or a base of
    it) computes its terms in its own code (SSDHead's ``loss_by_feat_single``) or reduces its loss
    modules' element-wise results there (FSAFHead's ``reweight_loss_single``), else ``None``."""
    from losstune.engine.heads_freeanchor import OWN_METHOD as BAG_METHOD
    from losstune.engine.heads_fsaf import REWEIGHT_METHOD
    from losstune.engine.heads_ssd import OWN_METHOD, SSD_HEADS

    methods = (
        dict.fromkeys(SSD_HEADS, OWN_METHOD) | {"FSAFHead": REWEIGHT_METHOD} | dict.fromkeys(_own_termed(), BAG_METHOD)
    )
    if head is None:
        return None
    return next((methods[c.__name__] for c in type(head).__mro__ if c.__name__ in methods), None)


def counting_methods(model: Any) -> list[tuple[str, Any, str]]:
    """Each head of ``model`` (its place, the module) with a method that the head model's rules
    count a term on (``Rule.counted_on``), and that method."""
    from losstune.engine.headmodel import RULES, family_of

    found = []
    for name, module in model.named_modules():
        methods = {r.counted_on for r in RULES.get(family_of(type(module).__name__) or "", {}).values()}
        found += [(name, module, m) for m in sorted(methods) if m and hasattr(module, m)]
    return found


def _mask_recording(model: Any) -> contextlib.AbstractContextManager[list[Call]]:
    """The calls of the detector's mask head's method that computes a term in its own code
    (YOLACTProtonet's ``loss_by_feat``), recorded; nothing for another mask head."""
    from losstune.engine.heads_yolact import MASK_METHODS

    head = getattr(model, "mask_head", None)
    method = MASK_METHODS.get(type(head).__name__) if head is not None else None
    none: list[Call] = []
    return recording_method(head, method, "mask_head") if method else contextlib.nullcontext(none)


def _detector_head(model: Any) -> tuple[str | None, Any]:
    head = getattr(model, "bbox_head", None)
    return ("model.bbox_head", head) if head is not None and hasattr(head, "loss") else (None, None)


@contextlib.contextmanager
def at_epoch(epoch: int) -> Iterator[None]:
    """While inside, mmengine's current ``MessageHub`` holds ``epoch`` as its ``epoch`` info, as a
    runner sets it at each epoch's start (TOODHead reads it to choose its phase); restored after."""
    from mmengine.logging import MessageHub

    hub = MessageHub.get_current_instance()
    had, before = "epoch" in hub.runtime_info, hub.runtime_info.get("epoch")
    hub.update_info("epoch", epoch)
    try:
        yield
    finally:
        if had:
            hub.update_info("epoch", before)
        else:
            hub.runtime_info.pop("epoch", None)


def phase_of(model_cfg: dict[str, Any], head_type: str | None, epoch: int) -> At | None:
    """The phase the head of ``head_type`` is in at ``epoch`` (None for a head whose losses do not
    follow the epoch), as the head model says it."""
    from losstune.engine.headmodel import family_of
    from losstune.engine.phases import phase_at

    return phase_at(family_of(head_type), model_cfg, epoch)


def _refused(detector: str, load: Asked) -> HeadFailed:
    if load.by_name:
        return HeadFailed(
            f"MMDetection's {detector} loads the pretrained model {load.checkpoint} with Hugging Face's "
            "from_pretrained while it is built, which no config key leaves out; losstune loads no weights for "
            "the synthetic batch, so this model does not run through the head: leave out --through-head"
        )
    return HeadFailed(
        f"MMDetection's {detector} loads the checkpoint {load.checkpoint} while it is built or "
        "initialised, in a way losstune cannot leave out of the config; losstune loads no weights for the "
        "synthetic batch: remove that checkpoint from the config to run it through the head"
    )


def _fail(detector: str, e: BaseException, mm: MMDet) -> HeadFailed:
    if isinstance(e, CompiledOpMissing):
        lite = f"mmcv {mm.mmcv} (installed without its compiled operators)" if mm.stand_in else f"mmcv {mm.mmcv}"
        return HeadFailed(
            f"MMDetection's {detector} needs mmcv's compiled op `{e.op}`, which {lite} does not ship: install "
            "the full mmcv 2.x built for your torch to run this model, or leave out --through-head"
        )
    return HeadFailed(f"MMDetection's {detector} failed on the synthetic batch: {type(e).__name__}: {e}")


def run_head(
    cfg: LoadedConfig,
    spec: BatchSpec | None = None,
    *,
    import_custom_modules: bool = False,
    save: str | None = None,
    pure: bool = False,
) -> HeadRun:
    """Build ``cfg``'s model with MMDetection's registry, run its ``loss`` on the batch ``spec``
    describes (at its training epoch), and return every loss call (with losstune's steps on its
    inputs) and the loss dict; with ``save``, write the batch and the head's weights there (see
    :func:`replay.replay`); with ``pure``, a compiled op of a head's forward whose result is a plain
    formula is computed in PyTorch (see :mod:`pureops`; the comparison only)."""
    import torch

    from losstune.engine.heads_ssd import OWN_METHOD, OWN_TERMS
    from losstune.engine.realhead.pureops import pure_ops

    model_cfg, left_out = _model_config(cfg)
    spec = fitted(spec or BatchSpec(), model_cfg)
    precomputed = train_proposals(cfg.tree)
    if precomputed is not None and not spec.proposals:
        spec = replace(spec, proposals=precomputed.count, proposals_by=precomputed.source)
    mm = load_mmdet()
    with quiet():
        from mmengine.config import ConfigDict
        from mmengine.registry import init_default_scope

        if import_custom_modules:
            _import_custom(cfg)
        scope = cfg.tree.get("default_scope", "mmdet")
        init_default_scope(scope if isinstance(scope, str) else "mmdet")
        detector = bare_type(str(model_cfg.get("type", "?")))
        torch.manual_seed(spec.seed)
        asked: list[Asked] = []
        try:
            with refusing_loads(asked), one_process_norms() as reverted:
                with recording_builds(mm.models) as builds:
                    model = mm.models.build(ConfigDict(model_cfg))
                model.init_weights()
        except Exception as e:
            if asked:
                raise _refused(detector, asked[0]) from None
            hint = ""
            if "not in the" in str(e) and "registry" in str(e) and not import_custom_modules:
                hint = "; a type from the config's custom_imports needs --import-custom-modules"
            raise HeadFailed(f"MMDetection could not build {detector}: {type(e).__name__}: {e}{hint}") from None
        if asked:  # a load MMDetection caught itself
            raise _refused(detector, asked[0])
        model.train()
        head_key, head = _detector_head(model)
        head_type = type(head).__name__ if head is not None else detector
        images, samples = synthetic(spec, _num_classes(model))
        try:
            used: list[str] = []
            computed = pure_ops(model) if pure else contextlib.nullcontext(used)
            own = own_method(head)
            no_calls: list[Call] = []
            own_recording: contextlib.AbstractContextManager[list[Call]] = (
                recording_method(head, own, (head_key or "").removeprefix("model."))
                if own
                else contextlib.nullcontext(no_calls)
            )
            with (
                at_epoch(spec.epoch),
                computed as used,
                measuring_features(model) as features,
                recording_calls(model) as calls,
                own_recording as own_calls,
                contextlib.ExitStack() as counting,
                _mask_recording(model) as mask_calls,
            ):
                counted = [
                    counting.enter_context(recording_method(m, method, n)) for n, m, method in counting_methods(model)
                ]
                if head is not None:
                    with recording_head_inputs(head, spec.seed) as head_inputs:
                        losses = model.loss(images, samples)
                else:
                    torch.manual_seed(spec.seed)
                    losses = model.loss(images, samples)
            _, log_vars = model.parse_losses(losses)
        except Exception as e:
            raise _fail(detector, e, mm) from None
        ends = {}
        terms = []
        for name, value in losses.items():
            fed = feeding(value, calls)
            logged = float(log_vars[name].item())
            produced = fed_value(value, calls)
            scale = logged / produced if fed and produced and abs(logged / produced - 1) > 1e-6 else None
            terms.append(LogTerm(name, logged, fed, scale))
            ends.update(dict.fromkeys(fed, name))
        counts: dict[str, int] = {}
        for c in calls:
            counts[c.module] = counts.get(c.module, 0) + 1
        seen: dict[str, int] = {}
        done = []
        for c in calls:
            seen[c.module] = seen.get(c.module, 0) + 1
            of = f"call {seen[c.module]} of {counts[c.module]}"
            built = builds.of(model.get_submodule(c.module))
            lc = _steps(model, int(mm.version.split(".")[0]), c, built, head_type, of)
            lc.term = ends.get(c.index)
            done.append(lc)
        run = HeadRun(
            detector,
            head_key,
            head_type if head is not None else None,
            mm.version,
            mm.mmcv,
            mm.stand_in,
            spec,
            done,
            terms,
            float(log_vars["loss"].item()),
            model=model,
            recorded=calls,
            own=list(own_calls),
            own_method=own,
            own_terms=OWN_TERMS if own == OWN_METHOD else _own_termed().get(head_type, ()),
            counting=[c for found in counted for c in found],
        )
        run.mask_own = list(mask_calls)
        run.one_process = reverted_note(reverted)
        run.not_loaded = left_out
        run.at = phase_of(model_cfg, head_type, spec.epoch)
        run.stood_in = list(used)
        check_norm_eval(features, model, builds, model_cfg)
        run.features = features
        if save is not None:
            if head is None:
                raise HeadFailed(
                    f"--save-batch writes the inputs of a detector's bbox_head; {detector} has none "
                    "(its heads are run through the detector)"
                )
            _save(save, cfg, run, builds.of(head), head_inputs.state, head_inputs.arguments, losses, images)
            run.saved = save
    return run


def _save(
    path: str,
    cfg: LoadedConfig,
    run: HeadRun,
    head_cfg: Any,
    state: dict[str, Any],
    inputs: dict[str, Any],
    losses: Any,
    images: Any,
) -> None:
    from losstune.engine.realhead.batch import LAYOUT

    try:
        data = {
            "layout": LAYOUT,
            "mmdet": run.mmdet,
            "config": str(cfg.path),
            "seed": run.batch.seed,
            "epoch": run.batch.epoch,
            "images": to_plain(images),
            "head": {
                "key": run.head_key,
                "type": run.head_type,
                "config": head_cfg,
                "state_dict": to_plain(state),
            },
            "inputs": to_plain(inputs),
            "losses": to_plain(dict(losses)),
            "log": {t.name: t.value for t in run.terms} | {"loss": run.total},
        }
    except NotPlain as e:
        raise HeadFailed(
            f"--save-batch: the inputs of {run.head_type} cannot be written as plain tensors: {e}"
        ) from None
    try:
        tensorfile.save(path, data)
    except OSError as e:
        raise HeadFailed(f"--save-batch {path}: cannot write it: {e.strerror or e}") from None
