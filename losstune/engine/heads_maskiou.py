"""Mask Scoring R-CNN's mask IoU head (``MaskIoUHead`` under ``MaskScoringRoIHead``) as MMDetection
3.3.0 feeds its ``loss_iou``, logged as ``loss_mask_iou``, on seeded positives.

``MaskScoringRoIHead.mask_loss`` hands ``MaskIoUHead.loss_and_target`` each positive RoI's predicted
mask IoU of its class and its mask logits of that class. ``get_targets`` binarises the logits at
``train_cfg.rcnn.mask_thr_binary`` and takes, per positive, ``overlap / (predicted area + the whole
instance's area - overlap)``, the instance's area being its mask target's inside the RoI divided by
the share of the instance the RoI holds (``_get_area_ratio``). Only the positives whose target is
above 0 are handed to the module (``pos_inds = mask_iou_targets > 0``), with no weight and no
avg_factor: the module averages them. The model's instance is an ellipse about the RoI (the
synthetic batch's masks are ellipses inscribed in their boxes), moved and sized by up to a tenth of
the RoI; its mask logits those of an untrained FCNMaskHead (mean 0, spread 0.4, as measured), its
predicted IoUs an untrained ``fc_mask_iou``'s (spread 0.07)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from losstune.engine.inputs import InputError, Inputs
from losstune.engine.sampling import Sampled, rcnn_cfg, sampled_positives
from losstune.words import count

MASK_SIZE = 28  # FCNMaskHead's mask targets
MASK_LOGIT_SPREAD = 0.4
IOU_SPREAD = 0.07
INSTANCE_SHIFT = 0.1


def mask_iou_targets(mask_logits: Tensor, mask_targets: Tensor, area_ratios: Tensor, threshold: float) -> Tensor:
    """``MaskIoUHead.get_targets`` after the area ratios: the IoU of each binarised predicted mask
    with its whole instance."""
    preds = (mask_logits > threshold).float()
    pred_areas = preds.sum((-1, -2))
    overlap = (preds * mask_targets).sum((-1, -2))
    full = mask_targets.sum((-1, -2)) / (area_ratios + 1e-7)
    return overlap / (pred_areas + full - overlap)


def _instances(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Each positive's mask target inside its RoI (an ellipse on the ``MASK_SIZE`` grid) and the
    share of the ellipse's area the RoI holds."""
    centre = MASK_SIZE / 2 + (torch.rand(n, 2, generator=g) * 2 - 1) * INSTANCE_SHIFT * MASK_SIZE
    axes = MASK_SIZE / 2 * (1 + (torch.rand(n, 2, generator=g) * 2 - 1) * INSTANCE_SHIFT)
    ys, xs = torch.meshgrid(torch.arange(MASK_SIZE) + 0.5, torch.arange(MASK_SIZE) + 0.5, indexing="ij")
    dx = (xs[None] - centre[:, 0, None, None]) / axes[:, 0, None, None]
    dy = (ys[None] - centre[:, 1, None, None]) / axes[:, 1, None, None]
    masks = (dx**2 + dy**2 <= 1).float()
    whole = math.pi * axes[:, 0] * axes[:, 1]
    return masks, (masks.sum((-1, -2)) / whole).clamp(max=1.0)


def mask_iou_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    *,
    model: dict[str, Any],
    num_classes: int,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """MaskIoUHead's call of ``loss_iou`` on seeded positives (``None`` for another loss).
    ``num_priors``: the positive RoIs (else the sampled positives of one image)."""
    if loss_name != "loss_iou":
        return None
    threshold = rcnn_cfg(model).get("mask_thr_binary")
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
        raise InputError(
            "MaskIoUHead binarises the masks at train_cfg.rcnn.mask_thr_binary, which this config does not set "
            "(MMDetection fails there): set model.train_cfg.rcnn.mask_thr_binary, 0.5 in MMDetection's configs"
        )
    if num_priors is not None:
        rois, source = num_priors, "the positive RoIs asked for (--num-priors)"
    else:
        rois, source = sampled_positives(model, num_classes, seed)
        source = f"{source} ({rois})"
    g = torch.Generator().manual_seed(seed)
    masks, ratios = _instances(rois, g)
    logits = torch.randn(rois, MASK_SIZE, MASK_SIZE, generator=g) * MASK_LOGIT_SPREAD
    targets = mask_iou_targets(logits, masks, ratios, float(threshold))
    kept = targets > 0
    k = int(kept.sum())
    pred = torch.randn(rois, generator=g)[kept] * IOU_SPREAD
    what = (
        f"MaskScoringRoIHead's positives: {count(rois, 'RoI')} ({source}), each its class's predicted mask IoU "
        f"(an untrained fc_mask_iou's, ± {IOU_SPREAD:g}) against MaskIoUHead.get_targets' IoU of its {MASK_SIZE}×"
        f"{MASK_SIZE} mask logits (an untrained FCNMaskHead's, ± {MASK_LOGIT_SPREAD:g}) binarised at "
        f"mask_thr_binary={threshold:g} with the whole instance (its mask target inside the RoI ÷ the share of "
        f"the instance the RoI holds); the {count(k, 'positive')} whose target is above 0 are handed to the module "
        f"(the {rois - k} of a target of 0 left out), with no weight"
    )
    stats = {"positives": k, "negatives": 0, "priors": k, "rois": rois, "avg_factor": None}
    s = Sampled(
        torch.zeros(k, dtype=torch.long),
        torch.ones(k),
        torch.ones(k, 4),
        targets[kept],
        torch.ones(k, dtype=torch.bool),
        1.0,
        what,
        stats,
        "none",
    )
    return Inputs([pred, targets[kept]], {}, s)
