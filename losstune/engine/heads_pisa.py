"""PISARetinaHead (Prime Sample Attention), as MMDetection 3.3.0 writes it: RetinaHead's
``loss_cls`` and ``loss_bbox``, with ``train_cfg.isr`` reweighting the positives' label weights
and ``train_cfg.carl`` adding ``loss_carl``, the classification-aware regression loss, made from a
second call of ``loss_bbox``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from losstune.engine.confignum import config_float
from losstune.engine.inputs import untrained_logits

CARL_K, CARL_BIAS = 1.0, 0.2  # carl_loss's defaults


def train_option(model: dict[str, Any], key: str) -> dict[str, Any] | None:
    """``model.train_cfg[key]`` where it is a dict (PISA's ``isr`` and ``carl``), else ``None``."""
    train = model.get("train_cfg")
    found = train.get(key) if isinstance(train, dict) else None
    return found if isinstance(found, dict) else None


def carl_weights(positives: int, num_classes: int, carl: dict[str, Any], g: torch.Generator) -> tuple[Tensor, str]:
    """carl_loss's weight of each positive, ``(bias + (1 - bias) × σ(its class logit))^k`` scaled
    to sum to the positives, on an untrained head's class logits; and its text."""
    k, bias = config_float(carl, "k", CARL_K), config_float(carl, "bias", CARL_BIAS)
    scores = untrained_logits(positives, num_classes, generator=g).sigmoid()[:, 0]
    w = (bias + (1 - bias) * scores).pow(k)
    if positives:
        w = w * (positives / w.sum())
    text = (
        f"CARL weights (bias + (1 - bias) × σ(the positive's class logit))^k, k={k:g}, bias={bias:g}, "
        "scaled to sum to the positives"
    )
    return w, text


ISR_NOTE = (
    "train_cfg.isr: PISARetinaHead reweights the positives' label weights by their IoU-HLR rank "
    "(isr_p) and scales them so that the positives' summed loss_cls stays what it was: the term's value "
    "is the one without it; the model keeps the plain weights"
)
