"""MMDetection 2.x (2.28.2), where it computes differently from 3.x (3.3.0) for the same inputs.

Everything else, ``weight_reduce_loss`` included, is the same in both. The differences: 2.x's
L1Loss and SmoothL1Loss have no shortcut for all-zero weights; its FocalLoss takes class indices
only and QualityFocalLoss only a ``(label, score)`` tuple; its GaussianFocalLoss has no
``pos_weight``/``neg_weight`` and its forward is ``(pred, target, weight, avg_factor,
reduction_override)``; its IoULoss and GIoULoss compute float16 boxes in float16; EIoULoss and
SIoULoss do not exist."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from losstune.engine import boxes, classification, dense, regression
from losstune.engine.trace import Trace

ONLY_IN_3 = ("EIoULoss", "SIoULoss")


class L1Loss(regression.L1Loss):
    zero_weight_shortcut = False


class SmoothL1Loss(regression.SmoothL1Loss):
    zero_weight_shortcut = False


class FocalLoss(classification.FocalLoss):
    onehot_targets = False


class QualityFocalLoss(classification.QualityFocalLoss):
    tensor_targets = False


class IoULoss(boxes.IoULoss):
    fp16_in_fp32 = False


class GIoULoss(boxes.GIoULoss):
    fp16_in_fp32 = False


class GaussianFocalLoss(dense.GaussianFocalLoss):
    def __init__(
        self, alpha: float = 2.0, gamma: float = 4.0, reduction: str = "mean", loss_weight: float = 1.0
    ) -> None:
        super().__init__(alpha, gamma, reduction, loss_weight)

    def forward(  # type: ignore[override]  # 2.x's signature: no pos_inds, pos_labels
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
    ) -> Tensor:
        return super().forward(trace, pred, target, None, None, weight, avg_factor, reduction_override)


LOSSES_2: dict[str, type[Any]] = {
    "L1Loss": L1Loss,
    "SmoothL1Loss": SmoothL1Loss,
    "FocalLoss": FocalLoss,
    "QualityFocalLoss": QualityFocalLoss,
    "IoULoss": IoULoss,
    "GIoULoss": GIoULoss,
    "GaussianFocalLoss": GaussianFocalLoss,
}
