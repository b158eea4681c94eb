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
are the priors asked for (as CondInst's), its mask logits an untrained head's (mean 0, spread 0.08,
as measured on freshly built RTMDet-Ins heads, tiny to x), the instances ellipses inscribed in their
boxes (as the comparison's batch paints them).

The positives, of all three terms: an untrained RTMDetInsSepBNHead predicts at each point the
square of two strides centred on it (``rtm_reg``'s bias 1 through ``F.relu``, × the stride), which
overlaps the boxes it lies in (IoU 0.26 to 0.69 on the comparison's batch), so the assignment is
DynamicSoftLabelAssigner's own (:func:`soft_label_assign`) on the model's image with those boxes:
several points a box, each weighted by its IoU (its assign metric), and ``loss_bbox`` is handed
those boxes. RTMDetInsHead (no bias) keeps RTMDet's approximated assignment."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from losstune.engine.boxes import aligned_overlaps
from losstune.engine.confignum import config_int
from losstune.engine.ellipses import seeded_boxes
from losstune.engine.heads_condinst import ellipse_masks, image_side
from losstune.engine.inputs import Inputs, untrained_logits
from losstune.engine.sampling import PriorBoxes, Sampled, dynamic_k
from losstune.schema.catalogue import bare_type
from losstune.words import count

RTMDET_INS_HEADS = ("RTMDetInsHead", "RTMDetInsSepBNHead")
RTMDET_STRIDES = (8, 16, 32)  # the strides of RTMDet's MlvlPointGenerator in MMDetection's configs
MASK_LOSS_STRIDE = 4  # RTMDetInsHead's default mask_loss_stride
DSL_TOPK = 13  # DynamicSoftLabelAssigner's default topk
MASK_MEAN, MASK_SPREAD = 0.0, 0.08  # an untrained RTMDet-Ins head's mask logits
# RTMDetInsSepBNHead.init_weights: normal_init(rtm_reg, std=0.01, bias=1), and its forward takes
# F.relu(rtm_reg(x)) * stride: an untrained head's distances to the four sides are one stride each
# (measured on freshly built tiny, s and x heads: 0.98 to 1.04 strides, spread 0.06 to 0.1), so
# each point's box is the square of two strides centred on it. RTMDetInsHead's rtm_reg has no bias
# (its boxes are the points themselves) and keeps RTMDet's approximated assignment.
# RTMDetHead's forward takes exp(rtm_reg(x)) * stride, and RTMDetSepBNHead's too with exp_on_reg
# (rtm_reg N(0, 0.01), no bias): exp(0), the same one stride a side. RTMDetSepBNHead without it
# takes rtm_reg(x) * stride, about 0: its boxes are about the points, and keep the stand-in.
UNTRAINED_SIDE = {"RTMDetInsSepBNHead": 1.0, "RTMDetHead": 1.0}
EXP_SIDE = 1.0  # RTMDetSepBNHead's with exp_on_reg
SOFT_CENTER_RADIUS, IOU_WEIGHT = 3.0, 3.0  # DynamicSoftLabelAssigner's defaults
DSL_EPS, DSL_INF = 1e-7, 100000000.0  # its EPS and INF


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


def points(side: int, level_strides: tuple[int, ...]) -> Tensor:
    """``(N, 4)``: the points of a ``side`` × ``side`` image at ``level_strides`` as
    ``MlvlPointGenerator(offset=0).grid_priors(..., with_stride=True)`` lays them out (x, y, stride,
    stride; a level after the other, rows of x within y)."""
    out = []
    for s in level_strides:
        n = math.ceil(side / s)
        ys, xs = torch.meshgrid(torch.arange(n) * float(s), torch.arange(n) * float(s), indexing="ij")
        out.append(
            torch.stack([xs.flatten(), ys.flatten(), torch.full((n * n,), float(s)), torch.full((n * n,), float(s))], 1)
        )
    return torch.cat(out)


def centres_of_mass(masks: Tensor) -> Tensor:
    """``(M, 2)`` x, y: each mask's centre of mass in pixel indices, as the assigner's ``center_of_mass``."""
    h, w = masks.shape[-2:]
    total = masks.sum(dim=(1, 2)).float().clamp(min=DSL_EPS)
    y = (masks * torch.arange(h)[:, None]).sum(dim=(1, 2)) / total
    x = (masks * torch.arange(w)).sum(dim=(1, 2)) / total
    return torch.stack([x, y], 1)


def soft_label_assign(
    priors: Tensor,
    decoded: Tensor,
    scores: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor,
    gt_centres: Tensor,
    topk: int = DSL_TOPK,
) -> tuple[Tensor, Tensor]:
    """DynamicSoftLabelAssigner.assign (MMDetection 3.3.0) on one image: each prior's box (1-based,
    0 for none) and the IoU of its predicted box with it (its assign metric; ``-INF``, -1e8, for a
    prior taken by no box). The candidates are the priors inside a box;
    the cost is the soft-label classification cost, ``-3 log(IoU)`` and ``10 ** (distance to the
    centre in strides - 3)``; each box takes its ``max(int(Σ of its topk best IoUs), 1)`` cheapest,
    a prior taken twice going to its cheapest box."""
    n, m = priors.shape[0], gt_boxes.shape[0]
    assigned = torch.zeros(n, dtype=torch.long)
    overlaps = torch.full((n,), -DSL_INF)
    if m == 0 or n == 0:
        return assigned, torch.zeros(n)
    deltas = torch.cat([priors[:, None, :2] - gt_boxes[:, :2], gt_boxes[:, 2:] - priors[:, None, :2]], -1)
    valid = (deltas.min(dim=-1).values > 0).sum(1) > 0
    if not valid.any():
        return assigned, torch.zeros(n)
    boxes, logits = decoded[valid], scores[valid]
    distance = (priors[valid, None, :2] - gt_centres[None]).pow(2).sum(-1).sqrt() / priors[valid, 2:3]
    soft_center = torch.pow(10, distance - SOFT_CENTER_RADIUS)
    ious = aligned_overlaps(boxes[:, None].expand(-1, m, 4), gt_boxes[None].expand(boxes.shape[0], -1, 4))
    iou_cost = -torch.log(ious + DSL_EPS) * IOU_WEIGHT
    onehot = F.one_hot(gt_labels.long(), logits.shape[-1]).float()[None].expand(boxes.shape[0], -1, -1)
    soft = onehot * ious[..., None]
    expanded = logits[:, None].expand(-1, m, -1)
    cls_cost = F.binary_cross_entropy_with_logits(expanded, soft, reduction="none")
    cls_cost = (cls_cost * (soft - expanded.sigmoid()).abs().pow(2.0)).sum(-1)
    cost = cls_cost + iou_cost + soft_center
    matching = torch.zeros_like(cost, dtype=torch.uint8)
    best = torch.topk(ious, min(topk, ious.shape[0]), dim=0).values
    ks = torch.clamp(best.sum(0).int(), min=1)
    for j in range(m):
        matching[torch.topk(cost[:, j], k=int(ks[j]), largest=False).indices, j] = 1
    twice = matching.sum(1) > 1
    if twice.any():
        cheapest = cost[twice].argmin(1)
        matching[twice] = 0
        matching[twice, cheapest] = 1
    taken = matching.sum(1) > 0
    inside = torch.nonzero(valid).squeeze(1)
    assigned[inside[taken]] = matching[taken].argmax(1) + 1
    overlaps[inside[taken]] = (matching * ious).sum(1)[taken]
    return assigned, overlaps


def untrained_side(head: dict[str, Any]) -> float | None:
    """An untrained head's distance to each side of its box, in strides, where its regression's
    bias or its exp sets it (RTMDetInsSepBNHead's bias 1; RTMDetHead's exp(0), RTMDetSepBNHead's with
    ``exp_on_reg``); ``None`` for a head whose boxes are about its points."""
    kind = bare_type(str(head.get("type", "")))
    if kind == "RTMDetSepBNHead":
        return EXP_SIDE if config_int(head, "exp_on_reg", 0) else None
    return UNTRAINED_SIDE.get(kind)


def assignment(
    model: dict[str, Any], head: dict[str, Any], num_priors: int, num_gts: int, num_classes: int, seed: int
) -> Sampled:
    """The positives of ``num_priors`` points of one image as RTMDet's DynamicSoftLabelAssigner
    gives them, with the ``train_cfg.assigner.topk`` the config sets (13 unless set): for a head
    whose untrained boxes are known (:func:`untrained_side`), the assigner itself on the model's
    image (its boxes drawn from ``seed + 1``, as :func:`mask_inputs` draws its instances, their
    centres of mass those of their ellipses, each point's box the untrained head's, its class logits
    an untrained head's); else approximated (:func:`~losstune.engine.sampling.dynamic_k`)."""
    train = model.get("train_cfg")
    assigner = train.get("assigner") if isinstance(train, dict) else None
    topk = config_int(assigner if isinstance(assigner, dict) else {}, "topk", DSL_TOPK, least=1)
    side_strides = untrained_side(head)
    if side_strides is None:
        return dynamic_k(num_priors, num_gts, num_classes, seed, assigner="DynamicSoftLabelAssigner", topk=topk)
    level_strides = strides(head)
    side = image_side(num_priors, level_strides)
    g = torch.Generator().manual_seed(seed + 1)
    gt_boxes = seeded_boxes(num_gts, side, g)
    gt_labels = torch.randint(0, max(num_classes, 1), (num_gts,), generator=g)
    priors = points(side, level_strides)
    reach = priors[:, 2:3] * side_strides
    decoded = torch.cat([priors[:, :2] - reach, priors[:, :2] + reach], 1)
    scores = untrained_logits(priors.shape[0], num_classes, generator=g)
    centres = centres_of_mass(ellipse_masks(gt_boxes, side, 1))
    assigned, overlaps = soft_label_assign(priors, decoded, scores, gt_boxes, gt_labels, centres, topk)
    pos = assigned > 0
    n = priors.shape[0]
    labels = torch.full((n,), num_classes, dtype=torch.long)
    labels[pos] = gt_labels[assigned[pos] - 1]
    target = torch.zeros(n, 4)
    target[pos] = gt_boxes[assigned[pos] - 1]
    ious = torch.where(pos, overlaps, torch.zeros(n))
    positives = int(pos.sum())
    per_box = torch.bincount(assigned[pos] - 1, minlength=num_gts).tolist()
    what = (
        f"DynamicSoftLabelAssigner(topk={topk}) on the model's {side}×{side} image of {count(num_gts, 'box', 'boxes')}, "
        f"{n} points at strides {', '.join(str(s) for s in level_strides)}, each predicting an untrained "
        f"{bare_type(str(head.get('type')))}'s box ({side_strides:g} stride a side): "
        f"{', '.join(str(k) for k in per_box)} points a box ({positives} positives, assign metrics "
        f"{float(ious[pos].mean()) if positives else 0.0:.2f} on average, {n - positives} negatives)"
    )
    stats = {"positives": positives, "negatives": n - positives, "priors": n, "avg_factor": float(max(positives, 1))}
    return Sampled(
        labels,
        torch.ones(n),
        pos[:, None].float().expand(-1, 4).clone(),
        ious,
        pos,
        float(max(positives, 1)),
        what,
        stats,
        boxes=PriorBoxes(decoded, target, torch.where(pos, assigned - 1, torch.full((n,), -1))),
    )


def box_inputs(args: list[Any], sampled: Sampled, rows: Tensor) -> tuple[list[Any], str]:
    """RTMDetHead's ``loss_bbox`` call on an assignment computed on the boxes (``sampled.boxes``):
    the positives' predicted boxes (the untrained head's) against their boxes; else as made."""
    boxes = sampled.boxes
    if boxes is None or len(args) < 2:
        return args, ""
    return [boxes.pred[rows], boxes.target[rows], *args[2:]], " (the positives' predicted boxes, as assigned)"


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
    assigned = assignment(model, head, num_priors, num_gts, num_classes, seed)
    masks = int(assigned.pos_mask.sum())
    side = image_side(num_priors, strides(head))
    size, every = mask_side(side, head)
    g = torch.Generator().manual_seed(seed + 1)
    instances = ellipse_masks(seeded_boxes(num_gts, side, g), side, every)[:, :size, :size]
    if assigned.boxes is not None:  # each positive's own box, as assigned
        of = assigned.boxes.gt_index[assigned.pos_mask]
        g = torch.Generator().manual_seed(seed + 3)
    else:
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
