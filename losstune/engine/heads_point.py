"""PointRend's point head (``MaskPointHead`` under ``PointRendRoIHead``) as MMDetection 3.3.0 feeds
its ``loss_point``, logged as ``loss_point``, on the RoI head's positives.

``PointRendRoIHead.mask_loss`` runs the mask head, then ``_mask_point_loss``: for each positive RoI
of every image, ``get_roi_rel_points_train`` picks ``train_cfg.rcnn.num_points`` points in the RoI
(``oversample_ratio`` × as many at random, the ``importance_sample_ratio`` share of them the most
uncertain of the coarse mask's logits of the RoI's class, the rest at random), and the point head
predicts a logit per class at each. ``MaskPointHead.loss_and_target`` samples each positive's
ground-truth mask at its points (``point_sample``, bilinear) and calls
``loss_point(point_pred, point_targets, pos_labels)``: ``(positives, num_classes, num_points)``
logits (one channel with ``class_agnostic``), no weight and no avg_factor; the module (a
``use_mask`` cross-entropy) takes each RoI's class and averages every point. The coarse logits of
an untrained head carry no information, so the uncertain points are as random as the others: the
model's points are uniform in the RoI, each positive's instance an ellipse about it (moved and
sized by up to a tenth of the RoI), and the logits those of an untrained ``fc_logits`` (initialised
N(0, 0.001), near 0)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.inputs import InputError, Inputs
from losstune.engine.sampling import ROI_PROPOSALS, rcnn_cfg, roi_sample
from losstune.words import count

LOGIT_SPREAD = 0.02
INSTANCE_SHIFT = 0.1


def num_points(model: dict[str, Any]) -> int:
    """``train_cfg.rcnn.num_points``, which ``MaskPointHead`` reads with no default."""
    n = rcnn_cfg(model).get("num_points")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(
            "MaskPointHead samples train_cfg.rcnn.num_points points of each positive RoI, which this config does "
            "not set to a positive int (MMDetection fails there): set model.train_cfg.rcnn.num_points, 14 * 14 in "
            "MMDetection's PointRend configs"
        )
    return n


def point_targets(points: Tensor, centres: Tensor, axes: Tensor) -> Tensor:
    """Each RoI's point targets: 1 where a point (``(RoIs, points, 2)``, relative to the RoI) lies
    in the RoI's instance, the ellipse of ``centres`` and ``axes`` (``(RoIs, 2)`` each), else 0."""
    d = (points - centres[:, None, :]) / axes[:, None, :]
    return ((d**2).sum(-1) <= 1).float()


def point_inputs(
    loss_name: str,
    *,
    head: dict[str, Any],
    model: dict[str, Any],
    num_classes: int,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """MaskPointHead's call of ``loss_point`` on the positives the configured RoI sampler draws
    from one image's proposals (``num_priors`` of them, else 2,000); ``None`` for another loss."""
    if loss_name != "loss_point":
        return None
    proposals = num_priors or ROI_PROPOSALS
    s = roi_sample(model, num_classes, seed, proposals)
    rows = torch.nonzero(s.pos_mask).squeeze(1)
    args, how = point_args(s.labels[rows], head, model, num_classes, torch.Generator().manual_seed(seed + 1))
    return Inputs(
        args,
        {},
        replace(s, description=s.description + how, stats={**s.stats, "priors": proposals, "point_rois": rows.numel()}),
    )


def point_args(
    pos_labels: Tensor, head: dict[str, Any], model: dict[str, Any], num_classes: int, g: torch.Generator
) -> tuple[list[Tensor], str]:
    """``loss_point``'s arguments for the positives of ``pos_labels`` (their classes), and the words
    for how the head makes them."""
    points = num_points(model)
    agnostic = head.get("class_agnostic") is True
    n = pos_labels.numel()
    rel = torch.rand(n, points, 2, generator=g)
    centres = 0.5 + (torch.rand(n, 2, generator=g) * 2 - 1) * INSTANCE_SHIFT
    axes = 0.5 * (1 + (torch.rand(n, 2, generator=g) * 2 - 1) * INSTANCE_SHIFT)
    target = point_targets(rel, centres, axes)
    pred = torch.randn(n, 1 if agnostic else num_classes, points, generator=g) * LOGIT_SPREAD
    labels = torch.zeros_like(pos_labels) if agnostic else pos_labels
    rcnn = rcnn_cfg(model)
    ratio, share = rcnn.get("oversample_ratio", "?"), rcnn.get("importance_sample_ratio", "?")
    inside = int(target.sum())
    what = (
        f"; PointRendRoIHead hands MaskPointHead's point logits of the {count(n, 'positive RoI')}, "
        f"num_points={points} each (of oversample_ratio={ratio} × as many at random, the "
        f"importance_sample_ratio={share} most uncertain of the coarse mask's: an untrained head's are random), "
        f"{'one channel (class_agnostic)' if agnostic else f'{num_classes} classes'} (an untrained fc_logits', "
        f"± {LOGIT_SPREAD:g}), against its instance's mask sampled at each point ({inside} of {n * points} inside), "
        "with no weight"
    )
    return [pred, target, labels], what


__all__ = ["num_points", "point_args", "point_inputs", "point_targets"]
