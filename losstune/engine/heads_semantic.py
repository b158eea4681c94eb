"""HTC's semantic head (``FusedSemanticHead``) as MMDetection 3.3.0 feeds its ``loss_seg``, logged
as ``loss_semantic_seg``, on a seeded semantic map; PanopticFPN's (``PanopticFPNHead``), logged
``loss_seg``, at the end.

``HTCRoIHead.loss`` stacks each image's ``gt_sem_seg.sem_seg`` and hands them, with the head's
logits ``(images, num_classes, H, W)`` at its fusion level, to ``FusedSemanticHead.loss``, which
scales the labels by ``seg_scale_factor`` (nearest) to the logits' size and calls ``loss_seg``
once: a softmax cross-entropy over the classes per pixel (``ignore_index=255`` in MMDetection's
configs), no weight, no avg_factor: the module averages every pixel. The model's map is an image's
labels on the logits' grid: seeded ellipses painted with object classes, the other pixels the last
class; its logits an untrained head's (mean 0, spread 1.25 across the classes, as measured on a
freshly built FusedSemanticHead)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_int
from losstune.engine.ellipses import inside_ellipses
from losstune.engine.inputs import Inputs
from losstune.engine.sampling import Sampled
from losstune.words import count

SEMANTIC_CLASSES = 183  # FusedSemanticHead's default num_classes (COCO-stuff's)
LOGIT_SPREAD = 1.25
PANOPTIC_LOGIT_SPREAD = (
    0.21  # across the classes, measured on a freshly built R-50 PanopticFPN (conv_logits normal(0, 0.01))
)
MAP_PIXELS = 100 * 168  # an 800 × 1333 image at the fusion level's stride 8, about
OBJECTS = 8


def paint_ellipses(boxes: Tensor, labels: Tensor, size: int, classes: int) -> Tensor:
    """A ``(1, size, size)`` semantic map: the pixels whose centres lie in each box's inscribed
    ellipse painted with its label (later boxes over earlier ones), the others the last class."""
    centres = torch.arange(size, dtype=boxes.dtype) + 0.5
    out = torch.full((1, size, size), classes - 1, dtype=torch.long)
    for inside, label in zip(inside_ellipses(boxes, centres, centres), labels.tolist(), strict=True):
        out[0][inside] = label
    return out


def semantic_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    *,
    head: dict[str, Any],
    num_classes: int,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """FusedSemanticHead's call of ``loss_seg`` on one image's seeded map (``None`` for another
    loss). ``num_priors``: the map's pixels (else those of an 800 × 1333 image at stride 8)."""
    if loss_name != "loss_seg":
        return None
    classes = config_int(head, "num_classes", SEMANTIC_CLASSES, least=2)
    side = max(math.isqrt(num_priors or MAP_PIXELS), 2)
    g = torch.Generator().manual_seed(seed)
    boxes = _objects(side, g)
    labels = torch.randint(0, min(num_classes, classes - 1), (OBJECTS,), generator=g)
    target = paint_ellipses(boxes, labels, side, classes)
    logits = torch.randn(1, classes, side, side, generator=g) * LOGIT_SPREAD
    objects = int((target < classes - 1).sum())
    what = (
        f"no sampler: one image's semantic map on the head's {side}×{side} logits (seg_scale_factor), "
        f"{count(OBJECTS, 'object')} painted with their classes ({objects} pixels), the other "
        f"{side * side - objects} the last class ({classes - 1}); the logits of an untrained FusedSemanticHead "
        f"(± {LOGIT_SPREAD:g} across its {classes} classes); every pixel is handed to the module, with no weight"
    )
    return _map_call(logits, target, what, side)


def _objects(side: int, g: torch.Generator) -> Tensor:
    """:data:`OBJECTS` seeded boxes of a tenth to a half of a ``side`` × ``side`` map, inside it."""
    wh = (0.1 + 0.4 * torch.rand(OBJECTS, 2, generator=g)) * side
    xy = torch.rand(OBJECTS, 2, generator=g) * (side - wh)
    return torch.cat([xy, xy + wh], dim=1)


def _map_call(logits: Tensor, target: Tensor, what: str, side: int) -> Inputs:
    """The one call on a ``side`` × ``side`` map's every pixel, no weight, no avg_factor."""
    stats = {"positives": 1, "negatives": 0, "priors": side * side, "images": 1, "avg_factor": None}
    return Inputs([logits, target], {}, one_image(what, stats))


def one_image(what: str, stats: dict[str, Any]) -> Sampled:
    """The assignment of a call on one image's whole prediction (a map, a row of class logits): the
    image its one positive, no avg_factor; ``what``: how the call is made, ``stats`` its counts."""
    return Sampled(
        torch.zeros(1, dtype=torch.long),
        torch.ones(1),
        torch.ones(1, 4),
        torch.zeros(1),
        torch.ones(1, dtype=torch.bool),
        1.0,
        what,
        stats,
        "none",
    )


PANOPTIC_FPN_HEAD = "PanopticFPNHead"
THINGS, STUFF = 80, 53  # PanopticFPNHead's default num_things_classes and num_stuff_classes


def panoptic_fpn_inputs(loss_name: str, *, head: dict[str, Any], num_priors: int | None, seed: int) -> Inputs | None:
    """PanopticFPNHead's call of ``loss_seg`` (``None`` for another loss), as its ``loss`` makes it
    in MMDetection 3.3.0: the images' ``gt_sem_seg`` stacked, scaled by ``seg_rescale_factor``
    (nearest), every thing class merged into one (``_set_things_to_void``: a label below
    ``num_things_classes`` becomes ``num_stuff_classes``, a stuff label ``s`` becomes ``s -
    num_things_classes``), and one call on every pixel of the images, ``(pixels, num_stuff_classes
    + 1)`` logits against ``(pixels,)`` labels, no weight, no avg_factor. ``num_priors``: the
    pixels (else those of an 800 × 1333 image at stride 4, its 1/4 rescale)."""
    if loss_name != "loss_seg":
        return None
    stuff = config_int(head, "num_stuff_classes", STUFF, least=1)
    classes = stuff + 1
    side = max(math.isqrt(num_priors or 4 * MAP_PIXELS), 2)
    g = torch.Generator().manual_seed(seed)
    boxes = _objects(side, g)
    things = torch.full((OBJECTS,), stuff, dtype=torch.long)  # every thing merged into class num_stuff_classes
    target = paint_ellipses(boxes, things, side, stuff).reshape(-1)
    logits = torch.randn(side * side, classes, generator=g) * PANOPTIC_LOGIT_SPREAD
    objects = int((target == stuff).sum())
    what = (
        f"no sampler: a semantic map of {side}×{side} pixels (seg_rescale_factor), {count(OBJECTS, 'object')} "
        f"of thing classes merged into class {stuff} ({objects} pixels), the other {side * side - objects} the "
        f"last stuff class ({stuff - 1}); the logits of an untrained PanopticFPNHead (± {PANOPTIC_LOGIT_SPREAD:g} "
        f"across its {classes} classes); every pixel is handed to the module, a row each, with no weight"
    )
    return _map_call(logits, target, what, side)
