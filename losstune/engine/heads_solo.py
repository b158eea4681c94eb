"""SOLO's and SOLOv2's mask heads (``SOLOHead``, ``DecoupledSOLOHead`` and its light variant,
``SOLOV2Head``) as MMDetection 3.3.0 feeds their ``loss_mask`` and ``loss_cls``, on a seeded image
(2.28.2's ``loss`` is the same code).

Each feature level ``l`` divides the image into a ``num_grids[l]`` × ``num_grids[l]`` grid of cells.
``_get_targets_single`` sends an instance to every level whose ``scale_ranges[l]`` holds the square
root of its box's area (both ends included); there, the cell of its mask's centre of mass and the
cells of its centre region (``pos_scale`` × half its box about that centre, at most one cell either
side of the centre's) are positive, labelled with its class (a later instance's cell overwrites an
earlier one's). ``loss_cls`` is called once, on every cell of every level and image (their class
logits, ``num_classes`` wide, the others labelled ``num_classes``), with ``avg_factor = num_pos + 1``
(the positive cells: 1 with none, not clamped otherwise). ``loss_mask`` is called once per level
that has a positive, on that level's positives' masks against their instances' masks at the
level's resolution, with ``reduction_override='none'`` and no avg_factor; the head sums the
per-mask losses of all calls and divides by ``num_pos`` (with none, no call is made and the term
is 0). ``SOLOHead`` hands a positive's mask logits (``num_grids[l]²`` channels a level; its
``DiceLoss`` applies the sigmoid); the decoupled heads ``sigmoid(y[row]) × sigmoid(x[column])`` of
their ``num_grids[l]``-channel x and y branches (their configs' ``DiceLoss`` has
``activate=False``); both at each level's stride ``strides[l] / 2``. ``SOLOV2Head`` convolves the
unified mask features (stride ``mask_feature_head.mask_stride``, every level alike) with each
positive's predicted kernel, and appends a mask per instance and cell, so that a cell two
instances share is handed twice while ``num_pos`` counts it once.

The model's image is 1344 × 800 (COCO's 1333 × 800 training scale, padded to 32), or the square
whose largest mask map has ``num_priors`` pixels; its 8 instances are ellipses inscribed in boxes
drawn as the comparison's batch draws them (a tenth to a half of the image's side), each one's
centre of mass its centre (less half a pixel: ``center_of_mass`` averages pixel indices), its mask
the ellipse at the centres of the map's pixels (as ``mmcv.imrescale`` resamples it, about). The
predictions are an untrained head's, as measured on freshly built heads: class logits at the prior
bias (``conv_cls``'s ``bias_prob=0.01``) ± 0.3; SOLOHead's and the decoupled branches' mask logits
at the same bias ± 0.1; SOLOv2's dynamic masks about 0, ± 2.7."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_float, config_int, number
from losstune.engine.ellipses import drawn_instances, inside_ellipses
from losstune.engine.inputs import PRIOR_BIAS, Inputs, OtherCalls, untrained_logits
from losstune.engine.sampling import NUM_GTS, Sampled
from losstune.schema.catalogue import bare_type
from losstune.words import count

SOLO_HEADS = ("SOLOHead", "DecoupledSOLOHead", "SOLOV2Head")  # the families: their loss codes differ
NUM_GRIDS = (40, 36, 24, 16, 12)  # SOLOHead's defaults
SCALE_RANGES = ((8.0, 32.0), (16.0, 64.0), (32.0, 128.0), (64.0, 256.0), (128.0, 512.0))
STRIDES = (4.0, 8.0, 16.0, 32.0, 64.0)
POS_SCALE = 0.2
MASK_STRIDE = 4  # MaskFeatModule's default
IMAGE = (1344, 800)  # width, height
MASK_SPREAD = 0.1  # SOLOHead's and the decoupled branches' untrained mask logits about the prior bias
V2_MASK_SPREAD = 2.7  # SOLOv2's untrained dynamic mask logits about 0


@dataclass(frozen=True)
class Grid:
    """A SOLO head's grids: the cells a side and the ``scale_ranges`` of each level, the stride of
    each level's mask map, and ``pos_scale``."""

    num_grids: tuple[int, ...]
    scale_ranges: tuple[tuple[float, float], ...]
    mask_strides: tuple[float, ...]
    pos_scale: float

    @property
    def cells(self) -> int:
        """The cells of one image, over the levels."""
        return sum(n * n for n in self.num_grids)


def _numbers(value: Any) -> list[float] | None:
    """A list or tuple of numbers as floats, else ``None``."""
    if not isinstance(value, (list, tuple)):
        return None
    found = [number(v) for v in value]
    return [float(v) for v in found if v is not None] if all(v is not None for v in found) else None


def grid_of(family: str, head: dict[str, Any]) -> Grid:
    """The grids of ``head`` (its config's ``num_grids``, ``scale_ranges``, ``strides``,
    ``pos_scale`` and, for SOLOv2, ``mask_feature_head.mask_stride``; SOLOHead's defaults where it
    gives none that fits)."""
    grids = _numbers(head.get("num_grids"))
    num_grids = tuple(int(g) for g in grids) if grids and all(g >= 1 for g in grids) else NUM_GRIDS
    ranges_cfg = head.get("scale_ranges")
    pairs = [_numbers(r) for r in ranges_cfg] if isinstance(ranges_cfg, (list, tuple)) else []
    ranges = tuple((p[0], p[1]) for p in pairs if p is not None and len(p) == 2)
    if len(ranges) != len(num_grids):
        ranges = SCALE_RANGES[: len(num_grids)]
    if family == "SOLOV2Head":
        feat = head.get("mask_feature_head")
        stride = float(config_int(feat, "mask_stride", MASK_STRIDE, least=1))
        strides = (stride,) * len(num_grids)
    else:
        given = _numbers(head.get("strides"))
        levels = given if given is not None and len(given) == len(num_grids) else list(STRIDES[: len(num_grids)])
        strides = tuple(max(s / 2, 1.0) for s in levels)  # the mask maps are upsampled twice
    return Grid(num_grids, ranges, strides, config_float(head, "pos_scale", POS_SCALE, least=0.0))


def centre_region(
    box: tuple[float, float, float, float],
    centre: tuple[float, float],
    image: tuple[float, float],
    num_grid: int,
    pos_scale: float,
) -> tuple[int, int, int, int]:
    """``_get_targets_single``'s positive cells of one instance on a ``num_grid`` grid: rows
    ``top`` to ``down`` and columns ``left`` to ``right``, both ends included. ``box`` is
    (x1, y1, x2, y2), ``centre`` its mask's centre of mass (x, y), ``image`` the padded image's
    (width, height) (the mask map's size × its stride, as the head upsamples it)."""
    cx, cy = centre
    width, height = image
    cell = 1.0 / num_grid
    half_w, half_h = 0.5 * (box[2] - box[0]) * pos_scale, 0.5 * (box[3] - box[1]) * pos_scale
    coord_w, coord_h = math.trunc((cx / width) / cell), math.trunc((cy / height) / cell)
    top_box = max(0, math.trunc(((cy - half_h) / height) / cell))
    down_box = min(num_grid - 1, math.trunc(((cy + half_h) / height) / cell))
    left_box = max(0, math.trunc(((cx - half_w) / width) / cell))
    right_box = min(num_grid - 1, math.trunc(((cx + half_w) / width) / cell))
    top, down = max(top_box, coord_h - 1), min(down_box, coord_h + 1)
    left, right = max(coord_w - 1, left_box), min(right_box, coord_w + 1)
    return top, down, left, right


@dataclass
class Level:
    """One level's assignment of one image: each cell's label (``num_classes``: none), and the
    masks the head hands the module, in its order: each one's cell and instance."""

    num_grid: int
    labels: Tensor
    cells: list[int] = field(default_factory=list)
    instances: list[int] = field(default_factory=list)

    @property
    def positives(self) -> int:
        """The level's positive cells (``num_pos`` counts each once)."""
        return len(set(self.cells))


def assign(
    boxes: Tensor, labels: Tensor, grid: Grid, image: tuple[float, float], num_classes: int, *, per_instance: bool
) -> list[Level]:
    """The levels' positives for ``boxes`` (their ellipses' centres of mass, as ``center_of_mass``
    counts them in pixel indices):
    ``per_instance``: a mask per instance and cell, in the instances' order (SOLOv2's), else one per
    positive cell, the last instance's, in the cells' order (SOLOHead's)."""
    out = []
    areas = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sqrt()
    for num_grid, (lower, upper) in zip(grid.num_grids, grid.scale_ranges, strict=True):
        level_labels = torch.full((num_grid, num_grid), num_classes, dtype=torch.long)
        owner: dict[int, int] = {}
        appended: list[tuple[int, int]] = []
        for k in range(boxes.shape[0]):
            if not lower <= float(areas[k]) <= upper:
                continue
            x1, y1, x2, y2 = (float(v) for v in boxes[k])
            box = (x1, y1, x2, y2)
            # center_of_mass averages pixel indices: the ellipse's centre less half a pixel
            centre = ((box[0] + box[2]) / 2 - 0.5, (box[1] + box[3]) / 2 - 0.5)
            top, down, left, right = centre_region(box, centre, image, num_grid, grid.pos_scale)
            level_labels[top : down + 1, left : right + 1] = int(labels[k])
            for i in range(top, down + 1):
                for j in range(left, right + 1):
                    owner[i * num_grid + j] = k
                    appended.append((i * num_grid + j, k))
        rows = appended if per_instance else sorted(owner.items())
        out.append(Level(num_grid, level_labels, [c for c, _ in rows], [k for _, k in rows]))
    return out


def image_of(grid: Grid, num_priors: int | None) -> tuple[int, int]:
    """The model's image (width, height): :data:`IMAGE`, or the square whose largest mask map has
    ``num_priors`` pixels."""
    if num_priors is None:
        return IMAGE
    side = max(math.isqrt(num_priors), 1) * min(grid.mask_strides)
    return int(side), int(side)


def ellipse_masks(boxes: Tensor, stride: float, size: tuple[int, int]) -> Tensor:
    """Each box's inscribed ellipse on a mask map of ``size`` (height, width) at ``stride``: 1 at the
    pixels whose centres lie inside."""
    height, width = size
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) * stride
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) * stride
    return inside_ellipses(boxes, xs, ys).float()


@dataclass(frozen=True)
class Batch:
    """The model's image: its (width, height), its instances' boxes, each level's assignment, and
    the assignment of every cell (``sampled``)."""

    image: tuple[int, int]
    boxes: Tensor
    levels: list[Level]
    sampled: Sampled


def model_batch(family: str, head: dict[str, Any], *, num_classes: int, num_priors: int | None, seed: int) -> Batch:
    """The model's seeded image, its instances and their grid cells, as ``family``'s head assigns them."""
    grid = grid_of(family, head)
    image = image_of(grid, num_priors)
    who = bare_type(str(head.get("type", family)))
    g = torch.Generator().manual_seed(seed)
    boxes, labels = drawn_instances(NUM_GTS, image, num_classes, g)
    levels = assign(boxes, labels, grid, image, num_classes, per_instance=family == "SOLOV2Head")
    flat = torch.cat([lv.labels.flatten() for lv in levels])
    pos_mask = flat < num_classes
    positives = int(pos_mask.sum())
    per_level = ", ".join(f"{i}: {lv.positives}" for i, lv in enumerate(levels))
    grids = ", ".join(f"{n}²" for n in grid.num_grids)
    text = (
        f"{who}'s grids of {count(grid.cells, 'cell')} an image ({grids}) on a {image[0]}×{image[1]} image "
        "(width × height), "
        f"{NUM_GTS} instances (ellipses in their boxes); each goes to the levels whose scale_ranges hold the square "
        f"root of its box's area, where the cells of its centre region (pos_scale={grid.pos_scale:g} of its half "
        f"size about its centre of mass, at most the centre's cell ± 1) are positive: {count(positives, 'positive')} "
        f"(num_pos; by level {per_level}), {grid.cells - positives} negatives"
    )
    stats = {
        "positives": positives,
        "negatives": grid.cells - positives,
        "priors": grid.cells,
        "image": [image[1], image[0]],
        "positives_per_level": [lv.positives for lv in levels],
        "avg_factor": float(positives + 1),
    }
    s = Sampled(
        flat,
        torch.ones(flat.numel()),
        pos_mask[:, None].float().expand(-1, 4).clone(),
        torch.zeros(flat.numel()),
        pos_mask,
        float(positives + 1),
        text,
        stats,
        "positives + 1 (num_pos + 1)",
    )
    return Batch(image, boxes, levels, s)


def _mask_size(image: tuple[int, int], stride: float) -> tuple[int, int]:
    """A mask map's (height, width) at ``stride``."""
    return max(int(image[1] / stride), 1), max(int(image[0] / stride), 1)


def _level_masks(family: str, batch: Batch, grid: Grid, level: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """One level's call: the masks the head hands (logits, or the decoupled heads' probabilities)
    and their targets."""
    lv = batch.levels[level]
    size = _mask_size(batch.image, grid.mask_strides[level])
    cells = torch.tensor(lv.cells, dtype=torch.long)
    targets = ellipse_masks(batch.boxes[torch.tensor(lv.instances, dtype=torch.long)], grid.mask_strides[level], size)
    if family == "DecoupledSOLOHead":
        x = torch.randn(lv.num_grid, *size, generator=g) * MASK_SPREAD + PRIOR_BIAS
        y = torch.randn(lv.num_grid, *size, generator=g) * MASK_SPREAD + PRIOR_BIAS
        return y[cells // lv.num_grid].sigmoid() * x[cells % lv.num_grid].sigmoid(), targets
    unique, rows = torch.unique(cells, return_inverse=True)
    if family == "SOLOV2Head":
        logits = torch.randn(unique.numel(), *size, generator=g) * V2_MASK_SPREAD
    else:
        logits = torch.randn(unique.numel(), *size, generator=g) * MASK_SPREAD + PRIOR_BIAS
    return logits[rows], targets


def solo_inputs(
    family: str, loss_name: str, head: dict[str, Any], *, num_classes: int, num_priors: int | None, seed: int
) -> Inputs | None:
    """The head's call of ``loss_cls`` (every cell), or its calls of ``loss_mask`` (the first level
    with a positive, the others after it); ``None`` for another loss. ``num_priors``: the pixels
    of the largest mask map (else those of a 1344 × 800 image's)."""
    if loss_name not in ("loss_cls", "loss_mask"):
        return None
    grid = grid_of(family, head)
    who = bare_type(str(head.get("type", family)))
    batch = model_batch(family, head, num_classes=num_classes, num_priors=num_priors, seed=seed)
    s = batch.sampled
    positives = s.stats["positives"]
    g = torch.Generator().manual_seed(seed + 1)
    if loss_name == "loss_cls":
        logits = untrained_logits(s.labels.numel(), num_classes, generator=g)
        note = f"; {who} hands loss_cls every cell's class logits (an untrained head's), no weight"
        s = replace(s, description=s.description + note)
        return Inputs([logits, s.labels], {"avg_factor": s.avg_factor}, s, avg_rule=s.avg_rule)
    called = [i for i, lv in enumerate(batch.levels) if lv.cells]
    calls = [_level_masks(family, batch, grid, i, g) for i in called]
    if not calls:  # no positive: the head calls no loss module and logs 0; an empty call stands for it
        size = _mask_size(batch.image, grid.mask_strides[0])
        calls, called = [(torch.zeros(0, *size), torch.zeros(0, *size))], [0]
    handed = {
        "SOLOHead": "mask logits",
        "DecoupledSOLOHead": "sigmoid(y[row]) × sigmoid(x[column]) of its two branches",
        "SOLOV2Head": "dynamic mask logits (the unified mask features convolved with each one's kernel)",
    }[family]
    shapes = "; ".join(
        f"level {i}: {pred.shape[0]} of {pred.shape[1]}×{pred.shape[2]}"
        for i, (pred, _) in zip(called, calls, strict=True)
    )
    masks = sum(int(pred.shape[0]) for pred, _ in calls)
    shared = f", {masks - positives} of them a second instance's of a shared cell" if masks > positives else ""
    note = (
        f"; {who} hands loss_mask the positives' {handed} against their instances' masks: {count(masks, 'mask')}"
        f"{shared} ({shapes}), one call per level with a positive, reduction_override='none', no weight"
    )
    if positives == 0:
        note += "; with no positive the head calls no loss module and logs 0 (an empty call stands for it here)"
    s = replace(s, description=s.description + note, stats={**s.stats, "masks": masks})
    kwargs = {"reduction_override": "none"}
    more = [Inputs([pred, target], dict(kwargs), s) for pred, target in calls[1:]]
    return Inputs(
        [calls[0][0], calls[0][1]], dict(kwargs), s, others=OtherCalls(more, lambda r, by: _summed(family, r, by))
    )


def _summed(family: str, results: list[Any], by: float) -> tuple[Any, str]:
    """``loss_by_feat``'s ``loss_mask``: every call's per-mask losses summed, divided by ``num_pos``."""
    sums = [r.sum() for r in results]
    total = torch.stack(sums).sum() / by
    parts = " + ".join(f"{float(v):.6g}" for v in sums)
    divided = f"÷ num_pos ({by:g})" if by > 1 or float(total) else "(no positive: 0)"
    text = (
        f"loss_mask = Σ per-mask losses of the {count(len(sums), 'call')} ({parts}) {divided} = {float(total):.6g}, "
        f"as {family}.loss_by_feat sums and divides them"
    )
    return total, text
