"""RTMDet-Ins' mask loss (``RTMDetInsHead``, ``RTMDetInsSepBNHead``) as MMDetection 3.3.0 feeds
it, on a seeded image. Its ``loss_cls`` and ``loss_bbox`` are RTMDetHead's, line for line, and are
modelled as RTMDet's.

``RTMDetInsHead.loss_mask_by_feat`` takes every positive of DynamicSoftLabelAssigner's assignment
(PseudoSampler's ``pos_inds``, no cap), each with the mask its dynamic convolutions make on the
mask branch's map at the first level's stride (8), upsampled bilinearly by ``strides[0] //
mask_loss_stride`` (× 2), against its instance's mask sampled every ``mask_loss_stride`` (4)
pixels from ``mask_loss_stride // 2``. It calls ``loss_mask`` (DiceLoss) once on all the images'
masks with ``weight=None`` and ``avg_factor`` = the masks, ``reduce_mean``-ed and clamped at 1;
it divides nothing afterwards. With no positive it makes no call and the term is
``mask_feats.sum() * 0``. The model's image is the square one whose points at the head's strides
are the priors asked for (as CondInst's), its positives RTMDet's (the same seed), its mask logits
an untrained head's (mean 0, spread 0.08, as measured on freshly built RTMDet-Ins heads, tiny to
x), the instances ellipses inscribed in their boxes (as the comparison's batch paints them)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from losstune.engine.confignum import config_int
from losstune.engine.ellipses import seeded_boxes
from losstune.engine.heads_condinst import ellipse_masks, image_side
from losstune.engine.inputs import Inputs
from losstune.engine.sampling import Sampled, dynamic_k
from losstune.words import count

RTMDET_INS_HEADS = ("RTMDetInsHead", "RTMDetInsSepBNHead")
RTMDET_STRIDES = (8, 16, 32)  # the strides of RTMDet's MlvlPointGenerator in MMDetection's configs
MASK_LOSS_STRIDE = 4  # RTMDetInsHead's default mask_loss_stride
DSL_TOPK = 13  # DynamicSoftLabelAssigner's default topk
MASK_MEAN, MASK_SPREAD = 0.0, 0.08  # an untrained RTMDet-Ins head's mask logits


def strides(head: dict[str, Any]) -> tuple[int, ...]:
    """The head's point strides (its ``anchor_generator``'s or ``prior_generator``'s ``strides``,
    RTMDet's 8, 16, 32 where unset or not a list of ints)."""
    for key in ("anchor_generator", "prior_generator"):
        generator = head.get(key)
        found = generator.get("strides") if isinstance(generator, dict) else None
        if isinstance(found, (list, tuple)) and found and all(isinstance(s, int) and s > 0 for s in found):
            return tuple(found)
    return RTMDET_STRIDES


def mask_side(side: int, head: dict[str, Any]) -> tuple[int, int]:
    """The side of the masks handed to ``loss_mask`` on an image of ``side`` (the first level's
    map, ``ceil(side / strides[0])``, upsampled by ``strides[0] // mask_loss_stride``), and
    ``mask_loss_stride``."""
    first = strides(head)[0]
    every = config_int(head, "mask_loss_stride", MASK_LOSS_STRIDE, least=1)
    return math.ceil(side / first) * max(first // every, 1), every


def assignment(model: dict[str, Any], num_priors: int, num_gts: int, num_classes: int, seed: int) -> Sampled:
    """The positives of ``num_priors`` points of one image as RTMDet's DynamicSoftLabelAssigner
    gives them (approximated, :func:`~losstune.engine.sampling.dynamic_k`), with the
    ``train_cfg.assigner.topk`` the config sets (13 unless set)."""
    train = model.get("train_cfg")
    assigner = train.get("assigner") if isinstance(train, dict) else None
    topk = config_int(assigner if isinstance(assigner, dict) else {}, "topk", DSL_TOPK, least=1)
    return dynamic_k(num_priors, num_gts, num_classes, seed, assigner="DynamicSoftLabelAssigner", topk=topk)


def mask_inputs(
    loss_name: str,
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_classes: int,
    num_priors: int,
    num_gts: int,
    seed: int,
) -> Inputs | None:
    """RTMDetInsHead's call of ``loss_mask`` on the model's image (``None`` for another loss): the
    positives of ``num_priors`` points as RTMDet's assigner gives them on the same seed, each with
    its mask logits and its instance's mask, ``avg_factor`` the masks (the head model's rule sets it)."""
    if loss_name != "loss_mask":
        return None
    assigned = assignment(model, num_priors, num_gts, num_classes, seed)
    masks = int(assigned.pos_mask.sum())
    side = image_side(num_priors, strides(head))
    size, every = mask_side(side, head)
    g = torch.Generator().manual_seed(seed + 1)
    instances = ellipse_masks(seeded_boxes(num_gts, side, g), side, every)[:, :size, :size]
    of = torch.randint(0, num_gts, (masks,), generator=g)
    logits = torch.randn(masks, size, size, generator=g) * MASK_SPREAD + MASK_MEAN
    first = strides(head)[0]
    text = (
        f"{assigned.description}; RTMDetInsHead hands loss_mask every positive's mask ({count(masks, 'mask')}): "
        f"its {size}×{size} mask logits (a {side}×{side} image's mask map at stride {first}, upsampled "
        f"× {max(first // every, 1)}) against its instance's mask sampled every mask_loss_stride = {every} pixels"
    )
    stats = {**assigned.stats, "masks": masks}
    sampled = replace(assigned, description=text, stats=stats, avg_factor=float(max(masks, 1)))
    return Inputs([logits, instances[of]], {"avg_factor": float(max(masks, 1))}, sampled, avg_rule="max(masks, 1)")
