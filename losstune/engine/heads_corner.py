"""CornerNet's head (``CornerHead``) as MMDetection 3.3.0 feeds its losses, on seeded objects.

``CornerHead.loss_by_feat`` makes one set of targets (``get_targets``) and calls
``loss_by_feat_single`` once per stack of the network (``num_feat_levels``), on that stack's maps:

- ``loss_heatmap`` twice, on the sigmoid top-left and bottom-right heatmaps ``(N, C, H, W)``
  against Gaussian peaks at the boxes' corners (``gaussian_radius`` of the box's ceiled size on the
  map, ``min_overlap=0.3``), each with ``avg_factor = max(1, its peaks)``; ``det_loss`` is their mean;
- ``loss_embedding`` once, on the top-left and bottom-right embedding maps ``(N, M, H, W)`` and the
  corner pairs of each image (``match``); it returns ``(pull, push)`` as ``pull_loss``, ``push_loss``;
- ``loss_offset`` twice, on the offset maps ``(N, 2, H, W)`` against the corners' sub-pixel offsets,
  weighted by the class-agnostic corner mask ``(N, 1, H, W)`` with ``avg_factor = max(1, mask pixels)``;
  ``off_loss`` is their mean.

The head returns each term as a list over the stacks, which mmengine's ``parse_losses`` sums for
the log. The model makes the first call's inputs in full and the head's further calls (the other
corner, the other stacks, each on predictions of its own) as :class:`OtherCalls`.

CentripetalNet's ``CentripetalHead`` makes the same targets with its shifts (``get_targets`` with
``with_guiding_shift`` and ``with_centripetal_shift``) and calls ``loss_heatmap`` and
``loss_offset`` as CornerHead does (never ``loss_embedding``: it hands none), then, per corner,
``loss_guiding_shift`` on the guiding shifts ``(N, 2, H, W)`` against each corner's shift from its
int corner to the box's centre (``center - corner`` at the top-left, ``corner - center`` at the
bottom-right) and ``loss_centripetal_shift`` against the log of the distances from the box's
corner to its centre, both weighted by the corner mask with ``avg_factor = mask.sum()`` (not
clamped: 0 with no object); ``guiding_loss`` and ``centripetal_loss`` are each the corners' mean."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_int
from losstune.engine.heads_centernet import HEATMAP_PRIOR, MIN_OVERLAP, draw_gaussian, gaussian_radius, map_side
from losstune.engine.inputs import REGRESSION, InputError, Inputs, OtherCalls
from losstune.engine.sampling import Sampled
from losstune.schema.catalogue import bare_type
from losstune.words import count

NUM_OBJECTS = 8
NUM_FEAT_LEVELS = 2  # CornerHead's default: HourglassNet-104's two stacks
# the spread of a freshly built CornerHead's outputs on a batch (MMDetection 3.3.0, HourglassNet-104):
# its heatmap logits about the prior's (0.36 to 0.42), its embeddings and offsets (0.28 to 0.35)
HEATMAP_SPREAD = 0.4
MAP_SPREAD = 0.3
CORNERS = ("top-left", "bottom-right")
CENTRIPETAL_HEAD = "CentripetalHead"
# CentripetalHead's shift losses: their log names, and a freshly built head's spread of them about 0
SHIFTS = {"loss_guiding_shift": ("guiding_loss", 0.2), "loss_centripetal_shift": ("centripetal_loss", 0.07)}


@dataclass
class CornerMaps:
    """``CornerHead.get_targets`` of one image: per corner (top-left, bottom-right) the heatmap
    ``(1, C, S, S)``, the offsets ``(1, 2, S, S)`` and the class-agnostic corner mask
    ``(1, 1, S, S)`` the head weights them by; the corner pairs (``match``, per image); and per
    corner the pixels as a sampling (its corners the positives)."""

    heatmaps: tuple[Tensor, Tensor]
    offsets: tuple[Tensor, Tensor]
    masks: tuple[Tensor, Tensor]
    match: list[list[list[list[int]]]]
    sampled: tuple[Sampled, Sampled]


Box = tuple[float, float, float, float, int]  # left, top, right, bottom on the output map, class


def seeded_boxes(num_classes: int, side: int, seed: int, objects: int = NUM_OBJECTS) -> list[Box]:
    """Seeded boxes on the output map, a tenth to a half of its side, their top-left corners at
    distinct pixels and their bottom-right ones too (so that each corner is one peak)."""
    g = torch.Generator().manual_seed(seed)
    boxes: list[Box] = []
    taken: tuple[set[tuple[int, int]], set[tuple[int, int]]] = (set(), set())
    for _ in range(objects * 4):
        if len(boxes) == objects:
            break
        size = (0.1 + 0.4 * torch.rand(2, generator=g)) * side
        left, top = (float(v) for v in torch.rand(2, generator=g) * (side - size))
        right, bottom = left + float(size[0]), top + float(size[1])
        cls = int(torch.randint(0, num_classes, (1,), generator=g))
        corners = _corner_pixels(left, top, right, bottom, side)
        if corners[0] in taken[0] or corners[1] in taken[1]:
            continue
        taken[0].add(corners[0])
        taken[1].add(corners[1])
        boxes.append((left, top, right, bottom, cls))
    return boxes


def _corner_pixels(left: float, top: float, right: float, bottom: float, side: int) -> list[tuple[int, int]]:
    """get_targets' int corners on the map, clamped inside it: (x, y) top-left, bottom-right."""
    return [
        (int(min(left, side - 1)), int(min(top, side - 1))),
        (int(min(right, side - 1)), int(min(bottom, side - 1))),
    ]


def corner_targets(boxes: list[Box], num_classes: int, side: int) -> CornerMaps:
    """``CornerHead.get_targets`` of one image whose boxes are given on its ``side`` × ``side``
    output map (with the embeddings' corner pairs)."""
    heatmaps = (torch.zeros(1, num_classes, side, side), torch.zeros(1, num_classes, side, side))
    offsets = (torch.zeros(1, 2, side, side), torch.zeros(1, 2, side, side))
    pairs: list[list[list[int]]] = []
    for left, top, right, bottom, cls in boxes:
        corners = _corner_pixels(left, top, right, bottom, side)
        radius = max(0, int(gaussian_radius(math.ceil(bottom - top), math.ceil(right - left), MIN_OVERLAP)))
        for i, ((x, y), (fx, fy)) in enumerate(zip(corners, ((left, top), (right, bottom)), strict=True)):
            draw_gaussian(heatmaps[i][0, cls], x, y, radius)
            offsets[i][0, 0, y, x] = fx - x
            offsets[i][0, 1, y, x] = fy - y
        (lx, ty), (rx, by) = corners
        pairs.append([[ty, lx], [by, rx]])
    # the head's mask: the pixels where some class's heatmap is 1
    masks = tuple(h.eq(1).sum(1).gt(0).unsqueeze(1).type_as(h) for h in heatmaps)
    sampled = tuple(
        _as_sampled(h, m, num_classes, CORNERS[i]) for i, (h, m) in enumerate(zip(heatmaps, masks, strict=True))
    )
    return CornerMaps(heatmaps, offsets, (masks[0], masks[1]), [pairs], (sampled[0], sampled[1]))


def shift_targets(boxes: list[Box], side: int) -> dict[str, tuple[Tensor, Tensor]]:
    """``CentripetalHead``'s shift targets of one image whose boxes are given on its ``side`` ×
    ``side`` output map, by loss: the top-left and bottom-right maps ``(1, 2, S, S)``, set at
    each box's int corners."""
    guiding = (torch.zeros(1, 2, side, side), torch.zeros(1, 2, side, side))
    centripetal = (torch.zeros(1, 2, side, side), torch.zeros(1, 2, side, side))
    for left, top, right, bottom, _ in boxes:
        (lx, ty), (rx, by) = _corner_pixels(left, top, right, bottom, side)
        cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
        guiding[0][0, :, ty, lx] = torch.tensor([cx - lx, cy - ty])
        guiding[1][0, :, by, rx] = torch.tensor([rx - cx, by - cy])
        centripetal[0][0, :, ty, lx] = torch.tensor([math.log(cx - left), math.log(cy - top)])
        centripetal[1][0, :, by, rx] = torch.tensor([math.log(right - cx), math.log(bottom - cy)])
    return {"loss_guiding_shift": guiding, "loss_centripetal_shift": centripetal}


def corner_maps(num_classes: int, side: int, seed: int, objects: int = NUM_OBJECTS) -> CornerMaps:
    """Seeded boxes (:func:`seeded_boxes`) and their targets, as ``CornerHead.get_targets`` makes them."""
    return corner_targets(seeded_boxes(num_classes, side, seed, objects), num_classes, side)


def _as_sampled(heatmap: Tensor, mask: Tensor, num_classes: int, corner: str) -> Sampled:
    """One corner's pixels as a sampling: its corners the positives (one peak each)."""
    side = heatmap.shape[-1]
    pixels = side * side
    pos_mask = mask[0, 0].flatten() > 0
    labels = torch.full((pixels,), num_classes, dtype=torch.long)
    labels[pos_mask] = heatmap[0].flatten(1).argmax(0)[pos_mask]
    peaks = int(heatmap.eq(1).sum())
    avg = float(max(1, peaks))
    what = (
        f"no sampler: a {side}×{side} output map, {count(peaks, f'{corner} corner', f'{corner} corners')} of the "
        f"objects (the positives, each a Gaussian peak on its class's {corner} heatmap of "
        f"{count(num_classes, 'class', 'classes')}, gaussian_radius(min_overlap={MIN_OVERLAP:g}) of the box's ceiled "
        "size on the map); every pixel is handed to the module"
    )
    stats = {"positives": peaks, "negatives": pixels - peaks, "priors": pixels, "avg_factor": avg}
    bbox_weights = pos_mask[:, None].float().expand(-1, 4).clone()
    return Sampled(
        labels, torch.ones(pixels), bbox_weights, torch.zeros(pixels), pos_mask, avg, what, stats, "max(1, peaks)"
    )


def levels_of(head: dict[str, Any]) -> int:
    """The stacks CornerHead makes its losses on: ``num_feat_levels`` (2 unless set)."""
    return config_int(head, "num_feat_levels", NUM_FEAT_LEVELS, least=1)


def _embedding_channels(head: dict[str, Any]) -> int:
    return config_int(head, "corner_emb_channels", 1, least=0)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _predicted(shape: tuple[int, ...], seed: int, spread: float, offset: float = 0.0) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * spread + offset


def corner_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    *,
    head: dict[str, Any],
    num_classes: int,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """CornerHead's first call of ``loss_name`` (stack 1's; the top-left map where there are two)
    on seeded maps, with the head's further calls (``None``: not one of its losses, or of a type
    the maps do not fit). ``num_priors``: the pixels of one map."""
    kind = bare_type(str(loss_cfg.get("type")))
    who = CENTRIPETAL_HEAD if bare_type(str(head.get("type"))) == CENTRIPETAL_HEAD else "CornerHead"
    if who == CENTRIPETAL_HEAD and loss_name == "loss_embedding":
        return None  # CentripetalHead hands it no embeddings and logs no pull_loss or push_loss
    if who != CENTRIPETAL_HEAD and loss_name in SHIFTS:
        return None
    levels = levels_of(head)
    boxes = seeded_boxes(num_classes, map_side(num_priors), seed)
    maps = corner_targets(boxes, num_classes, map_side(num_priors))
    calls: list[Inputs] = []
    if loss_name == "loss_heatmap" and kind == "GaussianFocalLoss":
        for call in range(2 * levels):
            heatmap, s = maps.heatmaps[call % 2], maps.sampled[call % 2]
            logits = _predicted(heatmap.shape, seed + 1 + call, HEATMAP_SPREAD, _logit(HEATMAP_PRIOR))
            calls.append(Inputs([logits.sigmoid(), heatmap], {"avg_factor": s.avg_factor}, s))
        how = f"its sigmoid {CORNERS[0]} heatmap"
        return _with_others(calls, levels, how, _pair_mean("det_loss", levels, who), who)
    if loss_name == "loss_offset" and kind in REGRESSION:
        what = (
            "the offset maps (2 channels, the corners' sub-pixel offsets on the map) weighted by the class-agnostic "
            "corner mask (N×1×H×W, 1 at the corners, as many as the peaks)"
        )
        calls = _masked_calls(maps, maps.offsets, what, MAP_SPREAD, seed, levels, least=1.0)
        how = f"its {CORNERS[0]} offsets"
        return _with_others(calls, levels, how, _pair_mean("off_loss", levels, who), who)
    if loss_name in SHIFTS and kind in REGRESSION:
        log_name, spread = SHIFTS[loss_name]
        shifts = "guiding shifts (from each int corner to its box's centre)"
        if loss_name == "loss_centripetal_shift":
            shifts = "centripetal shifts (the log of the distances from each corner to its box's centre)"
        what = (
            f"the {shifts}, 2 channels, weighted by the class-agnostic corner mask (N×1×H×W, 1 at the corners), "
            "avg_factor = the mask's sum, not clamped"
        )
        targets = shift_targets(boxes, map_side(num_priors))[loss_name]
        calls = _masked_calls(maps, targets, what, spread, seed, levels, least=0.0)
        how = f"its {CORNERS[0]} {shifts.split(' (')[0]}"
        return _with_others(calls, levels, how, _pair_mean(log_name, levels, who), who)
    if loss_name == "loss_embedding" and kind == "AssociativeEmbeddingLoss":
        channels = _embedding_channels(head)
        if channels == 0:
            raise InputError(
                "CornerHead with corner_emb_channels=0 has no embeddings and never calls loss_embedding "
                "(its log has no pull_loss or push_loss)"
            )
        side = maps.heatmaps[0].shape[-1]
        objects = len(maps.match[0])
        s = replace(
            maps.sampled[0],
            description=(
                f"no sampler: a {side}×{side} output map, {count(objects, 'object')}: their corner pairs (match, "
                f"[[tl_y, tl_x], [br_y, br_x]] each) on the {CORNERS[0]} and {CORNERS[1]} embedding maps "
                f"(corner_emb_channels={channels}); AssociativeEmbeddingLoss sums a batch's images, it does not "
                "average them: the log's pull_loss and push_loss grow with the images per GPU (one image here)"
            ),
            stats={**maps.sampled[0].stats, "positives": objects},
        )
        for call in range(levels):
            tl, br = (_predicted((1, channels, side, side), seed + 1 + 2 * call + i, MAP_SPREAD) for i in (0, 1))
            calls.append(Inputs([tl, br, maps.match], {}, s))
        how = "its embedding maps"
        return _with_others(calls, levels, how, _stack_sums(levels))
    return None


def _masked_calls(
    maps: CornerMaps,
    targets: tuple[Tensor, Tensor],
    what: str,
    spread: float,
    seed: int,
    levels: int,
    *,
    least: float,
) -> list[Inputs]:
    """Each stack's call for each corner on a map of ``targets`` weighted by the corner mask, with
    ``avg_factor = max(least, the mask's sum)``, on predictions of its own (``spread`` about 0)."""
    weighted = [replace(s, description=f"{s.description}: {what}") for s in maps.sampled]
    calls = []
    for call in range(2 * levels):
        mask, target = maps.masks[call % 2], targets[call % 2]
        pred = _predicted(target.shape, seed + 1 + call, spread)
        avg = max(least, float(mask.sum()))
        calls.append(Inputs([pred, target, mask], {"avg_factor": avg}, weighted[call % 2]))
    return calls


def _with_others(
    calls: list[Inputs],
    levels: int,
    how: str,
    combine: Callable[[list[Any], float], tuple[Any, str]],
    who: str = "CornerHead",
) -> Inputs:
    """The first call with the others, its sampling text saying which call it is."""
    first = calls[0]
    assert first.sampled is not None
    per_level = len(calls) // levels
    made = "once" if per_level == 1 else f"{per_level} times ({CORNERS[0]} and {CORNERS[1]})"
    note = (
        f"; {who} calls the module {made} for each of its {count(levels, 'stack')} (num_feat_levels), on each "
        f"stack's own predictions against the same targets: the first call, stack 1's on {how}, is traced here, "
        "the others are made alike (the head's step)"
    )
    s = first.sampled
    first.sampled = replace(s, description=s.description + note)
    first.others = OtherCalls(calls[1:], combine)
    return first


def _number(v: Any) -> str:
    return f"{float(v):.6g}"


def _pair_mean(log_name: str, levels: int, who: str = "CornerHead") -> Callable[[list[Any], float], tuple[Any, str]]:
    """``loss_by_feat_single``'s mean of the two corners' terms, summed over the stacks."""

    def combine(results: list[Any], by: float) -> tuple[Any, str]:
        per_stack = [(results[2 * i] + results[2 * i + 1]) / by for i in range(levels)]
        shown = " + ".join(
            f"({_number(results[2 * i])} + {_number(results[2 * i + 1])}) / {by:g}" for i in range(levels)
        )
        total = sum(per_stack[1:], per_stack[0])
        text = (
            f"{log_name} = Σ over the {count(levels, 'stack')} (num_feat_levels) of ({CORNERS[0]} + {CORNERS[1]}) / "
            f"{by:g}, each map a call of its own with its own avg_factor: {shown} = {_number(total)}, as {who}.loss_by_feat_single averages the corners and the log "
            "sums the list over the stacks"
        )
        return total, text

    return combine


def _stack_sums(levels: int) -> Callable[[list[Any], float], tuple[Any, str]]:
    """The module's (pull, push) of each stack, summed over the stacks as ``pull_loss`` and ``push_loss``."""

    def combine(results: list[Any], by: float) -> tuple[Any, str]:
        pulls, pushes = [r[0] / by for r in results], [r[1] / by for r in results]
        out = {"pull_loss": sum(pulls[1:], pulls[0]), "push_loss": sum(pushes[1:], pushes[0])}
        shown = "; ".join(
            f"{name} = {' + '.join(_number(v) for v in values)} = {_number(out[name])}"
            for name, values in (("pull_loss", pulls), ("push_loss", pushes))
        )
        text = (
            f"the module's (pull, push) of each of the {count(levels, 'stack')} (num_feat_levels), summed: {shown}, as "
            "the log sums the lists CornerHead.loss_by_feat returns"
        )
        return out, text

    return combine
