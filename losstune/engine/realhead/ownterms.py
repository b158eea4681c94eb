"""The terms of a head that calls no loss module (SSDHead, PISASSDHead), read from the calls of the
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
    calls: list[Call], num_classes: int, ratio: int | float, loss_cfgs: dict[str, dict[str, Any]]
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
