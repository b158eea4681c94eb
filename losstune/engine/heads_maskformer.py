"""MaskFormer's head (``MaskFormerHead``) as MMDetection 3.3.0 feeds its three losses, on a seeded
image; what it shares with Mask2Former is :mod:`heads_mask2former`'s.

The head predicts after each of its ``transformer_decoder.num_layers`` decoder layers (6 in
MMDetection's configs; ``return_intermediate``) every query's class logits and mask logits at a
quarter of the image; ``loss_by_feat`` logs the last layer's terms as ``loss_cls``, ``loss_mask``
and ``loss_dice`` and the others' as ``d0.`` to ``d{num_layers - 2}.``. Each layer's queries are
matched to the image's instances (HungarianAssigner on the masks downsampled to the logits;
MaskPseudoSampler), and ``_loss_by_feat_single`` calls

- ``loss_cls`` as Mask2Former's: every query, the unmatched labelled no-object, weights ones,
  ``avg_factor = class_weight[labels].sum()`` (``positives + class_weight[-1] × negatives``);
- ``loss_dice`` on the matched queries' mask logits upsampled (bilinear) to the ground-truth masks'
  ``h × w`` (the padded image), ``(masks, h, w)`` against the masks, ``avg_factor =
  num_total_masks`` (the images' ``max(matched, 1)`` summed, ``reduce_mean``-ed, at least 1);
- ``loss_mask`` (a sigmoid FocalLoss) on those logits flattened to ``(masks × h × w, 1)`` against
  ``1 - mask`` (its target is the background: class 0 of one), ``avg_factor = num_total_masks × h × w``.

Nothing is divided afterwards; with no instance, no mask call and 0. The model's image is the
square of ``num_priors`` pixels (those of the images the comparison runs; else
:data:`IMAGE_SIDE` a side), 8 instances (ellipses in seeded boxes) and with stuff classes one
stuff region (the rest); its mask logits an untrained head's (measured, see :data:`MASK_MEAN`)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from losstune.engine import heads_mask2former
from losstune.engine.confignum import config_int
from losstune.engine.ellipses import inside_ellipses, seeded_boxes
from losstune.engine.heads_mask2former import LOSSES, NUM_QUERIES, stuff_classes
from losstune.engine.inputs import Inputs
from losstune.engine.sampling import NUM_GTS
from losstune.words import count

MASKFORMER_HEAD = "MaskFormerHead"
DECODER_LAYERS = 6  # MMDetection's MaskFormer configs' transformer_decoder.num_layers
IMAGE_SIDE = 512  # the model's image where no size is asked for
# an untrained MaskFormerHead's mask logits upsampled to the image, as measured on freshly built
# heads of its two configs at 128 pixels: over the six layers, mean 0.45 ± 0.66 and -0.33 ±
# 0.78 (Swin-L); a layer's mean moves between -0.74 and 1.17, its spread between 0.42 and 0.86
MASK_MEAN, MASK_SPREAD = 0.0, 0.75


def log_names(head: dict[str, Any], name: str) -> list[str]:
    """The names of one loss's terms: the last decoder layer's, then ``d{i}.`` for the others."""
    return heads_mask2former.log_names(head, name, DECODER_LAYERS, before_first=False)


def maskformer_inputs(
    loss_name: str, loss_cfg: dict[str, Any], head: dict[str, Any], num_priors: int | None, seed: int
) -> Inputs | None:
    """MaskFormerHead's call of ``loss_name`` for one decoder layer on the model's image of
    ``num_priors`` pixels (a square; :data:`IMAGE_SIDE` a side unless given) and the head's
    ``num_queries``: every query to ``loss_cls``, the matched ones' masks at the image to
    ``loss_dice`` and, a row a pixel, to ``loss_mask``; ``None`` for another loss."""
    if loss_name not in LOSSES:
        return None
    queries = config_int(head, "num_queries", NUM_QUERIES, least=1)
    # loss_cls reads no train_cfg (the model dict): the points are Mask2Former's mask terms'
    cls = heads_mask2former.mask2former_inputs("loss_cls", loss_cfg, head, {}, num_priors=queries, seed=seed)
    assert cls is not None and cls.sampled is not None
    if loss_name == "loss_cls":
        return cls
    matched = cls.sampled
    side = max(math.isqrt(num_priors), 2) if num_priors else IMAGE_SIDE
    masks = int(matched.pos_mask.sum())
    g = torch.Generator().manual_seed(seed + 1)
    boxes = seeded_boxes(NUM_GTS, float(side), g)
    centres = torch.arange(side, dtype=boxes.dtype) + 0.5
    inside = inside_ellipses(boxes, centres, centres)
    if stuff_classes(head) > 0:
        inside = torch.cat([inside, ~inside.any(0, keepdim=True)])
    targets = inside[:masks].float()
    logits = torch.randn(masks, side, side, generator=g) * MASK_SPREAD + MASK_MEAN
    pixels = side * side
    text = matched.description.split("; every query")[0] + (
        f"; the {count(masks, 'matched query', 'matched queries')}' mask logits upsampled to the image's "
        f"{side}×{side} pixels against their masks (to loss_mask a row a pixel, against 1 - mask: FocalLoss's "
        "class 0 of one)"
    )
    s = replace(matched, description=text, stats={**matched.stats, "masks": masks, "pixels": pixels})
    flat = (logits.reshape(-1, 1), (1 - targets).reshape(-1).long())
    return heads_mask2former.mask_call(loss_name, (logits, targets), flat, s)
