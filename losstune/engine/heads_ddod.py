"""DDOD's head (``DDODHead``) as MMDetection 3.3.0 feeds its ``loss_cls``, ``loss_bbox`` and
``loss_iou``, on a seeded image.

``loss_by_feat`` assigns the anchors twice, with two ATSS assigners: ``train_cfg.assigner`` for the
classification branch and ``train_cfg.reg_assigner`` for the regression branch (each an
``ATSSAssigner`` whose ``alpha`` makes its cost ``sigmoid(score of the box's class) ** (1 - alpha)
× IoU(decoded prediction, box) ** alpha`` in place of the anchors' IoU), then samples each with the
``PseudoSampler``. Each branch's avg_factor is the sum over the images of ``SamplingResult.avg_factor``
(``max(positives, 1)`` an image), ``reduce_mean``-ed and clamped to at least 1. The head calls its
modules once per feature level (``multi_apply``): ``loss_cls`` on every anchor of the level
(``(N, num_classes)`` logits, labels and label weights of the classification assignment);
``loss_bbox`` on the level's positives of the regression assignment (their decoded predictions
against their decoded targets, no weight); ``loss_iou`` on every anchor's one IoU logit
(``(N,)``) against the IoU of the positives' decoded predictions with their targets (0 elsewhere),
weighted 1 at the positives and 0 elsewhere; a level without a regression positive calls neither
box module (its terms are ``0 × the predictions``). Both box terms use the regression avg_factor.

Each level's term is multiplied by a reweight factor (``calc_reweight_factor``): with ``n_l`` the
positives the head has counted on level ``l`` (``cls_num_pos_samples_per_level``, a counter the head
keeps across iterations and adds to on every call), ``f_l = 2 - (n_l - min n) / (max n - min n +
1e-10)``: 1 on the level of the most positives, 2 on that of the fewest. The classification
assignment's positives are counted first and give ``loss_cls``'s factors; the regression
assignment's are then added to the same counter, so the box terms' factors are counted on both.
The model is the first iteration of a freshly built head (the counter at 0), as the comparison's
run is; later in a training the counter holds every iteration before it.

The model's image is 1344 × 800 (COCO's 1333 × 800 training scale, padded to 32), or the square
whose anchors are about ``num_priors``; its 8 boxes are drawn as the comparison's batch draws them
(a tenth to a half of the image's side). The anchors are the configured ``AnchorGenerator``'s
(``octave_base_scale`` × ``2 ** (i / scales_per_octave)`` × stride, each ratio, centred on the
stride's grid points), every one inside the image (``allowed_border=-1``, as the configs set it).
The predictions are an untrained head's: class logits at the prior bias ± 0.3, box deltas
N(0, 0.1) before the coder's ``target_stds``, IoU logits N(0, 0.1); the assigners' decoded
predictions are those boxes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from losstune.engine.boxes import aligned_overlaps
from losstune.engine.confignum import config_float, config_int, number
from losstune.engine.ellipses import drawn_instances
from losstune.engine.inputs import Inputs, OtherCalls, untrained_logits
from losstune.engine.sampling import NUM_GTS, Sampled
from losstune.words import count

DDOD_HEAD = "DDODHead"
LOSSES = ("loss_cls", "loss_bbox", "loss_iou")
STRIDES = (8, 16, 32, 64, 128)
IMAGE = (1344, 800)  # width, height
DELTA_SPREAD = 0.1  # an untrained head's box deltas, before the coder's target_stds
IOU_SPREAD = 0.1  # and its IoU logits
TARGET_STDS = (0.1, 0.1, 0.2, 0.2)  # DDOD's DeltaXYWHBBoxCoder
ATSS_TOPK = 9


@dataclass(frozen=True)
class Anchors:
    """The configured anchor generator: its strides, and each location's base sizes and ratios."""

    strides: tuple[float, ...]
    scales: tuple[float, ...]  # octave_base_scale × 2 ** (i / scales_per_octave)
    ratios: tuple[float, ...]

    @property
    def per_location(self) -> int:
        return len(self.scales) * len(self.ratios)

    def sizes(self, image: tuple[int, int]) -> list[tuple[int, int]]:
        """Each level's feature map (height, width) for ``image`` (width, height)."""
        return [(math.ceil(image[1] / s), math.ceil(image[0] / s)) for s in self.strides]

    def count(self, image: tuple[int, int]) -> int:
        """The anchors of one image."""
        return sum(h * w for h, w in self.sizes(image)) * self.per_location

    def level(self, index: int, size: tuple[int, int]) -> Tensor:
        """Level ``index``'s anchors (x1, y1, x2, y2), as ``AnchorGenerator.grid_priors`` orders
        them: location-major, each location's ratios outer, scales inner."""
        stride = self.strides[index]
        ratios = torch.tensor(self.ratios)
        scales = torch.tensor(self.scales)
        h_ratios = ratios.sqrt()
        ws = (stride * (1 / h_ratios)[:, None] * scales[None, :]).reshape(-1)
        hs = (stride * h_ratios[:, None] * scales[None, :]).reshape(-1)
        base = torch.stack([-0.5 * ws, -0.5 * hs, 0.5 * ws, 0.5 * hs], dim=-1)
        ys, xs = torch.meshgrid(
            torch.arange(size[0], dtype=torch.float32) * stride,
            torch.arange(size[1], dtype=torch.float32) * stride,
            indexing="ij",
        )
        shifts = torch.stack([xs.reshape(-1), ys.reshape(-1)] * 2, dim=-1)
        return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4)


def _floats(value: Any) -> tuple[float, ...] | None:
    if not isinstance(value, (list, tuple)) or not value:
        return None
    found = [number(v) for v in value]
    return tuple(float(v) for v in found if v is not None) if all(v is not None and v > 0 for v in found) else None


def anchors_of(head: dict[str, Any]) -> Anchors:
    """The head's ``anchor_generator`` (DDOD's config's where it gives none that fits)."""
    gen = head.get("anchor_generator")
    gen = gen if isinstance(gen, dict) else {}
    strides = _floats(gen.get("strides")) or tuple(float(s) for s in STRIDES)
    ratios = _floats(gen.get("ratios")) or (1.0,)
    base = config_float(gen, "octave_base_scale", 8.0, above=0.0)
    per_octave = config_int(gen, "scales_per_octave", 1, least=1)
    scales = tuple(base * 2 ** (i / per_octave) for i in range(per_octave))
    return Anchors(strides, scales, ratios)


def image_of(anchors: Anchors, num_priors: int | None) -> tuple[int, int]:
    """The model's image (width, height): :data:`IMAGE`, or the square (a multiple of 8 pixels a
    side) whose anchors are nearest ``num_priors``."""
    if num_priors is None:
        return IMAGE
    side = 8
    while anchors.count((side + 8, side + 8)) <= num_priors:
        side += 8
    larger = side + 8
    if abs(anchors.count((larger, larger)) - num_priors) < abs(anchors.count((side, side)) - num_priors):
        side = larger
    return side, side


def _pairwise_ious(a: Tensor, b: Tensor) -> Tensor:
    """``(len(a), len(b))`` IoUs of (x1, y1, x2, y2) boxes, as ``BboxOverlaps2D`` computes them."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    overlap = wh[..., 0] * wh[..., 1]
    union = torch.max(area_a[:, None] + area_b[None, :] - overlap, torch.tensor(1e-6))
    return overlap / union


def atss_assign(
    priors: Tensor,
    num_level_priors: Sequence[int],
    gt_boxes: Tensor,
    gt_labels: Tensor,
    *,
    topk: int,
    alpha: float | None = None,
    scores: Tensor | None = None,
    pred_boxes: Tensor | None = None,
) -> Tensor:
    """``ATSSAssigner.assign``'s box of each prior (its index, -1 where negative): on each level the
    ``topk`` priors whose centres are nearest each box's, positive above the mean + standard
    deviation of their costs with their centre inside the box, the box of the highest cost where
    several claim one. With ``alpha``, the cost is ``sigmoid(scores[:, label]) ** (1 - alpha) ×
    IoU(pred_boxes, box) ** alpha``; without, the priors' IoUs."""
    if alpha is None or scores is None or pred_boxes is None:
        overlaps = _pairwise_ious(priors, gt_boxes)
    else:
        cls_cost = scores[:, gt_labels].sigmoid()
        overlaps = cls_cost ** (1 - alpha) * _pairwise_ious(pred_boxes, gt_boxes) ** alpha
    num_gt = gt_boxes.shape[0]
    gt_c = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
    prior_c = (priors[:, :2] + priors[:, 2:]) / 2
    distances = (prior_c[:, None, :] - gt_c[None, :, :]).pow(2).sum(-1).sqrt()
    candidates, start = [], 0
    for n in num_level_priors:
        _, idx = distances[start : start + n].topk(min(topk, n), dim=0, largest=False)
        candidates.append(idx + start)
        start += n
    cand = torch.cat(candidates, dim=0)
    cand_overlaps = overlaps[cand, torch.arange(num_gt)]
    is_pos = cand_overlaps >= (cand_overlaps.mean(0) + cand_overlaps.std(0))[None, :]
    cx, cy = prior_c[cand, 0], prior_c[cand, 1]
    sides = torch.stack([cx - gt_boxes[:, 0], cy - gt_boxes[:, 1], gt_boxes[:, 2] - cx, gt_boxes[:, 3] - cy], dim=1)
    is_pos &= sides.min(dim=1)[0] > 0.01
    claimed = torch.full_like(overlaps, -math.inf)
    gt_idx = torch.arange(num_gt).expand_as(cand)
    claimed[cand[is_pos], gt_idx[is_pos]] = overlaps[cand[is_pos], gt_idx[is_pos]]
    best, which = claimed.max(dim=1)
    return torch.where(best != -math.inf, which, torch.full_like(which, -1))


def reweight_factors(counted: Sequence[int]) -> list[float]:
    """``calc_reweight_factor``: each level's factor from the positives the head has counted there,
    2 - (n - min) / (max - min + 1e-10)."""
    low, high = min(counted), max(counted)
    interval = 1.0 / (high - low + 1e-10)
    return [2.0 - (n - low) * interval for n in counted]


def level_divisor(levels: Sequence[tuple[int, float]]) -> float | None:
    """What the reweighting divides a term by, counted on each level's (positives counted, the
    module's result): Σ results / Σ factor × result (``None`` where the weighted sum is 0)."""
    factors = reweight_factors([n for n, _ in levels])
    weighted = sum(f * v for f, (_, v) in zip(factors, levels, strict=True))
    return sum(v for _, v in levels) / weighted if weighted else None


@dataclass(frozen=True)
class Batch:
    """The model's image: its levels' anchors (sizes), the two assignments' box of each anchor, the
    boxes, labels and predictions."""

    image: tuple[int, int]
    sizes: list[int]  # anchors a level
    anchors: Tensor
    boxes: Tensor
    labels: Tensor
    scores: Tensor
    pred_boxes: Tensor
    cls_gt: Tensor
    reg_gt: Tensor

    def per_level(self, gt: Tensor) -> list[int]:
        """An assignment's positives on each level."""
        return [int(part.ge(0).sum()) for part in torch.split(gt, self.sizes)]


def _assigner(model: dict[str, Any], key: str) -> tuple[int, float | None]:
    train = model.get("train_cfg")
    cfg = train.get(key) if isinstance(train, dict) else None
    cfg = cfg if isinstance(cfg, dict) else {}
    alpha = number(cfg.get("alpha"))
    return config_int(cfg, "topk", ATSS_TOPK, least=1), float(alpha) if alpha is not None else None


def _decode(anchors: Tensor, deltas: Tensor) -> Tensor:
    """``DeltaXYWHBBoxCoder.decode`` with zero means and DDOD's stds (no clamp: the deltas are small)."""
    d = deltas * torch.tensor(TARGET_STDS)
    w, h = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    cx, cy = anchors[:, 0] + 0.5 * w + d[:, 0] * w, anchors[:, 1] + 0.5 * h + d[:, 1] * h
    nw, nh = w * d[:, 2].exp(), h * d[:, 3].exp()
    return torch.stack([cx - 0.5 * nw, cy - 0.5 * nh, cx + 0.5 * nw, cy + 0.5 * nh], dim=1)


def model_batch(
    head: dict[str, Any], model: dict[str, Any], *, num_classes: int, num_priors: int | None, seed: int
) -> Batch:
    """The model's seeded image, its predictions and the two assignments of its anchors."""
    anchors_cfg = anchors_of(head)
    image = image_of(anchors_cfg, num_priors)
    g = torch.Generator().manual_seed(seed)
    boxes, labels = drawn_instances(NUM_GTS, image, num_classes, g)
    levels = [anchors_cfg.level(i, size) for i, size in enumerate(anchors_cfg.sizes(image))]
    anchors = torch.cat(levels)
    scores = untrained_logits(anchors.shape[0], num_classes, generator=g)
    pred_boxes = _decode(anchors, torch.randn(anchors.shape[0], 4, generator=g) * DELTA_SPREAD)
    sizes = [lv.shape[0] for lv in levels]
    gts = []
    for key in ("assigner", "reg_assigner"):
        topk, alpha = _assigner(model, key)
        gts.append(
            atss_assign(anchors, sizes, boxes, labels, topk=topk, alpha=alpha, scores=scores, pred_boxes=pred_boxes)
        )
    return Batch(image, sizes, anchors, boxes, labels, scores, pred_boxes, gts[0], gts[1])


def _sampled(batch: Batch, gt: Tensor, num_classes: int, text: str, per_level: list[int]) -> Sampled:
    pos_mask = gt >= 0
    labels = torch.where(pos_mask, batch.labels[gt.clamp(min=0)], torch.full_like(gt, num_classes))
    positives = int(pos_mask.sum())
    ious = torch.zeros(gt.numel())
    ious[pos_mask] = aligned_overlaps(batch.pred_boxes[pos_mask], batch.boxes[gt[pos_mask]])
    stats = {
        "positives": positives,
        "negatives": gt.numel() - positives,
        "priors": gt.numel(),
        "positives_per_level": per_level,
        "avg_factor": float(max(positives, 1)),
    }
    return Sampled(
        labels,
        torch.ones(gt.numel()),
        pos_mask[:, None].float().expand(-1, 4).clone(),
        ious,
        pos_mask,
        float(max(positives, 1)),
        text,
        stats,
    )


def ddod_inputs(
    loss_name: str,
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_classes: int,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """The head's calls of ``loss_name``, one per feature level (the first, the others after it),
    on the model's image; ``None`` for another loss."""
    if loss_name not in LOSSES:
        return None
    batch = model_batch(head, model, num_classes=num_classes, num_priors=num_priors, seed=seed)
    cls_levels, reg_levels = batch.per_level(batch.cls_gt), batch.per_level(batch.reg_gt)
    cls_branch = loss_name == "loss_cls"
    gt = batch.cls_gt if cls_branch else batch.reg_gt
    counted = cls_levels if cls_branch else [c + r for c, r in zip(cls_levels, reg_levels, strict=True)]
    factors = reweight_factors(counted)
    anchors_text = " + ".join(str(n) for n in batch.sizes)
    branch = "assigner (classification)" if cls_branch else "reg_assigner (regression)"
    per_level = cls_levels if cls_branch else reg_levels
    text = (
        f"DDODHead's anchors on a {batch.image[0]}×{batch.image[1]} image (width × height): "
        f"{anchors_text} = {count(batch.anchors.shape[0], 'anchor')} by level, {NUM_GTS} boxes; the "
        f"{branch} ATSS assignment, PseudoSampler: {count(sum(per_level), 'positive')} "
        f"(by level {', '.join(map(str, per_level))})"
    )
    s = _sampled(batch, gt, num_classes, text, per_level)
    avg = {"avg_factor": s.avg_factor}
    calls: list[tuple[list[Any], int]] = []
    g = torch.Generator().manual_seed(seed + 1)
    start = 0
    for level, n in enumerate(batch.sizes):
        part = slice(start, start + n)
        start += n
        if cls_branch:
            calls.append(([batch.scores[part], s.labels[part], s.label_weights[part]], level))
            continue
        pos = s.pos_mask[part]
        iou_logits = torch.randn(n, generator=g) * IOU_SPREAD
        if not bool(pos.any()):  # no regression positive: neither box module is called on this level
            continue
        pred = batch.pred_boxes[part][pos]
        target = batch.boxes[gt[part][pos]]
        if loss_name == "loss_bbox":
            calls.append(([pred, target], level))
        else:
            iou_target = torch.zeros(n)
            iou_target[pos] = aligned_overlaps(pred, target)
            calls.append(([iou_logits, iou_target, pos.float()], level))
    if not calls:  # no positive: the head logs 0 × the predictions; an empty call stands for it
        calls = [([torch.zeros(0, 4), torch.zeros(0, 4)] if loss_name == "loss_bbox" else [torch.zeros(0)] * 3, 0)]
    handed = {
        "loss_cls": "every anchor's class logits, labels and label weights",
        "loss_bbox": "the positives' decoded predictions against their decoded targets, no weight",
        "loss_iou": "every anchor's IoU logit against the positives' IoU of prediction and target (0 elsewhere), "
        "weighted 1 at the positives",
    }[loss_name]
    called = [level for _, level in calls]
    used = [factors[level] for level in called]
    note = (
        f"; the head calls {loss_name} once per level{'' if cls_branch else ' with a positive'} "
        f"({', '.join(map(str, called))}) with {handed}"
    )
    s.description += note
    s.stats["handed"] = sum(int(args[0].shape[0]) for args, _ in calls)  # the rows of all calls
    more = [Inputs(args, dict(avg), s) for args, _ in calls[1:]]
    what = "classification positives" if cls_branch else "classification and regression positives"

    def combine(results: list[Any], by: float) -> tuple[Any, str]:
        total = sum(f * r for f, r in zip(used, results, strict=True))
        parts = " + ".join(f"{f:.4g} × {float(r):.6g}" for f, r in zip(used, results, strict=True))
        return total, (
            f"{loss_name} = Σ reweight factor × each level's result ({parts}) = {float(total):.6g}, the factors "
            f"2 - (n - min n) / (max n - min n) of the {what} counted on each level ({', '.join(map(str, counted))}), "
            "as DDODHead.calc_reweight_factor counts them on a freshly built head"
        )

    first = calls[0][0]
    return Inputs(first, dict(avg), s, avg_rule=s.avg_rule, others=OtherCalls(more, combine))
