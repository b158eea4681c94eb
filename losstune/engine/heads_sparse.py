"""Sparse R-CNN's and QueryInst's RoI head (``SparseRoIHead``: a ``DIIHead`` per stage, and for
QueryInst a ``DynamicMaskHead``) as MMDetection 3.3.0 feeds its losses, on a seeded image.

``EmbeddingRPNHead`` computes no loss: its ``num_proposals`` learned boxes, initialised to the whole
image, are the first stage's proposals, and each stage refines the boxes of the one before. Each
stage's refined boxes and class scores are matched to the ground-truth boxes by its
``HungarianAssigner`` (the sum of its ``match_costs``) and sampled by a ``PseudoSampler``: one
positive per box, every other proposal a negative. ``DIIHead.loss_and_target`` passes
``avg_factor = reduce_mean(num_pos)``, the positives of all images, not clamped (with none, the
class loss divides by ε); ``loss_cls`` gets every proposal (the positives' label weight
``train_cfg.rcnn[i].pos_weight``), ``loss_bbox`` the positives' boxes and targets divided by the
image's size (``imgs_whwh``), ``loss_iou`` the same boxes in pixels. ``DynamicMaskHead`` hands its
``loss_mask`` each positive's mask probabilities of its class (``sigmoid`` applied by the head)
against its target, cropped from the instance's mask by the stage's refined box, with
``avg_factor = max(positives, 1)``. ``SparseRoIHead.loss`` logs stage ``i``'s terms as ``s{i}.``
times ``stage_loss_weights[i]`` (2.x: ``stage{i}_``).

The model's proposals are an untrained head's: each stage moves every box by deltas of spread 0.55
(decoded with the config's ``bbox_coder``), its class logits at the prior bias spread 0.85, its
mask logits about 0 spread 0.09, as measured on QueryInst's freshly built heads (whose terms on the
comparison's batch these give within a factor of 2); the instances are ellipses inscribed in their
boxes (as the comparison's batch paints them), drawn as that batch draws its boxes."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.boxes import aligned_overlaps
from losstune.engine.confignum import config_float, config_int
from losstune.engine.inputs import PRIOR_BIAS, Inputs
from losstune.engine.sampling import Sampled
from losstune.schema.catalogue import bare_type
from losstune.words import count

SPARSE_HEADS = ("DIIHead", "DynamicMaskHead")
PROPOSALS = 100  # EmbeddingRPNHead's default num_proposals
IMAGE = (1333.0, 800.0)  # the model's image (width, height): COCO's training scale
DELTA_SPREAD = 0.55  # an untrained DIIHead's deltas
CLS_SPREAD = 0.85  # an untrained DIIHead's class logits about the prior bias
MASK_SPREAD = 0.09  # an untrained DynamicMaskHead's mask logits about 0
MASK_SIZE = 28
WH_RATIO_CLIP = 16 / 1000  # DeltaXYWHBBoxCoder's default
FOCAL_ALPHA, FOCAL_GAMMA, FOCAL_EPS = 0.25, 2.0, 1e-12  # FocalLossCost's defaults


def num_proposals(model: dict[str, Any]) -> int:
    """``EmbeddingRPNHead``'s ``num_proposals`` (100 unless set)."""
    return config_int(model.get("rpn_head"), "num_proposals", PROPOSALS, least=1)


def _stage_item(model: dict[str, Any], key: str, stage: int) -> dict[str, Any]:
    """Stage ``stage``'s dict of ``roi_head.<key>`` (``bbox_head``) or of ``train_cfg.rcnn``: the
    list's item, or the one dict every stage is built from; ``{}`` where there is none."""
    if key == "rcnn":
        train = model.get("train_cfg")
        found = train.get("rcnn") if isinstance(train, dict) else None
    else:
        roi = model.get("roi_head")
        found = roi.get(key) if isinstance(roi, dict) else None
    if isinstance(found, list):
        found = found[stage] if stage < len(found) else None
    return found if isinstance(found, dict) else {}


def assignment(cost: Tensor) -> list[int]:
    """The minimum-cost assignment of each row of ``cost`` (rows ≤ columns) to its own column, as
    ``scipy.optimize.linear_sum_assignment`` finds it (the Hungarian method, potentials form)."""
    n, m = cost.shape
    a = cost.tolist()
    u, v = [0.0] * (n + 1), [0.0] * (m + 1)
    p, way = [0] * (m + 1), [0] * (m + 1)
    for i in range(1, n + 1):
        p[0], j0 = i, 0
        minv, used = [math.inf] * (m + 1), [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], math.inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = a[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    cols = [0] * n
    for j in range(1, m + 1):
        if p[j]:
            cols[p[j] - 1] = j - 1
    return cols


def _decode(boxes: Tensor, deltas: Tensor, coder: dict[str, Any]) -> Tensor:
    """``DeltaXYWHBBoxCoder.decode`` of normalised (x1, y1, x2, y2) boxes, ``clip_border`` off (as
    Sparse R-CNN's configs set it)."""
    means = torch.tensor([float(x) for x in coder.get("target_means", (0.0,) * 4)])
    stds = torch.tensor([float(x) for x in coder.get("target_stds", (1.0,) * 4)])
    d = deltas * stds + means
    clip = abs(math.log(WH_RATIO_CLIP))
    dw, dh = d[:, 2].clamp(-clip, clip), d[:, 3].clamp(-clip, clip)
    pw, ph = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    px, py = (boxes[:, 0] + boxes[:, 2]) / 2 + pw * d[:, 0], (boxes[:, 1] + boxes[:, 3]) / 2 + ph * d[:, 1]
    w, h = pw * dw.exp(), ph * dh.exp()
    return torch.stack([px - w / 2, py - h / 2, px + w / 2, py + h / 2], 1)


def _costs(assigner: dict[str, Any]) -> list[tuple[str, float, dict[str, Any]]]:
    """The assigner's match costs: type, weight and config of each (3.x's ``match_costs``, 2.x's
    ``cls_cost``, ``reg_cost`` and ``iou_cost``)."""
    found = assigner.get("match_costs")
    costs = found if isinstance(found, list) else [found] if isinstance(found, dict) else []
    if "match_costs" not in assigner:
        costs = [assigner.get(key) for key in ("cls_cost", "reg_cost", "iou_cost")]
    return [(bare_type(str(c.get("type"))), config_float(c, "weight", 1.0), c) for c in costs if isinstance(c, dict)]


def _cost(kind: str, cfg: dict[str, Any], logits: Tensor, boxes: Tensor, gts: Tensor, labels: Tensor) -> Tensor | None:
    """One match cost, (proposals, boxes), as MMDetection 3.3.0's ``match_costs`` compute it on
    normalised boxes (``None``: a cost the model does not compute)."""
    if kind == "FocalLossCost":
        alpha, gamma = config_float(cfg, "alpha", FOCAL_ALPHA), config_float(cfg, "gamma", FOCAL_GAMMA)
        eps = config_float(cfg, "eps", FOCAL_EPS)
        p = logits.sigmoid()
        neg = -(1 - p + eps).log() * (1 - alpha) * p.pow(gamma)
        pos = -(p + eps).log() * alpha * (1 - p).pow(gamma)
        return pos[:, labels] - neg[:, labels]
    if kind == "BBoxL1Cost":
        if cfg.get("box_format") == "xywh":  # the cost on (cx, cy, w, h)
            return torch.cdist(_cxcywh(boxes), _cxcywh(gts), p=1)
        return torch.cdist(boxes, gts, p=1)
    if kind == "IoUCost":
        mode = str(cfg.get("iou_mode", "giou"))
        n, k = boxes.shape[0], gts.shape[0]
        pairs = aligned_overlaps(
            boxes[:, None].expand(n, k, 4).reshape(-1, 4), gts[None].expand(n, k, 4).reshape(-1, 4), mode
        )
        return -pairs.view(n, k)
    return None


def _cxcywh(boxes: Tensor) -> Tensor:
    """(x1, y1, x2, y2) boxes as (cx, cy, w, h)."""
    return torch.cat([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], 1)


@dataclass(frozen=True)
class Matched:
    """One stage's predictions of one image as its HungarianAssigner matched them: the assignment
    (``sampled``: every proposal, one positive per box), the class logits of every proposal, the
    positives' refined boxes and their targets (normalised, in the order of their rows), and the
    instances' boxes (normalised) the targets are."""

    sampled: Sampled
    logits: Tensor
    pred: Tensor
    target: Tensor
    text: str


def matched(
    model: dict[str, Any], stage: int, *, num_classes: int, num_priors: int | None, num_gts: int, seed: int
) -> Matched:
    """Stage ``stage``'s proposals of the model's image, refined by ``stage + 1`` untrained stages,
    and the HungarianAssigner's match of them to ``num_gts`` seeded boxes."""
    g = torch.Generator().manual_seed(seed)
    n = num_priors or num_proposals(model)
    bbox_head = _stage_item(model, "bbox_head", stage)
    coder = bbox_head.get("bbox_coder")
    coder = coder if isinstance(coder, dict) else {}
    wh = 0.1 + 0.4 * torch.rand(num_gts, 2, generator=g)
    xy = torch.rand(num_gts, 2, generator=g) * (1 - wh)
    gts = torch.cat([xy, xy + wh], 1)
    labels = torch.randint(0, max(num_classes, 1), (num_gts,), generator=g)
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0]]).repeat(n, 1)
    for _ in range(stage + 1):
        deltas = torch.randn(n, 4, generator=g) * DELTA_SPREAD
        boxes = _decode(boxes, deltas, coder)
    loss_cls = bbox_head.get("loss_cls")
    sigmoid = not isinstance(loss_cls, dict) or bool(loss_cls.get("use_sigmoid", False))
    width = num_classes if sigmoid else num_classes + 1
    logits = torch.randn(n, width, generator=g) * CLS_SPREAD + (PRIOR_BIAS if sigmoid else 0.0)
    rcnn = _stage_item(model, "rcnn", stage)
    assigner = rcnn.get("assigner")
    costs = _costs(assigner if isinstance(assigner, dict) else {})
    total = torch.zeros(n, num_gts)
    used: list[str] = []
    for kind, weight, cfg in costs:
        c = _cost(kind, cfg, logits[:, :num_classes], boxes, gts, labels)
        if c is not None:
            total += weight * c
            used.append(f"{kind} × {weight:g}")
    pairs = min(n, num_gts)
    if num_gts <= n:
        gt_rows, pred_rows = list(range(num_gts)), assignment(total.t())
    else:
        pred_rows, gt_rows = list(range(n)), assignment(total)
    labels_all = torch.full((n,), num_classes, dtype=torch.long)
    pos_mask = torch.zeros(n, dtype=torch.bool)
    pos = torch.tensor(pred_rows[:pairs], dtype=torch.long)
    gt_of = torch.tensor(gt_rows[:pairs], dtype=torch.long)
    order = pos.argsort()  # the positives in the order of their rows, as the head takes them
    pos, gt_of = pos[order], gt_of[order]
    labels_all[pos] = labels[gt_of]
    pos_mask[pos] = True
    pos_weight = config_float(rcnn, "pos_weight", 1.0)
    label_weights = torch.ones(n)
    label_weights[pos] = pos_weight if pos_weight > 0 else 1.0
    ious = torch.zeros(n)
    ious[pos] = aligned_overlaps(boxes[pos], gts[gt_of])
    bbox_weights = pos_mask[:, None].float().expand(-1, 4).clone()
    refined = f"the whole image as initialised, refined by {count(stage + 1, 'untrained stage', 'untrained stages')}"
    text = (
        f"EmbeddingRPNHead's {count(n, 'learned proposal', 'learned proposals')} ({refined}); HungarianAssigner "
        f"({', '.join(used) or 'no cost the model computes'}) matches one to each of the {num_gts} boxes; "
        f"PseudoSampler: every proposal is used ({pairs} positives, {n - pairs} negatives)"
    )
    stats = {"positives": pairs, "negatives": n - pairs, "priors": n, "avg_factor": float(pairs)}
    rule = "positives (reduce_mean(num_pos), not clamped)"
    s = Sampled(labels_all, label_weights, bbox_weights, ious, pos_mask, float(pairs), text, stats, rule)
    return Matched(s, logits, boxes[pos], gts[gt_of], text)


def _ellipse_targets(pred: Tensor, target: Tensor, size: int) -> Tensor:
    """Each positive's mask target: its instance (the ellipse inscribed in its box) at the centres
    of the ``size × size`` bins of its refined box, 1 inside (the crop of ``mask_target``)."""
    steps = (torch.arange(size, dtype=pred.dtype) + 0.5) / size
    xs = pred[:, 0:1] + steps[None] * (pred[:, 2:3] - pred[:, 0:1])  # (P, size)
    ys = pred[:, 1:2] + steps[None] * (pred[:, 3:4] - pred[:, 1:2])
    cx, cy = (target[:, 0:1] + target[:, 2:3]) / 2, (target[:, 1:2] + target[:, 3:4]) / 2
    rx, ry = (target[:, 2:3] - target[:, 0:1]) / 2, (target[:, 3:4] - target[:, 1:2]) / 2
    dx = ((xs - cx) / rx)[:, None, :] ** 2
    dy = ((ys - cy) / ry)[:, :, None] ** 2
    return (dx + dy <= 1).float()


def sparse_inputs(
    loss_name: str,
    model: dict[str, Any],
    stage: int,
    *,
    num_classes: int,
    num_priors: int | None,
    num_gts: int,
    seed: int,
) -> Inputs | None:
    """The inputs SparseRoIHead's stage ``stage`` hands ``loss_name`` (``None``: a loss its heads do
    not have)."""
    if loss_name not in ("loss_cls", "loss_bbox", "loss_iou", "loss_mask"):
        return None
    m = matched(model, stage, num_classes=num_classes, num_priors=num_priors, num_gts=num_gts, seed=seed)
    s = m.sampled
    positives = int(s.pos_mask.sum())
    whwh = torch.tensor([*IMAGE, *IMAGE])
    if loss_name == "loss_cls":
        return Inputs([m.logits, s.labels, s.label_weights], {"avg_factor": s.avg_factor}, s)
    weights = torch.ones(positives, 4)
    if loss_name == "loss_bbox":
        note = (
            f"; DIIHead hands the module the {positives} positives only, their boxes and targets divided by "
            f"the image's size (imgs_whwh, {IMAGE[0]:g}×{IMAGE[1]:g})"
        )
        return Inputs([m.pred, m.target, weights], {"avg_factor": s.avg_factor}, _noted(s, note))
    if loss_name == "loss_iou":
        note = f"; DIIHead hands the module the {positives} positives only, their boxes in pixels"
        return Inputs([m.pred * whwh, m.target * whwh, weights], {"avg_factor": s.avg_factor}, _noted(s, note))
    size = config_int(_stage_item(model, "rcnn", stage), "mask_size", MASK_SIZE, least=1)
    g = torch.Generator().manual_seed(seed + 1)
    probs = (torch.randn(positives, size, size, generator=g) * MASK_SPREAD).sigmoid()
    targets = _ellipse_targets(m.pred, m.target, size)
    note = (
        f"; DynamicMaskHead hands the module the {positives} positives' mask probabilities of their class "
        f"(sigmoid applied), {size}×{size}, against their instances cropped by the refined boxes"
    )
    avg = float(max(positives, 1))
    s = _noted(s, note)
    return Inputs([probs, targets], {"avg_factor": avg}, s, avg_rule="max(positives, 1)")


def _noted(s: Sampled, note: str) -> Sampled:
    return replace(s, description=s.description + note)
