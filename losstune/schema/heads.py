"""What the heads of MMDetection and of the projects built on it do with their losses, for the
rules that depend on the head.

Each table is keyed by the registry the head is built from (``mmdet``, ``mmyolo``, ``mmrotate``),
since a name means a different class in each (MMYOLO's ``RTMDetHead`` is not MMDetection's).
Only heads whose code is known are listed: a rule about a head stays silent for heads not here,
so an unusual head never produces a false alarm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from msgspec import Struct

from losstune.schema.scopes import TypeRef


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CLS_BBOX = _names("loss_cls loss_bbox")


def _by_head(text: str) -> dict[str, frozenset[str]]:
    """``HEAD HEAD ...: KEY KEY ...`` entries (the heads may run over several lines) as a map of
    each head to its keys."""
    table: dict[str, frozenset[str]] = {}
    heads: list[str] = []
    for line in text.strip().splitlines():
        named, colon, keys = line.partition(":")
        heads += named.split()
        if colon:
            table.update(dict.fromkeys(heads, _names(keys)))
            heads = []
    return table


# MMDetection's heads (2.28.2 and 3.3.0) -> the loss keys their loss code calls with an avg_factor,
# read from the code of both (``tests/fidelity/test_avg_factor_heads.py`` reads it again): the
# keys of every loss module that the head's ``loss``/``loss_by_feat`` (the bbox heads' ``loss``,
# ``loss_and_target``) reaches, through its own methods and its bases'. YOLOV3Head, YOLOXHead and
# SSDHead are absent: they reduce with 'sum' and normalise themselves; so is FreeAnchorRetinaHead,
# whose bag losses take no avg_factor.
_MMDET_AVG_FACTOR = _by_head(
    """
    AnchorHead AscendAnchorHead AscendRetinaHead BBoxHead CenterNetUpdateHead ConvFCBBoxHead
      DoubleConvFCBBoxHead FSAFHead FoveaHead PISARetinaHead RPNHead RTMDetHead RTMDetSepBNHead
      RetinaHead RetinaSepBNHead SCNetBBoxHead Shared2FCBBoxHead Shared4Conv1FCBBoxHead
      StageCascadeRPNHead YOLACTHead YOLOFHead: loss_cls loss_bbox
    ConditionalDETRHead DABDETRHead DDODHead DDQDETRHead DETRHead DIIHead DINOHead DeformableDETRHead
      GroundingDINOHead: loss_cls loss_bbox loss_iou
    ATSSHead ATSSVLFusionHead BoxInstBboxHead CondInstBboxHead FCOSHead LADHead NASFCOSHead
      PAAHead: loss_cls loss_bbox loss_centerness
    DecoupledSOLOHead DecoupledSOLOLightHead SOLOHead SOLOV2Head: loss_cls
    GARPNHead GARetinaHead GuidedAnchorHead: loss_cls loss_bbox loss_loc loss_shape
    Mask2FormerHead Mask2FormerTrackHead MaskFormerHead: loss_cls loss_dice loss_mask
    RTMDetInsHead RTMDetInsSepBNHead: loss_cls loss_bbox loss_mask
    SABLHead SABLRetinaHead: loss_cls loss_bbox_cls loss_bbox_reg
    YOLACTProtonet YOLACTSegmHead: loss_segm
    CenterNetHead: loss_center_heatmap loss_offset loss_wh
    CentripetalHead: loss_heatmap loss_offset loss_guiding_shift loss_centripetal_shift
    CornerHead: loss_heatmap loss_offset
    DynamicMaskHead: loss_mask
    GFLHead: loss_cls loss_bbox loss_dfl
    LDHead: loss_cls loss_bbox loss_dfl loss_ld
    QuasiDenseEmbedHead: loss_track
    RepPointsHead: loss_cls loss_bbox_init loss_bbox_refine
    RoIEmbedHead: loss_match
    TOODHead: loss_cls initial_loss_cls loss_bbox
    VFNetHead: loss_cls loss_bbox loss_bbox_refine
    """
)

# Registry -> head -> the loss keys the head calls with avg_factor, so that any reduction but
# 'mean' and 'none' raises "avg_factor can not be used with reduction='sum'".
# MMYOLO 0.6.0: YOLOv5Head, YOLOv7Head, YOLOXHead and YOLOXPoseHead normalise by themselves
# (YOLOv5Head passes avg_factor only when ignore_iof_thr is set and an image has ignored boxes),
# YOLOv8Head divides loss_bbox itself, RTMDetInsSepBNHead cannot compute its losses at all.
AVG_FACTOR_LOSSES: Mapping[str, Mapping[str, frozenset[str]]] = {
    "mmdet": _MMDET_AVG_FACTOR,
    "mmyolo": {
        "YOLOv6Head": _names("loss_bbox"),
        "YOLOv8Head": _names("loss_dfl"),
        "PPYOLOEHead": _names("loss_bbox loss_dfl"),
        "RTMDetHead": _CLS_BBOX,
        "RTMDetRotatedHead": _names("loss_cls loss_bbox loss_angle"),
    },
    "mmrotate": {
        **{
            head: _CLS_BBOX
            for head in _names(
                """RotatedRetinaHead R3Head R3RefineHead S2AHead S2ARefineHead OrientedRPNHead
                RotatedShared2FCBBoxHead GVBBoxHead"""
            )
        },
        "AngleBranchRetinaHead": _names("loss_cls loss_bbox loss_angle"),
        "RotatedATSSHead": _names("loss_cls loss_bbox loss_centerness"),
        "RotatedFCOSHead": _names("loss_cls loss_bbox loss_angle loss_centerness"),
        "H2RBoxHead": _names("loss_cls loss_bbox loss_centerness loss_bbox_ss"),
        "RotatedRTMDetHead": _names("loss_cls loss_bbox loss_angle"),
        "RotatedRTMDetSepBNHead": _names("loss_cls loss_bbox loss_angle"),
        "RotatedRepPointsHead": _names("loss_cls loss_bbox_init loss_bbox_refine"),
        "CFAHead": _names("loss_cls loss_bbox_init"),
        "OrientedRepPointsHead": _names("loss_cls"),
        "SAMRepPointsHead": _names("loss_cls"),
    },
}

# Registry -> losses that never hand avg_factor to weight_reduce_loss, so 'sum' with an avg_factor
# does not fail: MMDetection's EQLV2Loss divides its sum by its own count, MMRotate's convex GIoU
# losses average their hand-written gradient themselves, and GDLoss_v1 applies no reduction at all.
IGNORES_AVG_FACTOR: Mapping[str, frozenset[str]] = {
    "mmdet": _names("EQLV2Loss"),
    "mmrotate": _names("ConvexGIoULoss BCConvexGIoULoss GDLoss_v1"),
}

# Registry -> heads that regress encoded deltas unless reg_decoded_bbox=True: a loss that compares
# boxes there compares deltas as if they were boxes. (ATSS, FCOS, GFL and others decode before
# the loss themselves; so do all of MMYOLO's heads.)
DELTA_REGRESSION_HEADS: Mapping[str, frozenset[str]] = {
    "mmdet": _names(
        """AnchorHead RetinaHead RetinaSepBNHead RPNHead BBoxHead ConvFCBBoxHead Shared2FCBBoxHead
        Shared4Conv1FCBBoxHead DoubleConvFCBBoxHead"""
    ),
    "mmrotate": _names(
        """RotatedRetinaHead R3Head R3RefineHead S2AHead S2ARefineHead AngleBranchRetinaHead
        OrientedRPNHead RotatedShared2FCBBoxHead GVBBoxHead"""
    ),
}

# Registry -> losses that compare decoded boxes (the IoU family, and MMRotate's rotated IoU and
# Gaussian distance losses). MMRotate's KFLoss is absent: its head hands it both the deltas and
# the decoded boxes (loss_bbox_type='kfiou').
BOX_LOSSES: Mapping[str, frozenset[str]] = {
    "mmdet": _names("IoULoss BoundedIoULoss GIoULoss DIoULoss CIoULoss EIoULoss SIoULoss"),
    "mmyolo": _names("IoULoss"),
    "mmrotate": _names("RotatedIoULoss GDLoss GDLoss_v1"),
}

# MMDetection 2.x AnchorHead replaces any configured sampler by PseudoSampler when loss_cls.type is
# literally one of these names (a string test: 'mmdet.FocalLoss' or a renamed copy keeps the sampler).
V2_PSEUDO_FORCING_TYPES: frozenset[str] = frozenset(("FocalLoss", "GHMC", "QualityFocalLoss"))

# Registry -> heads that build a sampler (their train_cfg's, else a PseudoSampler; YOLOXHead a
# PseudoSampler always) and compute their losses from its sampling result, as MMDetection's code
# (2.x and 3.x) does: the only heads under which an implicit PseudoSampler is shown.
SAMPLER_HEADS: Mapping[str, frozenset[str]] = {
    "mmdet": _names(
        """AnchorHead RetinaHead RetinaSepBNHead RPNHead ATSSHead ATSSVLFusionHead DDODHead FSAFHead
        GARPNHead GARetinaHead GuidedAnchorHead GFLHead LDHead LADHead PAAHead PISARetinaHead
        PISASSDHead RTMDetHead RTMDetSepBNHead RTMDetInsHead RTMDetInsSepBNHead RepPointsHead
        SABLRetinaHead SSDHead StageCascadeRPNHead TOODHead VFNetHead YOLACTHead YOLOFHead YOLOV3Head
        YOLOXHead MaskFormerHead Mask2FormerHead Mask2FormerTrackHead"""
    ),
}

# Registry -> heads whose losses take no sampling result: their targets are whole maps (CenterNet's
# and CornerNet's heatmaps, SOLO's grids), points they assign themselves (the FCOS family, FoveaBox,
# CenterNet (update)), or queries their assigner alone matches (the DETR family; DETRHead refuses a
# train_cfg sampler); FreeAnchorRetinaHead's loss builds its bags from the IoUs and never calls the
# sampler AnchorHead built.
NO_SAMPLER_HEADS: Mapping[str, frozenset[str]] = {
    "mmdet": _names(
        """AnchorFreeHead FCOSHead NASFCOSHead AutoAssignHead FoveaHead CenterNetHead CenterNetUpdateHead
        CornerHead CentripetalHead BoxInstBboxHead CondInstBboxHead SOLOHead DecoupledSOLOHead
        DecoupledSOLOLightHead SOLOV2Head FreeAnchorRetinaHead DETRHead ConditionalDETRHead DABDETRHead
        DeformableDETRHead DINOHead GroundingDINOHead DDQDETRHead"""
    ),
}

# Registry -> heads that build a sampler but a PseudoSampler whatever their train_cfg names.
PSEUDO_ONLY_HEADS: Mapping[str, frozenset[str]] = {"mmdet": _names("YOLOXHead")}

# Registry -> heads sampled by a sampler none of them builds: the RoI bbox heads (their RoI head's
# train_cfg.rcnn.sampler), and MMRotate's heads that sample priors.
OTHER_SAMPLING_HEADS: Mapping[str, frozenset[str]] = {
    "mmdet": _names("BBoxHead ConvFCBBoxHead Shared2FCBBoxHead Shared4Conv1FCBBoxHead DoubleConvFCBBoxHead"),
    "mmrotate": _names(
        """RotatedRetinaHead R3Head R3RefineHead S2AHead S2ARefineHead AngleBranchRetinaHead
        OrientedRPNHead RotatedATSSHead RotatedShared2FCBBoxHead GVBBoxHead"""
    ),
}

# Registry -> heads that feed loss_cls from the sampler their train_cfg names: those of
# SAMPLER_HEADS that use it and the others above. Heads whose losses take no sampling result
# (NO_SAMPLER_HEADS: anchor-free heads such as FCOSHead; FreeAnchorRetinaHead, which builds
# AnchorHead's sampler and never calls it) and MMYOLO's heads (batch assigners only) never see it.
SAMPLING_HEADS: Mapping[str, frozenset[str]] = {
    registry: (SAMPLER_HEADS.get(registry, frozenset()) - PSEUDO_ONLY_HEADS.get(registry, frozenset()))
    | OTHER_SAMPLING_HEADS.get(registry, frozenset())
    for registry in (*SAMPLER_HEADS, *OTHER_SAMPLING_HEADS)
}

# Parameters that a head takes out of a loss dict (or converts) before the loss is built, keyed
# by (exact head type, loss key) of MMDetection's heads: DETRHead turns a float class_weight and
# bg_cls_weight into a per-class tensor and removes bg_cls_weight.
HEAD_LOSS_PARAMS: dict[tuple[str, str], dict[str, str]] = {
    ("DETRHead", "loss_cls"): {"bg_cls_weight": "float", "class_weight": "float|None"},
}


class Outputs(NamedTuple):
    """The outputs of a classifier: how many, whether the last one is the background, and how
    that follows from the head (``num_classes=2 + 1 background with a softmax``)."""

    size: int
    background: bool
    how: str


class ClassifierWidth(Struct, frozen=True):
    """How many outputs the classifier has whose scores a head gives to one of its losses.

    The number of classes C is the sum of the head parameters ``classes``. ``background`` says
    when the classifier has one more output, for the background: ``"softmax"`` only with a softmax
    loss (``num_classes`` outputs with ``use_sigmoid=True``, as AnchorHead's ``cls_out_channels``),
    ``"always"`` whatever the loss (BBoxHead's ``fc_cls``). ``custom``: the head lets a loss that
    sizes the classifier itself (``CrossEntropyCustomLoss``) decide: C + 1 with a softmax, C with a
    sigmoid.
    """

    classes: tuple[str, ...] = ("num_classes",)
    background: Literal["softmax", "always"] = "softmax"
    custom: bool = False

    def outputs(self, head: dict[str, Any], sigmoid: bool, loss_type: str) -> Outputs | None:
        """The outputs of the classifier under ``head`` for a loss of ``loss_type``, or ``None`` where
        a class count is not an integer in the head dict."""
        counts = [head.get(name) for name in self.classes]
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            return None
        total = sum(c for c in counts if isinstance(c, int))
        classes = " + ".join(f"{n}={c}" for n, c in zip(self.classes, counts, strict=True))
        if self.custom and loss_type in CUSTOM_CLS_CHANNELS_LOSSES:
            background = not sigmoid
            how = f"{classes}, sized by {loss_type}" + (" with use_sigmoid=True" if sigmoid else " + 1 background")
        elif self.background == "always":
            background = True
            how = f"{classes} + 1 background, whatever the loss"
        else:
            background = not sigmoid
            how = f"{classes} with use_sigmoid=True" if sigmoid else f"{classes} + 1 background with a softmax"
        return Outputs(total + background, background, how)


# Losses that size a bbox head's classifier themselves (MMDetection 3.x `custom_cls_channels`).
CUSTOM_CLS_CHANNELS_LOSSES: frozenset[str] = frozenset(("CrossEntropyCustomLoss",))

_DENSE = ClassifierWidth()
_ROI = ClassifierWidth(background="always", custom=True)
_ROI_FIXED = ClassifierWidth(background="always")
_MASKFORMER = ClassifierWidth(classes=("num_things_classes", "num_stuff_classes"), background="always")

# The width of the classifier each head feeds to a loss, by (exact head type, loss key), read from
# MMDetection 2.28 and 3.3: the dense heads size cls_out_channels from loss_cls.use_sigmoid
# (AnchorHead, AnchorFreeHead, GuidedAnchorHead, RepPointsHead, DIIHead's fc_cls); BBoxHead and
# ConvFCBBoxHead's fc_cls has num_classes + 1 outputs unless the loss sizes it (3.x); the heads
# that build their own fc_cls keep num_classes + 1; MaskFormer's cls_embed has one output per
# thing and stuff class and one for the background. Heads not listed are not known: the rules
# that need the width stay silent there.
CLASSIFIER_WIDTHS: dict[tuple[str, str], ClassifierWidth] = {
    **{
        (h, "loss_cls"): _DENSE
        for h in """AnchorHead RetinaHead RetinaSepBNHead ATSSHead FCOSHead FoveaHead GuidedAnchorHead
        GARetinaHead RepPointsHead DIIHead""".split()
    },
    **{
        (h, "loss_cls"): _ROI
        for h in "BBoxHead ConvFCBBoxHead Shared2FCBBoxHead Shared4Conv1FCBBoxHead SCNetBBoxHead".split()
    },
    **{(h, "loss_cls"): _ROI_FIXED for h in ("DoubleConvFCBBoxHead", "SABLHead")},
    **{(h, "loss_cls"): _MASKFORMER for h in ("MaskFormerHead", "Mask2FormerHead")},
}


def listed(
    table: Mapping[str, frozenset[str]] | Mapping[str, Mapping[str, frozenset[str]]], ref: TypeRef | None
) -> bool:
    """Whether the class ``ref`` names is in ``table`` (registry -> names)."""
    return ref is not None and ref.registry is not None and ref.name in table.get(ref.registry, ())


def avg_factor_keys(head: TypeRef | None) -> frozenset[str]:
    """The loss keys that the head ``head`` names calls with avg_factor (none for a head not known)."""
    if head is None or head.registry is None:
        return frozenset()
    return AVG_FACTOR_LOSSES.get(head.registry, {}).get(head.name, frozenset())
