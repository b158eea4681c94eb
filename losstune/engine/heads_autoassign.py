"""AutoAssignHead, as MMDetection 3.3.0 writes it (``autoassign_head.py``): no loss module makes its
log's terms; ``loss_by_feat`` computes them from every point's sigmoid class scores, objectness
and box distances, calling only ``loss_bbox`` (``reduction_override='none'``) on every point and
box of an image.

The center prior of a point and a box is ``Π exp(-((point - centre) / stride - mean)² / (2 sigma²))``
over x and y (``mean`` 0 and ``sigma`` 1 per class, as CenterPrior is built; learnt in training),
0 for a point outside the box (with ``force_topk``, a box with no point inside takes the ``topk``
points of highest prior). ``loss_pos`` of an image is ``pos_loss_weight × Σ_boxes BCE(Σ_points
p_pos × w, 1)``, ``p_pos = P_cls × P_obj × exp(-loss_bbox)``, ``w`` the prior times
``exp(3 p_pos)`` normalised over the points; summed over the images and divided by
``max(boxes, 1)``. ``loss_neg`` is ``neg_loss_weight × Σ q² × -log(1 - q)`` over every point and
class, ``q = P_cls × P_obj`` times, inside a box, ``1 -`` the normalised ``1 / (1 - IoU)`` of the
point's best predicted box; summed and divided by ``max(Σ center prior, 1)``. ``loss_center`` is
``center_loss_weight ×`` the mean over the images of ``boxes / Σ center prior`` (0 for an image
with no point in a box). With no box in the batch ``loss_pos`` and ``loss_center`` are 0."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.boxes import aligned_overlaps
from losstune.engine.confignum import number
from losstune.engine.heads_own import OWN

AUTO_ASSIGN = "AutoAssignHead"
TERMS = OWN[AUTO_ASSIGN].terms
EPS = 1e-12  # autoassign_head.EPS
DEFAULTS: dict[str, float] = {"pos_loss_weight": 0.25, "neg_loss_weight": 0.75, "center_loss_weight": 0.75, "topk": 9}


@dataclass(frozen=True)
class AutoParams:
    """The head's weights of its three terms and its center prior's ``force_topk`` and ``topk``."""

    pos_loss_weight: float = 0.25
    neg_loss_weight: float = 0.75
    center_loss_weight: float = 0.75
    force_topk: bool = False
    topk: int = 9


def auto_params(head: dict[str, Any]) -> AutoParams:
    """The parameters of the head dict ``head`` (``AutoAssignHead.__init__``'s defaults where unset)."""
    v = {k: float(x) if (x := number(head.get(k))) is not None else d for k, d in DEFAULTS.items()}
    force = head.get("force_topk") is True
    return AutoParams(v["pos_loss_weight"], v["neg_loss_weight"], v["center_loss_weight"], force, int(v["topk"]))


@dataclass(frozen=True)
class AutoTerms:
    """AutoAssign's three terms on one batch and what they are divided by: ``boxes`` the batch's
    ground-truth boxes, ``prior_sum`` the summed center prior (``neg_avg_factor`` before the clamp)."""

    loss_pos: float
    loss_neg: float
    loss_center: float
    pos_sum: float
    neg_sum: float
    center_sum: float
    images: int
    boxes: int
    prior_sum: float
    rows: int
    width: int

    @property
    def pos_divisor(self) -> float:
        """``max(boxes, 1)`` (``pos_avg_factor``)."""
        return float(max(self.boxes, 1))

    @property
    def neg_divisor(self) -> float:
        """``max(Σ center prior, 1)`` (``neg_avg_factor``)."""
        return max(self.prior_sum, 1.0)

    @property
    def center_divisor(self) -> float:
        """The images (``loss_center`` is the mean of the images' terms)."""
        return float(max(self.images, 1))


def center_prior(
    points: Tensor, strides: Tensor, boxes: Tensor, labels: Tensor, inside: Tensor, p: AutoParams
) -> tuple[Tensor, Tensor]:
    """The center prior of every point and box (points, boxes) and the mask of the points it counts,
    with ``mean`` 0 and ``sigma`` 1 for every class (CenterPrior as built)."""
    if boxes.shape[0] == 0:
        return boxes.new_zeros(points.shape[0], 0), inside
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    mean = torch.zeros(labels.shape[0], 2)
    sigma = torch.ones(labels.shape[0], 2)
    distance = ((points[:, None, :] - centre[None]) / strides[:, None, None] - mean[None]) ** 2
    prior = torch.exp(-distance / (2 * sigma[None] ** 2)).prod(dim=-1)
    inside = inside.clone()
    if p.force_topk:
        empty = torch.nonzero(inside.sum(0) == 0).reshape(-1)
        if empty.numel():
            top = prior[:, empty].topk(p.topk, dim=0)[1]
            inside[:, empty] = torch.scatter(inside[:, empty], 0, top, torch.ones_like(top, dtype=torch.bool))
    prior[~inside] = 0
    return prior, inside


# loss_bbox with reduction_override='none' on decoded (pred, target) boxes, a loss per row
BoxLoss = Callable[[Tensor, Tensor], Tensor]


def box_loss_of(loss_cfg: dict[str, Any]) -> BoxLoss:
    """The config's ``loss_bbox`` as the head calls it (``reduction_override='none'``, no weight)."""
    from losstune.engine.evaluation import evaluate

    def loss(pred: Tensor, target: Tensor) -> Tensor:
        if pred.numel() == 0:
            return pred.new_zeros(pred.shape[0])
        return torch.as_tensor(evaluate(loss_cfg, pred, target, reduction_override="none").loss)

    return loss


def _negative(joint: Tensor, labels: Tensor, ious: Tensor, inside: Tensor, weight: float) -> Tensor:
    """One image's summed ``loss_neg`` before the division (``get_neg_loss_single``)."""
    p_neg = torch.ones_like(joint)
    if labels.numel() > 0:
        fg = torch.nonzero(inside.permute(1, 0), as_tuple=True)
        temp = 1 / (1 - ious.permute(1, 0)[fg]).clamp(min=EPS)
        for i in range(labels.numel()):
            idx = fg[0] == i
            if idx.any():
                x = temp[idx]
                temp[idx] = (x - x.min() + EPS) / (x.max() - x.min() + EPS)
        p_neg[fg[1], labels[fg[0]]] = 1 - temp
    q = joint * p_neg
    return (q**2 * torch.nn.functional.binary_cross_entropy(q, torch.zeros_like(q), reduction="none")).sum() * weight


def box_pairs(points: Tensor, distances: Tensor, boxes: Tensor) -> tuple[Tensor, Tensor]:
    """One image's rows of ``loss_bbox``, as the head hands them: every point's box decoded from
    its ``distances`` to the sides, against every box (points × boxes, 4), point by point."""
    n, g = points.shape[0], boxes.shape[0]
    d = distances[:, None].expand(n, g, 4).reshape(-1, 4)
    xy = points[:, None].expand(n, g, 2).reshape(-1, 2)
    pred = torch.cat([xy - d[:, :2], xy + d[:, 2:]], dim=-1)
    return pred, boxes[None].expand(n, g, 4).reshape(-1, 4)


def auto_terms(
    cls_scores: Tensor,
    objectness: Tensor,
    distances: Tensor,
    points: Tensor,
    strides: Tensor,
    boxes: list[Tensor],
    labels: list[Tensor],
    box_loss: BoxLoss,
    p: AutoParams,
) -> AutoTerms:
    """AutoAssign's terms on a batch: ``cls_scores`` (images, points, classes) and ``objectness``
    (images, points, 1) logits, ``distances`` (images, points, 4) to the sides, every point and
    its level's stride, each image's boxes and labels."""
    pos, neg, centers, prior_sum = 0.0, 0.0, [], 0.0
    n = points.shape[0]
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        g = b.shape[0]
        sides = torch.cat([points[:, None] - b[None, :, :2], b[None, :, 2:] - points[:, None]], dim=-1)
        inside = sides.min(-1)[0] > 0 if g else torch.zeros(n, 0, dtype=torch.bool)
        prior, inside = center_prior(points, strides, b, lab, inside, p)
        pred, target = box_pairs(points, distances[i], b)
        with torch.no_grad():
            ious = pred.new_zeros(n, 0)
            if g:  # each point's best IoU, for every box
                ious = aligned_overlaps(pred, target).reshape(n, g).max(dim=-1, keepdim=True).values.repeat(1, g)
            ious[~inside] = 0
        reg = box_loss(pred, target).reshape(n, g)
        cls, obj = cls_scores[i].sigmoid(), objectness[i].sigmoid()
        joint = cls * obj
        if g:
            p_pos = joint[:, lab] * torch.exp(-reg)
            w = torch.exp(p_pos * 3) * prior
            w = w / w.sum(0, keepdim=True).clamp(min=EPS)
            bag = (p_pos * w).sum(0)
            bce = torch.nn.functional.binary_cross_entropy(bag, torch.ones_like(bag), reduction="none")
            pos += float(bce.sum()) * p.pos_loss_weight
        neg += float(_negative(joint, lab, ious, inside, p.neg_loss_weight))
        prior_sum += float(prior.sum())
        centers.append(g / float(prior.sum().clamp(min=EPS)) if bool(inside.any()) else 0.0)
    num = sum(int(b.shape[0]) for b in boxes)
    center_sum = sum(centers) * p.center_loss_weight if num else 0.0
    images, width = len(boxes), int(cls_scores.shape[2])
    t = AutoTerms(0.0, 0.0, 0.0, pos, neg, center_sum, images, num, prior_sum, n, width)
    return replace(
        t,
        loss_pos=pos / t.pos_divisor if num else 0.0,
        loss_neg=neg / t.neg_divisor,
        loss_center=center_sum / t.center_divisor,
    )


# the method whose arguments are the inputs of the head's terms (one call a batch)
OWN_METHOD = "loss_by_feat"
BOX_SIDES = (1 / 16, 1 / 2)  # the ground-truth boxes' sides, uniform, as shares of the image's side
REG_BIAS = 4.0  # conv_reg's bias at init: every distance 4 strides
REG_SPREAD = 0.01  # and its weights' std
OBJ_SPREAD = 0.01  # an untrained objectness logit about 0 (conv_centerness's std, bias 0)
CLS_PRIOR = 0.02  # conv_cls's bias_init_with_prob(0.02)


def strides_of(head: dict[str, Any]) -> tuple[int, ...]:
    """The head's ``strides`` (AnchorFreeHead's default (4, 8, 16, 32, 64) where unset)."""
    v = head.get("strides")
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, int) and x > 0 for x in v):
        return tuple(v)
    return (4, 8, 16, 32, 64)


@dataclass(frozen=True)
class AutoBatch:
    """The model's seeded image: its class ``logits`` (1, points, classes), ``objectness``
    (1, points, 1) and ``distances`` (1, points, 4), its ``points`` and their ``strides``,
    ground-truth ``boxes`` and their ``labels``."""

    logits: Tensor
    objectness: Tensor
    distances: Tensor
    points: Tensor
    strides: Tensor
    boxes: Tensor
    labels: Tensor

    def terms(self, box_loss: BoxLoss, p: AutoParams) -> AutoTerms:
        """The head's terms on this image."""
        return auto_terms(
            self.logits,
            self.objectness,
            self.distances,
            self.points,
            self.strides,
            [self.boxes],
            [self.labels],
            box_loss,
            p,
        )


def model_batch(num_points: int, num_boxes: int, num_classes: int, strides: tuple[int, ...], seed: int) -> AutoBatch:
    """The model's seeded image: ``num_points`` points spread over the levels of ``strides`` as a
    pyramid spreads them (a level's share ∝ 1 / stride²), at random places in the square whose
    pyramid has that many (a side of ``sqrt(points / Σ 1 / stride²)``); ``num_boxes`` boxes of
    :data:`BOX_SIDES`; the class logits an untrained AutoAssign head's (its prior 0.02), the
    objectness about 0, every distance :data:`REG_BIAS` strides."""
    from losstune.engine.inputs import PRIOR_SPREAD

    g = torch.Generator().manual_seed(seed)
    shares = torch.tensor([1.0 / s**2 for s in strides])
    counts = (shares / shares.sum() * num_points).floor().long()
    counts[0] += num_points - int(counts.sum())
    stride = torch.cat([torch.full((int(c),), float(s)) for c, s in zip(counts, strides, strict=True)])
    side = math.sqrt(num_points / float(shares.sum()))
    points = torch.rand(num_points, 2, generator=g) * side
    wh = (torch.rand(num_boxes, 2, generator=g) * (BOX_SIDES[1] - BOX_SIDES[0]) + BOX_SIDES[0]) * side
    xy = torch.rand(num_boxes, 2, generator=g) * (side - wh)
    boxes = torch.cat([xy, xy + wh], dim=1)
    labels = torch.randint(0, num_classes, (num_boxes,), generator=g)
    logits = torch.randn(1, num_points, num_classes, generator=g) * PRIOR_SPREAD + math.log(CLS_PRIOR / (1 - CLS_PRIOR))
    objectness = torch.randn(1, num_points, 1, generator=g) * OBJ_SPREAD
    distances = ((torch.randn(1, num_points, 4, generator=g) * REG_SPREAD + REG_BIAS).clamp(min=0)) * stride[
        None, :, None
    ]
    return AutoBatch(logits, objectness, distances, points, stride, boxes, labels)


def model_terms(
    num_points: int,
    num_boxes: int,
    num_classes: int,
    strides: tuple[int, ...],
    box_loss: BoxLoss,
    p: AutoParams,
    seed: int,
) -> AutoTerms:
    """The head's terms on the model's seeded image (:func:`model_batch`)."""
    return model_batch(num_points, num_boxes, num_classes, strides, seed).terms(box_loss, p)
