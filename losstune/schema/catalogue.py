"""The names of MMDetection's registered losses and bbox samplers (2.x and 3.x).

Used to recognise loss and sampler dicts wherever they sit in a config.
"""

from __future__ import annotations

LOSS_TYPES: frozenset[str] = frozenset(
    """CrossEntropyLoss CrossEntropyCustomLoss FocalLoss FocalCustomLoss QualityFocalLoss
    DistributionFocalLoss VarifocalLoss SeesawLoss EQLV2Loss GHMC GHMR GaussianFocalLoss IoULoss
    BoundedIoULoss GIoULoss DIoULoss CIoULoss EIoULoss SIoULoss SmoothL1Loss L1Loss BalancedL1Loss
    MSELoss L2Loss MarginL2Loss KnowledgeDistillationKLDivLoss DiceLoss AssociativeEmbeddingLoss
    MultiPosCrossEntropyLoss TripletLoss""".split()
)

BBOX_SAMPLER_TYPES: frozenset[str] = frozenset(
    """RandomSampler PseudoSampler OHEMSampler InstanceBalancedPosSampler IoUBalancedNegSampler
    CombinedSampler ScoreHLRSampler MaskPseudoSampler MultiInsRandomSampler""".split()
)


def bare_type(type_name: str) -> str:
    """``mmdet.FocalLoss`` -> ``FocalLoss``: the registry scope does not change the class."""
    return type_name.rpartition(".")[2]
