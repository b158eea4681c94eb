"""``losstune eval``: one loss of a config, with its sampler, evaluated step by step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from losstune import keypath
from losstune.config import LoadedConfig
from losstune.engine import heads_glip, heads_grounding, heads_mask2former, heads_mask2former_track, heads_masktrack
from losstune.engine.confignum import config_int
from losstune.engine.crosscheck import CrossCheck
from losstune.engine.evaluation import evaluate
from losstune.engine.headmodel import (
    DENSE_PRIORS,
    DETR_FAMILIES,
    AvgRule,
    Feed,
    Where,
    default_priors,
    family_of,
    feed,
    log_names,
    rule_for,
    sampled_for,
    stage_of,
    stage_sampler,
    stage_weight,
)
from losstune.engine.heads_own import entered, not_modelled, term_hint
from losstune.engine.inputs import InputError, from_file, require_device, synthetic
from losstune.engine.makers import Own, own_inputs
from losstune.engine.ownmodel import own_feed, own_terms
from losstune.engine.phases import At, idle_message, phase_at
from losstune.engine.proposals import train_proposals
from losstune.engine.sampling import Sampled
from losstune.engine.trace import Step, Trace, UnsupportedLoss, terms
from losstune.engine.v2_sampler import built_sampler, without_sampler
from losstune.engine.validate import check_inputs
from losstune.keypath import KeyPathError
from losstune.loader.envmask import EnvMask
from losstune.locate import LossNode, in_head_note, in_head_spec
from losstune.schema.catalogue import bare_type
from losstune.schema.heads import avg_factor_keys
from losstune.schema.mmdet_version import detect_version
from losstune.schema.scopes import DEFAULT_SCOPE, TypeRef, type_at
from losstune.words import count

GROUNDING = heads_grounding.GROUNDING_HEAD


class NotCalled(InputError):
    """A loss its head does not call in the phase of training modelled (TOODHead's ``loss_cls``
    before ``initial_epoch``, its ``initial_loss_cls`` after)."""


@dataclass
class EvalResult:
    """The loss evaluated, where it sits, and how its inputs were made."""

    loss: LossNode
    trace: Trace
    inputs: str
    sampled: Sampled | None = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    check: CrossCheck | None = None
    version: int = 3
    loss_cfg: dict[str, Any] = field(default_factory=dict)  # as the head builds it
    logged: Any = None  # the term as the head returns it (after what it does to the module's result)
    log_name: str = ""  # its name in the training log ("" for inputs read from a file)
    family: str | None = None  # the head family modelled, None where the head is not
    notes: list[str] = field(default_factory=list)
    log_names: list[str] = field(default_factory=list)  # every term of this loss in the log
    rule: AvgRule | None = None  # how its head counts the avg_factor and the divisor
    head_weight: Any = None  # per row, where the head sums the module's per-element result itself
    phase: At | None = None  # the training phase modelled, for a head whose losses follow the epoch
    own_terms: list[Any] = field(default_factory=list)  # every term of a head whose log's terms are its own


def as_built(loss_cfg: dict[str, Any], head: dict[str, Any], name: Any) -> dict[str, Any]:
    """The loss config as the head builds it: DETRHead turns a float ``class_weight`` and its
    ``bg_cls_weight`` into one weight per class plus the background's."""
    if bare_type(str(head.get("type", ""))) != "DETRHead" or name != "loss_cls":
        return loss_cfg
    weight = loss_cfg.get("class_weight")
    if not isinstance(weight, float):
        return loss_cfg
    num_classes = head.get("num_classes", 80)
    built = {k: v for k, v in loss_cfg.items() if k != "bg_cls_weight"}
    built["class_weight"] = [weight] * num_classes + [float(loss_cfg.get("bg_cls_weight", weight))]
    return built


# what a family's predictions are, where they are not priors
NOUNS = {
    **{f: ("query", "queries") for f in DETR_FAMILIES},
    "CenterNetHead": ("pixel", "pixels"),
    "CenterNetUpdateHead": ("point", "points"),
    **{f: ("pixel", "pixels") for f in ("CornerHead", "CentripetalHead")},
    "DIIHead": ("proposal", "proposals"),
    "RoIEmbedHead": ("proposal", "proposals"),
    "DynamicMaskHead": ("proposal", "proposals"),
    **{f: ("grid cell", "grid cells") for f in ("SOLOHead", "DecoupledSOLOHead", "SOLOV2Head")},
    "GlobalContextHead": ("image", "images"),
    "RepPointsHead": ("point", "points"),
    "Mask2FormerHead": ("query", "queries"),
    "MaskFormerHead": ("query", "queries"),
    heads_mask2former_track.TRACK_HEAD: ("query", "queries"),
}


MASK_FORMERS = ("Mask2FormerHead", "MaskFormerHead")  # things and stuff, a no-object class weight


def _sample_inputs(
    loss: LossNode,
    loss_cfg: dict[str, Any],
    where: Where,
    head_ref: TypeRef | None,
    *,
    seed: int,
    num_priors: int | None,
    term: str | None = None,
    epoch: int = 0,
) -> tuple[Feed, str, At | None]:
    """Seeded inputs sized from the config, fed to the loss the way its head (``head_ref``, the
    registry and class it is built from) feeds it at the training ``epoch``; ``term`` is one of the
    loss's log names (another decoder layer's, say), fed alike on predictions of its own. Also the
    phase of the head's training modelled, where its losses follow the epoch."""
    head = where.head
    parents = [s for s in (loss.head or ()) if isinstance(s, str)]
    roi_head = "roi_head" in parents
    num_classes = head.get("num_classes", 80)
    if not isinstance(num_classes, int) or "rpn_head" in parents:
        num_classes = 1
    sampler = (
        None if (loss.sampler is None or loss.sampler.default) else loss.sampler.params | {"type": loss.sampler.type}
    )
    head_type = str(head.get("type", ""))
    mmdet_head = head_ref is None or head_ref.registry == DEFAULT_SCOPE
    name = str(loss.path[-1])
    family, at, names = _logged_as(where, head_ref, name, epoch)
    if family in MASK_FORMERS:  # its things and stuff, no num_classes of its own
        num_classes = heads_mask2former.classes(head)
    if family == heads_masktrack.EMBED_HEAD:  # its columns: no match, then each reference box
        num_classes = heads_masktrack.match_columns()
    tokens = heads_grounding.text_tokens(where.model, head, where.classes) if family == GROUNDING else None
    if tokens is not None:  # its logits: one a text token of the prompt, each query's
        num_classes = tokens.tokens
    if sampler is None and roi_head:  # a head of no stage of its own: the stage's train_cfg.rcnn
        sampler = stage_sampler(where, term or names[0])
    model = where.model
    ignored = built_sampler(family, head, sampler) if where.version < 3 and not roi_head else None
    if ignored is not None:  # 2.x's head builds a PseudoSampler: the model's heads see no sampler
        sampler, model = None, without_sampler(model)
    why = not_modelled(bare_type(head_type), name) if mmdet_head else None
    if why is not None:
        raise InputError(why, replayable=True)
    own_term = entered(bare_type(head_type), name) if mmdet_head else None
    if own_term is not None:  # a head whose log's terms are its own code: the term this loss enters
        if term is not None and term != own_term:
            raise InputError(f"{loss.key} is not logged as {term}; it enters {own_term}")
        own = Own(name, loss_cfg, head, num_classes, num_priors, DENSE_PRIORS, seed, model)
        return (*own_feed(bare_type(head_type), own), None)
    idle = idle_message(at, loss.key, name) if at is not None else None
    if idle is not None:
        raise NotCalled(idle)
    phase = at.phase if at is not None else None
    if term is not None and term not in names:
        raise InputError(f"{loss.key} is not logged as {term}; its terms are {', '.join(names)}")
    if term is not None and not rule_for(family, name).parts:
        seed += names.index(term)  # each term on predictions of its own (the parts of one result: one call)
    sampled: list[Sampled] = []

    def assign() -> Sampled:
        sampled.append(
            sampled_for(
                family,
                sampler,
                where=where,
                num_classes=num_classes,
                roi_head=roi_head,
                num_priors=num_priors,
                seed=seed,
                term=term or "",
            )
        )
        return sampled[0]

    stage = stage_of(where, term or names[0]) or 0
    made = own_inputs(
        family, Own(name, loss_cfg, head, num_classes, num_priors, DENSE_PRIORS, seed, model, stage)
    ) or synthetic(
        loss_cfg,
        sampled=assign,
        num_classes=num_classes,
        seed=seed,
        reg_max=config_int(head, "reg_max", 16),
    )
    if family is None and loss_cfg.get("reduction") == "sum" and name not in avg_factor_keys(head_ref):
        # a head that reduces with 'sum' normalises by itself (YOLOV3Head...): MMDetection would
        # refuse an avg_factor with 'sum'
        made.kwargs.pop("avg_factor", None)
        made.avg_rule = "reduction='sum'"
    bg_cls_weight = None
    if family in DETR_FAMILIES:
        weights = loss_cfg.get("class_weight")  # as built: DETRHead's own bg_cls_weight is the last
        bg_cls_weight = float(weights[-1]) if isinstance(weights, list) and bare_type(head_type) == "DETRHead" else 0.0
    elif family in (*MASK_FORMERS, heads_mask2former_track.TRACK_HEAD):  # the no-object class's weight
        weights = loss_cfg.get("class_weight")
        bg_cls_weight = float(weights[-1]) if isinstance(weights, list) and weights else 1.0
    fed = feed(
        name,
        made,
        family=family,
        head_type=head_type,
        num_classes=num_classes,
        seed=seed,
        bg_cls_weight=bg_cls_weight,
        where=where,
        term=term or "",
        phase=phase,
    )
    fed.log_name = term or names[0]
    fed.log_names = names
    if ignored is not None:
        fed.notes.append(ignored)
    if loss.by_head is not None:
        fed.notes.insert(0, in_head_note(loss))
    if tokens is not None:
        fed.notes.append(f"{GROUNDING}'s contrastive logits over {tokens.how}")
    staged = stage_weight(where, fed.log_name)
    if staged is not None:
        factor, text = staged
        fed.scale = factor * (fed.scale if fed.scale is not None else 1.0)
        fed.scale_text = f"{fed.scale_text}; {text}" if fed.scale_text else text
        if fed.rule is not None:
            fed.rule = replace(fed.rule, weighted=factor)
    preds = num_priors or default_priors(where, roi_head)
    if roi_head and where.proposals and not num_priors:
        fed.notes.append(
            f"the RoI head's {where.proposals} proposals of an image are the precomputed ones the model trains on "
            f"({where.proposals_by}), here seeded"
        )
    if sampled and family in (*DETR_FAMILIES, "YOLOXHead"):  # their assigners' own counts
        preds = sampled[0].stats["priors"]
    elif made.sampled is not None and not sampled:  # a head's own points or pixels
        preds = made.sampled.stats["priors"]
    noun = NOUNS.get(family or "", ("prior", "priors"))
    classes = count(num_classes, "text token", "text tokens") if tokens else count(num_classes, "class", "classes")
    how = f"synthetic, seed {seed}, " + (classes if made.unsampled else f"{count(preds, *noun)}, {classes}")
    return fed, how, at


def _logged_as(
    where: Where, head_ref: TypeRef | None, name: str, epoch: int
) -> tuple[str | None, At | None, list[str]]:
    """The family of the head at ``where`` (``None`` for a head outside MMDetection's registry), the
    phase of its training at ``epoch``, and the names the training log prints its loss ``name`` under."""
    mmdet_head = head_ref is None or head_ref.registry == DEFAULT_SCOPE
    family = family_of(str(where.head.get("type", ""))) if mmdet_head else None
    at = phase_at(family, where.model, epoch)
    phase = at.phase if at is not None else None
    return family, at, log_names(where, family, rule_for(family, name, phase=phase).log_name or name)


def _where(cfg: LoadedConfig, loss: LossNode, version: int) -> tuple[Where, TypeRef | None]:
    """Where ``loss`` sits in ``cfg``, and the registry and class its head is built from."""
    head = head_of(cfg, loss)
    head_type = head.get("type")
    head_ref = (
        type_at(cfg.tree, loss.head, head_type, version)
        if loss.head is not None and isinstance(head_type, str)
        else None
    )
    model = cfg.tree.get("model")
    # a text detector's prompt: the training dataset's class names (GLIP's caption, Grounding DINO's prompt)
    kind = bare_type(str(head_type))
    names = heads_glip.dataset_classes(cfg.tree) if kind == heads_glip.GLIP_HEAD else ()
    names = heads_grounding.dataset_classes(cfg.tree) if kind == GROUNDING else names
    where = Where(loss.path, loss.head, head, model if isinstance(model, dict) else {}, version, names)
    precomputed = train_proposals(cfg.tree)
    if precomputed is not None:
        where = replace(where, proposals=precomputed.count, proposals_by=precomputed.source)
    return where, head_ref


def loss_named(cfg: LoadedConfig, key: str, version: int, epoch: int = 0) -> tuple[LossNode, str | None]:
    """The loss at ``key`` (as :func:`find_loss` finds it), or where no loss is there, the one whose
    term the training log of MMDetection ``version`` prints as ``key`` at ``epoch`` (``s1.loss_cls``,
    ``d3.loss_iou``, ``loss_rpn_cls``), with that term. A key that names something of ``cfg``
    (ambiguous, or not a loss) keeps the error of :func:`find_loss`, as does a name no loss, or
    more than one, is logged as."""
    try:
        return find_loss(cfg, key), None
    except (KeyPathError, InputError):
        if keypath.names_anything(cfg.tree, key):
            raise
        found = [
            loss
            for loss in [*cfg.losses(), *cfg.in_head_losses()]
            if key in _logged_as(*_where(cfg, loss, version), str(loss.path[-1]), epoch)[2]
        ]
        if len(found) != 1:
            raise
        return found[0], key


def _on(device: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """A call's arguments with their tensors moved to ``device``."""
    moved = [a.to(device) if hasattr(a, "to") else a for a in args]
    return moved, {k: (v.to(device) if hasattr(v, "to") else v) for k, v in kwargs.items()}


def find_loss(cfg: LoadedConfig, key: str) -> LossNode:
    """The loss at ``key`` (full, short, or a unique suffix): one of the config's loss dicts, or
    where none is there, one its head computes in its own code (SSDHead's ``loss_cls``)."""
    in_head = cfg.in_head_losses()
    named = [n for n in in_head if n.key == key or n.key.endswith(f".{key}")]
    try:
        paths = cfg.paths(key) if not named else []
    except KeyPathError:
        hint = _own_term_hint(cfg, key)
        if hint is not None:
            raise InputError(hint) from None
        if not in_head:
            raise
        paths = []  # named in the list below, with the losses its head computes
    losses = {n.path: n for n in cfg.losses()}
    found = [losses[p] for p in paths if p in losses] or named
    if len(found) != 1:
        names = ", ".join(n.key for n in [*cfg.losses(), *in_head])
        raise InputError(f"`{key}` does not name one loss of this config; its losses are {names}")
    return found[0]


def _own_term_hint(cfg: LoadedConfig, key: str) -> str | None:
    """What to ask for where ``key`` names a term of a head whose log's terms are its own
    (FreeAnchorRetinaHead's ``negative_bag_loss``), not a loss."""
    for loss in cfg.losses():
        head = head_of(cfg, loss)
        if loss.head is None or not isinstance(head.get("type"), str):
            continue
        head_key = keypath.format_path(loss.head)
        term = key.rpartition(".")[2]
        full = f"{head_key}.{term}"
        if full == key or full.endswith(f".{key}"):  # the term's name, whole or a suffix of its key
            hint = term_hint(bare_type(head["type"]), head_key, term)
            if hint is not None:
                return hint
    return None


def loss_dict(cfg: LoadedConfig, loss: LossNode) -> dict[str, Any]:
    """The config's dict of ``loss``; for a loss its head computes in its own code, the config of
    the loss module that computes the same (an error where the head reads a ``train_cfg`` key the
    config does not set)."""
    if loss.by_head is None:
        found = keypath.get(cfg.tree, loss.path)
        assert isinstance(found, dict)
        return found
    spec = in_head_spec(loss)
    assert spec is not None
    missing = [key for name, key in spec.reads.items() if name not in loss.params]
    if missing:
        raise InputError(
            f"{bare_type(loss.by_head)} computes {loss.path[-1]} with train_cfg.{missing[0]}, which this config does "
            f"not set (MMDetection fails with KeyError): set model.train_cfg.{missing[0]}"
        )
    return {"type": loss.type, **loss.params}


def loss_impl(cfg: LoadedConfig, loss: LossNode, version: int) -> Any:
    """losstune's module of ``loss`` (its class); :class:`UnsupportedLoss` where its type is looked up
    in another registry than MMDetection's, or losstune does not evaluate it."""
    from losstune.engine.losses import LOSSES

    ref = type_at(cfg.tree, loss.path, loss.type, version)
    if ref.registry != DEFAULT_SCOPE:
        raise UnsupportedLoss(
            f"`{loss.type}` is looked up in {ref.where}, and losstune evaluates MMDetection's losses only"
        )
    impl = LOSSES.get(ref.name)
    if impl is None:
        raise UnsupportedLoss(f"`{loss.type}` cannot be evaluated by losstune yet")
    return impl


def head_of(cfg: LoadedConfig, loss: LossNode) -> dict[str, Any]:
    """The config of the head ``loss`` belongs to (empty where it belongs to none)."""
    found = keypath.get(cfg.tree, loss.head) if loss.head else {}
    return found if isinstance(found, dict) else {}


def evaluate_config(
    cfg: LoadedConfig,
    key: str,
    *,
    inputs: str | None = None,
    seed: int = 0,
    num_priors: int | None = None,
    device: str = "cpu",
    mmdet_version: int | None = None,
    plot: str | None = None,
    check: bool = False,
    term: str | None = None,
    epoch: int = 0,
) -> EvalResult:
    """Evaluate the loss at ``key`` on sample inputs sized from the config, or on ``inputs``, as
        MMDetection ``mmdet_version`` computes it (detected from the config when not given); draw its
        configured kernel into the PNG ``plot``; with ``check``, compare the result with MMDetection's
        own loss module called on the same inputs, where it can be imported. ``num_priors`` must be at
        least 1 (``ValueError`` otherwise). ``term`` evaluates another of the loss's terms in the training
    log (``d0.loss_cls``, ``dn_loss_cls``), fed as its head feeds it. ``epoch`` is the training
    epoch modelled (0 as a run starts; at least 0, ``ValueError`` otherwise), for a head that feeds
    its losses one way for its first epochs and another after (TOODHead's ``initial_epoch``)."""
    if num_priors is not None and num_priors < 1:
        raise ValueError(f"num_priors must be at least 1, not {num_priors}")
    if epoch < 0:
        raise ValueError(f"epoch must be at least 0, not {epoch}")

    version = mmdet_version or detect_version(cfg.tree)
    loss, named = loss_named(cfg, key, version, epoch)
    if named is not None:
        if term is not None and term != named:
            raise InputError(f"`{key}` is the log's name of {loss.key}'s term {named}, not of its term {term}")
        term = named
    loss_cfg = loss_dict(cfg, loss)
    require_device(device)
    impl = loss_impl(cfg, loss, version)
    head = head_of(cfg, loss)
    loss_cfg = as_built(loss_cfg, head, loss.path[-1])
    fed: Feed | None = None
    at: At | None = None
    if inputs is not None:
        made = from_file(inputs, impl.forward)
        check_inputs(loss_cfg, made.kwargs)
        how = f"read from {inputs}"
    else:
        where, head_ref = _where(cfg, loss, version)
        fed, how, at = _sample_inputs(
            loss, loss_cfg, where, head_ref, seed=seed, num_priors=num_priors, term=term, epoch=epoch
        )
        made = fed.inputs
    args, kwargs = _on(device, made.args, made.kwargs)
    try:
        trace = evaluate(loss_cfg, *args, mmdet_version=version, **kwargs)
    except (AssertionError, RuntimeError, ValueError, IndexError, TypeError) as e:
        if "avg_factor can not be used" in str(e):
            reduction = loss_cfg.get("reduction")
            # 'sum' is a valid choice that this head cannot take; anything else is no choice at all
            rule = "LT110" if reduction == "sum" else "LT105"
            raise InputError(
                f"MMDetection would fail here too: {loss.key} is given an avg_factor (as its head passes one), "
                f"which MMDetection takes only with reduction='mean' or 'none', not reduction={reduction!r} "
                f"(see `losstune rule {rule}`); set reduction='mean'"
            ) from None
        raise InputError(
            f"the inputs do not fit {loss.type}: {type(e).__name__}: {e or 'an assertion failed'}"
        ) from None
    logged = trace.loss
    if fed is not None:
        trace.steps.insert(0, Step("sampling", fed.sampling, fed.stats))
        if fed.head_weight is not None and hasattr(logged, "dim"):  # the head sums it itself
            w = fed.head_weight.to(logged.device)
            logged = (logged * w.view(-1, *[1] * (logged.dim() - 1))).sum()
        others = fed.inputs.others
        if others is not None:  # the head's further calls of the module, evaluated alike
            results = [trace.loss]
            for call in others.calls:
                more, more_kwargs = _on(device, call.args, call.kwargs)
                results.append(evaluate(loss_cfg, *more, mmdet_version=version, **more_kwargs).loss)
            combined, text = others.combine(results, 1.0 / fed.scale if fed.scale else 1.0)
            logged = trace.add("head", text, combined)
        elif fed.scale is not None:
            factor = fed.scale
            logged = trace.add(
                "head",
                fed.scale_text,
                {k: v * factor for k, v in logged.items()} if isinstance(logged, dict) else logged * factor,
            )
    mask = EnvMask.of(cfg)  # a description quotes the configured numbers
    for step in trace.steps:
        step.description = mask.text(step.description)
    result = EvalResult(loss, trace, how, made.sampled, args, kwargs, version=version, loss_cfg=loss_cfg)
    result.logged = logged
    if fed is not None:
        result.log_name, result.family, result.notes = fed.log_name, fed.family, fed.notes
        result.log_names, result.rule, result.head_weight = fed.log_names, fed.rule, fed.head_weight
        result.phase = at
        result.own_terms = own_terms(fed.inputs)
    if plot is not None:
        from losstune.engine.plot import plot_kernel

        plot_kernel(loss_dict(cfg, loss), plot, f"{loss.key}: {loss.type}")
    if check:
        from losstune.engine.crosscheck import crosscheck

        result.check = crosscheck(loss_cfg, trace.loss, args, kwargs, version)
    return result


def logged_terms(result: EvalResult) -> dict[str, Any]:
    """The terms as the training log names them, with the values the head returns (the module's
    result after what the head does to it); ``loss`` for inputs read from a file, where no head is
    involved."""
    found = terms(result.logged if result.logged is not None else result.trace.loss)
    if not result.log_name:
        return found
    if list(found) == ["loss"]:
        return {result.log_name: found["loss"]}
    prefix = (
        result.log_name[: -len(str(result.loss.path[-1]))]
        if result.log_name.endswith(str(result.loss.path[-1]))
        else ""
    )
    return {f"{prefix}{k}": v for k, v in found.items()}


__all__ = [
    "EvalResult",
    "NotCalled",
    "as_built",
    "evaluate_config",
    "find_loss",
    "head_of",
    "logged_terms",
    "loss_dict",
    "loss_impl",
]
