"""Guided Anchoring's heads (``GARetinaHead``, run by ``GuidedAnchorHead``'s loss code, and
``GARPNHead``) as MMDetection 3.3.0 feeds their ``loss_shape`` and ``loss_loc``, on a seeded image
(2.28.2's computes the same for every configured ``ga_sampler`` but an explicit PseudoSampler, whose
avg_factor 2.x makes ``Σ max(positives, 1) + Σ max(negatives, 1)``, as a sampler's; no config of
either version sets one). Their ``loss_cls`` and ``loss_bbox`` are an
anchor head's: ``AnchorHead.get_targets`` on the guided anchors (one a location), the configured
``assigner`` and ``sampler``, the sampling's avg_factor.

``loss_loc`` (``ga_loc_targets``): each box goes to the level ``floor(log2(√area) -
log2(octave_base_scale × strides[0]) + 0.5)`` (clamped to the levels); there, the box scaled by
``center_ratio`` about its centre (``calc_region``, rounded half to even, on the level's map) is
target 1 and weight 1, the box scaled by ``ignore_ratio`` weight 0, and so on the levels either
side (the ignore region only); every other pixel is target 0 and weight 0.1. The module is called
once a level, on every pixel of every image (one logit each: ``(N, 1)``, the targets as ``long``,
so that a FocalLoss of one class takes target 0 as its class), with ``avg_factor`` the pixels of
every level and image ÷ 200 (``loc_avg_factor``).

``loss_shape`` (``ga_shape_targets``): each location's square (``square_anchor_generator``: side
``scales[0] × stride``) stands for its ``approx_anchor_generator`` approxes (``ratios`` ×
``scales_per_octave`` octave scales); ``ApproxMaxIoUAssigner`` takes the best IoU of a location's
approxes with each box and assigns as ``MaxIoUAssigner`` does (``match_low_quality`` on), and
``ga_sampler`` samples (PseudoSampler where none is set). The module is called once a level on
that level's sampled positives only: the squares with their width and height moved by the
predicted shape (``anchor_coder.decode`` of ``(0, 0, dw, dh)``), against their boxes, weight 1,
with ``avg_factor`` the ga sampling's (``SamplingResult.avg_factor`` summed over the images:
``max(positives, 1) + max(negatives, 1)`` an image with a sampler, ``max(positives, 1)`` without).
Neither term is divided afterwards.

The model's image is the square one whose locations at the head's strides are the priors asked
for; its 8 boxes are drawn as the comparison's batch draws them (a tenth to a half of the side).
The predictions are an untrained head's: the location logits at the prior bias (``conv_loc``'s
``bias_prob=0.01``) ± 0.3, the shape deltas about 0 ± 0.1."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_float, config_int, number
from losstune.engine.heads_condinst import image_side
from losstune.engine.heads_freeanchor import overlaps
from losstune.engine.inputs import Inputs, untrained_logits
from losstune.engine.sampling import NUM_GTS, Sampled
from losstune.schema.catalogue import bare_type
from losstune.words import count

GA_FAMILIES = ("GuidedAnchorHead", "GARPNHead")  # GARetinaHead runs GuidedAnchorHead's loss code
SHAPE_METHOD = "_ga_shape_target_single"  # the method whose calls give the ga sampling of each image
LOC_DIVISOR = 200.0  # loc_avg_factor: the location maps' pixels ÷ 200
STRIDES = (4, 8, 16, 32, 64)  # GuidedAnchorHead's default generators'
SHAPE_SPREAD = 0.1  # an untrained conv_shape's deltas about 0


@dataclass(frozen=True)
class Anchors:
    """A head's two generators and its ``anchor_coder``: the approxes' octave scales and ratios,
    the squares' scale, the strides, and the coder's ``target_means`` and ``target_stds``."""

    octave_base_scale: float
    scales_per_octave: int
    ratios: tuple[float, ...]
    square_scale: float
    strides: tuple[int, ...]
    means: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    stds: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)

    @property
    def approx_scales(self) -> tuple[float, ...]:
        """The approxes' scales: ``octave_base_scale × 2^(i / scales_per_octave)``."""
        n = self.scales_per_octave
        return tuple(self.octave_base_scale * 2 ** (i / n) for i in range(n))


def _numbers(value: Any, default: tuple[float, ...]) -> tuple[float, ...]:
    """A list of numbers as floats, else ``default``."""
    if not isinstance(value, (list, tuple)) or not value:
        return default
    found = [number(v) for v in value]
    return tuple(float(v) for v in found if v is not None) if all(v is not None for v in found) else default


def anchors_of(head: dict[str, Any]) -> Anchors:
    """The generators and the anchor coder of ``head`` (GuidedAnchorHead's defaults where unset)."""
    approx = head.get("approx_anchor_generator")
    approx = approx if isinstance(approx, dict) else {}
    square = head.get("square_anchor_generator")
    square = square if isinstance(square, dict) else {}
    coder = head.get("anchor_coder")
    coder = coder if isinstance(coder, dict) else {}
    base = config_float(approx, "octave_base_scale", 8.0, least=0.0)
    strides = tuple(int(s) for s in _numbers(approx.get("strides"), tuple(float(s) for s in STRIDES)))
    return Anchors(
        base,
        config_int(approx, "scales_per_octave", 3, least=1),
        _numbers(approx.get("ratios"), (0.5, 1.0, 2.0)),
        _numbers(square.get("scales"), (base,))[0],
        strides,
        _numbers(coder.get("target_means"), (0.0,) * 4),
        _numbers(coder.get("target_stds"), (1.0,) * 4),
    )


def train_of(model: dict[str, Any]) -> dict[str, Any]:
    """The ``train_cfg`` the guided anchor head is built with: ``train_cfg.rpn`` for an RPN head
    (the detector hands it that), else ``train_cfg``; the first of them with a ``ga_assigner``."""
    train = model.get("train_cfg")
    train = train if isinstance(train, dict) else {}
    rpn = train.get("rpn")
    for found in (rpn, train):
        if isinstance(found, dict) and "ga_assigner" in found:
            return found
    return rpn if isinstance(rpn, dict) else train


def featmap_sizes(side: int, strides: tuple[int, ...]) -> list[tuple[int, int]]:
    """Each level's (height, width) on a square padded image of ``side``."""
    return [(math.ceil(side / s), math.ceil(side / s)) for s in strides]


def _region(box: Tensor, ratio: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``calc_region``: ``box`` shrunk by ``ratio`` from each side, rounded half to even, clamped
    to the map of ``size`` (height, width); (x1, y1, x2, y2), both ends included."""
    x1 = int(torch.round((1 - ratio) * box[0] + ratio * box[2]).clamp(0, size[1]))
    y1 = int(torch.round((1 - ratio) * box[1] + ratio * box[3]).clamp(0, size[0]))
    x2 = int(torch.round(ratio * box[0] + (1 - ratio) * box[2]).clamp(0, size[1]))
    y2 = int(torch.round(ratio * box[1] + (1 - ratio) * box[3]).clamp(0, size[0]))
    return x1, y1, x2, y2


def loc_targets(
    boxes: Tensor,
    sizes: list[tuple[int, int]],
    strides: tuple[int, ...],
    octave_base_scale: float,
    center_ratio: float,
    ignore_ratio: float,
) -> tuple[list[Tensor], list[Tensor]]:
    """``ga_loc_targets`` of one image: each level's (height, width) target and weight maps."""
    r1, r2 = (1 - center_ratio) / 2, (1 - ignore_ratio) / 2
    targets = [torch.zeros(h, w) for h, w in sizes]
    weights = [torch.full((h, w), -1.0) for h, w in sizes]
    ignore = [torch.zeros(h, w) for h, w in sizes]
    levels = len(sizes)
    scale = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sqrt()
    smallest = torch.tensor([float(octave_base_scale * strides[0])])
    target_levels = torch.floor(torch.log2(scale) - torch.log2(smallest) + 0.5).clamp(0, levels - 1).long()
    for k in range(boxes.shape[0]):
        lvl = int(target_levels[k])
        box = boxes[k] / strides[lvl]
        ix1, iy1, ix2, iy2 = _region(box, r2, sizes[lvl])
        cx1, cy1, cx2, cy2 = _region(box, r1, sizes[lvl])
        targets[lvl][cy1 : cy2 + 1, cx1 : cx2 + 1] = 1
        weights[lvl][iy1 : iy2 + 1, ix1 : ix2 + 1] = 0
        weights[lvl][cy1 : cy2 + 1, cx1 : cx2 + 1] = 1
        for near in (lvl - 1, lvl + 1):  # the ignore region on the levels either side
            if 0 <= near < levels:
                x1, y1, x2, y2 = _region(boxes[k] / strides[near], r2, sizes[near])
                ignore[near][y1 : y2 + 1, x1 : x2 + 1] = 1
    for w, i in zip(weights, ignore, strict=True):
        w[(w < 0) & (i > 0)] = 0
        w[w < 0] = 0.1
    return targets, weights


def _grid(base: Tensor, stride: int, size: tuple[int, int]) -> Tensor:
    """``AnchorGenerator.single_level_grid_priors``: the base anchors at every location, location
    major ((height × width × anchors, 4))."""
    h, w = size
    ys, xs = torch.meshgrid(torch.arange(h) * float(stride), torch.arange(w) * float(stride), indexing="ij")
    shifts = torch.stack([xs.reshape(-1), ys.reshape(-1)] * 2, dim=1)
    return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4)


def _base(stride: int, scales: tuple[float, ...], ratios: tuple[float, ...]) -> Tensor:
    """``gen_single_level_base_anchors`` (scale major, centre offset 0) of one level."""
    h_ratios = torch.tensor(ratios).sqrt()
    w_ratios = 1 / h_ratios
    s = torch.tensor(scales)
    ws = (stride * w_ratios[:, None] * s[None, :]).reshape(-1)
    hs = (stride * h_ratios[:, None] * s[None, :]).reshape(-1)
    return torch.stack([-0.5 * ws, -0.5 * hs, 0.5 * ws, 0.5 * hs], dim=-1)


def squares_and_approxes(a: Anchors, sizes: list[tuple[int, int]]) -> tuple[Tensor, Tensor]:
    """Every location's square ((locations, 4)) and approxes ((locations, approxes, 4)), the levels
    concatenated."""
    squares = [_grid(_base(s, (a.square_scale,), (1.0,)), s, size) for s, size in zip(a.strides, sizes, strict=True)]
    approxes = [_grid(_base(s, a.approx_scales, a.ratios), s, size) for s, size in zip(a.strides, sizes, strict=True)]
    per = a.scales_per_octave * len(a.ratios)
    return torch.cat(squares), torch.cat(approxes).view(-1, per, 4)


def inside(approxes: Tensor, side: int, allowed_border: float) -> Tensor:
    """``get_sampled_approxs``' inside flags: a location whose approxes any lies within the image
    (by ``allowed_border``; every location where it is negative)."""
    if allowed_border < 0:
        return torch.ones(approxes.shape[0], dtype=torch.bool)
    b = allowed_border
    ok = (
        (approxes[..., 0] >= -b)
        & (approxes[..., 1] >= -b)
        & (approxes[..., 2] < side + b)
        & (approxes[..., 3] < side + b)
    )
    return ok.any(dim=1)


def approx_assign(approxes: Tensor, boxes: Tensor, assigner: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """``ApproxMaxIoUAssigner.assign``: each location's gt index (0 negative, -1 ignored, k > 0
    matched to box k) and its best IoU, from the best IoU of its approxes with each box."""
    pos_thr = config_float(assigner, "pos_iou_thr", 0.5)
    neg_thr = config_float(assigner, "neg_iou_thr", 0.4)
    min_pos = config_float(assigner, "min_pos_iou", 0.0)
    all_max = bool(assigner.get("gt_max_assign_all", True))
    low_quality = bool(assigner.get("match_low_quality", True))
    n = approxes.shape[0]
    if boxes.shape[0] == 0:  # every location a negative
        return torch.zeros(n, dtype=torch.long), torch.zeros(n)
    ious = overlaps(approxes.reshape(-1, 4), boxes).view(n, -1, boxes.shape[0]).max(dim=1).values.T
    gt_inds = torch.full((n,), -1, dtype=torch.long)
    best, which = ious.max(dim=0)
    gt_best, gt_which = ious.max(dim=1)
    gt_inds[(best >= 0) & (best < neg_thr)] = 0
    pos = best >= pos_thr
    gt_inds[pos] = which[pos] + 1
    if low_quality:
        for i in range(boxes.shape[0]):
            if gt_best[i] >= min_pos:
                if all_max:
                    gt_inds[ious[i] == gt_best[i]] = i + 1
                else:
                    gt_inds[gt_which[i]] = i + 1
    return gt_inds, best


@dataclass(frozen=True)
class ShapeSampling:
    """The ga sampling of one image: the sampled positives and negatives (location indices), each
    positive's box, the avg_factor and how it arises, and the sampler's words."""

    positives: Tensor
    negatives: Tensor
    boxes: Tensor
    avg_factor: float
    rule: str
    text: str


def ga_sample(gt_inds: Tensor, boxes: Tensor, sampler: dict[str, Any] | None, g: torch.Generator) -> ShapeSampling:
    """``ga_sampler.sample`` of one image's assignment (``None``: PseudoSampler, every positive and
    negative, the avg_factor of the positives only)."""
    pos_pool = torch.nonzero(gt_inds > 0).squeeze(1)
    neg_pool = torch.nonzero(gt_inds == 0).squeeze(1)
    kind = bare_type(str(sampler.get("type"))) if sampler else "PseudoSampler"
    if kind == "PseudoSampler" or sampler is None:
        pos, neg = pos_pool, neg_pool
        avg, rule = float(max(pos.numel(), 1)), "max(positives, 1)"
        text = f"PseudoSampler: {pos.numel()} positives, {neg.numel()} negatives"
    elif kind == "RandomSampler":
        num = config_int(sampler, "num", 256, least=0)
        fraction = config_float(sampler, "pos_fraction", 0.5, least=0.0)
        ub = config_int(sampler, "neg_pos_ub", -1)
        pos = _pick(pos_pool, int(num * fraction), g)
        expected = num - pos.numel()
        if ub >= 0:
            expected = min(expected, int(ub * max(1, pos.numel())))
        neg = _pick(neg_pool, expected, g)
        avg, rule = float(max(pos.numel(), 1) + max(neg.numel(), 1)), "max(positives, 1) + max(negatives, 1)"
        text = (
            f"RandomSampler(num={num}, pos_fraction={fraction:g}): {pos.numel()} of {pos_pool.numel()} positives, "
            f"{neg.numel()} of {neg_pool.numel()} negatives"
        )
    else:
        raise ValueError(f"{kind} as the ga_sampler cannot be simulated (losstune does not model it yet)")
    return ShapeSampling(pos, neg, boxes[gt_inds[pos] - 1], avg, rule, text)


def _pick(pool: Tensor, k: int, g: torch.Generator) -> Tensor:
    """``k`` of ``pool`` at random (all of them where there are no more), in index order."""
    if pool.numel() <= k:
        return pool
    return pool[torch.randperm(pool.numel(), generator=g)[:k]].sort().values


def decode_shape(squares: Tensor, deltas: Tensor, a: Anchors) -> Tensor:
    """``anchor_coder.decode(squares, (0, 0, dw, dh), wh_ratio_clip=1e-6)``: the squares' widths
    and heights moved by the shape deltas, their centres kept."""
    clip = abs(math.log(1e-6))
    dw = (deltas[:, 0] * a.stds[2] + a.means[2]).clamp(-clip, clip)
    dh = (deltas[:, 1] * a.stds[3] + a.means[3]).clamp(-clip, clip)
    cx, cy = (squares[:, 0] + squares[:, 2]) / 2, (squares[:, 1] + squares[:, 3]) / 2
    w, h = (squares[:, 2] - squares[:, 0]) * dw.exp(), (squares[:, 3] - squares[:, 1]) * dh.exp()
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)


def model_boxes(side: int, num_gts: int, seed: int) -> Tensor:
    """The model image's boxes: a tenth to a half of its side, inside it (as the comparison's batch)."""
    g = torch.Generator().manual_seed(seed + 1)
    wh = (0.1 + 0.4 * torch.rand(num_gts, 2, generator=g)) * side
    xy = torch.rand(num_gts, 2, generator=g) * (side - wh)
    return torch.cat([xy, xy + wh], dim=1)


def ga_inputs(
    loss_name: str, head: dict[str, Any], model: dict[str, Any], *, num_priors: int, seed: int
) -> Inputs | None:
    """The call of ``loss_shape`` or ``loss_loc`` on the model's image (``None`` for another loss:
    an anchor head's inputs are made for those)."""
    if loss_name not in ("loss_shape", "loss_loc"):
        return None
    a = anchors_of(head)
    side = image_side(num_priors, a.strides)
    sizes = featmap_sizes(side, a.strides)
    boxes = model_boxes(side, NUM_GTS, seed)
    train = train_of(model)
    image = (
        f"a {side}×{side} image of {count(NUM_GTS, 'box', 'boxes')}, {count(sum(h * w for h, w in sizes), 'location')}"
    )
    if loss_name == "loss_loc":
        return _loc_inputs(boxes, sizes, a, train, seed, image)
    return _shape_inputs(boxes, sizes, side, a, train, seed, image)


def _loc_inputs(
    boxes: Tensor, sizes: list[tuple[int, int]], a: Anchors, train: dict[str, Any], seed: int, image: str
) -> Inputs:
    centre, ignore = config_float(train, "center_ratio", 0.2), config_float(train, "ignore_ratio", 0.5)
    targets, weights = loc_targets(boxes, sizes, a.strides, a.octave_base_scale, centre, ignore)
    target = torch.cat([t.reshape(-1) for t in targets]).long()
    weight = torch.cat([w.reshape(-1) for w in weights])
    n = target.numel()
    logits = untrained_logits(n, 1, generator=torch.Generator().manual_seed(seed + 2))
    pos = target == 1
    ignored = int((weight == 0).sum())
    avg = n / LOC_DIVISOR
    text = (
        f"ga_loc_targets on {image}: each box on the level of its scale, its centre region "
        f"(center_ratio={centre:g}) target 1 and weight 1, its ignore region (ignore_ratio={ignore:g}, on the "
        f"levels either side too) weight 0, every other location target 0 and weight 0.1 "
        f"({int(pos.sum())} centre, {ignored} ignored, {n - int(pos.sum()) - ignored} at 0.1); a call a level on "
        f"every location's one logit (the targets as long: a one-class FocalLoss takes target 0 as its class, the centre regions' 1 as background)"
    )
    stats = {"positives": int(pos.sum()), "negatives": int(((weight > 0) & ~pos).sum()), "priors": n, "avg_factor": avg}
    s = Sampled(target, (weight > 0).float(), torch.zeros(n, 4), torch.zeros(n), pos, avg, text, stats, "")
    return Inputs([logits, target, weight], {"avg_factor": avg}, s, avg_rule=f"locations ÷ {LOC_DIVISOR:g}")


def _shape_inputs(
    boxes: Tensor,
    sizes: list[tuple[int, int]],
    side: int,
    a: Anchors,
    train: dict[str, Any],
    seed: int,
    image: str,
) -> Inputs:
    squares, approxes = squares_and_approxes(a, sizes)
    flags = inside(approxes, side, config_float(train, "allowed_border", -1.0))
    assigner = train.get("ga_assigner")
    gt_inds = torch.full((squares.shape[0],), -1, dtype=torch.long)
    gt_inds[flags] = approx_assign(approxes[flags], boxes, assigner if isinstance(assigner, dict) else {})[0]
    sampler = train.get("ga_sampler")
    g = torch.Generator().manual_seed(seed)
    sampled = ga_sample(gt_inds, boxes, sampler if isinstance(sampler, dict) else None, g)
    n = squares.shape[0]
    deltas = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed + 2)) * SHAPE_SPREAD
    pred = decode_shape(squares, deltas, a)
    gts = torch.zeros(n, 4)
    gts[sampled.positives] = sampled.boxes
    weight = torch.zeros(n, 4)
    weight[sampled.positives] = 1.0
    pos_mask = torch.zeros(n, dtype=torch.bool)
    pos_mask[sampled.positives] = True
    label_weights = torch.zeros(n)
    label_weights[sampled.positives] = 1.0
    label_weights[sampled.negatives] = 1.0
    text = (
        f"ApproxMaxIoUAssigner on {image} (each location's square, the best IoU of its "
        f"{a.scales_per_octave * len(a.ratios)} approxes), ga_sampler {sampled.text}; a call a level on its "
        f"positives' squares with the predicted shape against their boxes, weight 1"
    )
    stats = {
        "positives": int(sampled.positives.numel()),
        "negatives": int(sampled.negatives.numel()),
        "priors": n,
        "avg_factor": sampled.avg_factor,
    }
    labels = torch.where(pos_mask, 0, 1)
    s = Sampled(labels, label_weights, weight, torch.zeros(n), pos_mask, sampled.avg_factor, text, stats, sampled.rule)
    return Inputs([pred, gts, weight], {"avg_factor": sampled.avg_factor}, s, avg_rule=sampled.rule)
