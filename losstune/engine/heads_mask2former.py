"""Mask2Former's head (``Mask2FormerHead``) as MMDetection 3.3.0 feeds its three losses, on a
seeded image.

The head predicts, before its first decoder layer and after each of its
``transformer_decoder.num_layers`` (9), every query's class logits (the classes and the no-object
class) and mask logits; ``MaskFormerHead.loss_by_feat`` logs the last prediction's terms as
``loss_cls``, ``loss_mask`` and ``loss_dice`` and the others' as ``d{i}.``. For each prediction,
``_get_targets_single`` matches one query to each instance (HungarianAssigner: ClassificationCost,
CrossEntropyLossCost and DiceCost on ``num_points`` points drawn uniformly; with stuff classes, the
things' masks and one mask per stuff class of the image's semantic map), and MaskPseudoSampler
makes each image's ``avg_factor`` ``max(matched, 1)``. ``_loss_by_feat_single`` then calls

- ``loss_cls`` on every query of the images, labels the no-object class where unmatched, weights
  ones, ``avg_factor = class_weight[labels].sum()`` (``positives + class_weight[-1] × negatives``
  with MMDetection's class weights of 1 for every class), not reduced or clamped;
- ``loss_dice`` on the matched queries' mask logits at ``num_points`` points against their masks
  at the same points, ``avg_factor = num_total_masks`` (the images' ``max(matched, 1)`` summed,
  ``reduce_mean``-ed, at least 1);
- ``loss_mask`` (a sigmoid CrossEntropyLoss) on the same points flattened, ``avg_factor =
  num_total_masks × num_points``.

The points are ``get_uncertain_point_coords_with_randomness``'s: ``importance_sample_ratio`` of
them the most uncertain (``-|logit|``) of ``oversample_ratio × num_points`` uniform ones, the rest
uniform. With no instance in the batch the mask terms are ``mask_preds.sum()`` of no mask (0) and
no call. The model's image holds 8 instances (ellipses inscribed in seeded boxes) and, with stuff
classes, one stuff region (the rest of the image); its class logits and mask logits an untrained
head's (as measured on freshly built Mask2Former heads), the uncertain points taken from
independent draws of the logits as the head takes them from its map, the targets the instances at
uniform points (an untrained head's uncertainty does not follow them)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_float, config_int
from losstune.engine.ellipses import seeded_boxes
from losstune.engine.inputs import Inputs
from losstune.engine.sampling import NUM_GTS, Sampled, hungarian
from losstune.words import count

LOSSES = ("loss_cls", "loss_mask", "loss_dice")
THINGS, STUFF = 80, 53  # MaskFormerHead's default num_things_classes and num_stuff_classes
DECODER_LAYERS = 9  # MMDetection's Mask2Former configs' transformer_decoder.num_layers
NUM_QUERIES = 100
NUM_POINTS, OVERSAMPLE, IMPORTANCE = 12544, 3.0, 0.75  # Mask2FormerHead's train_cfg defaults
# an untrained Mask2FormerHead's logits, as measured on freshly built heads of its configs (R-50,
# Swin-T): its class logits 0 ± 0.56; its mask logits at the points it samples -0.45 ± 0.45 over the
# decoder layers, which the map's draws below give through the head's choice of uncertain points
CLS_SPREAD = 0.56
MASK_MEAN, MASK_SPREAD = -1.0, 0.6
TOTAL_MASKS = "num_total_masks: each image's max(masks, 1), summed"


def classes(head: dict[str, Any]) -> int:
    """The head's classes: ``num_things_classes + num_stuff_classes`` (80 + 53 unless set)."""
    return config_int(head, "num_things_classes", THINGS, least=0) + stuff_classes(head)


def stuff_classes(head: dict[str, Any]) -> int:
    """The head's ``num_stuff_classes`` (53 unless set)."""
    return config_int(head, "num_stuff_classes", STUFF, least=0)


def log_names(head: dict[str, Any], name: str, layers: int = DECODER_LAYERS, before_first: bool = True) -> list[str]:
    """The names of one loss's terms: the last prediction's, then ``d{i}.`` for the others: the
    prediction before the first decoder layer (``before_first``: Mask2Former's) and after each but
    the last of ``transformer_decoder.num_layers`` (``layers`` unless set)."""
    decoder = head.get("transformer_decoder")
    layers = config_int(decoder if isinstance(decoder, dict) else {}, "num_layers", layers, least=1)
    return [name] + [f"d{i}.{name}" for i in range(layers if before_first else layers - 1)]


def point_options(model: dict[str, Any]) -> tuple[int, float, float]:
    """``train_cfg``'s ``num_points``, ``oversample_ratio`` and ``importance_sample_ratio``, the
    head's defaults where unset."""
    train = model.get("train_cfg")
    train = train if isinstance(train, dict) else {}
    return (
        config_int(train, "num_points", NUM_POINTS, least=1),
        config_float(train, "oversample_ratio", OVERSAMPLE, least=1.0),
        config_float(train, "importance_sample_ratio", IMPORTANCE, least=0.0),
    )


def avg_times(model: dict[str, Any]) -> tuple[float, str]:
    """What ``loss_mask``'s avg_factor is times ``num_total_masks``, and its words."""
    points = point_options(model)[0]
    return float(points), f"num_points = {points}"


def point_logits(masks: int, model: dict[str, Any], g: torch.Generator) -> Tensor:
    """``(masks, num_points)`` logits as the head samples them: the most uncertain
    ``importance_sample_ratio`` of ``oversample_ratio × num_points`` draws, then fresh draws."""
    points, oversample, importance = point_options(model)
    uncertain = int(importance * points)
    pool = torch.randn(masks, int(points * oversample), generator=g) * MASK_SPREAD + MASK_MEAN
    taken = pool.gather(1, (-pool.abs()).topk(min(uncertain, pool.shape[1]), dim=1)[1])
    rest = torch.randn(masks, points - taken.shape[1], generator=g) * MASK_SPREAD + MASK_MEAN
    return torch.cat([taken, rest], 1)


def point_targets(masks: int, stuff: bool, points: int, g: torch.Generator) -> Tensor:
    """``(masks, points)``: each matched instance's mask at uniform points of the image (the
    things' ellipses, then with ``stuff`` the stuff region: the points in no ellipse)."""
    boxes = seeded_boxes(NUM_GTS, 1.0, g)
    xy = torch.rand(points, 2, generator=g)
    centre, radius = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]) / 2
    inside = (((xy[None] - centre[:, None]) / radius[:, None]) ** 2).sum(-1) <= 1
    if stuff:
        inside = torch.cat([inside, ~inside.any(0, keepdim=True)])
    return inside[:masks].float()


def mask2former_inputs(
    loss_name: str,
    loss_cfg: dict[str, Any],
    head: dict[str, Any],
    model: dict[str, Any],
    *,
    num_priors: int | None,
    seed: int,
) -> Inputs | None:
    """Mask2FormerHead's call of ``loss_name`` for one prediction on the model's image of
    ``num_priors`` queries (``num_queries`` unless given): every query to ``loss_cls``, the matched
    ones' points to ``loss_mask`` and ``loss_dice``; ``None`` for another loss."""
    if loss_name not in LOSSES:
        return None
    num_classes = classes(head)
    stuff = stuff_classes(head) > 0
    queries: int = num_priors if num_priors is not None else config_int(head, "num_queries", NUM_QUERIES, least=1)
    instances = NUM_GTS + (1 if stuff else 0)
    matched = hungarian(queries, instances, num_classes, seed)
    masks = int(matched.pos_mask.sum())
    things = f"{NUM_GTS} things and 1 stuff region" if stuff else f"{NUM_GTS} instances"
    text = matched.description.replace(f"the {instances} boxes", f"the {instances} masks ({things})")
    g = torch.Generator().manual_seed(seed + 1)
    if loss_name == "loss_cls":
        return cls_call(matched, text, loss_cfg, num_classes, g)
    points = point_options(model)[0]
    logits = point_logits(masks, model, g)
    targets = point_targets(masks, stuff, points, g)
    text += (
        f"; the {count(masks, 'matched query', 'matched queries')}' mask logits at {points_text(model)} "
        f"against their masks at the same points"
    )
    s = replace(matched, description=text, stats={**matched.stats, "masks": masks, "points": points})
    return mask_call(loss_name, (logits, targets), (logits.reshape(-1), targets.reshape(-1)), s)


def cls_call(matched: Sampled, text: str, loss_cfg: dict[str, Any], num_classes: int, g: torch.Generator) -> Inputs:
    """``loss_cls``'s call on every query of the assignment ``matched`` (``text``: its words), the
    unmatched labelled no-object (``num_classes``), by ``class_weight[labels].sum()``."""
    queries = matched.labels.numel()
    weights = loss_cfg.get("class_weight")
    weight = torch.tensor(weights if isinstance(weights, list) else [1.0] * (num_classes + 1))
    logits = torch.randn(queries, num_classes + 1, generator=g) * CLS_SPREAD
    s = replace(
        matched, description=f"{text}; every query to loss_cls, the unmatched labelled no-object ({num_classes})"
    )
    avg = float(weight[matched.labels].sum()) if weight.numel() == num_classes + 1 else float(queries)
    return Inputs(
        [logits, matched.labels, matched.label_weights], {"avg_factor": avg}, s, avg_rule="class_weight[labels].sum()"
    )


def points_text(model: dict[str, Any]) -> str:
    """How the head takes its ``num_points`` points of a mask, in words."""
    points, oversample, importance = point_options(model)
    return (
        f"num_points = {points} points ({int(importance * points)} the most uncertain of "
        f"{int(points * oversample)} uniform ones, the rest uniform)"
    )


def mask_call(
    loss_name: str, dice: tuple[Tensor, Tensor], mask: tuple[Tensor, Tensor], s: Sampled, masks: int | None = None
) -> Inputs:
    """``loss_dice``'s or ``loss_mask``'s call on the matched masks (``dice`` and ``mask``: each
    one's prediction and target), by ``num_total_masks``: the assignment's masks (``masks``, else
    its stats'), at least 1 (the head multiplies it by what its rule's ``times`` says for
    ``loss_mask``)."""
    total = float(max(int(s.stats["masks"]) if masks is None else masks, 1))
    args = dice if loss_name == "loss_dice" else mask
    return Inputs(list(args), {"avg_factor": total}, s, avg_rule=TOTAL_MASKS)
