"""MaskTrack R-CNN (``MaskTrackRCNN``) as MMDetection 3.3.0 feeds its losses, on a seeded key frame.

``MaskTrackRCNN.loss`` runs its ``detector`` (a Mask R-CNN) on each video's key frame and adds
``track_head.loss`` (``RoITrackHead``): the track head assigns and samples the key frame's RPN
proposals itself (its own ``train_cfg``: MaxIoUAssigner, RandomSampler of 128 RoIs with the
ground-truth boxes added), extracts their RoI features and the reference frame's ground-truth
boxes', and ``RoIEmbedHead.loss_by_feat`` calls ``loss_match`` (the class's default, a softmax
``CrossEntropyLoss`` of ``loss_weight=1.0``: the config writes none) once per video on

- every sampled RoI's similarity logits: a 0 column (``dummy``: no match) before the dot products of
  its embedding with each reference box's, ``(RoIs, 1 + reference boxes)``;
- targets: for a positive RoI, 1 + the index in the reference frame of its ground-truth instance
  (by ``instances_ids``), 0 where the instance is not there; 0 for the negatives;
- weights 1 at the positives, 0 at the negatives;
- ``avg_factor = max(positives whose instance is in the reference frame, 1)``;

then divides the videos' summed terms by the videos. ``match_accuracy`` (the matched share of the
positives) is logged beside it, a metric of no loss module.

Two more things of MMDetection's code that the model follows. ``MaskTrackRCNN.loss`` hands the RPN
the key frames' samples as they are: unlike ``TwoStageDetector.loss`` it does not set their labels to
0 (its comment says it does), so the RPN's anchors take their boxes' classes, and with the RPN's one
sigmoid class a positive of a class above 0 is a background target to ``loss_rpn_cls`` (its box
still counts to ``loss_rpn_bbox`` and to the sampling's ``avg_factor``). And the model's key frame
holds the sample image's 8 boxes; its reference frame the same instances but the last (a positive of
that instance is matched to nothing), each positive's instance drawn uniformly; the similarity logits
an untrained head's (as measured on a freshly built MaskTrack R-CNN, R-50, at 128 pixels: 2.2 ± 0.26)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_int
from losstune.engine.inputs import Inputs
from losstune.engine.sampling import NUM_GTS, Sampled, sample
from losstune.schema.catalogue import bare_type

MASKTRACK = "MaskTrackRCNN"
EMBED_HEAD = "RoIEmbedHead"
LOSS_MATCH = "loss_match"
ROI_PRIORS = 2000  # the proposals of a key frame the track head samples, about (an RPN's)
# an untrained RoIEmbedHead's dot products of two RoIs' embeddings, as measured (see the module's text)
SIMILARITY_MEAN, SIMILARITY_SPREAD = 2.2, 0.26
MATCHED = "max(positives whose instance is in the reference frame, 1)"


def is_masktrack(model: dict[str, Any]) -> bool:
    """Whether ``model`` is a MaskTrack R-CNN."""
    return bare_type(str(model.get("type", ""))) == MASKTRACK


def detector_classes(model: dict[str, Any]) -> int:
    """The classes of a MaskTrack R-CNN's detector (its RoI head's ``bbox_head.num_classes``, 80
    unless set): the labels the RPN is handed."""
    detector = model.get("detector")
    roi = detector.get("roi_head") if isinstance(detector, dict) else None
    head = roi.get("bbox_head") if isinstance(roi, dict) else None
    return config_int(head if isinstance(head, dict) else {}, "num_classes", 80, least=1)


def class_labelled_rpn(model: dict[str, Any]) -> int | None:
    """The classes of the labels the model's RPN is handed, where they are its detector's classes
    rather than 0 (MaskTrack R-CNN's, see the module's text), else ``None``."""
    return detector_classes(model) if is_masktrack(model) else None


def rpn_labels(
    loss_name: str, args: list[Any], s: Sampled, g: torch.Generator, model: dict[str, Any]
) -> tuple[list[Any], str]:
    """The RPN's ``loss_cls`` arguments of a MaskTrack R-CNN: each positive anchor labelled with its
    box's class (seeded, uniform over the detector's classes), so that those above 0 are background
    targets to the RPN's one sigmoid class; its other losses as made."""
    classes = class_labelled_rpn(model)
    if classes is None or loss_name != "loss_cls" or len(args) < 2 or args[1].shape != s.labels.shape:
        return args, ""
    labels = args[1].clone()
    pos = torch.nonzero(s.pos_mask).squeeze(1)
    labels[pos] = torch.randint(0, classes, (pos.numel(),), generator=g)
    kept = int((labels[pos] == 0).sum())
    how = (
        f"; MaskTrackRCNN.loss hands the RPN the boxes' classes (it does not set them to 0), so {kept} of the "
        f"{pos.numel()} positives (class 0 of {classes}) are foreground targets to the one sigmoid class, the rest "
        "background"
    )
    return [args[0], labels, *args[2:]], how


def track_sampler(model: dict[str, Any]) -> dict[str, Any] | None:
    """``track_head.train_cfg.sampler``: the sampler the track head samples its RoIs with."""
    head = model.get("track_head")
    train = head.get("train_cfg") if isinstance(head, dict) else None
    sampler = train.get("sampler") if isinstance(train, dict) else None
    return dict(sampler) if isinstance(sampler, dict) else None


def match_columns() -> int:
    """The columns of the model's similarity logits: no match, then each of its reference frame's
    boxes (the sample image's but the last)."""
    return NUM_GTS


def match_inputs(loss_name: str, model: dict[str, Any], *, num_priors: int | None, seed: int) -> Inputs | None:
    """RoIEmbedHead's call of ``loss_match`` on one key frame of ``num_priors`` proposals (about an
    RPN's unless given): the track head's sampled RoIs' similarity logits, each positive's target its
    instance's place in the reference frame (see the module's text); ``None`` for another loss."""
    if loss_name != LOSS_MATCH:
        return None
    sampler = track_sampler(model)
    priors = num_priors or ROI_PRIORS
    sampled = sample(sampler, num_priors=priors, num_classes=1, roi_head=True, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    references = match_columns() - 1  # the key frame's instances but the last
    rows = sampled.labels.numel()
    positive = sampled.pos_mask
    instance = torch.randint(0, NUM_GTS, (rows,), generator=g)
    targets = torch.where(positive & (instance < references), instance + 1, torch.zeros_like(instance))
    logits = torch.randn(rows, references, generator=g) * SIMILARITY_SPREAD + SIMILARITY_MEAN
    logits = torch.cat([torch.zeros(rows, 1), logits], dim=1)
    weights = positive.float()
    matched = targets > 0
    stats = {
        **sampled.stats,
        "positives": int(matched.sum()),
        "negatives": int((positive & ~matched).sum()),
        "references": references,
    }
    text = (
        f"{sampled.description}; the track head's {rows} sampled RoIs of the key frame ({NUM_GTS} instances), "
        f"each a 0 column (no match) and its similarity to the reference frame's {references} boxes (the same "
        f"instances but the last): {int(matched.sum())} of the {int(positive.sum())} positives matched, "
        "weights 1 at the positives"
    )
    s = replace(
        sampled,
        labels=torch.where(matched, 0, 1),
        label_weights=weights,
        pos_mask=matched,
        description=text,
        stats=stats,
        avg_rule=MATCHED,
    )
    avg = float(max(int(matched.sum()), 1))
    return Inputs([logits, targets, weights], {"avg_factor": avg}, s, avg_rule=MATCHED)


def match_logits(target: Tensor) -> Tensor:
    """A ``loss_match`` call's targets as labels of one class: 0 where the RoI is matched to a
    reference box (target > 0), 1 elsewhere (the comparison counts the matched as its positives)."""
    return torch.where(target > 0, 0, 1)
