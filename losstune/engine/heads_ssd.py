"""SSDHead (and PISASSDHead, which runs its ``loss_by_feat_single``), as MMDetection 3.3.0 writes
it: no loss module, its two terms computed in the head's own code for each image. ``loss_cls`` is
``F.cross_entropy`` on every prior's ``num_classes + 1`` softmax logits (the last the background)
times the label weights; the positives' losses and the ``neg_pos_ratio × positives`` highest of
the negatives' (hard negative mining, capped at the negatives there are) are summed and divided
by the batch's avg_factor. ``loss_bbox`` is the ``smooth_l1_loss`` function on every prior,
weighted by the box weights, with ``beta=train_cfg.smoothl1_beta`` and the same avg_factor. The
head model computes ``loss_cls`` as CrossEntropyLoss with the mined rows weighted by their label
weights and the others by 0, which is the head's sum divided by the same avg_factor."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_int
from losstune.engine.inputs import InputError
from losstune.schema.catalogue import bare_type

NEG_POS_RATIO_KEY = "neg_pos_ratio"
# the method whose arguments are the inputs of SSDHead's terms for one image
OWN_METHOD = "loss_by_feat_single"
OWN_TERMS = ("loss_cls", "loss_bbox")  # the terms it computes (PISASSDHead's loss_carl is carl_loss's)
SSD_HEADS = ("SSDHead", "PISASSDHead")


class MissingTrainOption(InputError):
    """A ``train_cfg`` key SSDHead reads that the config does not set (MMDetection raises ``KeyError``)."""


def neg_pos_ratio(model: dict[str, Any]) -> int:
    """``model.train_cfg.neg_pos_ratio``, which SSDHead reads as ``self.train_cfg['neg_pos_ratio']`` and
    multiplies the positives by for ``topk``, which takes an int (a bool is the int it equals)."""
    train = model.get("train_cfg")
    ratio = config_int(train, NEG_POS_RATIO_KEY, None, least=0)
    if ratio is None:
        raise MissingTrainOption(
            f"SSDHead reads train_cfg.{NEG_POS_RATIO_KEY} (the negatives kept per positive), which this config "
            "does not set to a whole number (MMDetection fails with KeyError where it is missing, and in topk "
            f"where it is a float): set model.train_cfg.{NEG_POS_RATIO_KEY}, 3 in MMDetection's SSD configs"
        )
    return ratio


def mined(losses: Tensor, labels: Tensor, num_classes: int, ratio: int) -> Tensor:
    """The rows SSDHead.loss_by_feat_single sums of one image's label-weighted cross-entropy
    ``losses``: the positives (labels below ``num_classes``) and, of the rows labelled background,
    the ``ratio × positives`` of highest loss (``topk``, capped at the background rows there are)."""
    positive = (labels >= 0) & (labels < num_classes)
    negatives = torch.nonzero(labels == num_classes).squeeze(1)
    k = min(int(ratio * int(positive.sum())), negatives.numel())
    keep = positive.clone()
    keep[negatives[losses[negatives].topk(k).indices]] = True
    return keep


def mined_weights(score: Tensor, labels: Tensor, label_weights: Tensor, num_classes: int, ratio: int) -> Tensor:
    """One image's label weights with the rows SSDHead does not sum set to 0."""
    losses = torch.nn.functional.cross_entropy(score, labels, reduction="none") * label_weights
    return label_weights * mined(losses, labels, num_classes, ratio)


# An untrained SSDHead (Xavier-initialised convolutions, bias 0) on the batch of headmodel_check
# (ssd300, ssd512, SSD300 v1): class logits spread 0.75 about 0 and box deltas 0.8 to 1.0 (SSDLite's
# 0.001); the positives' encoded targets 1.0 to 1.8 with target_stds (0.1, 0.1, 0.2, 0.2), raw
# deltas of 0.14 for the centres and 0.28 for the sizes
LOGIT_SPREAD = 0.75
DELTA_SPREAD = 1.0
RAW_TARGET_SPREAD = (0.14, 0.14, 0.28, 0.28)


def target_stds(head: dict[str, Any]) -> Tensor:
    """The head's ``bbox_coder.target_stds`` (DeltaXYWHBBoxCoder's default, 1.0 each, where unset)."""
    coder = head.get("bbox_coder")
    stds = coder.get("target_stds") if isinstance(coder, dict) else None
    if isinstance(stds, (list, tuple)) and len(stds) == 4 and all(isinstance(v, (int, float)) for v in stds):
        return torch.tensor([float(v) for v in stds])
    return torch.ones(4)


def ssd_args(
    loss_name: str, args: list[Any], num_classes: int, head: dict[str, Any], model: dict[str, Any], g: torch.Generator
) -> tuple[list[Any], str]:
    """SSDHead's ``loss_cls``: every prior's logits (spread as an untrained head's) and labels, its
    label weights kept on the positives and the hard negatives and 0 elsewhere; ``loss_bbox`` on
    every prior, weighted by the box weights, the deltas spread as an untrained head's and the
    targets as its anchors' encoded with the head's ``target_stds``. Returns the arguments and what
    the head hands, in words."""
    who = bare_type(str(head.get("type", "SSDHead")))
    if loss_name != "loss_cls":
        n = args[0].shape[0]
        pred = torch.randn(n, 4, generator=g) * DELTA_SPREAD
        target = torch.randn(n, 4, generator=g) * torch.tensor(RAW_TARGET_SPREAD) / target_stds(head)
        text = (
            f"; {who} computes it on every prior with mmdet's smooth_l1_loss function, weighted by the "
            "positives' box weights, beta=train_cfg.smoothl1_beta"
        )
        return [pred, target, *args[2:]], text
    score, labels, label_weights = args[:3]
    score = score * LOGIT_SPREAD
    ratio = neg_pos_ratio(model)
    weights = mined_weights(score, labels, label_weights, num_classes, ratio)
    positives = int(((labels >= 0) & (labels < num_classes)).sum())
    negatives = int((labels == num_classes).sum())
    kept = int((weights > 0).sum()) - positives
    text = (
        f"; {who} sums F.cross_entropy over the {num_classes + 1} softmax logits (the last the background) "
        f"of the positives and of the neg_pos_ratio × positives = {ratio:g} × {positives} = {kept} of the "
        f"{negatives} priors labelled background of highest loss (hard negative mining, per image), the others weighted 0"
    )
    return [score, labels, weights], text


# what PISASSDHead's train_cfg.isr does to loss_cls (the model's TRAIN_NOTES)
ISR_NOTE = (
    "train_cfg.isr: PISASSDHead reweights the positives' label weights by their IoU-HLR rank (isr_p) and "
    "scales them so that the positives' summed cross-entropy stays what it was, before the hard negatives "
    "are mined: the term's value is the one without it; the model keeps the plain weights"
)
