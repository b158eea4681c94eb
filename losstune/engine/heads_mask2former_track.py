"""Mask2Former's video head (``Mask2FormerTrackHead``, of ``Mask2FormerVideo``) as MMDetection 3.3.0
feeds its three losses, on a seeded video.

The head is Mask2FormerHead's on a video of ``num_frames`` frames (2): each query predicts one class
for the video and a mask for each frame, ``(queries, frames, h, w)``. ``preprocess_gt`` gathers each
video's instances by ``instances_ids`` (an instance missing from a frame has an empty mask there);
``_get_targets_single`` matches one query to each instance (HungarianAssigner on ``num_points``
points of the video's masks), and ``_loss_by_feat_single`` calls, for the prediction before the first
decoder layer and after each of its ``transformer_decoder.num_layers`` (logged as Mask2Former's:
``loss_cls``, ``loss_mask``, ``loss_dice`` for the last, ``d{i}.`` for the others),

- ``loss_cls`` on every query of the videos, as Mask2Former's (``avg_factor = class_weight[labels].sum()``,
  the no-object class ``num_classes``);
- ``loss_dice`` on each matched instance's every frame, a row a frame: ``(instances × frames,
  num_points)`` logits at the points ``get_uncertain_point_coords_with_randomness`` takes of that
  frame's mask, ``avg_factor = num_total_masks`` (the videos' ``max(matched, 1)`` summed,
  ``reduce_mean``-ed, at least 1): the instances, not their frames;
- ``loss_mask`` (a sigmoid CrossEntropyLoss) on the same points flattened, ``avg_factor =
  num_total_masks × num_points / num_frames``: the elements handed are ``frames²`` times that
  (``instances × frames × num_points``), so the term is ``num_frames²`` times the elements' mean.

With no instance in the batch the mask terms are ``mask_preds.sum()`` of no mask (0) and no call.
The model's video holds the sample image's 8 instances in each frame (their ellipses at the frame's
own uniform points); the logits those of :mod:`heads_mask2former` (an untrained image Mask2Former's,
which the video head's are taken to be)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from losstune.engine.confignum import config_int
from losstune.engine.heads_mask2former import (
    LOSSES,
    NUM_QUERIES,
    cls_call,
    mask_call,
    point_logits,
    point_options,
    point_targets,
    points_text,
)
from losstune.engine.inputs import Inputs
from losstune.engine.sampling import NUM_GTS, hungarian
from losstune.words import count

TRACK_HEAD = "Mask2FormerTrackHead"
NUM_FRAMES = 2  # Mask2FormerTrackHead's default num_frames, and its configs'
FRAME_ROWS = ("loss_dice", "loss_mask")  # the terms handed a row a frame of each matched instance


def frames(head: dict[str, Any]) -> int:
    """The head's ``num_frames`` (2 unless set)."""
    return config_int(head, "num_frames", NUM_FRAMES, least=1)


def classes(head: dict[str, Any]) -> int:
    """The head's ``num_classes`` (its classes; the no-object class is the next): 80 unless set."""
    return config_int(head, "num_classes", 80, least=1)


def avg_times(model: dict[str, Any], head: dict[str, Any]) -> tuple[float, str]:
    """What ``loss_mask``'s avg_factor is times ``num_total_masks``, and its words."""
    points, t = point_options(model)[0], frames(head)
    return points / t, f"num_points / num_frames = {points} / {t}"


def track_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """Mask2FormerTrackHead's call of ``loss_name`` for one prediction on the model's video of
    ``num_priors`` queries (``num_queries`` unless given): every query to ``loss_cls``, each matched
    instance's frames' points to ``loss_dice`` and ``loss_mask``; ``None`` for another loss."""
    if loss_name not in LOSSES:
        return None
    num_classes = classes(head)
    t = frames(head)
    queries: int = num_priors if num_priors is not None else config_int(head, "num_queries", NUM_QUERIES, least=1)
    matched = hungarian(queries, NUM_GTS, num_classes, seed)
    instances = int(matched.pos_mask.sum())
    text = matched.description.replace(
        f"the {NUM_GTS} boxes", f"the video's {NUM_GTS} instances (each in its {count(t, 'frame', 'frames')})"
    )
    g = torch.Generator().manual_seed(seed + 1)
    if loss_name == "loss_cls":
        return cls_call(matched, text, loss_cfg, num_classes, g)
    points = point_options(model)[0]
    masks = instances * t  # a row a frame of each matched instance
    logits = point_logits(masks, model, g)
    per_frame = [point_targets(instances, False, points, g) for _ in range(t)]
    targets = torch.stack(per_frame, 1).flatten(0, 1) if instances else torch.zeros(0, points)
    text += (
        f"; each of the {count(instances, 'matched query', 'matched queries')}' {t} frames a row, "
        f"{count(masks, 'mask')}' logits at {points_text(model)} against the frame's mask there"
    )
    s = replace(matched, description=text, stats={**matched.stats, "masks": masks, "points": points})
    # num_total_masks: the instances, not their frames
    return mask_call(loss_name, (logits, targets), (logits.reshape(-1), targets.reshape(-1)), s, masks=instances)
