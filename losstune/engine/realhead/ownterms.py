"""The terms of a head that calls no loss module for them (SSDHead, PISASSDHead; FreeAnchorRetinaHead's bags), read from the calls of the
method that computes them (``loss_by_feat_single``, one per image, recorded with its arguments):
what the head handed its own code (rows, width, positives and negatives, the avg_factor), and the
head model's computation of each term on exactly those arguments (the hard negatives mined by
:func:`~losstune.engine.heads_ssd.mined_weights`, the loss evaluated by losstune's engine), to
hold against the term MMDetection's head returned on the same batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from losstune.engine.evaluation import evaluate
from losstune.engine.headmodel import Counts
from losstune.engine.heads_autoassign import AutoParams, AutoTerms, auto_terms
from losstune.engine.heads_autoassign import box_loss_of as auto_box_loss
from losstune.engine.heads_freeanchor import BagParams, BagTerms, bag_terms, box_loss_of
from losstune.engine.heads_ssd import mined_weights

if TYPE_CHECKING:
    from losstune.engine.realhead.record import Call

# each term: the argument of loss_by_feat_single that is its prediction
PREDICTION = {"loss_cls": "cls_score", "loss_bbox": "bbox_pred"}


@dataclass(frozen=True)
class OwnFeed:
    """One term as the head's own code was handed it over the images: rows, the prediction's width,
    the avg_factor, the counts, and the model's term computed on those arguments (``replayed``)."""

    rows: int
    width: tuple[int, ...]
    avg: float
    counts: Counts
    replayed: float


def ssd_feeds(
    calls: list[Call], num_classes: int, ratio: int, loss_cfgs: dict[str, dict[str, Any]]
) -> dict[str, OwnFeed]:
    """SSDHead's ``loss_cls`` and ``loss_bbox`` from its ``loss_by_feat_single`` calls (one per
    image), each replayed with the config ``loss_cfgs`` gives its term (the loss module that
    computes the same, see :data:`losstune.locate.IN_HEAD_LOSSES`), summed over the images as the
    training log sums the head's per-image list."""
    out: dict[str, OwnFeed] = {}
    for name, pred_key in PREDICTION.items():
        if name not in loss_cfgs or not calls:
            continue
        positives, negatives, rows, total = [], [], 0, 0.0
        avg = 0.0
        for call in calls:
            a = call.kwargs
            labels, label_weights = a["labels"], a["label_weights"]
            positives.append(int(((labels >= 0) & (labels < num_classes)).sum()))
            negatives.append(int(((labels == num_classes) & (label_weights > 0)).sum()))
            rows += int(a[pred_key].shape[0])
            avg = float(a["avg_factor"])
            if name == "loss_cls":
                weights = mined_weights(a["cls_score"], labels, label_weights, num_classes, ratio)
                args = [a["cls_score"], labels, weights]
            else:
                args = [a["bbox_pred"], a["bbox_targets"], a["bbox_weights"]]
            total += float(evaluate(loss_cfgs[name], *args, avg_factor=avg).loss)
        width = tuple(int(d) for d in calls[0].kwargs[pred_key].shape[1:])
        out[name] = OwnFeed(rows, width, avg, Counts(tuple(positives), tuple(negatives), rows), total)
    return out


def _flat(maps: list[Any], width: int) -> Any:
    """A head's per-level ``(images, width, H, W)`` maps as ``(images, priors, width)``, the levels
    in order, as its ``loss_by_feat`` lays them out."""
    import torch

    return torch.cat([m.permute(0, 2, 3, 1).reshape(m.shape[0], -1, width) for m in maps], 1)


@dataclass(frozen=True)
class BagFeed:
    """FreeAnchorRetinaHead's batch as its ``loss_by_feat`` was handed it: the anchors of an image,
    the class probabilities of each, its ``pre_anchor_topk``, the ground-truth boxes per image, and
    the model's terms computed on exactly those arguments (``replayed``)."""

    rows: int
    width: int
    topk: int
    boxes: tuple[int, ...]
    replayed: BagTerms


def free_anchor_feed(call: Call, head: Any, loss_bbox: dict[str, Any], params: BagParams) -> BagFeed:
    """The model's FreeAnchor terms on the arguments of the head's recorded ``loss_by_feat`` call
    (its anchors from the head's own prior generator, ``loss_bbox`` evaluated by losstune's engine
    with ``reduction_override='none'``, ``params`` read from the config)."""
    import torch

    a = call.kwargs
    cls_scores, bbox_preds, gts, metas = a["cls_scores"], a["bbox_preds"], a["batch_gt_instances"], a["batch_img_metas"]
    anchor_list, _ = head.get_anchors([c.shape[-2:] for c in cls_scores], metas, device="cpu")
    anchors = [torch.cat(levels) for levels in anchor_list]
    width = int(head.cls_out_channels)
    logits, deltas = _flat(cls_scores, width), _flat(bbox_preds, 4)
    with torch.no_grad():
        terms = bag_terms(
            logits, deltas, anchors, [g.bboxes for g in gts], [g.labels for g in gts], box_loss_of(loss_bbox), params
        )
    boxes = tuple(int(g.bboxes.shape[0]) for g in gts)
    return BagFeed(int(logits.shape[1]), width, int(head.pre_anchor_topk), boxes, terms)


def auto_assign_feed(call: Call, head: Any, loss_bbox: dict[str, Any], params: AutoParams) -> AutoTerms:
    """The model's AutoAssign terms on the arguments of the head's recorded ``loss_by_feat`` call
    (its points and their strides from the head's own prior generator, ``loss_bbox`` evaluated by
    losstune's engine with ``reduction_override='none'``, ``params`` read from the config)."""
    import torch

    a = call.kwargs
    cls_scores, gts = a["cls_scores"], a["batch_gt_instances"]
    levels = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores], dtype=torch.float32, device="cpu")
    strides = torch.cat([torch.full((len(p),), float(s)) for p, s in zip(levels, head.strides, strict=True)])

    with torch.no_grad():
        return auto_terms(
            _flat(cls_scores, int(head.cls_out_channels)),
            _flat(a["objectnesses"], 1),
            _flat(a["bbox_preds"], 4),
            torch.cat(levels),
            strides,
            [g.bboxes for g in gts],
            [g.labels for g in gts],
            auto_box_loss(loss_bbox),
            params,
        )
