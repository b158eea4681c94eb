"""Grid R-CNN's grid head (``GridHead`` under ``GridRoIHead``) as MMDetection 3.3.0 feeds its
``loss_grid``, on seeded positives.

``GridRoIHead.bbox_loss`` jitters each image's sampled positive RoIs (``_random_jitter``, amplitude
0.15), takes the positives of every image together, keeps at most ``train_cfg.rcnn.max_num_grid``
of them (192 unless set) at random (``torch.randperm``), and hands their grid heads' heatmaps to
``GridHead.loss``. That makes the targets (``get_targets``): each positive expanded to twice its
size, on a ``4 × roi_feat_size`` map, 1 within ``pos_radius`` of each of the ``grid_points`` points
of its ground-truth box (corners, side centres, centre for 9), each point's map cut to its
half-size sub-region (``calc_sub_regions``); a positive whose expanded box is at most
``sqrt(grid_points)`` pixels wide or high has no point. ``loss_grid`` is called twice, on the fused
and the unfused heatmaps ``(RoIs, grid_points, 2 × roi_feat_size, 2 × roi_feat_size)`` against the
same targets, with no weight and no avg_factor (the module averages every element), and the term is
their sum. An untrained head's logits sit at ``deconv2``'s bias, ``-log(0.99 / 0.01)``, spread by its
N(0, 0.001) weights (0.01 on a batch, as measured on a freshly built head)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_int
from losstune.engine.inputs import Inputs, OtherCalls
from losstune.engine.sampling import Sampled, rcnn_cfg, sampled_positives
from losstune.words import count

GRID_POINTS = 9  # GridHead's defaults
ROI_FEAT_SIZE = 14
MAX_NUM_GRID = 192  # GridRoIHead: train_cfg.get('max_num_grid', 192)
JITTER = 0.15  # GridRoIHead._random_jitter's amplitude
DECONV_BIAS = -math.log(0.99 / 0.01)
LOGIT_SPREAD = 0.01
PROPOSAL_SHIFT = 0.1  # a positive proposal's offset from its box, a fraction of its size (IoU about 0.5 to 0.8)


def sub_regions(grid_points: int, whole_map_size: int) -> list[tuple[int, int, int, int]]:
    """``GridHead.calc_sub_regions``: each point's half-size region of the whole map."""
    grid_size = math.isqrt(grid_points)
    half_size = whole_map_size // 4 * 2
    out = []
    for i in range(grid_points):
        starts = []
        for idx in (i // grid_size, i % grid_size):
            if idx == 0:
                start = 0
            elif idx == grid_size - 1:
                start = half_size
            else:
                start = max(int((idx / (grid_size - 1) - 0.25) * whole_map_size), 0)
            starts.append(start)
        x1, y1 = starts
        out.append((x1, y1, x1 + half_size, y1 + half_size))
    return out


def grid_targets(
    pos_bboxes: Tensor, pos_gt_bboxes: Tensor, *, grid_points: int, roi_feat_size: int, radius: int
) -> Tensor:
    """``GridHead.get_targets`` on the positives' (jittered) boxes and their ground-truth boxes:
    ``(RoIs, grid_points, 2 × roi_feat_size, 2 × roi_feat_size)``."""
    grid_size = math.isqrt(grid_points)
    w, h = pos_bboxes[:, 2] - pos_bboxes[:, 0], pos_bboxes[:, 3] - pos_bboxes[:, 1]
    x1, y1 = pos_bboxes[:, 0] - w / 2, pos_bboxes[:, 1] - h / 2
    ws, hs = pos_bboxes[:, 2] + w / 2 - x1, pos_bboxes[:, 3] + h / 2 - y1  # the expanded boxes' sides
    map_size = roi_feat_size * 4
    targets = torch.zeros((pos_bboxes.shape[0], grid_points, map_size, map_size))
    factors = [
        (1 - (j // grid_size) / (grid_size - 1), 1 - (j % grid_size) / (grid_size - 1)) for j in range(grid_points)
    ]
    for i in range(pos_bboxes.shape[0]):
        if ws[i] <= grid_size or hs[i] <= grid_size:
            continue
        for j, (fx, fy) in enumerate(factors):
            px = fx * pos_gt_bboxes[i, 0] + (1 - fx) * pos_gt_bboxes[i, 2]
            py = fy * pos_gt_bboxes[i, 1] + (1 - fy) * pos_gt_bboxes[i, 3]
            cx = int((px - x1[i]) / ws[i] * map_size)
            cy = int((py - y1[i]) / hs[i] * map_size)
            for x in range(cx - radius, cx + radius + 1):
                for y in range(cy - radius, cy + radius + 1):
                    if 0 <= x < map_size and 0 <= y < map_size and (x - cx) ** 2 + (y - cy) ** 2 <= radius**2:
                        targets[i, j, y, x] = 1
    regions = sub_regions(grid_points, map_size)
    return torch.cat([targets[:, [j], y1_:y2_, x1_:x2_] for j, (x1_, y1_, x2_, y2_) in enumerate(regions)], dim=1)


def _seeded_positives(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` ground-truth boxes (32 to 256 pixels a side) and positive proposals of theirs (moved by
    up to :data:`PROPOSAL_SHIFT` of their size), the proposals then jittered as
    ``GridRoIHead._random_jitter`` does (not clipped to an image)."""
    wh = 32 + 224 * torch.rand(n, 2, generator=g)
    centre = 400 + 400 * torch.rand(n, 2, generator=g)
    gts = torch.cat([centre - wh / 2, centre + wh / 2], dim=1)
    shift = (torch.rand(n, 4, generator=g) * 2 - 1) * PROPOSAL_SHIFT
    c, s = centre + wh * shift[:, :2], wh * (1 + shift[:, 2:])
    offsets = (torch.rand(n, 4, generator=g) * 2 - 1) * JITTER
    c, s = c + s * offsets[:, :2], s * (1 + offsets[:, 2:])
    return torch.cat([c - s / 2, c + s / 2], dim=1), gts


def grid_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    *,
    head: dict[str, Any],
    model: dict[str, Any],
    num_classes: int,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """GridHead's first call of ``loss_grid`` (the fused heatmaps) on seeded positives, with its
    second (the unfused ones, on predictions of their own against the same targets); ``None``
    for another loss. ``num_priors``: the RoIs handed to the grid head (else the sampled positives
    of one image, at most ``max_num_grid``)."""
    if loss_name != "loss_grid":
        return None
    points = config_int(head, "grid_points", GRID_POINTS, least=4)
    feat = config_int(head, "roi_feat_size", ROI_FEAT_SIZE, least=1)
    rcnn = rcnn_cfg(model)
    radius = config_int(rcnn, "pos_radius", 1, least=0)
    cap = config_int(rcnn, "max_num_grid", MAX_NUM_GRID, least=1)
    if num_priors is not None:
        rois, source = num_priors, "the RoIs asked for (--num-priors)"
    else:
        positives, source = sampled_positives(model, num_classes, seed)
        rois = max(min(positives, cap), 1)
        source = f"{source} ({positives}), at most max_num_grid={cap}"
    g = torch.Generator().manual_seed(seed)
    boxes, gts = _seeded_positives(rois, g)
    target = grid_targets(boxes, gts, grid_points=points, roi_feat_size=feat, radius=radius)
    side = target.shape[-1]
    preds = [torch.randn(target.shape, generator=g) * LOGIT_SPREAD + DECONV_BIAS for _ in range(2)]
    marked = target.amax(1).flatten()  # the pixels some point's map marks, per RoI
    pixels = marked.numel()
    ones = int(target.sum())
    pos_mask = marked > 0
    labels = torch.where(pos_mask, 0, num_classes)
    what = (
        f"GridRoIHead's positives: {count(rois, 'RoI')} ({source}; those of all images together, taken at random "
        f"by torch.randperm), each jittered (amplitude {JITTER:g}) and expanded 2×; GridHead.get_targets marks "
        f"{count(ones, 'pixel')} of {count(rois * points, 'map')} ({side}×{side}, the half-size sub-region of each of "
        f"the {count(points, 'grid point')} on a {4 * feat}×{4 * feat} map), 1 within pos_radius={radius} of each "
        f"point of the RoI's ground-truth box; the heatmap logits of an untrained GridHead (deconv2's bias "
        f"-log(0.99/0.01) = {DECONV_BIAS:.4g}, ± {LOGIT_SPREAD:g}); every element is handed to the module, once for "
        "the fused heatmaps and once for the unfused ones (the first traced here, the second made alike: the head's "
        "step), each with no weight"
    )
    stats = {
        "positives": int(pos_mask.sum()),
        "negatives": int((~pos_mask).sum()),
        "priors": pixels,
        "rois": rois,
        "target_pixels": ones,
        "avg_factor": None,
    }
    s = Sampled(
        labels,
        torch.ones(pixels),
        pos_mask[:, None].float().expand(-1, 4).clone(),
        torch.zeros(pixels),
        pos_mask,
        1.0,
        what,
        stats,
        "none",
    )
    second = Inputs([preds[1], target], {}, s)
    return Inputs([preds[0], target], {}, s, others=OtherCalls([second], _fused_plus_unfused))


def _fused_plus_unfused(results: list[Any], by: float) -> tuple[Any, str]:
    """``GridHead.loss``'s sum of its two calls."""
    fused, unfused = results
    total = (fused + unfused) / by
    text = (
        f"loss_grid = loss_fused + loss_unfused = {float(fused):.6g} + {float(unfused):.6g} = {float(total):.6g}, "
        "as GridHead.loss sums its two calls"
    )
    return total, text
