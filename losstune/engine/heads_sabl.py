"""SABL's side-aware boundary losses, as MMDetection 3.3.0 feeds them: each box side is split into
buckets (``BucketingBBoxCoder``), ``loss_bbox_cls`` classifies which bucket of each side the
ground-truth edge falls in and ``loss_bbox_reg`` regresses the edge's offset from the nearest ones.
SABLRetinaHead hands both ``4 × side_num`` columns for every prior, weighted at the positives only,
with the sampling's avg_factor times the columns the weights can reach per positive. SABLHead, the
RoI head's, hands both every sampled RoI, weighted at the positives only: ``loss_bbox_cls`` each
RoI's four sides as rows of ``side_num`` bucket logits (``view(-1, side_num)``), with the avg_factor
``bucket_cls_targets.size(0)``, 4 × the sampled RoIs; ``loss_bbox_reg`` each RoI's
``4 × side_num`` offsets, with the avg_factor ``bucket_offset_targets.size(0)``, the sampled RoIs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_float, config_int

# BucketingBBoxCoder's defaults (num_buckets and scale_factor have none; SABL's configs give 14 and 3.0)
NUM_BUCKETS, SCALE_FACTOR, OFFSET_TOPK, OFFSET_UPPERBOUND = 14, 3.0, 2, 1.0
ROI_SCALE_FACTOR = 1.7  # SABLHead's default bbox_coder: BucketingBBoxCoder(num_buckets=14, scale_factor=1.7)
ANCHOR_SIDES = (32.0, 256.0)  # the positives' square anchors (octave_base_scale 4 × strides 8..64)
EDGE_SHIFT = 0.2  # a positive's box edges lie within this fraction of its anchor's side from it
BUCKET_LOSSES = ("loss_bbox_cls", "loss_bbox_reg")  # the losses SABLRetinaHead hands side buckets


@dataclass(frozen=True)
class Coder:
    """The head's ``bbox_coder``: buckets per box side and the top-k offsets regressed."""

    num_buckets: int = NUM_BUCKETS
    scale_factor: float = SCALE_FACTOR
    offset_topk: int = OFFSET_TOPK
    offset_upperbound: float = OFFSET_UPPERBOUND
    cls_ignore_neighbor: bool = True

    @property
    def side_num(self) -> int:
        """Buckets on each side: ``ceil(num_buckets / 2)`` (SABLRetinaHead.side_num)."""
        return math.ceil(self.num_buckets / 2)


def coder_of(head: dict[str, Any], scale_factor: float = SCALE_FACTOR) -> Coder:
    """The ``bbox_coder`` of a head config, its defaults where a value is not a number
    (``scale_factor``: the head's default, SABLHead's 1.7)."""
    cfg = head.get("bbox_coder")
    cfg = cfg if isinstance(cfg, dict) else {}

    ignore = cfg.get("cls_ignore_neighbor", True)
    return Coder(
        config_int(cfg, "num_buckets", NUM_BUCKETS, least=1),
        config_float(cfg, "scale_factor", scale_factor, above=0),
        config_int(cfg, "offset_topk", OFFSET_TOPK, least=1),
        config_float(cfg, "offset_upperbound", OFFSET_UPPERBOUND, above=0),
        ignore if isinstance(ignore, bool) else True,
    )


def avg_times(kind: str, coder: Coder) -> tuple[int, str]:
    """What SABLRetinaHead multiplies the sampling's avg_factor by (``kind``: ``sides`` for the
    bucket labels, ``offsets`` for the offsets), and its text."""
    if kind == "sides":
        return 4 * coder.side_num, f"4 × side_num ({coder.side_num})"
    return 4 * coder.offset_topk, f"4 × offset_topk ({coder.offset_topk})"


def bucket_targets(proposals: Tensor, gt: Tensor, coder: Coder) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``bbox2bucket``: the offsets from each side's buckets to the box's edge, their weights (the
    ``offset_topk`` nearest, those after the first only within ``offset_upperbound``), the one-hot
    bucket labels (the nearest bucket of each side) and their weights (a neighbour within one
    bucket of the edge, not the label, ignored)."""
    cx, cy = (proposals[:, 0] + proposals[:, 2]) / 2, (proposals[:, 1] + proposals[:, 3]) / 2
    pw = (proposals[:, 2] - proposals[:, 0]) * coder.scale_factor
    ph = (proposals[:, 3] - proposals[:, 1]) * coder.scale_factor
    side = coder.side_num
    steps = 0.5 + torch.arange(side, dtype=torch.float32)[None, :]
    bw, bh = pw / coder.num_buckets, ph / coder.num_buckets
    buckets = (
        (cx - pw / 2)[:, None] + steps * bw[:, None],
        (cx + pw / 2)[:, None] - steps * bw[:, None],
        (cy - ph / 2)[:, None] + steps * bh[:, None],
        (cy + ph / 2)[:, None] - steps * bh[:, None],
    )
    sizes = (bw, bw, bh, bh)
    edges = (gt[:, 0], gt[:, 2], gt[:, 1], gt[:, 3])  # left, right, top, down
    offsets = [(b - e[:, None]) / w[:, None] for b, e, w in zip(buckets, edges, sizes, strict=True)]
    weights, labels = [], []
    rows = torch.arange(proposals.size(0))
    for o in offsets:
        top, label = o.abs().topk(coder.offset_topk, dim=1, largest=False, sorted=True)
        w = torch.zeros_like(o)
        w[rows, label[:, 0]] = 1.0
        for k in range(1, coder.offset_topk):
            w[rows, label[:, k]] = (top[:, k] < coder.offset_upperbound).float()
        weights.append(w)
        labels.append(label[:, 0])
    n = proposals.size(0)
    bucket_labels = torch.nn.functional.one_hot(torch.stack(labels, -1).view(-1), side).view(n, 4 * side).float()
    near = torch.cat([(o.abs() < 1).float() for o in offsets], -1)
    if coder.cls_ignore_neighbor:
        cls_weights = (~((near == 1) & (bucket_labels == 0))).float()
    else:
        cls_weights = torch.ones_like(near)
    return torch.cat(offsets, -1), torch.cat(weights, -1), bucket_labels, cls_weights


def bucket_inputs(loss_name: str, pos_mask: Tensor, coder: Coder, g: torch.Generator) -> list[Tensor]:
    """The prediction, target and weight of every prior for ``loss_name`` (``4 × side_num``
    columns): the positives' targets from seeded square anchors and boxes whose edges lie near
    them, zero (and weight zero) elsewhere; the predictions near 0, as an untrained head's
    (its bucket convolutions start at N(0, 0.01) with no bias)."""
    n, cols = pos_mask.numel(), 4 * coder.side_num
    rows = torch.nonzero(pos_mask).squeeze(1)
    p = rows.numel()
    lo, hi = ANCHOR_SIDES
    a = lo * (hi / lo) ** torch.rand(p, generator=g)
    centre = torch.rand(p, 2, generator=g) * 800
    squares = torch.cat([centre - a[:, None] / 2, centre + a[:, None] / 2], 1)
    boxes = squares + (torch.rand(p, 4, generator=g) * 2 - 1) * EDGE_SHIFT * a[:, None]
    offsets, offset_weights, labels, cls_weights = bucket_targets(squares, boxes, coder)
    pred = torch.randn(n, cols, generator=g) * 0.1
    target, weight = torch.zeros(n, cols), torch.zeros(n, cols)
    if loss_name == "loss_bbox_cls":
        target[rows], weight[rows] = labels, cls_weights
        return [pred, target.long(), weight]
    target[rows], weight[rows] = offsets, offset_weights
    return [pred, target, weight]


def describe(loss_name: str, coder: Coder) -> str:
    """The sampling text's account of SABLRetinaHead's call of ``loss_name``."""
    cols = f"{4 * coder.side_num} columns (4 sides × side_num = ceil(num_buckets / 2) = {coder.side_num})"
    if loss_name == "loss_bbox_cls":
        return (
            f"; SABLRetinaHead hands every prior's bucket logits, {cols}, against the one-hot bucket of each side's "
            "edge, weighted at the positives (a neighbour bucket within one bucket of the edge ignored)"
        )
    return (
        f"; SABLRetinaHead hands every prior's bucket offsets, {cols}, weighted at the positives' "
        f"offset_topk = {coder.offset_topk} nearest buckets of each side"
    )


def roi_bucket_inputs(loss_name: str, pos_mask: Tensor, coder: Coder, g: torch.Generator) -> list[Tensor]:
    """SABLHead's arguments of ``loss_name`` for every sampled RoI (``pos_mask``: its positives),
    made as :func:`bucket_inputs` makes a prior's: ``loss_bbox_cls`` on the four sides of each RoI
    as rows of ``side_num`` columns, ``loss_bbox_reg`` on ``4 × side_num`` columns a RoI."""
    args = bucket_inputs(loss_name, pos_mask, coder, g)
    if loss_name == "loss_bbox_cls":
        return [a.reshape(-1, coder.side_num) for a in args]
    return args


def describe_roi(loss_name: str, coder: Coder) -> str:
    """The sampling text's account of SABLHead's call of ``loss_name``."""
    side = coder.side_num
    if loss_name == "loss_bbox_cls":
        return (
            f"; SABLHead hands every sampled RoI's bucket logits, its 4 sides as rows of side_num = "
            f"ceil(num_buckets / 2) = {side} columns, against the one-hot bucket of each side's edge, weighted at the "
            "positives (a neighbour bucket within one bucket of the edge ignored)"
        )
    return (
        f"; SABLHead hands every sampled RoI's bucket offsets, {4 * side} columns (4 sides × side_num = {side}), "
        f"weighted at the positives' offset_topk = {coder.offset_topk} nearest buckets of each side"
    )
