"""SCNet's global context head (``GlobalContextHead`` under ``SCNetRoIHead``) as MMDetection 3.3.0
computes ``loss_glbctx``.

``SCNetRoIHead.global_context_loss`` runs the head on the neck's coarsest map: its convolutions,
an average pool over the whole map and a linear layer give one logit per class for each image.
``GlobalContextHead.loss`` makes each image's target the classes of its ground-truth boxes (1 at
each distinct label, else 0) and returns ``loss_weight × nn.BCEWithLogitsLoss()(pred, targets)``:
a binary cross-entropy averaged over every image and class, with no weight and no avg_factor,
then multiplied by the head's ``loss_weight`` (1.0 unless set; SCNet's configs give 3.0). The
config writes no loss dict for it; the loss module that computes the same is a sigmoid
``CrossEntropyLoss`` of ``loss_weight=1.0`` (:data:`losstune.locate.IN_HEAD_LOSSES`). An untrained
head's logits sit near 0: its ``fc`` is initialised N(0, 0.01) with a bias of 0."""

from __future__ import annotations

from typing import Any

import torch

from losstune.engine.confignum import config_float, config_int
from losstune.engine.heads_semantic import one_image
from losstune.engine.inputs import Inputs
from losstune.engine.sampling import NUM_GTS
from losstune.words import count

GLBCTX_HEAD = "GlobalContextHead"
LOGIT_SPREAD = 0.1


def head_weight(head: dict[str, Any]) -> tuple[float, str]:
    """What ``GlobalContextHead.loss`` multiplies its criterion's mean by: the head's
    ``loss_weight`` (1.0 unless set), and its text."""
    weight = config_float(head, "loss_weight", 1.0)
    return weight, f"× loss_weight = {weight:g} (the head's), as {GLBCTX_HEAD}.loss multiplies the criterion's mean"


def glbctx_inputs(loss_name: str, *, head: dict[str, Any], seed: int) -> Inputs | None:
    """GlobalContextHead's call of its criterion on one image of :data:`NUM_GTS` boxes, with the
    head's ``num_classes`` logits (80 unless set); ``None`` for another loss."""
    if loss_name != "loss_glbctx":
        return None
    classes = config_int(head, "num_classes", 80, least=1)
    g = torch.Generator().manual_seed(seed)
    labels = torch.unique(torch.randint(0, classes, (NUM_GTS,), generator=g))
    target = torch.zeros(1, classes)
    target[0, labels] = 1.0
    pred = torch.randn(1, classes, generator=g) * LOGIT_SPREAD
    what = (
        f"no sampler: one image's {classes} class logits ({GLBCTX_HEAD}'s fc on the pooled coarsest map: an "
        f"untrained head's, ± {LOGIT_SPREAD:g}) against 1 at the {count(labels.numel(), 'distinct class', 'distinct classes')} "
        f"of its {NUM_GTS} ground-truth boxes, 0 elsewhere; every image and class is handed to the criterion "
        "(nn.BCEWithLogitsLoss), with no weight"
    )
    stats = {
        "positives": 1,
        "negatives": 0,
        "priors": 1,
        "images": 1,
        "classes_present": labels.numel(),
        "avg_factor": None,
    }
    return Inputs([pred, target], {}, one_image(what, stats))


__all__ = ["GLBCTX_HEAD", "glbctx_inputs", "head_weight"]
