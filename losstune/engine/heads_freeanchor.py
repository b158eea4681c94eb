"""FreeAnchorRetinaHead, as MMDetection 3.3.0 writes it (``free_anchor_retina_head.py``): no loss
module makes its log's terms; ``loss_by_feat`` computes them from every anchor's sigmoid class
probabilities and box deltas, calling only ``loss_bbox`` (``reduction_override='none'``) on each
box's bag of anchors.

For each image and each of its boxes, the bag is the ``pre_anchor_topk`` anchors of highest IoU
with the box. An anchor's box probability in the bag is ``exp(-Σ loss_bbox)`` over its four
deltas against the box's encoded target; its class probability the sigmoid of the box's class.
``positive_bag_loss`` of a box is ``alpha × -log(mean-max(P_cls × P_loc))``, the mean-max a mean
weighted by ``1 / (1 - p)``; summed over every box of the batch and divided by
``max(1, boxes)``. Each anchor's probability of being some box's positive (``box_prob``, per
class) is the most, over the boxes of that class, of its decoded box's IoU with the box rescaled
from ``bbox_thr`` (0) to the box's best IoU (1); ``negative_bag_loss`` is
``(1 - alpha) × p^gamma × -log(1 - p)`` with ``p = P_cls × (1 - box_prob)`` (clamped to
[1e-12, 1 - 1e-12]) on every anchor and class of the batch, summed and divided by
``max(1, boxes × pre_anchor_topk)``. With no box in the batch ``positive_bag_loss`` is 0 and the
negative term is divided by 1."""

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

FREE_ANCHOR = "FreeAnchorRetinaHead"
TERMS = OWN[FREE_ANCHOR].terms
EPS = 1e-12  # free_anchor_retina_head.EPS
WH_RATIO_CLIP = 16 / 1000  # delta2bbox's default
# FreeAnchorRetinaHead.__init__'s defaults
DEFAULTS: dict[str, float] = {"pre_anchor_topk": 50, "bbox_thr": 0.6, "gamma": 2.0, "alpha": 0.5}


@dataclass(frozen=True)
class BagParams:
    """The head's ``pre_anchor_topk``, ``bbox_thr``, ``gamma`` and ``alpha``, and its box coder's
    ``target_means`` and ``target_stds``."""

    pre_anchor_topk: int = 50
    bbox_thr: float = 0.6
    gamma: float = 2.0
    alpha: float = 0.5
    means: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    stds: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)


def bag_params(head: dict[str, Any]) -> BagParams:
    """The bag parameters of the head dict ``head`` (the defaults of ``FreeAnchorRetinaHead.__init__``
    and ``DeltaXYWHBBoxCoder`` where it does not set them)."""
    values: dict[str, float] = {}
    for key, default in DEFAULTS.items():
        v = number(head.get(key))
        values[key] = float(v) if v is not None else default
    coder = head.get("bbox_coder")
    coder = coder if isinstance(coder, dict) else {}

    def four(key: str, default: float) -> tuple[float, ...]:
        v = coder.get(key)
        if isinstance(v, (list, tuple)) and len(v) == 4 and all(number(x) is not None for x in v):
            return tuple(float(number(x) or 0.0) for x in v)
        return (default,) * 4

    return BagParams(
        int(values["pre_anchor_topk"]),
        values["bbox_thr"],
        values["gamma"],
        values["alpha"],
        four("target_means", 0.0),
        four("target_stds", 1.0),
    )


@dataclass(frozen=True)
class BagTerms:
    """FreeAnchor's two terms on one batch, with the sums and divisors they are made of: ``boxes``
    the ground-truth boxes of the batch (``num_pos`` in the head's code), ``rows`` the anchors of
    an image, ``width`` the class probabilities of each."""

    positive: float
    negative: float
    positive_sum: float
    negative_sum: float
    boxes: int
    topk: int
    rows: int
    width: int

    @property
    def positive_divisor(self) -> float:
        """``max(1, num_pos)``: the boxes of the batch."""
        return float(max(1, self.boxes))

    @property
    def negative_divisor(self) -> float:
        """``max(1, num_pos × pre_anchor_topk)``."""
        return float(max(1, self.boxes * self.topk))


def overlaps(b1: Tensor, b2: Tensor) -> Tensor:
    """The IoU of every box of ``b1`` with every box of ``b2`` (``bbox_overlaps``, mode 'iou')."""
    return aligned_overlaps(b1[:, None, :], b2[None, :, :])


def encode(anchors: Tensor, gt: Tensor, p: BagParams) -> Tensor:
    """DeltaXYWHBBoxCoder.encode (``bbox2delta``) of ``gt`` against ``anchors``."""
    pxy, pwh = (anchors[..., :2] + anchors[..., 2:]) * 0.5, anchors[..., 2:] - anchors[..., :2]
    gxy, gwh = (gt[..., :2] + gt[..., 2:]) * 0.5, gt[..., 2:] - gt[..., :2]
    deltas = torch.cat([(gxy - pxy) / pwh, torch.log(gwh / pwh)], dim=-1)
    return (deltas - deltas.new_tensor(p.means)) / deltas.new_tensor(p.stds)


def decode(anchors: Tensor, deltas: Tensor, p: BagParams) -> Tensor:
    """DeltaXYWHBBoxCoder.decode (``delta2bbox``, no image shape: no clipping)."""
    d = deltas * deltas.new_tensor(p.stds) + deltas.new_tensor(p.means)
    pxy, pwh = (anchors[:, :2] + anchors[:, 2:]) * 0.5, anchors[:, 2:] - anchors[:, :2]
    max_ratio = abs(math.log(WH_RATIO_CLIP))
    gxy = pxy + pwh * d[:, :2]
    gwh = pwh * d[:, 2:].clamp(min=-max_ratio, max=max_ratio).exp()
    return torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], dim=-1)


def box_prob(cls_prob: Tensor, deltas: Tensor, anchors: Tensor, boxes: Tensor, labels: Tensor, p: BagParams) -> Tensor:
    """Each anchor's probability of being a positive of some box, per class (``image_box_prob``):
    over the boxes of the class, the most of its decoded box's IoU with the box, rescaled from
    ``bbox_thr`` to the box's best IoU and clamped to [0, 1]."""
    out = torch.zeros_like(cls_prob)
    if boxes.numel() == 0:
        return out
    with torch.no_grad():
        iou = overlaps(boxes, decode(anchors, deltas, p))
        t2 = iou.max(dim=1, keepdim=True).values.clamp(min=p.bbox_thr + 1e-12)
        prob = ((iou - p.bbox_thr) / (t2 - p.bbox_thr)).clamp(min=0, max=1)
        for c in torch.unique(labels):
            out[:, int(c)] = prob[labels == c].max(dim=0).values
    return out


def positive_bag(matched_cls: Tensor, matched_box: Tensor, alpha: float) -> Tensor:
    """``positive_bag_loss`` of each box: ``alpha × BCE(mean-max(P_cls × P_loc), 1)``."""
    prob = matched_cls * matched_box
    weight = 1 / torch.clamp(1 - prob, EPS, None)
    weight = weight / weight.sum(dim=1, keepdim=True)
    bag = (weight * prob).sum(dim=1)
    return alpha * torch.nn.functional.binary_cross_entropy(bag, torch.ones_like(bag), reduction="none")


def negative_bag(cls_prob: Tensor, prob_of_box: Tensor, gamma: float, alpha: float) -> Tensor:
    """``negative_bag_loss`` of each anchor and class: focal-style on ``P_cls × (1 - box_prob)``."""
    prob = (cls_prob * (1 - prob_of_box)).clamp(min=EPS, max=1 - EPS)
    bce = torch.nn.functional.binary_cross_entropy(prob, torch.zeros_like(prob), reduction="none")
    return (1 - alpha) * prob**gamma * bce


# loss_bbox with reduction_override='none': per element of (pred, target)
BoxLoss = Callable[[Tensor, Tensor], Tensor]


def box_loss_of(loss_cfg: dict[str, Any]) -> BoxLoss:
    """The config's ``loss_bbox`` as the head calls it on a bag (``reduction_override='none'``),
    evaluated by losstune's engine on the rows of any shape ``(…, 4)``."""
    from losstune.engine.evaluation import evaluate

    def loss(pred: Tensor, target: Tensor) -> Tensor:
        if pred.numel() == 0:
            return pred.new_zeros(pred.shape)
        out = evaluate(loss_cfg, pred.reshape(-1, 4), target.reshape(-1, 4), reduction_override="none").loss
        return torch.as_tensor(out).reshape(pred.shape)

    return loss


def bags(deltas: Tensor, anchors: Tensor, boxes: Tensor, p: BagParams) -> tuple[Tensor, Tensor, Tensor]:
    """One image's bags, as the head hands them to ``loss_bbox``: each box's ``pre_anchor_topk``
    anchors of highest IoU (boxes, topk), their predicted ``deltas`` and the box encoded on each
    of them (boxes, topk, 4)."""
    matched = torch.topk(overlaps(boxes, anchors), p.pre_anchor_topk, dim=1, sorted=False).indices
    matched_anchors = anchors[matched]
    targets = encode(matched_anchors, boxes.unsqueeze(1).expand_as(matched_anchors), p)
    return matched, deltas[matched], targets


def bag_terms(
    cls_scores: Tensor,
    deltas: Tensor,
    anchors: list[Tensor],
    boxes: list[Tensor],
    labels: list[Tensor],
    box_loss: BoxLoss,
    p: BagParams,
) -> BagTerms:
    """FreeAnchor's terms on a batch: ``cls_scores`` (images, anchors, classes) logits, ``deltas``
    (images, anchors, 4), each image's ``anchors``, ground-truth ``boxes`` and ``labels``;
    ``box_loss`` the head's ``loss_bbox`` with ``reduction_override='none'``."""
    cls_prob = cls_scores.sigmoid()
    positives: list[Tensor] = []
    probs: list[Tensor] = []
    for i, (a, b, lab) in enumerate(zip(anchors, boxes, labels, strict=True)):
        probs.append(box_prob(cls_prob[i], deltas[i], a, b, lab, p))
        if b.numel() == 0:
            continue
        matched, pred, targets = bags(deltas[i], a, b, p)
        matched_cls = cls_prob[i][matched].gather(2, lab.view(-1, 1, 1).repeat(1, p.pre_anchor_topk, 1)).squeeze(2)
        matched_box = torch.exp(-box_loss(pred, targets).sum(-1))
        positives.append(positive_bag(matched_cls, matched_box, p.alpha))
    num_pos = sum(int(b.shape[0]) for b in boxes)
    pos_sum = float(torch.cat(positives).sum()) if positives else 0.0
    neg_sum = float(negative_bag(cls_prob, torch.stack(probs), p.gamma, p.alpha).sum())
    terms = BagTerms(
        0.0, 0.0, pos_sum, neg_sum, num_pos, p.pre_anchor_topk, int(deltas.shape[1]), int(cls_prob.shape[2])
    )
    positive = pos_sum / terms.positive_divisor if num_pos else 0.0
    return replace(terms, positive=positive, negative=neg_sum / terms.negative_divisor)


# the method whose arguments are the inputs of the head's terms (one call a batch)
OWN_METHOD = "loss_by_feat"
IMAGE = 512.0  # the model's image side: anchors and boxes placed in it
ANCHOR_SIDES = (16.0, 512.0)  # the anchors' sides, log-uniform (the RetinaNet pyramid's 32 to 813, about)
BOX_SIDES = (32.0, 256.0)  # the ground-truth boxes' sides, log-uniform
DELTA_SPREAD = 0.1  # an untrained head's box deltas (convolutions of std 0.01)


def _log_uniform(n: int, sides: tuple[float, float], g: torch.Generator) -> Tensor:
    lo, hi = math.log(sides[0]), math.log(sides[1])
    return (torch.rand(n, 2, generator=g, dtype=torch.float64) * (hi - lo) + lo).exp()


def _boxes(n: int, sides: tuple[float, float], g: torch.Generator) -> Tensor:
    centre = torch.rand(n, 2, generator=g, dtype=torch.float64) * IMAGE
    half = _log_uniform(n, sides, g) / 2
    return torch.cat([centre - half, centre + half], dim=1).float()


@dataclass(frozen=True)
class BagBatch:
    """The model's seeded image: its class ``logits`` (1, anchors, classes) and box ``deltas``
    (1, anchors, 4), its ``anchors``, ground-truth ``boxes`` and their ``labels``."""

    logits: Tensor
    deltas: Tensor
    anchors: Tensor
    boxes: Tensor
    labels: Tensor

    def terms(self, box_loss: BoxLoss, p: BagParams) -> BagTerms:
        """The head's terms on this image."""
        return bag_terms(self.logits, self.deltas, [self.anchors], [self.boxes], [self.labels], box_loss, p)


def model_batch(num_priors: int, num_boxes: int, num_classes: int, seed: int) -> BagBatch:
    """The model's seeded image: ``num_priors`` anchors of :data:`ANCHOR_SIDES` and ``num_boxes``
    boxes of :data:`BOX_SIDES` in an image of :data:`IMAGE` a side, the class logits an untrained
    sigmoid head's and the deltas of :data:`DELTA_SPREAD`."""
    from losstune.engine.inputs import untrained_logits

    g = torch.Generator().manual_seed(seed)
    anchors = _boxes(num_priors, ANCHOR_SIDES, g)
    boxes = _boxes(num_boxes, BOX_SIDES, g)
    labels = torch.randint(0, num_classes, (num_boxes,), generator=g)
    logits = untrained_logits(1, num_priors, num_classes, generator=g)
    deltas = torch.randn(1, num_priors, 4, generator=g) * DELTA_SPREAD
    return BagBatch(logits, deltas, anchors, boxes, labels)


def model_terms(
    num_priors: int, num_boxes: int, num_classes: int, box_loss: BoxLoss, p: BagParams, seed: int
) -> BagTerms:
    """The head's terms on the model's seeded image (:func:`model_batch`)."""
    return model_batch(num_priors, num_boxes, num_classes, seed).terms(box_loss, p)
