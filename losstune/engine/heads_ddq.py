"""DDQ-DETR's head (``DDQDETRHead``, a DINOHead) as MMDetection 3.3.0 feeds the losses of its dense
queries; its distinct queries' terms (``loss_cls``, ``d{i}.``, ``enc_``, ``dn_``) are DINO's and
modelled as the DETR family's.

``DDQDETR.pre_decoder`` keeps, besides the ``num_queries`` distinct queries, the
``int(num_queries × dense_topk_ratio)`` best-scoring encoder points of each image as dense queries,
which go through the decoder too. ``DDQDETRHead`` builds a ``DDQAuxLoss`` of its own (the config
has no dict for it): a ``QualityFocalLoss`` (``activated=True``: the head hands it
probabilities, ``beta=2``) and a ``GIoULoss`` (``loss_weight=2``), its ``TopkHungarianAssigner``
matching ``min(aux_num_pos, queries // boxes)`` dense queries to each box (4 unless set).
``DDQAuxLoss.loss`` calls them once an image, with ``avg_factor=1.0``: ``aux_loss_cls`` on every
dense query against (labels, the positives' normalised alignment metrics), ``aux_loss_bbox`` on
the positives' boxes in pixels, weighted by those metrics; and divides each image's term by the
images' Σ of the metrics, at least 1 (``reduce_mean(...).clamp_(min=1)``). The log has them for the
dense queries of each decoder layer (``{l}_aux_aux_loss_cls``, ``l`` from 0) and of the encoder
(``aux_enc_aux_loss_cls``), each a list of the images' terms, summed as the log sums it."""

from __future__ import annotations

from typing import Any

import torch

from losstune.engine.confignum import config_float, config_int
from losstune.engine.sampling import Sampled, _fixed_positives

AUX_LOSSES = ("aux_loss_cls", "aux_loss_bbox")  # DDQAuxLoss's loss dict, as DDQDETRHead prefixes it
AUX_NUM_POS = 4  # DDQDETRHead's aux_num_pos
DENSE_TOPK_RATIO = 1.5  # DDQDETR's dense_topk_ratio


def aux_log_names(layers: int, name: str) -> list[str]:
    """The terms of DDQAuxLoss's ``name`` in the log: one per decoder layer, then the encoder's."""
    return [f"{layer}_aux_{name}" for layer in range(layers)] + [f"aux_enc_{name}"]


def dense_queries(model: dict[str, Any], num_queries: int) -> int:
    """``int(num_queries × dense_topk_ratio)``: the dense queries of an image."""
    ratio = config_float(model, "dense_topk_ratio", DENSE_TOPK_RATIO)
    return max(int(num_queries * ratio), 1)


def aux_assignment(
    model: dict[str, Any], head: dict[str, Any], *, num_queries: int, num_gts: int, num_classes: int, seed: int
) -> Sampled:
    """TopkHungarianAssigner's match of ``num_queries`` dense queries: ``min(aux_num_pos,
    queries // boxes)`` of them to each box, every other one a negative."""
    topk = min(config_int(head, "aux_num_pos", AUX_NUM_POS, least=1), num_queries // max(num_gts, 1))
    positives = topk * num_gts
    what = (
        f"DDQAuxLoss's TopkHungarianAssigner: {num_queries} dense queries, min(aux_num_pos, queries // boxes) = "
        f"{topk} matched to each of the {num_gts} boxes ({positives} positives, {num_queries - positives} negatives)"
    )
    g = torch.Generator().manual_seed(seed)
    return _fixed_positives(num_queries, positives, num_classes, g, what, "1.0")
