"""YOLACT's box head (``YOLACTHead``) and the semantic segmentation branch of its protonet
(``YOLACTProtonet``) as MMDetection 3.3.0 feeds their loss modules, on a seeded image.

``YOLACTHead.loss_by_feat`` (``use_ohem=True``, as every config of MMDetection's has it) assigns and
samples the anchors (``train_cfg``: ``MaxIoUAssigner``, ``PseudoSampler``), and calls
``OHEMloss_by_feat_single`` once per image, on every anchor of the image. ``loss_cls`` (a softmax
``CrossEntropyLoss`` of ``num_classes + 1`` logits, the config's ``reduction='none'``) is handed
the logits, labels and label weights with no avg_factor and returns each anchor's loss; the head
sums the positives' and the ``train_cfg.neg_pos_ratio × positives`` highest of the anchors labelled
background (at most as many as there are; with no positive, all of them) and divides by the
sampling's avg_factor of the whole batch (``Σ max(positives, 1)`` over the images with the
PseudoSampler). ``loss_bbox`` is handed every anchor's deltas, targets and box weights with that
avg_factor. The training log sums the images' terms.

``YOLACTProtonet.loss_by_feat`` calls ``loss_segm`` (a sigmoid ``CrossEntropyLoss``) once per image
on the segmentation branch's logits ``(num_classes, H, W)`` at the first feature level (stride 8)
against each class's union of its instances' masks resized to that map (bilinear, above 0.5), with
``avg_factor = images × H × W`` and no weight; the log sums the images. The class of an instance
labelled ``k`` is written to channel ``k - 1`` (MMDetection's code: label 0 goes to the last
channel). Its ``loss_mask`` is ``F.binary_cross_entropy`` in the head's own code, no loss module
(not modelled).

The model's image is 550 × 550 (YOLACT's input size), or the square whose anchors at the FPN's
strides 8 to 128 (``len(ratios) × scales`` a cell) are the priors asked for; its feature maps
``ceil(side / stride)`` a side, as ResNet and FPN make them. Its instances are ellipses inscribed
in boxes drawn as the comparison's batch draws them. The predictions are an untrained head's on
the comparison's batch (Xavier-initialised convolutions, measured on the R-50 and R-101 configs at
128 and 256 pixels): class logits about 0 ± 4 (3.0 to 5.7), box deltas ± 4.5 (3 to 8.5) against
targets as SSD's encoded with ``target_stds``, segmentation logits -1 ± 5 (-0.2 ± 4.2 to -1.9 ± 6.9)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_int
from losstune.engine.ellipses import inside_ellipses
from losstune.engine.heads_condinst import image_side as points_side
from losstune.engine.heads_ssd import RAW_TARGET_SPREAD, mined, neg_pos_ratio, target_stds
from losstune.engine.inputs import InputError, Inputs, OtherCalls
from losstune.engine.sampling import NUM_GTS, Sampled, sample
from losstune.words import count

YOLACT_HEAD, PROTONET = "YOLACTHead", "YOLACTProtonet"
INPUT_SIDE = 550  # YOLACT's configs' input_size
LEVEL_STRIDES = (8, 16, 32, 64, 128)  # the FPN's levels (start_level=1, two extra convs)
SEGM_STRIDE = 8  # the segmentation branch runs on the first level
LOGIT_SPREAD, DELTA_SPREAD = 4.0, 4.5
SEGM_MEAN, SEGM_SPREAD = -1.0, 5.0
OHEM_METHOD = "OHEMloss_by_feat_single"


def anchors_per_cell(head: dict[str, Any]) -> int:
    """``AnchorGenerator.num_base_priors`` of the head's ``anchor_generator``: its ratios times
    its scales (``scales_per_octave`` where ``octave_base_scale`` is set), YOLACTHead's default
    (3 ratios, 1 scale) where unset."""
    gen = head.get("anchor_generator")
    gen = gen if isinstance(gen, dict) else {}
    ratios = gen.get("ratios", [0.5, 1.0, 2.0])
    n_ratios = len(ratios) if isinstance(ratios, (list, tuple)) and ratios else 3
    if "octave_base_scale" in gen or "scales" not in gen:
        scales = config_int(gen, "scales_per_octave", 1, least=1)
    else:
        listed = gen.get("scales")
        scales = len(listed) if isinstance(listed, (list, tuple)) and listed else 1
    return n_ratios * scales


def level_sides(side: int) -> list[int]:
    """The feature maps' sides of a ``side`` image at :data:`LEVEL_STRIDES` (each stride-2 layer
    of ResNet and the FPN rounds up)."""
    return [math.ceil(side / s) for s in LEVEL_STRIDES]


def anchor_count(side: int, head: dict[str, Any]) -> int:
    """The anchors of a ``side`` × ``side`` image."""
    return anchors_per_cell(head) * sum(n * n for n in level_sides(side))


def side_of(num_priors: int | None, head: dict[str, Any]) -> int:
    """The model's image side: :data:`INPUT_SIDE`, or the square whose anchors come nearest to
    ``num_priors`` (the largest of those)."""
    if num_priors is None:
        return INPUT_SIDE
    return points_side(max(num_priors // anchors_per_cell(head), 1), LEVEL_STRIDES)


def ohem_kept(losses: Tensor, labels: Tensor, num_classes: int, ratio: int) -> Tensor:
    """The anchors ``OHEMloss_by_feat_single`` sums of one image's per-anchor ``losses``: the
    positives and the ``ratio × positives`` background anchors of highest loss (capped at those
    there are); with no positive, every background anchor."""
    if bool(((labels >= 0) & (labels < num_classes)).any()):
        return mined(losses, labels, num_classes, ratio)
    return labels == num_classes


def _train_cfg(model: dict[str, Any]) -> dict[str, Any]:
    train = model.get("train_cfg")
    return train if isinstance(train, dict) else {}


def _assigned(model: dict[str, Any], num_classes: int, priors: int, seed: int) -> Sampled:
    """One image's anchors assigned and sampled with the model's ``train_cfg.sampler``."""
    sampler = _train_cfg(model).get("sampler")
    config = sampler if isinstance(sampler, dict) else None
    return sample(config, num_priors=priors, num_classes=num_classes, roi_head=False, seed=seed)


def _ohem_combine(labels: Tensor, num_classes: int, ratio: int) -> Callable[[list[Any], float], tuple[Any, str]]:
    """The head's reduction of the module's per-anchor losses: the mined anchors' sum ÷ avg_factor."""

    def combine(results: list[Any], divisor: float) -> tuple[Any, str]:
        losses = results[0]
        keep = ohem_kept(losses, labels, num_classes, ratio)
        positives = int(((labels >= 0) & (labels < num_classes)).sum())
        hardest = int(keep.sum()) - positives
        which = (
            f"the {count(positives, 'positive')}' and the {hardest} hardest background anchors' losses "
            f"(neg_pos_ratio × positives = {ratio} × {positives}, at most the background anchors there are)"
            if positives
            else f"every background anchor's loss ({hardest}: with no positive the head mines them all)"
        )
        text = f"Σ of {which} ÷ avg_factor = {divisor:g}, as YOLACTHead.{OHEM_METHOD} reduces them"
        return losses[keep].sum() / divisor, text

    return combine


def yolact_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_classes: int,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """YOLACTHead's call of ``loss_cls`` or ``loss_bbox`` on one image's anchors (``None`` for
    another loss): ``num_priors`` of them, else a 550-pixel image's."""
    if loss_name not in ("loss_cls", "loss_bbox"):
        return None
    if head.get("use_ohem", True) is False:
        raise InputError(
            "losstune models YOLACTHead with use_ohem=True (its OHEMloss_by_feat_single); with use_ohem=False "
            "it runs AnchorHead.loss_by_feat_single, which losstune does not model for it",
            replayable=True,
        )
    side = side_of(num_priors, head)
    priors = num_priors if num_priors is not None else anchor_count(side, head)
    s = _assigned(model, num_classes, priors, seed)
    g = torch.Generator().manual_seed(seed + 1)
    n = s.labels.numel()
    what = f"; YOLACTHead.{OHEM_METHOD} hands the module every anchor of the image"
    if loss_name == "loss_bbox":
        pred = torch.randn(n, 4, generator=g) * DELTA_SPREAD
        target = torch.randn(n, 4, generator=g) * torch.tensor(RAW_TARGET_SPREAD) / target_stds(head)
        text = s.description + what + ", the positives' box weights 1"
        sampled = replace(s, description=text)
        return Inputs([pred, target, s.bbox_weights], {"avg_factor": s.avg_factor}, sampled, avg_rule=s.avg_rule)
    reduction = loss_cfg.get("reduction", "mean")
    if reduction != "none":
        raise InputError(
            f"YOLACTHead indexes loss_cls's per-anchor losses to mine the hard negatives: with reduction="
            f"{reduction!r} the module returns one number and MMDetection fails there; set reduction='none'"
        )
    ratio = neg_pos_ratio(model)
    score = torch.randn(n, num_classes + 1, generator=g) * LOGIT_SPREAD
    text = (
        s.description + what + f" ({num_classes + 1} softmax logits, the last the background) with its label "
        "weights, and takes its per-anchor losses (the config's reduction='none')"
    )
    sampled = replace(s, description=text)
    others = OtherCalls([], _ohem_combine(s.labels, num_classes, ratio))
    return Inputs([score, s.labels, s.label_weights], {}, sampled, avg_rule=s.avg_rule, others=others)


def segm_targets(boxes: Tensor, labels: Tensor, side: int, size: int, num_classes: int) -> Tensor:
    """``_get_targets_single``'s semantic targets: ``(num_classes, size, size)``, channel
    ``label - 1`` of each instance (label 0: the last) the union of its masks, each the ellipse
    inscribed in its box at the centres of the map's cells."""
    centres = (torch.arange(size, dtype=boxes.dtype) + 0.5) * (side / size)
    out = torch.zeros(num_classes, size, size)
    for inside, label in zip(inside_ellipses(boxes, centres, centres), labels.tolist(), strict=True):
        channel = (label - 1) % num_classes
        out[channel] = torch.maximum(out[channel], inside.float())
    return out


def segm_inputs(
    loss_name: str,
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """YOLACTProtonet's call of ``loss_segm`` on one image's segmentation logits (``None`` for
    another loss); ``num_priors``: the box head's anchors, which give the image."""
    if loss_name != "loss_segm":
        return None
    box_head = model.get("bbox_head")
    side = side_of(num_priors, box_head if isinstance(box_head, dict) else {})
    size = math.ceil(side / SEGM_STRIDE)
    classes = config_int(head, "num_classes", 80, least=1)
    g = torch.Generator().manual_seed(seed + 1)
    wh = (0.1 + 0.4 * torch.rand(NUM_GTS, 2, generator=g)) * side
    xy = torch.rand(NUM_GTS, 2, generator=g) * (side - wh)
    labels = torch.randint(0, classes, (NUM_GTS,), generator=g)
    target = segm_targets(torch.cat([xy, xy + wh], 1), labels, side, size, classes)
    logits = torch.randn(classes, size, size, generator=g) * SEGM_SPREAD + SEGM_MEAN
    pixels = size * size
    what = (
        f"no sampler: one image's {size}×{size} segmentation logits (a {side}×{side} image at stride "
        f"{SEGM_STRIDE}) of {count(classes, 'class', 'classes')}, each class's channel (label - 1) the union of "
        f"its instances' masks ({count(NUM_GTS, 'ellipse')}, {int(target.sum())} pixels); every map handed to the "
        "module, with no weight"
    )
    stats = {"positives": classes, "negatives": 0, "priors": pixels, "images": 1, "avg_factor": float(pixels)}
    s = Sampled(
        torch.zeros(1, dtype=torch.long),
        torch.ones(1),
        torch.ones(1, 4),
        torch.zeros(1),
        torch.ones(1, dtype=torch.bool),
        float(pixels),
        what,
        stats,
        "none",
    )
    return Inputs([logits, target], {"avg_factor": float(pixels)}, s, avg_rule="images × the map's pixels")
