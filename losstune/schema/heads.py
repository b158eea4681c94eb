"""What MMDetection's heads do with their losses, for the rules that depend on the head.

Only heads whose code is known are listed: a rule about a head stays silent for heads not here,
so an unusual head never produces a false alarm.
"""

from __future__ import annotations

# Heads that call loss_cls / loss_bbox with avg_factor (MMDetection 2.x and 3.x), so that any
# reduction but 'mean' and 'none' raises "avg_factor can not be used with reduction='sum'".
# YOLOV3Head and YOLOXHead are absent on purpose: they reduce with 'sum' and normalise themselves.
AVG_FACTOR_HEADS: frozenset[str] = frozenset(
    """AnchorHead RetinaHead RetinaSepBNHead RPNHead GARetinaHead GARPNHead ATSSHead FCOSHead
    NASFCOSHead GFLHead LDHead PAAHead VFNetHead TOODHead DDODHead FoveaHead FSAFHead YOLOFHead
    CenterNetUpdateHead RTMDetHead RTMDetSepBNHead DETRHead DeformableDETRHead DINOHead
    ConditionalDETRHead DABDETRHead BBoxHead ConvFCBBoxHead Shared2FCBBoxHead Shared4Conv1FCBBoxHead
    DoubleConvFCBBoxHead""".split()
)
AVG_FACTOR_LOSS_KEYS: frozenset[str] = frozenset(("loss_cls", "loss_bbox"))

# Heads that regress encoded deltas unless reg_decoded_bbox=True: an IoU-family loss there compares
# deltas as if they were boxes. (ATSS, FCOS, GFL and others decode before the loss themselves.)
DELTA_REGRESSION_HEADS: frozenset[str] = frozenset(
    """AnchorHead RetinaHead RetinaSepBNHead RPNHead BBoxHead ConvFCBBoxHead Shared2FCBBoxHead
    Shared4Conv1FCBBoxHead DoubleConvFCBBoxHead""".split()
)

IOU_LOSSES: frozenset[str] = frozenset("IoULoss BoundedIoULoss GIoULoss DIoULoss CIoULoss EIoULoss SIoULoss".split())

# MMDetection 2.x AnchorHead replaces any configured sampler by PseudoSampler when loss_cls.type is
# literally one of these names (a string test: 'mmdet.FocalLoss' or a renamed copy keeps the sampler).
V2_PSEUDO_FORCING_TYPES: frozenset[str] = frozenset(("FocalLoss", "GHMC", "QualityFocalLoss"))

# Heads that sample priors with the sampler of their train_cfg and feed loss_cls with the result:
# the anchor-based heads and the RoI bbox heads. (Anchor-free heads such as FCOSHead, and
# GARPNHead's loss_loc, never see the sampler.)
SAMPLING_HEADS: frozenset[str] = frozenset(
    """AnchorHead RetinaHead RetinaSepBNHead RPNHead ATSSHead GFLHead LDHead PAAHead FSAFHead
    FreeAnchorRetinaHead TOODHead DDODHead SSDHead BBoxHead ConvFCBBoxHead Shared2FCBBoxHead
    Shared4Conv1FCBBoxHead DoubleConvFCBBoxHead""".split()
)

# Parameters that a head takes out of a loss dict (or converts) before the loss is built, keyed
# by (exact head type, loss key): DETRHead turns a float class_weight and bg_cls_weight into a
# per-class tensor and removes bg_cls_weight.
HEAD_LOSS_PARAMS: dict[tuple[str, str], dict[str, str]] = {
    ("DETRHead", "loss_cls"): {"bg_cls_weight": "float", "class_weight": "float|None"},
}
