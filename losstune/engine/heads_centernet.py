"""CenterNet's heads as MMDetection 3.3.0 feeds their losses, on seeded objects.

``CenterNetHead.loss_by_feat`` hands its losses whole maps: the sigmoid heatmap ``(N, C, H, W)``
against Gaussian peaks at the objects' centres, ``avg_factor = max(1, peaks)``, and the width/height
and offset maps ``(N, 2, H, W)`` against their targets at the centres, weighted 1 there and 0
elsewhere, ``avg_factor = max(1, peaks) × 2``. ``CenterNetUpdateHead.loss_by_feat`` flattens its
points: GaussianFocalLoss on every point's class scores with ``pos_inds``/``pos_labels`` (the
points it adds as positives) and ``avg_factor = max(positives, 1)``, GIoULoss on the points that
regress a box (the 3×3 points around each centre at its level, inside the box), weighted by their
heatmap values where ``soft_weight_on_reg`` (else 1), ``avg_factor = max(Σ weights, 1)``."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_float
from losstune.engine.inputs import BOXES, REGRESSION, Inputs, untrained_logits
from losstune.engine.sampling import Sampled
from losstune.schema.catalogue import bare_type
from losstune.words import count

MAP_SIDE = 128  # CenterNet's output map of a 512×512 crop (stride 4)
NUM_OBJECTS = 8
HEATMAP_PRIOR = 0.1  # CenterNetHead.init_weights: bias_init_with_prob(0.1) on the heatmap's last conv
MIN_OVERLAP = 0.3  # CenterNetHead.get_targets: gaussian_radius(..., min_overlap=0.3)


def gaussian_radius(height: float, width: float, min_overlap: float) -> float:
    """MMDetection's ``gaussian_radius``: the radius within which a corner keeps the box's IoU
    above ``min_overlap`` (the smallest of its three cases)."""
    b1, c1 = height + width, width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 - math.sqrt(b1**2 - 4 * c1)) / 2
    b2, c2 = 2 * (height + width), (1 - min_overlap) * width * height
    r2 = (b2 - math.sqrt(b2**2 - 16 * c2)) / 8
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (height + width), (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / (2 * a3)
    return min(r1, r2, r3)


def draw_gaussian(heatmap: Tensor, x: int, y: int, radius: int) -> None:
    """MMDetection's ``gen_gaussian_target``: a Gaussian of σ = (2r + 1) / 6 at ``(x, y)``, kept as
    the maximum with what ``heatmap`` (``H × W``) holds."""
    ax = torch.arange(-radius, radius + 1, dtype=heatmap.dtype)
    sigma = (2 * radius + 1) / 6
    kernel = (-(ax[None, :] ** 2 + ax[:, None] ** 2) / (2 * sigma * sigma)).exp()
    kernel[kernel < torch.finfo(kernel.dtype).eps * kernel.max()] = 0
    height, width = heatmap.shape
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    region = heatmap[y - top : y + bottom, x - left : x + right]
    torch.maximum(region, kernel[radius - top : radius + bottom, radius - left : radius + right], out=region)


@dataclass
class CentreMaps:
    """CenterNetHead's targets of one image: the heatmap ``(1, C, S, S)``, the width/height and
    offset maps and their weight ``(1, 2, S, S)``, and the centres as a sampling (one row per
    pixel, the centres its positives)."""

    heatmap: Tensor
    wh: Tensor
    offset: Tensor
    weight: Tensor
    sampled: Sampled


def map_side(num_priors: int | None) -> int:
    """The output map's side: ``num_priors`` pixels where given, else :data:`MAP_SIDE`."""
    return max(round(math.sqrt(num_priors)), 4) if num_priors else MAP_SIDE


def centre_maps(num_classes: int, side: int, seed: int, objects: int = NUM_OBJECTS) -> CentreMaps:
    """Seeded boxes (a tenth to a half of the map's side, centres at distinct pixels, so that
    each is one peak) and their targets, as ``CenterNetHead.get_targets`` makes them."""
    g = torch.Generator().manual_seed(seed)
    heatmap = torch.zeros(1, num_classes, side, side)
    wh, offset, weight = (torch.zeros(1, 2, side, side) for _ in range(3))
    labels = torch.full((side * side,), num_classes, dtype=torch.long)
    taken: set[tuple[int, int]] = set()
    for _ in range(objects * 4):
        if len(taken) == objects:
            break
        size = (0.1 + 0.4 * torch.rand(2, generator=g)) * side
        corner = torch.rand(2, generator=g) * (side - size)
        centre = corner + size / 2
        cx, cy = (int(v) for v in centre)
        if (cx, cy) in taken:
            continue
        taken.add((cx, cy))
        cls = int(torch.randint(0, num_classes, (1,), generator=g))
        radius = max(0, int(gaussian_radius(float(size[1]), float(size[0]), MIN_OVERLAP)))
        draw_gaussian(heatmap[0, cls], cx, cy, radius)
        wh[0, :, cy, cx] = size
        offset[0, :, cy, cx] = centre - torch.tensor([cx, cy], dtype=centre.dtype)
        weight[0, :, cy, cx] = 1.0
        labels[cy * side + cx] = cls
    pos_mask = weight[0, 0].flatten() > 0
    peaks = int(pos_mask.sum())
    avg = float(max(1, peaks))
    pixels = side * side
    what = (
        f"no sampler: a {side}×{side} output map, {count(peaks, 'object centre', 'object centres')} (the positives, "
        f"each a Gaussian peak on its class's heatmap of {count(num_classes, 'class', 'classes')}, "
        f"gaussian_radius(min_overlap={MIN_OVERLAP:g})); every pixel is handed to the module"
    )
    bbox_weights = pos_mask[:, None].float().expand(-1, 4).clone()
    stats = {"positives": peaks, "negatives": pixels - peaks, "priors": pixels, "avg_factor": avg}
    sampled = Sampled(
        labels, torch.ones(pixels), bbox_weights, torch.zeros(pixels), pos_mask, avg, what, stats, "max(1, peaks)"
    )
    return CentreMaps(heatmap, wh, offset, weight, sampled)


def centernet_inputs(
    loss_name: str, loss_cfg: dict[str, Any], *, num_classes: int, num_priors: int | None, seed: int
) -> Inputs | None:
    """CenterNetHead's call of ``loss_name`` on seeded maps (``None``: not one of its losses, or of
    a type the map does not fit)."""
    kind = bare_type(str(loss_cfg.get("type")))
    maps = centre_maps(num_classes, map_side(num_priors), seed)
    g = torch.Generator().manual_seed(seed + 1)
    s = maps.sampled
    if loss_name == "loss_center_heatmap" and kind == "GaussianFocalLoss":
        logits = untrained_logits(*maps.heatmap.shape, generator=g) + _logit(HEATMAP_PRIOR) - _logit(0.01)
        return Inputs([logits.sigmoid(), maps.heatmap], {"avg_factor": s.avg_factor}, s)
    if loss_name in ("loss_wh", "loss_offset") and kind in REGRESSION:
        target = maps.wh if loss_name == "loss_wh" else maps.offset
        pred = torch.randn(target.shape, generator=g) * 0.01  # the untrained convolutions: std 0.001
        s = replace(s, description=f"{s.description}, weighted 1 at the centres and 0 elsewhere (2 channels)")
        return Inputs([pred, target, maps.weight], {"avg_factor": s.avg_factor * 2}, s)
    return None


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


STRIDES = (8, 16, 32, 64, 128)
SIGMOID_CLAMP = 1e-4  # CenterNetUpdateHead.sigmoid_clamp
UNTRAINED_DISTANCE = 0.3  # an untrained head's box distances (clamped at 0): far from any box


def update_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    *,
    head: dict[str, Any],
    num_classes: int,
    num_priors: int,
    seed: int,
    objects: int = NUM_OBJECTS,
) -> Inputs | None:
    """CenterNetUpdateHead's call of ``loss_name`` on ``num_priors`` seeded points (``None``: not
    one of its losses, or of a type that does not fit). Each object has the 3×3 points around its
    centre at its level; those inside the box regress it; the centre point is the one positive
    ``add_cls_pos_inds`` keeps on an untrained head (its other candidates' GIoU losses are far above
    ``more_pos_thresh``)."""
    kind = bare_type(str(loss_cfg.get("type")))
    if not ((loss_name == "loss_cls" and kind == "GaussianFocalLoss") or (loss_name == "loss_bbox" and kind in BOXES)):
        return None
    g = torch.Generator().manual_seed(seed)
    overlap = config_float(head, "hm_min_overlap", 0.8)
    min_radius = config_float(head, "hm_min_radius", 4.0)
    delta = (1 - overlap) / (1 + overlap)
    soft = head.get("soft_weight_on_reg", False) is True
    n = max(num_priors, objects * 9)
    rows = torch.randperm(n, generator=g)[: objects * 9].view(objects, 9)
    labels = torch.randint(0, num_classes, (objects,), generator=g)
    stride = torch.tensor(STRIDES, dtype=torch.float)[torch.randint(0, len(STRIDES), (objects,), generator=g)]
    size = (torch.rand(objects, 2, generator=g) * 8 + 2) * stride[:, None]  # 2 to 10 strides a side
    within = torch.rand(objects, 2, generator=g) * stride[:, None]  # the centre within its cell
    grid = torch.tensor([(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dtype=torch.float)
    points = grid[None] * stride[:, None, None] + stride[:, None, None] / 2  # the 3×3 points, cell origin
    to_centre = points - within[:, None]
    inside = (to_centre.abs() < size[:, None] / 2).all(-1)
    area = size.prod(1)
    radius = (delta**2 * 2 * area).clamp(min=min_radius**2)
    values = torch.exp(-(to_centre**2).sum(-1) / radius[:, None])
    values[:, 4] = 1.0  # the discretised centre's peak
    target = torch.zeros(n, num_classes)
    target[rows.flatten(), labels.repeat_interleave(9)] = values.flatten()
    box_rows = rows[inside]
    pos_inds = rows[:, 4]
    pos_mask = torch.zeros(n, dtype=torch.bool)
    if loss_name == "loss_cls":
        pos_mask[pos_inds] = True
        what = (
            f"{count(n, 'point')}, {count(objects, 'object')}: add_cls_pos_inds keeps each object's centre point "
            f"at its level ({count(objects, 'positive')}); Gaussian targets on its 3×3 points, "
            f"hm_min_overlap={overlap:g}, hm_min_radius={min_radius:g}"
        )
    else:
        pos_mask[box_rows] = True
        weights = "their heatmap values" if soft else "1 each (soft_weight_on_reg=False)"
        what = (
            f"{count(n, 'point')}, {count(objects, 'object')}: the 3×3 points around each centre inside its box "
            f"regress it ({count(int(pos_mask.sum()), 'positive')}), weighted {weights}"
        )
    ious = torch.zeros(n)
    ious[box_rows] = values[inside] if soft else 1.0
    point_labels = torch.full((n,), num_classes, dtype=torch.long)
    point_labels[pos_mask] = target[pos_mask].argmax(1)
    positives = int(pos_mask.sum())
    avg = float(max(positives, 1))
    stats = {"positives": positives, "negatives": n - positives, "priors": n, "avg_factor": avg}
    bbox_weights = pos_mask[:, None].float().expand(-1, 4).clone()
    s = Sampled(point_labels, torch.ones(n), bbox_weights, ious, pos_mask, avg, what, stats, "max(positives, 1)")
    h = torch.Generator().manual_seed(seed + 1)
    if loss_name == "loss_cls":
        scores = untrained_logits(n, num_classes, generator=h).sigmoid().clamp(SIGMOID_CLAMP, 1 - SIGMOID_CLAMP)
        kwargs = {"pos_inds": pos_inds, "pos_labels": labels, "avg_factor": avg}
        return Inputs([scores, target], kwargs, s)
    # the boxes decoded around each point (GIoU does not depend on where): the target's distances
    # to its box's sides in strides, the untrained prediction's about 0
    distances = torch.zeros(n, 4)
    sides = torch.cat([size[:, None] / 2 + to_centre, size[:, None] / 2 - to_centre], -1) / stride[:, None, None]
    distances[rows.flatten()] = sides.reshape(-1, 4).clamp(min=0)
    pred = (torch.randn(n, 4, generator=h) * UNTRAINED_DISTANCE).clamp(min=0)
    as_box = torch.tensor([-1.0, -1.0, 1.0, 1.0])
    return Inputs([pred * as_box, distances * as_box, s.bbox_weights], {"avg_factor": avg}, s)
