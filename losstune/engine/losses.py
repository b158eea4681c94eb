"""The losses the engine evaluates, by ``type``. Each class takes MMDetection 3.3's constructor
arguments and its ``forward`` arguments (after the trace), and records the steps it computes."""

from __future__ import annotations

from typing import Any

from losstune.engine.boxes import BoundedIoULoss, CIoULoss, DIoULoss, EIoULoss, GIoULoss, IoULoss, SIoULoss
from losstune.engine.classification import (
    GHMC,
    CrossEntropyLoss,
    DistributionFocalLoss,
    FocalLoss,
    KnowledgeDistillationKLDivLoss,
    QualityFocalLoss,
    SeesawLoss,
    VarifocalLoss,
)
from losstune.engine.dense import DiceLoss, GaussianFocalLoss
from losstune.engine.embedding import AssociativeEmbeddingLoss
from losstune.engine.regression import GHMR, BalancedL1Loss, L1Loss, MSELoss, SmoothL1Loss

LOSSES: dict[str, type[Any]] = {
    "L1Loss": L1Loss,
    "SmoothL1Loss": SmoothL1Loss,
    "MSELoss": MSELoss,
    "CrossEntropyLoss": CrossEntropyLoss,
    "FocalLoss": FocalLoss,
    "GIoULoss": GIoULoss,
    "IoULoss": IoULoss,
    "BalancedL1Loss": BalancedL1Loss,
    "QualityFocalLoss": QualityFocalLoss,
    "VarifocalLoss": VarifocalLoss,
    "DistributionFocalLoss": DistributionFocalLoss,
    "KnowledgeDistillationKLDivLoss": KnowledgeDistillationKLDivLoss,
    "DIoULoss": DIoULoss,
    "CIoULoss": CIoULoss,
    "BoundedIoULoss": BoundedIoULoss,
    "GaussianFocalLoss": GaussianFocalLoss,
    "DiceLoss": DiceLoss,
    "GHMC": GHMC,
    "GHMR": GHMR,
    "SeesawLoss": SeesawLoss,
    "EIoULoss": EIoULoss,
    "SIoULoss": SIoULoss,
    "AssociativeEmbeddingLoss": AssociativeEmbeddingLoss,
}
