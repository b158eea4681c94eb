"""The YOLO heads' own ways of feeding their losses (MMDetection 3.3.0): YOLOFHead's assignment
(UniformAssigner) and the candidate boxes its box loss takes, and YOLOV3Head's assignment
(GridAssigner) and its four terms on the maps of every prior, masked by weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from losstune.engine.inputs import untrained_logits
from losstune.engine.sampling import Sampled, _fixed_positives

MATCH_TIMES = 4  # UniformAssigner's default match_times
# YOLOV3Head.init_weights: the objectness bias at bias_init_with_prob(8 / (608 / stride)²), for the
# finest of its default strides (32, 16, 8), where most of the priors are
YOLOV3_CONF_PRIOR = 8 / (608 / 8) ** 2
# the spread of a freshly built YOLOV3Head's outputs (0.1 to 0.25 measured on a batch), and of its
# positives' size targets, log(box / anchor) of the best anchor (0.35)
YOLOV3_SPREAD = 0.15
YOLOV3_WH_SPREAD = 0.35


def uniform(num_priors: int, num_gts: int, num_classes: int, seed: int, match_times: int) -> Sampled:
    """UniformAssigner's positives on an untrained head: each box takes the ``match_times`` priors
    nearest to it (L1 distance of centre and size) among the predicted boxes and again among the
    anchors; an untrained head's boxes are its anchors, so both pick the same priors and each box has
    ``match_times`` positives (approximated: none is ignored for a low IoU)."""
    what = (
        f"UniformAssigner (approximated): {num_priors} priors, each of the {num_gts} boxes takes its "
        f"{match_times} nearest predicted boxes and its {match_times} nearest anchors, the same priors "
        "on an untrained head"
    )
    return _positives_of(num_priors, match_times * num_gts, num_classes, seed, what)


def grid(num_priors: int, num_gts: int, num_classes: int, seed: int) -> Sampled:
    """GridAssigner's positives (YOLOV3Head): each box takes the prior of best IoU among the anchors
    of the grid cells its centre falls in, one a box (approximated: a second responsible anchor
    above ``pos_iou_thr`` is rare); every other prior is a negative."""
    what = (
        f"GridAssigner (approximated): {num_priors} priors, each of the {num_gts} boxes takes the best "
        "anchor of the cells its centre falls in"
    )
    return _positives_of(num_priors, num_gts, num_classes, seed, what)


def _positives_of(num_priors: int, positives: int, num_classes: int, seed: int, what: str) -> Sampled:
    """``positives`` of ``num_priors`` priors (at most all) at seeded places, as ``what`` assigns them."""
    positives = min(positives, num_priors)
    counted = f"{what} ({positives} positives, {num_priors - positives} negatives)"
    g = torch.Generator().manual_seed(seed)
    return _fixed_positives(num_priors, positives, num_classes, g, counted, "max(positives, 1)")


def yolof_args(loss_name: str, args: list[Any], kwargs: dict[str, Any], rows: Tensor) -> tuple[list[Any], str]:
    """YOLOFHead's ``loss_bbox``: the assigner's candidate boxes, each positive twice (as a predicted
    box's match and as an anchor's), each weighted 1 (``pos_idx``); ``loss_cls`` as an anchor head's.
    Returns the arguments and what the head hands, in words (empty: as made)."""
    if loss_name != "loss_bbox":
        return args, ""
    pred, target = args[0][rows], args[1][rows]
    kwargs["weight"] = torch.ones(2 * rows.numel())
    text = (
        "; YOLOFHead hands the module the assigner's candidate boxes, each positive twice "
        "(a predicted box's match and an anchor's), weighted 1 (pos_idx)"
    )
    return [torch.cat([pred, pred]), torch.cat([target, target])], text


def yolov3_args(
    loss_name: str, kwargs: dict[str, Any], s: Sampled, g: torch.Generator, num_classes: int
) -> tuple[list[Any], str]:
    """YOLOV3Head.loss_by_feat_single's calls, on every prior, its maps flattened to rows:
    ``loss_cls`` on the class logits against one-hot labels, ``loss_xy`` on the centre logits
    against the centres' offsets in their cells, ``loss_wh`` on the sizes against the log of the
    boxes' sizes over their anchors', each weighted by the positive mask; ``loss_conf`` on one
    objectness logit against 1 at the positives, weighted by the positives and negatives. Returns
    the arguments and what the head hands, in words."""
    n = s.labels.numel()
    pos = s.pos_mask[:, None].float()
    rows = torch.nonzero(s.pos_mask).squeeze(1)
    if loss_name == "loss_conf":
        kwargs["weight"] = (s.label_weights > 0).float()
        logit = torch.logit(torch.tensor(YOLOV3_CONF_PRIOR))
        text = "; YOLOV3Head hands every prior's objectness (its maps, a call per level, summed in the log), weighted by the positives and negatives"
        return [torch.randn(n, generator=g) * YOLOV3_SPREAD + logit, s.pos_mask.float()], text
    kwargs["weight"] = pos
    text = (
        "; YOLOV3Head hands every prior (its maps, a call per level, summed in the log), weighted by the positive mask"
    )
    if loss_name == "loss_cls":
        target = torch.zeros(n, num_classes)
        target[rows, s.labels[rows]] = 1.0
        return [untrained_logits(n, num_classes, generator=g), target], text
    target = torch.zeros(n, 2)
    if loss_name == "loss_xy":
        target[rows] = torch.rand(rows.numel(), 2, generator=g)
    else:
        target[rows] = torch.randn(rows.numel(), 2, generator=g) * YOLOV3_WH_SPREAD
    return [torch.randn(n, 2, generator=g) * YOLOV3_SPREAD, target], text


def yolox_args(
    loss_name: str, args: list[Any], s: Sampled, rows: Tensor, g: torch.Generator, num_classes: int
) -> list[Any]:
    """YOLOXHead's calls: ``loss_obj`` on one objectness logit per prior against 1 at the positives,
    ``loss_cls`` on the positives' class logits against their one-hot labels times their IoUs."""
    if loss_name == "loss_obj":
        logits = untrained_logits(s.labels.numel(), 1, generator=g)
        return [logits, s.pos_mask[:, None].float()]
    if loss_name == "loss_cls":
        logits = untrained_logits(rows.numel(), num_classes, generator=g)
        target = torch.nn.functional.one_hot(s.labels[rows], num_classes).float() * s.ious[rows, None]
        return [logits, target]
    return args
