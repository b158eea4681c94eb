"""Cascade RPN (``CascadeRPNHead``, its ``stages`` each a ``StageCascadeRPNHead``) as MMDetection
3.3.0 feeds the stages' losses.

``CascadeRPNHead.loss`` runs its ``num_stages`` stages in turn on the same anchors, refined by each
stage's predicted deltas for the next (``refine_bboxes``; the stage with ``adapt_cfg`` of type
``offset`` samples its features where the refined anchors lie), and logs stage ``i``'s terms as
``s{i}.loss_rpn_reg`` and, where the stage has ``with_cls``, ``s{i}.loss_rpn_cls``. Stage ``i`` is
trained by ``train_cfg.rpn[i]``: its assigner (``RegionAssigner`` in MMDetection's configs for the
first stage: the anchors in each box's centre region on its level; ``MaxIoUAssigner`` on the
refined anchors for the second), and its sampler, a ``PseudoSampler`` where it names none.
``StageCascadeRPNHead.loss_by_feat`` calls its modules once per feature level, on every anchor of
the level and of every image (``loss_bbox`` on the boxes decoded from the adapted anchors where
``reg_decoded_bbox``), with one avg_factor: the sampling's (``Σ max(positives, 1) + max(negatives,
1)`` over the images) where its sampling result counts the negatives, and where it does not (a
``PseudoSampler``'s) every anchor of the images ÷ 200, hard-coded as in Guided Anchoring. The
model assigns each stage's anchors as the dense heads' are simulated (the RegionAssigner's centre
regions are not: the positives are the simulation's)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from losstune.engine.sampling import Sampled, sample
from losstune.schema.catalogue import bare_type

CASCADE_RPN = "StageCascadeRPNHead"
CASCADE_HEADS = ("CascadeRPNHead", CASCADE_RPN)
# how StageCascadeRPNHead counts the avg_factor of a stage whose sampling counts no negatives
ANCHORS_200 = "every anchor of the images / 200"
HARD_CODED = 200.0


def stage_index(path: tuple[Any, ...]) -> int | None:
    """The stage a loss at ``path`` is of (``…, 'stages', i, 'loss_bbox'``), else ``None``."""
    for i in range(len(path) - 2):
        if path[i] == "stages" and isinstance(path[i + 1], int):
            return int(path[i + 1])
    return None


def stage_train_cfg(model: dict[str, Any], stage: int) -> dict[str, Any]:
    """``model.train_cfg.rpn[stage]`` (``{}`` where the config gives none)."""
    train = model.get("train_cfg")
    rpn = train.get("rpn") if isinstance(train, dict) else None
    entry = rpn[stage] if isinstance(rpn, list) and 0 <= stage < len(rpn) else None
    return entry if isinstance(entry, dict) else {}


def stage_sampled(model: dict[str, Any], path: tuple[Any, ...], *, num_priors: int, seed: int) -> Sampled:
    """One image's anchors of the stage at ``path`` assigned and sampled with its
    ``train_cfg.rpn[i]`` (its sampler, else a PseudoSampler whose avg_factor is every anchor ÷ 200)."""
    stage = stage_index(path) or 0
    cfg = stage_train_cfg(model, stage)
    sampler = cfg.get("sampler")
    assigner = cfg.get("assigner")
    kind = bare_type(str(assigner.get("type", ""))) if isinstance(assigner, dict) else ""
    s = sample(
        sampler if isinstance(sampler, dict) else None, num_priors=num_priors, num_classes=1, roi_head=False, seed=seed
    )
    where = f"stage {stage} (train_cfg.rpn[{stage}]{f', {kind}' if kind else ''}): "
    if isinstance(sampler, dict):
        return replace(s, description=where + s.description)
    avg = s.labels.numel() / HARD_CODED
    text = (
        f"{where}{s.description}; a PseudoSampler's result counts no negatives (avg_factor_with_neg=False), so "
        f"StageCascadeRPNHead.loss_by_feat passes {ANCHORS_200} (hard-coded)"
    )
    return replace(s, avg_factor=avg, description=text, stats=s.stats | {"avg_factor": avg}, avg_rule=ANCHORS_200)


def stage_log_names(path: tuple[Any, ...], name: str) -> list[str]:
    """The log's names of a stage's loss: ``s{i}.`` before its key (``s0.loss_rpn_reg``)."""
    stage = stage_index(path)
    return [name] if stage is None else [f"s{stage}.{name}"]
