"""CondInst's mask head (``CondInstMaskHead``) as MMDetection 3.3.0 feeds its ``loss_mask``, on a
seeded image. Its box head (``CondInstBboxHead``, BoxInst's ``BoxInstBboxHead``) runs FCOSHead's
loss code, and is modelled as FCOS.

Each positive point of the box head gets a mask of its own: dynamic convolutions on the mask
branch's feature map (``mask_feature_head.mask_stride``, 4 unless set) upsampled to the
``mask_out_stride`` (4) of the image. ``CondInstMaskHead.loss_by_feat`` takes, per image, the
positives (at most ``max_masks_to_train`` of them, drawn at random; or ``topk_masks_per_img``
split among the boxes), their mask logits against their instances' masks sampled every
``mask_out_stride`` pixels, calls ``loss_mask`` (DiceLoss) with ``reduction_override='none'``,
sums the per-mask losses, and divides the images' sum by the masks kept, at least 1 (no
avg_factor). The model's image is the square one whose points, at the box head's strides, are
the priors asked for; its masks' logits an untrained head's (mean -0.5, spread 1.2, as measured
on a freshly built CondInstMaskHead); the instances ellipses inscribed in their boxes (as the
comparison's batch paints them)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_int
from losstune.engine.ellipses import inside_ellipses, seeded_boxes
from losstune.engine.inputs import Inputs
from losstune.engine.sampling import Sampled, sample
from losstune.words import count

CONDINST_HEADS = ("CondInstMaskHead",)
FCOS_STRIDES = (4, 8, 16, 32, 64)  # FCOSHead's default strides
MASK_STRIDE, OUT_STRIDE = 4, 4  # MaskFeatModule's mask_stride, CondInstMaskHead's mask_out_stride
MASK_MEAN, MASK_SPREAD = -0.5, 1.2  # an untrained CondInstMaskHead's mask logits


def strides(model: dict[str, Any]) -> tuple[int, ...]:
    """The box head's ``strides`` (FCOSHead's default where unset or not a list of ints)."""
    head = model.get("bbox_head")
    found = head.get("strides") if isinstance(head, dict) else None
    if isinstance(found, (list, tuple)) and found and all(isinstance(s, int) and s > 0 for s in found):
        return tuple(found)
    return FCOS_STRIDES


def image_side(priors: int, level_strides: tuple[int, ...]) -> int:
    """The side of the square image whose points at ``level_strides`` (``ceil(side / s)²`` per
    level) come nearest to ``priors``, the largest of those (a padded image's)."""
    guess = math.sqrt(priors / sum(1 / s**2 for s in level_strides))

    def points(side: int) -> int:
        return sum(math.ceil(side / s) ** 2 for s in level_strides)

    low, high = max(int(guess * 0.8), 1), int(guess * 1.2) + 2
    return min(range(low, high), key=lambda side: (abs(points(side) - priors), -side))


def mask_side(side: int, head: dict[str, Any]) -> int:
    """The side of a positive's mask on an image of ``side``: the mask branch's map
    (``ceil(side / mask_stride)``) upsampled by ``mask_stride // mask_out_stride``."""
    feature = head.get("mask_feature_head")
    stride = config_int(feature if isinstance(feature, dict) else {}, "mask_stride", MASK_STRIDE, least=1)
    out = config_int(head, "mask_out_stride", OUT_STRIDE, least=1)
    return math.ceil(side / stride) * max(stride // out, 1)


def kept(positives: int, head: dict[str, Any]) -> tuple[int, str]:
    """The masks ``_get_targets_single`` keeps of one image's positives, and how."""
    most = config_int(head, "max_masks_to_train", -1)
    if most != -1 and positives > most:
        return most, f"max_masks_to_train = {most} of them, drawn at random"
    topk = config_int(head, "topk_masks_per_img", -1)
    if topk != -1:  # _get_targets_single's elif: also where max_masks_to_train is set but not exceeded
        return positives, f"at most topk_masks_per_img = {topk} split among the boxes (the model keeps them all)"
    return positives, "all of them"


def ellipse_masks(boxes: Tensor, side: int, stride: int) -> Tensor:
    """Each box's instance (the ellipse inscribed in it) on an image of ``side``, sampled as the
    head samples its targets: every ``stride`` pixels from ``stride // 2``, 1 inside."""
    centres = torch.arange(stride // 2, side, stride, dtype=boxes.dtype) + 0.5
    return inside_ellipses(boxes, centres, centres).float()


def mask_inputs(
    loss_name: str,
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_classes: int,
    num_priors: int,
    num_gts: int,
    seed: int,
) -> Inputs | None:
    """CondInstMaskHead's call of ``loss_mask`` on the model's image (``None`` for another loss):
    the box head's positives of ``num_priors`` points (the FCOS model's, same seed), each with its
    mask logits and its instance's mask."""
    if loss_name != "loss_mask":
        return None
    assigned = sample(None, num_priors=num_priors, num_classes=num_classes, roi_head=False, seed=seed)
    positives = int(assigned.pos_mask.sum())
    masks, how = kept(positives, head)
    side = image_side(num_priors, strides(model))
    size = mask_side(side, head)
    out = config_int(head, "mask_out_stride", OUT_STRIDE, least=1)
    g = torch.Generator().manual_seed(seed + 1)
    instances = ellipse_masks(seeded_boxes(num_gts, side, g), side, out)[:, :size, :size]
    of = torch.randint(0, num_gts, (masks,), generator=g)
    logits = torch.randn(masks, size, size, generator=g) * MASK_SPREAD + MASK_MEAN
    targets = instances[of]
    pos_mask = torch.zeros_like(assigned.pos_mask)
    pos_mask[torch.nonzero(assigned.pos_mask).squeeze(1)[:masks]] = True
    text = (
        f"{assigned.description}; CondInstMaskHead keeps {how} ({count(masks, 'mask')}): each positive's "
        f"{size}×{size} mask logits (a {side}×{side} image at mask_out_stride {out}) against its instance's "
        f"mask sampled alike, the module called with reduction_override='none' and the masks' losses summed"
    )
    stats = {"positives": masks, "negatives": 0, "priors": num_priors, "avg_factor": None}
    s = Sampled(
        assigned.labels,
        assigned.label_weights,
        assigned.bbox_weights,
        assigned.ious,
        pos_mask,
        float(masks),
        text,
        stats,
        "none",
    )
    return Inputs([logits, targets], {"reduction_override": "none"}, s)
