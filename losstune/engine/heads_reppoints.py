"""RepPoints' head (``RepPointsHead``) as MMDetection 3.3.0 feeds its three losses, on a seeded image.

Each point of each level (``point_strides``, every ``stride`` pixels from 0) predicts
``num_points`` points twice: the initial ones (its offsets × stride about it) and the refined ones
(the refinement's offsets added to the initial ones; with ``use_grid_points``, a box regressed from
``point_base_scale`` × stride about it, and the refined one from that box, each as a grid of
points). ``points2bbox`` makes a box of each set (``transform_method``: ``moment``, the points'
mean ± their standard deviation, ``moment_transfer`` 0 as built; ``minmax``; ``partial_minmax``,
of the first four points).

``loss_by_feat`` assigns twice. The ``init`` stage assigns the points themselves
(``train_cfg.init.assigner``: ``PointAssigner`` gives each box the ``pos_num`` points nearest its
centre, relative to its size, on the level ``int(log2(√(w × h) / scale))`` clamped to the levels;
``MaxIoUAssigner`` assigns the ``point_base_scale`` × stride boxes about the points). The
``refine`` stage assigns, with ``train_cfg.refine.assigner``, the boxes the initial points make.
Each stage's sampler is a ``PseudoSampler`` (``train_cfg.sampler`` unset), so its avg_factor is
``max(positives, 1)`` summed over the images. ``loss_by_feat_single`` is called once per level:
``loss_cls`` on every point's class scores against the refine stage's labels (its label weights:
its positives' ``pos_weight``, or 1, and its negatives 1) with the refine stage's avg_factor;
``loss_bbox_init`` and ``loss_bbox_refine`` (logged ``loss_pts_init`` and ``loss_pts_refine``) on
every point's box of that stage against its box, both divided by ``normalize_term =
point_base_scale × stride``, weighted 1 at the stage's positives, with the stage's avg_factor.
The log sums the levels' terms, which is one call on all the levels' rows, as the model makes it.

The model's image is the square whose points at the strides are the priors asked for, with
:data:`NUM_GTS` boxes drawn as the comparison's batch draws them (a tenth to a half of the side).
The predictions are an untrained head's, as measured on freshly built heads on that batch: the
offsets of a head with ``norm_cfg`` (GroupNorm) spread by about 0.03 strides (0.01 on the last
level; the refinement's by 0.1); those of a head without, by 5e-4 strides on the first level (the
refinement's 1.3e-3), shrinking level by level as its features do (:data:`NORMED_SPREAD`,
:data:`PLAIN_SPREAD`); the class logits at the prior bias."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_float, config_int, number
from losstune.engine.ellipses import drawn_instances
from losstune.engine.heads_condinst import image_side
from losstune.engine.heads_freeanchor import overlaps
from losstune.engine.inputs import BOXES, REGRESSION, InputError, Inputs, for_sampled
from losstune.engine.sampling import NUM_GTS, Sampled
from losstune.schema.catalogue import bare_type
from losstune.words import count

REPPOINTS_HEAD = "RepPointsHead"
STRIDES = (8, 16, 32, 64, 128)  # RepPointsHead's point_strides
POINT_BASE_SCALE = 4
NUM_POINTS = 9
TRANSFORMS = ("moment", "minmax", "partial_minmax")
BOX_LOSSES = {"loss_bbox_init": "init", "loss_bbox_refine": "refine"}
LOG_NAMES = {"loss_bbox_init": "loss_pts_init", "loss_bbox_refine": "loss_pts_refine"}
# an untrained head's offsets' spread, in strides, level by level (the last for any further level):
# (init, refine) of a head with norm_cfg, and of one without, whose features shrink level by level
NORMED_SPREAD = ((0.032, 0.030, 0.027, 0.023, 0.011), (0.10, 0.095, 0.10, 0.10, 0.12))
PLAIN_SPREAD = ((5e-4, 2.5e-4, 9e-5, 4e-5, 1e-6), (1.3e-3, 8e-4, 3e-4, 1.5e-4, 1e-5))


@dataclass(frozen=True)
class Points:
    """The head's points: ``point_strides``, ``point_base_scale``, ``num_points`` (an odd square),
    ``transform_method``, ``use_grid_points``, ``center_init`` and whether it normalises
    (``norm_cfg``)."""

    strides: tuple[int, ...] = STRIDES
    base_scale: float = POINT_BASE_SCALE
    num_points: int = NUM_POINTS
    transform: str = "moment"
    grid: bool = False
    center_init: bool = True
    normed: bool = False

    @property
    def kernel(self) -> int:
        """The side of the points' grid (``dcn_kernel``)."""
        return math.isqrt(self.num_points)


def points_of(head: dict[str, Any]) -> Points:
    """The points of ``head`` (``RepPointsHead.__init__``'s defaults where it sets none that fit)."""
    given = head.get("point_strides")
    found = [number(s) for s in given] if isinstance(given, (list, tuple)) else []
    strides = tuple(int(s) for s in found if isinstance(s, int) and s > 0) if found else ()
    if not strides or len(strides) != len(found):
        strides = STRIDES
    num_points = config_int(head, "num_points", NUM_POINTS, least=1)
    if math.isqrt(num_points) ** 2 != num_points or math.isqrt(num_points) % 2 == 0:
        num_points = NUM_POINTS  # the head asserts an odd square
    transform = head.get("transform_method", "moment")
    return Points(
        strides,
        config_float(head, "point_base_scale", float(POINT_BASE_SCALE), above=0.0),
        num_points,
        transform if transform in TRANSFORMS else "moment",
        bool(config_int(head, "use_grid_points", 0)),
        bool(config_int(head, "center_init", 1)),
        isinstance(head.get("norm_cfg"), dict),
    )


def level_points(side: int, strides: tuple[int, ...]) -> Tensor:
    """Every point of a ``side`` × ``side`` image, level by level: (x, y, stride) as
    ``MlvlPointGenerator(offset=0).grid_priors(..., with_stride=True)`` lays them out, row-major,
    ``ceil(side / stride)`` a side."""
    out = []
    for s in strides:
        n = math.ceil(side / s)
        ys, xs = torch.meshgrid(torch.arange(n) * float(s), torch.arange(n) * float(s), indexing="ij")
        out.append(torch.stack([xs.flatten(), ys.flatten(), torch.full((n * n,), float(s))], 1))
    return torch.cat(out)


def points2bbox(pts: Tensor, transform: str, *, y_first: bool = True) -> Tensor:
    """``RepPointsHead.points2bbox`` of rows of ``2 × num_points`` coordinates, with
    ``moment_transfer`` at 0 (as the head is built): (x1, y1, x2, y2) each."""
    pairs = pts.view(pts.shape[0], -1, 2)
    ys, xs = (pairs[..., 0], pairs[..., 1]) if y_first else (pairs[..., 1], pairs[..., 0])
    if transform == "moment":
        mx, my = xs.mean(1, keepdim=True), ys.mean(1, keepdim=True)
        hw, hh = torch.std(xs - mx, dim=1, keepdim=True), torch.std(ys - my, dim=1, keepdim=True)
        return torch.cat([mx - hw, my - hh, mx + hw, my + hh], 1)
    if transform == "partial_minmax":
        xs, ys = xs[:, :4], ys[:, :4]
    return torch.stack([xs.min(1)[0], ys.min(1)[0], xs.max(1)[0], ys.max(1)[0]], 1)


def grid_from_reg(reg: Tensor, previous: Tensor, kernel: int) -> tuple[Tensor, Tensor]:
    """``RepPointsHead.gen_grid_from_reg`` on rows: the box ``reg`` regresses from ``previous``
    (centre shifted by ``reg[:2]`` × its size, sides × ``exp(reg[2:])``) and the ``kernel`` ×
    ``kernel`` grid of points spanning it, y first."""
    bxy = (previous[:, :2] + previous[:, 2:]) / 2.0
    bwh = (previous[:, 2:] - previous[:, :2]).clamp(min=1e-6)
    wh = bwh * torch.exp(reg[:, 2:])
    topleft = bxy + bwh * reg[:, :2] - 0.5 * wh
    interval = torch.linspace(0.0, 1.0, kernel)
    gx = topleft[:, [0]] + wh[:, [0]] * interval  # (n, k): column j's x
    gy = topleft[:, [1]] + wh[:, [1]] * interval  # row i's y
    n = reg.shape[0]
    grid_x = gx[:, None, :].expand(n, kernel, kernel).reshape(n, -1)
    grid_y = gy[:, :, None].expand(n, kernel, kernel).reshape(n, -1)
    return torch.stack([grid_y, grid_x], -1).reshape(n, -1), torch.cat([topleft, topleft + wh], 1)


def base_offsets(kernel: int) -> Tensor:
    """``dcn_base_offset``: the kernel's grid about 0, (y, x) pairs, row-major."""
    base = torch.arange(-(kernel // 2), kernel // 2 + 1, dtype=torch.float32)
    return torch.stack([base.repeat_interleave(kernel), base.repeat(kernel)], 1).reshape(-1)


def point_assign(points: Tensor, gts: Tensor, scale: float, pos_num: int) -> Tensor:
    """``PointAssigner.assign``: each point's box (1-based; 0 for none), for (x, y, stride) points."""
    n = points.shape[0]
    gt_inds = torch.zeros(n, dtype=torch.long)
    if gts.shape[0] == 0 or n == 0:
        return gt_inds
    lvl = torch.log2(points[:, 2]).int()
    centres = (gts[:, :2] + gts[:, 2:]) / 2
    wh = (gts[:, 2:] - gts[:, :2]).clamp(min=1e-6)
    gt_lvl = ((torch.log2(wh[:, 0] / scale) + torch.log2(wh[:, 1] / scale)) / 2).int()
    gt_lvl = gt_lvl.clamp(min=int(lvl.min()), max=int(lvl.max()))
    dist = torch.full((n,), float("inf"))
    index = torch.arange(n)
    for k in range(gts.shape[0]):
        on = index[lvl == gt_lvl[k]]
        d = ((points[on, :2] - centres[[k]]) / wh[[k]]).norm(dim=1)
        best, at = torch.topk(d, min(pos_num, on.numel()), largest=False)
        nearer = best < dist[on[at]]
        gt_inds[on[at][nearer]] = k + 1
        dist[on[at][nearer]] = best[nearer]
    return gt_inds


@dataclass(frozen=True)
class MaxIoU:
    """A ``MaxIoUAssigner``'s thresholds (its defaults where the config sets none)."""

    pos_iou_thr: float = 0.5
    neg_iou_thr: float | tuple[float, float] = 0.4
    min_pos_iou: float = 0.0
    gt_max_assign_all: bool = True
    match_low_quality: bool = True

    def assign(self, boxes: Tensor, gts: Tensor) -> Tensor:
        """``assign_wrt_overlaps``: each box's ground truth (1-based), 0 a negative, -1 neither."""
        n = boxes.shape[0]
        gt_inds = torch.full((n,), -1, dtype=torch.long)
        if gts.shape[0] == 0 or n == 0:
            return gt_inds.clamp(min=0) if gts.shape[0] == 0 else gt_inds
        ious = overlaps(gts, boxes)
        best, which = ious.max(0)
        if isinstance(self.neg_iou_thr, tuple):
            gt_inds[(best >= self.neg_iou_thr[0]) & (best < self.neg_iou_thr[1])] = 0
        else:
            gt_inds[(best >= 0) & (best < self.neg_iou_thr)] = 0
        pos = best >= self.pos_iou_thr
        gt_inds[pos] = which[pos] + 1
        if self.match_low_quality:
            gt_best, gt_which = ious.max(1)
            for k in range(gts.shape[0]):
                if gt_best[k] >= self.min_pos_iou:
                    if self.gt_max_assign_all:
                        gt_inds[ious[k] == gt_best[k]] = k + 1
                    else:
                        gt_inds[gt_which[k]] = k + 1
        return gt_inds


def max_iou_of(cfg: dict[str, Any]) -> MaxIoU:
    """The ``MaxIoUAssigner`` of an assigner dict."""
    neg = cfg.get("neg_iou_thr", 0.4)
    neg_thr: float | tuple[float, float] = (
        (float(neg[0]), float(neg[1]))
        if isinstance(neg, (list, tuple)) and len(neg) == 2 and all(number(v) is not None for v in neg)
        else float(number(neg) or 0.4)
    )
    return MaxIoU(
        config_float(cfg, "pos_iou_thr", 0.5),
        neg_thr,
        config_float(cfg, "min_pos_iou", 0.0),
        bool(config_int(cfg, "gt_max_assign_all", 1)),
        bool(config_int(cfg, "match_low_quality", 1)),
    )


@dataclass(frozen=True)
class Stage:
    """One stage's assignment of the model's points: each one's box (1-based, 0 a negative, -1
    neither), the boxes handed to the box loss (in pixels), its ``pos_weight`` and how it assigned."""

    gt_inds: Tensor
    boxes: Tensor
    pos_weight: float
    how: str

    @property
    def positives(self) -> int:
        return int((self.gt_inds > 0).sum())

    @property
    def negatives(self) -> int:
        return int((self.gt_inds == 0).sum())


def _train(model: dict[str, Any]) -> dict[str, Any]:
    train = model.get("train_cfg")
    return train if isinstance(train, dict) else {}


def _stage_cfg(model: dict[str, Any], stage: str) -> dict[str, Any]:
    found = _train(model).get(stage)
    return found if isinstance(found, dict) else {}


def _assigner(model: dict[str, Any], stage: str) -> dict[str, Any]:
    found = _stage_cfg(model, stage).get("assigner")
    if isinstance(found, dict):
        return found
    if stage == "init":
        return {"type": "PointAssigner", "scale": 4, "pos_num": 1}
    return {"type": "MaxIoUAssigner", "pos_iou_thr": 0.5, "neg_iou_thr": 0.4, "min_pos_iou": 0}


def _assign(model: dict[str, Any], stage: str, points: Tensor, candidates: Tensor, gts: Tensor) -> tuple[Tensor, str]:
    """The configured assigner of ``stage`` on its candidates (the points, or boxes)."""
    cfg = _assigner(model, stage)
    kind = bare_type(str(cfg.get("type")))
    if kind == "PointAssigner" and stage == "init":
        scale = config_float(cfg, "scale", 4.0, above=0.0)
        pos_num = config_int(cfg, "pos_num", 3, least=1)
        how = (
            f"PointAssigner(scale={scale:g}, pos_num={pos_num}): each box's {pos_num} nearest points to its centre "
            "(distance ÷ its size) on its level int(log2(√(w × h) ÷ scale)), clamped to the levels"
        )
        return point_assign(points, gts, scale, pos_num), how
    if kind == "MaxIoUAssigner":
        m = max_iou_of(cfg)
        neg = m.neg_iou_thr if isinstance(m.neg_iou_thr, tuple) else f"{m.neg_iou_thr:g}"
        how = f"MaxIoUAssigner(pos_iou_thr={m.pos_iou_thr:g}, neg_iou_thr={neg}, min_pos_iou={m.min_pos_iou:g})"
        return m.assign(candidates, gts), how
    raise InputError(f"losstune does not model RepPointsHead's {stage} stage with {kind}", replayable=True)


@dataclass(frozen=True)
class Batch:
    """The model's image: its side, points (x, y, stride), boxes and labels, both stages'
    assignments and the boxes of the initial and refined points (pixels)."""

    side: int
    points: Tensor
    gts: Tensor
    labels: Tensor
    init: Stage
    refine: Stage
    spec: Points


def _spreads(spec: Points, strides: Tensor) -> tuple[Tensor, Tensor]:
    """Each point's spread of its initial and refining offsets (strides), as measured on its level."""
    table = NORMED_SPREAD if spec.normed else PLAIN_SPREAD
    level = torch.zeros_like(strides, dtype=torch.long)
    for i, s in enumerate(spec.strides):
        level[strides == s] = min(i, len(table[0]) - 1)
    return torch.tensor(table[0])[level], torch.tensor(table[1])[level]


def predicted_boxes(spec: Points, points: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """An untrained head's initial and refined points as boxes (``points2bbox``, in strides about
    each point), as ``forward_single`` makes them."""
    n = points.shape[0]
    init_spread, refine_spread = _spreads(spec, points[:, 2])
    if spec.grid:
        half = spec.base_scale / 2
        base = torch.tensor([-half, -half, half, half]).expand(n, 4)
        init, init_box = grid_from_reg(torch.randn(n, 4, generator=g) * init_spread[:, None], base, spec.kernel)
        refine, _ = grid_from_reg(torch.randn(n, 4, generator=g) * refine_spread[:, None], init_box, spec.kernel)
    else:
        start = torch.zeros(2 * spec.num_points)
        if not spec.center_init:
            offsets = base_offsets(spec.kernel)
            start = offsets / offsets.max() * (spec.base_scale / 2)
        init = torch.randn(n, 2 * spec.num_points, generator=g) * init_spread[:, None] + start
        refine = torch.randn(n, 2 * spec.num_points, generator=g) * refine_spread[:, None] + init
    return points2bbox(init, spec.transform), points2bbox(refine, spec.transform)


def in_pixels(units: Tensor, points: Tensor) -> Tensor:
    """Boxes in strides about their points, in pixels (× stride, + the point)."""
    return units * points[:, 2:3] + points[:, :2].repeat(1, 2)


def model_batch(head: dict[str, Any], model: dict[str, Any], *, num_classes: int, num_priors: int, seed: int) -> Batch:
    """The model's seeded image, its points' predicted boxes and both stages' assignments."""
    sampler = _train(model).get("sampler")
    if isinstance(sampler, dict) and bare_type(str(sampler.get("type"))) != "PseudoSampler":
        raise InputError("losstune models RepPointsHead with a PseudoSampler only (train_cfg.sampler is set)")
    spec = points_of(head)
    side = image_side(num_priors, spec.strides)
    points = level_points(side, spec.strides)
    g = torch.Generator().manual_seed(seed)
    gts, labels = drawn_instances(NUM_GTS, (side, side), num_classes, g)
    init_units, refine_units = predicted_boxes(spec, points, g)
    init_boxes, refine_boxes = in_pixels(init_units, points), in_pixels(refine_units, points)
    half = spec.base_scale * points[:, 2:3] * 0.5
    around = points[:, :2].repeat(1, 2) + torch.cat([-half, -half, half, half], 1)  # centers_to_bboxes
    init_inds, init_how = _assign(model, "init", points, around, gts)
    refine_inds, refine_how = _assign(model, "refine", points, init_boxes, gts)
    stages = [
        Stage(inds, boxes, config_float(_stage_cfg(model, name), "pos_weight", -1.0), how)
        for name, inds, boxes, how in (
            ("init", init_inds, init_boxes, init_how),
            ("refine", refine_inds, refine_boxes, refine_how),
        )
    ]
    return Batch(side, points, gts, labels, stages[0], stages[1], spec)


def _sampled(batch: Batch, stage: Stage, name: str, num_classes: int) -> Sampled:
    """One stage's assignment as a sampling: its positives labelled with their boxes' classes."""
    n = stage.gt_inds.numel()
    pos = stage.gt_inds > 0
    neg = stage.gt_inds == 0
    labels = torch.full((n,), num_classes, dtype=torch.long)
    labels[pos] = batch.labels[stage.gt_inds[pos] - 1]
    weights = torch.zeros(n)
    weights[neg] = 1.0
    weights[pos] = stage.pos_weight if stage.pos_weight > 0 else 1.0
    ious = torch.zeros(n)
    if bool(pos.any()):
        ious[pos] = overlaps(stage.boxes[pos], batch.gts).gather(1, (stage.gt_inds[pos] - 1)[:, None])[:, 0]
    spec = batch.spec
    levels = ", ".join(str(s) for s in spec.strides)
    grid = ", use_grid_points" if spec.grid else ""
    avg = float(max(stage.positives, 1))
    text = (
        f"RepPointsHead's points at strides {levels} on a {batch.side}×{batch.side} image ({count(n, 'point')}), "
        f"{count(NUM_GTS, 'box', 'boxes')}; {name} stage: {stage.how}: {count(stage.positives, 'positive')}, "
        f"{count(stage.negatives, 'negative')}, {n - stage.positives - stage.negatives} neither "
        f"(transform_method={spec.transform}{grid}), PseudoSampler"
    )
    stats = {
        "positives": stage.positives,
        "negatives": stage.negatives,
        "priors": n,
        "image": [batch.side, batch.side],
        "avg_factor": avg,
    }
    box_weights = pos[:, None].float().expand(-1, 4).clone()
    return Sampled(labels, weights, box_weights, ious, pos, avg, text, stats, "max(positives, 1)")


def reppoints_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_classes: int,
    num_priors: int,
    seed: int,
) -> Inputs | None:
    """The head's call of ``loss_name`` on every point of the model's image (the levels' calls as
    one), ``None`` for a loss it does not have."""
    if loss_name not in ("loss_cls", *BOX_LOSSES):
        return None
    batch = model_batch(head, model, num_classes=num_classes, num_priors=num_priors, seed=seed)
    if loss_name == "loss_cls":
        s = _sampled(batch, batch.refine, "refine", num_classes)
        note = "; loss_cls is handed every point's class scores against the refine stage's labels"
        made = for_sampled(loss_cfg, replace(s, description=s.description + note), num_classes=num_classes, seed=seed)
        made.avg_rule = s.avg_rule
        return made
    kind = bare_type(str(loss_cfg.get("type")))
    if kind not in REGRESSION + BOXES:
        raise InputError(f"losstune makes no RepPointsHead inputs for {kind}", replayable=True)
    name = BOX_LOSSES[loss_name]
    stage = batch.init if name == "init" else batch.refine
    s = _sampled(batch, stage, name, num_classes)
    pos = s.pos_mask
    targets = torch.zeros(pos.numel(), 4)
    targets[pos] = batch.gts[stage.gt_inds[pos] - 1]
    term = batch.spec.base_scale * batch.points[:, 2:3]
    note = (
        f"; {LOG_NAMES[loss_name]}: every point's box of its {name} points (points2bbox) and its {name} stage's box, "
        f"both ÷ normalize_term = point_base_scale × stride ({batch.spec.base_scale:g} × its level's), weighted 1 at "
        "the stage's positives"
    )
    s = replace(s, description=s.description + note)
    return Inputs(
        [stage.boxes / term, targets / term, s.bbox_weights], {"avg_factor": s.avg_factor}, s, avg_rule=s.avg_rule
    )
