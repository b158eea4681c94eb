"""The head around a loss module: which predictions a head of MMDetection hands its loss module,
with which weight and ``avg_factor``, what it does to the module's result afterwards, and the name
the training log prints the term under. One rule per loss of each head family, read from the
family's ``loss_by_feat`` (``loss`` for RoI heads) in MMDetection 3.3.0; a head whose class
overrides that code is not modelled and is fed as an anchor head feeds its losses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor

from losstune.engine import (
    heads_cascade_rpn,
    heads_ddod,
    heads_ddq,
    heads_fsaf,
    heads_ga,
    heads_glbctx,
    heads_grounding,
    heads_mask2former,
    heads_mask2former_track,
    heads_maskformer,
    heads_masktrack,
    heads_rtmdet_ins,
    heads_sparse,
    heads_ssd,
    heads_yolo,
)
from losstune.engine.confignum import config_int, number
from losstune.engine.heads_pisa import ISR_NOTE, carl_weights, train_option
from losstune.engine.inputs import Inputs, untrained_logits
from losstune.engine.makers import Dense, remade
from losstune.engine.sampling import NUM_GTS as NUM_GTS  # the sample image's boxes, read here by the head runs
from losstune.engine.sampling import Sampled
from losstune.schema.catalogue import bare_type

if TYPE_CHECKING:
    from losstune.engine.phases import Phase

# Head class -> the class whose loss code it runs (it overrides none of it), from MMDetection
# 3.3.0's dense_heads/ and roi_heads/.
FAMILY: dict[str, str] = {
    **{h: "AnchorHead" for h in ("AnchorHead", "RetinaHead", "RetinaSepBNHead")},
    "RPNHead": "RPNHead",
    **{
        h: "BBoxHead"
        for h in (
            "BBoxHead",
            "ConvFCBBoxHead",
            "Shared2FCBBoxHead",
            "Shared4Conv1FCBBoxHead",
            "DoubleConvFCBBoxHead",
            "SCNetBBoxHead",
        )
    },
    **{h: "FCNMaskHead" for h in ("FCNMaskHead", "HTCMaskHead", "SCNetMaskHead", "CoarseMaskHead")},
    "GFLHead": "GFLHead",
    "ATSSHead": "ATSSHead",
    "ATSSVLFusionHead": "ATSSVLFusionHead",
    **{h: "FCOSHead" for h in ("FCOSHead", "NASFCOSHead", "CondInstBboxHead", "BoxInstBboxHead")},
    "CondInstMaskHead": "CondInstMaskHead",
    "TOODHead": "TOODHead",
    **{h: "RTMDetHead" for h in ("RTMDetHead", "RTMDetSepBNHead")},
    **{h: "RTMDetInsHead" for h in ("RTMDetInsHead", "RTMDetInsSepBNHead")},
    "VFNetHead": "VFNetHead",
    "PAAHead": "PAAHead",
    "SABLRetinaHead": "SABLRetinaHead",
    "SABLHead": "SABLHead",
    "MaskPointHead": "MaskPointHead",
    "PISARetinaHead": "PISARetinaHead",
    "YOLOXHead": "YOLOXHead",
    "CenterNetHead": "CenterNetHead",
    "FoveaHead": "FoveaHead",
    "YOLOFHead": "YOLOFHead",
    "YOLOV3Head": "YOLOV3Head",
    "CenterNetUpdateHead": "CenterNetUpdateHead",
    "CornerHead": "CornerHead",
    "CentripetalHead": "CentripetalHead",
    "GridHead": "GridHead",
    "MaskIoUHead": "MaskIoUHead",
    **{h: "FusedSemanticHead" for h in ("FusedSemanticHead", "SCNetSemanticHead")},
    "PanopticFPNHead": "PanopticFPNHead",
    "FSAFHead": "FSAFHead",
    "GlobalContextHead": "GlobalContextHead",
    "SSDHead": "SSDHead",
    "PISASSDHead": "PISASSDHead",
    **{
        h: "DETRHead"
        for h in ("DETRHead", "ConditionalDETRHead", "DABDETRHead", "DeformableDETRHead", "DINOHead", "DDQDETRHead")
    },
    heads_grounding.GROUNDING_HEAD: heads_grounding.GROUNDING_HEAD,
    "DIIHead": "DIIHead",
    "DynamicMaskHead": "DynamicMaskHead",
    **{h: h for h in ("SOLOHead", "DecoupledSOLOHead", "SOLOV2Head")},
    "DecoupledSOLOLightHead": "DecoupledSOLOHead",
    "DDODHead": "DDODHead",
    "RepPointsHead": "RepPointsHead",
    **{h: "GuidedAnchorHead" for h in ("GuidedAnchorHead", "GARetinaHead")},
    "GARPNHead": "GARPNHead",
    "LADHead": "LADHead",
    "Mask2FormerHead": "Mask2FormerHead",
    "MaskFormerHead": "MaskFormerHead",
    **{h: h for h in ("YOLACTHead", "YOLACTProtonet")},
    **{h: "StageCascadeRPNHead" for h in ("CascadeRPNHead", "StageCascadeRPNHead")},
    heads_masktrack.EMBED_HEAD: heads_masktrack.EMBED_HEAD,
    heads_mask2former_track.TRACK_HEAD: heads_mask2former_track.TRACK_HEAD,
}

Avg = Literal[
    "positives",  # max(positives, 1.0)
    "positives_exact",  # the positives, not floored (DIIHead: reduce_mean(num_pos), 0 with none)
    "per_positive",  # max(positives, 1) × constant (CenterNet's maps of two channels)
    "constant",  # a number the head passes (it divides afterwards)
    "weight_sum",  # max(Σ of the positives' weights, floor)
    "rois",  # bbox_targets.size(0): every sampled RoI
    "rows",  # the rows handed the module (SABLHead's bucket targets' size(0))
    "labelled",  # max(RoIs with a label weight, 1)
    "positives_or_images",  # max(positives, images)
    "positives_plus_images",  # positives + images
    "positives_plus_one",  # positives + 1, not clamped (SOLO's num_pos + 1)
    "rows_over",  # the rows handed ÷ constant (GuidedAnchorHead's loc_avg_factor: every location ÷ 200)
    "images",  # the images (times the map's pixels: YOLACTProtonet's loss_segm)
    "detr_cls",  # max(positives + bg_cls_weight × negatives, 1)
    "class_weighted",  # positives + bg_cls_weight × negatives, not clamped (Mask2Former's class_weight[labels].sum())
    "given",  # what the inputs were made with: the sampling's (SamplingResult.avg_factor summed
    # over the images), DFL's 4.0, a heatmap's peaks
    "none",  # no avg_factor
]


@dataclass(frozen=True)
class Rule:
    """How a head feeds one loss: ``rows`` it hands the module (every prior, or the positives
    only), the element-wise ``weight`` (the sampling's, a per-positive ``quality`` the head
    computes, or none), ``avg`` (with ``constant`` and ``floor``), and what the head divides the
    result by afterwards (``after``: the positives' weights, the positives, or nothing)."""

    rows: Literal["all", "positives"] = "all"
    weight: Literal["given", "quality", "none"] = "given"
    quality: str = ""
    avg: Avg = "given"
    constant: float = 1.0
    floor: float = 1.0
    # "weighted_sum": the module returns per-element losses (reduction_override='none'); the head
    # weights each row, sums and divides by the sampling's avg_factor (PISA's CARL)
    # "pair_mean": the mean of the head's two calls per feature level (CornerHead's top-left and
    # bottom-right maps)
    # "reweighted": a call per feature level, each level's result × its reweight factor, counted on
    # the positives of each level (DDODHead's calc_reweight_factor, heads_ddod)
    # "selected": the module returns per-element losses (the config's reduction='none'); the head
    # keeps each box's positives on one feature level, sums and divides by the positives kept, or
    # by the negatives where none is (FSAFHead's online feature selection)
    # "mined": the module returns per-prior losses (the config's reduction='none'); the head sums the
    # positives' and the hardest negatives' and divides by the sampling's avg_factor (YOLACT's OHEM)
    # "images": a call per image (video), the images' terms summed and divided by the images
    # (RoIEmbedHead's loss_match)
    after: Literal[
        "none", "weight_sum", "positives", "weighted_sum", "pair_mean", "selected", "reweighted", "mined", "images"
    ] = "none"
    after_what: str = ""  # what the head's code calls the divisor, where it names it
    by: str = ""  # the code that divides, where not the head's loss_by_feat (DDQAuxLoss.loss)
    avg_what: str = ""  # what the head's code counts the avg_factor on, where the rule is its rows or positives
    target: Literal["given", "quality"] = "given"  # "quality": one logit per positive against its quality
    log_name: str = ""  # the key in the head's loss dict, where it is not the config's key
    # the avg_factor times SABL's columns per positive, Mask2Former's num_points, or the pixels of
    # the map handed (YOLACT's loss_segm)
    # (the image's pixels: MaskFormer's loss_mask, a row a pixel)
    # (num_points / num_frames: Mask2FormerTrackHead's loss_mask)
    times: Literal["", "sides", "offsets", "points", "pixels", "image_pixels", "frame_points"] = ""
    # "assignment": the avg_factor is counted on the assignment (its labelled term's positives),
    # whatever rows the module is handed (YOLOFHead's loss_bbox on the assigner's candidates);
    # "each_call": on each call's own map (CornerHead's peaks of one corner's heatmap)
    avg_of: Literal["call", "assignment", "each_call"] = "call"
    # "images": the module is handed (images, priors, …) maps, one call per feature level;
    # "maps": a whole (images, C, H, W) map a call, several calls a term (the priors: one map's pixels)
    # "roi_maps": an (RoIs, C, H, W) map a call (the priors: the RoIs handed, GridHead's positives)
    # "levels": a call per feature level with a positive, on its positives' (masks, H, W) (the
    # priors: the pixels of the largest mask map; the rows: all calls' masks, SOLO's)
    # "level_rows": a call per feature level on its images' rows in turn, so that a call's box
    # weights tell each image's positives (RepPoints')
    # "points": each mask's points flattened, a row a point (the rows: masks, the width: points a mask)
    # "pixels": each mask's pixels flattened, a row a pixel (the rows: masks; the priors: one mask's pixels)
    # "image_calls": a call per image, on its every prior or map (YOLACT's): each call is one image's counts
    # "tokens": every prior's logits over the text's valid tokens, flattened (GLIP's contrastive
    # loss_cls; the rows: the priors, the width: the tokens)
    # "match_calls": a call per video on its key frame's sampled RoIs, their targets the reference
    # box each is matched to (0: none; the width: 1 + the reference boxes; RoIEmbedHead's loss_match)
    layout: Literal[
        "rows",
        "images",
        "maps",
        "roi_maps",
        "levels",
        "level_rows",
        "points",
        "pixels",
        "image_calls",
        "tokens",
        "match_calls",
    ] = "rows"
    parts: tuple[str, ...] = ()  # the log names of the parts of the module's result (a pair), one call
    # the head hands the module rows it selects itself (MaskIoUHead: the positives whose target is
    # above 0; FusedSemanticHead: each image's map): the term's call is its own assignment
    selects: bool = False
    classes: int = 0  # the classes the module's labels count, where not the head's (one logit: loss_loc's)
    # the head's method whose recorded calls give the term's positives and negatives, where its
    # module's calls do not show them (GuidedAnchorHead's ga sampling, for loss_shape)
    counted_on: str = ""


_CENTERNESS = "centerness_targets"
_SAMPLES = "num_total_samples"
_AUX = "DDQAuxLoss.loss"
# PAAHead's and LADHead's loss_centerness: the positives' IoU logits against their IoUs, by num_pos
_PAA_IOU = Rule(
    rows="positives", weight="none", quality="iou_target", target="quality", avg="positives", log_name="loss_iou"
)
_DENSE_QUALITY_FIRST = Rule(rows="positives", weight="quality", avg="constant", after="weight_sum")
_ATSS = {
    "loss_bbox": replace(_DENSE_QUALITY_FIRST, quality=_CENTERNESS),
    "loss_centerness": Rule(rows="positives", weight="none", quality=_CENTERNESS, target="quality"),
}
_RTMDET = {
    "loss_cls": Rule(avg="constant", after="weight_sum", quality="assign_metrics"),
    "loss_bbox": replace(_DENSE_QUALITY_FIRST, quality="assign_metrics"),
}

RULES: dict[str, dict[str, Rule]] = {
    "AnchorHead": {},
    # no loss module: the losses of their own code (locate.IN_HEAD_LOSSES), fed as an anchor head
    # feeds them, loss_cls's hard negatives mined by the family's maker
    "SSDHead": {},
    "PISASSDHead": {},
    "RPNHead": {"loss_cls": Rule(log_name="loss_rpn_cls"), "loss_bbox": Rule(log_name="loss_rpn_bbox")},
    # heads_cascade_rpn: each stage's, logged s{i}.
    "StageCascadeRPNHead": {"loss_cls": Rule(log_name="loss_rpn_cls"), "loss_bbox": Rule(log_name="loss_rpn_reg")},
    "BBoxHead": {
        "loss_cls": Rule(avg="labelled"),
        # bbox_targets.size(0): every sampled RoI, though the module is handed the positives only
        "loss_bbox": Rule(rows="positives", avg="rois", avg_of="assignment"),
    },
    # its RoIs are the positives of its own sampling: HTC's interleaved stages re-assign and re-sample
    # the refined boxes for the mask branch (HTCRoIHead.loss), so they need not be the bbox head's
    "FCNMaskHead": {"loss_mask": Rule(avg="none", selects=True)},
    "GFLHead": {
        "loss_bbox": replace(_DENSE_QUALITY_FIRST, quality="weight_targets"),
        "loss_dfl": replace(_DENSE_QUALITY_FIRST, quality="weight_targets", avg="given", constant=4.0),
    },
    "ATSSHead": _ATSS,
    # heads_glip: ATSSHead's box terms; loss_cls on every anchor's caption tokens, flattened
    "ATSSVLFusionHead": {"loss_cls": Rule(layout="tokens"), **_ATSS},
    "FCOSHead": {
        "loss_cls": Rule(weight="none", avg="positives"),
        "loss_bbox": Rule(rows="positives", weight="quality", quality=_CENTERNESS, avg="weight_sum", floor=1e-6),
        "loss_centerness": Rule(
            rows="positives", weight="none", quality=_CENTERNESS, target="quality", avg="positives"
        ),
    },
    "TOODHead": {
        "loss_cls": Rule(avg="constant", after="weight_sum", quality="alignment_metrics"),
        "loss_bbox": replace(_DENSE_QUALITY_FIRST, quality="alignment_metrics"),
    },
    "RTMDetHead": _RTMDET,
    # RTMDetHead's two terms, and every positive's mask (heads_rtmdet_ins) by max(masks, 1)
    "RTMDetInsHead": {**_RTMDET, "loss_mask": Rule(weight="none", avg="positives")},
    "VFNetHead": {
        "loss_cls": Rule(weight="none", avg="positives"),
        "loss_bbox": Rule(rows="positives", weight="quality", quality="bbox_weights_ini", avg="weight_sum"),
        "loss_bbox_refine": Rule(
            rows="positives", weight="quality", quality="bbox_weights_rf", avg="weight_sum", log_name="loss_bbox_rf"
        ),
    },
    "PAAHead": {
        "loss_cls": Rule(avg="positives_or_images"),
        "loss_bbox": Rule(rows="positives", weight="quality", quality="iou_target", avg="weight_sum", floor=0.0),
        "loss_centerness": _PAA_IOU,
    },
    # heads_lad: PAA's loss code on the teacher's assignment; loss_bbox unweighted, by num_pos
    "LADHead": {
        "loss_cls": Rule(avg="positives_or_images"),
        "loss_bbox": Rule(rows="positives", weight="none", avg="positives"),
        "loss_centerness": _PAA_IOU,
    },
    "YOLOXHead": {
        "loss_cls": Rule(rows="positives", weight="none", avg="none", after="positives", after_what=_SAMPLES),
        "loss_bbox": Rule(rows="positives", weight="none", avg="none", after="positives", after_what=_SAMPLES),
        "loss_obj": Rule(weight="none", avg="none", after="positives", after_what=_SAMPLES),
        "loss_l1": Rule(rows="positives", weight="none", avg="none", after="positives", after_what=_SAMPLES),
    },
    "SABLRetinaHead": {
        "loss_bbox_cls": Rule(times="sides"),
        "loss_bbox_reg": Rule(times="offsets"),
    },
    # every sampled RoI to each loss (heads_sabl), the bucket losses by the rows handed
    "SABLHead": {
        "loss_cls": Rule(avg="labelled"),
        "loss_bbox_cls": Rule(avg="rows", avg_what="bucket_cls_targets.size(0): 4 sides of each sampled RoI"),
        "loss_bbox_reg": Rule(avg="rows", avg_what="bucket_offset_targets.size(0): the sampled RoIs"),
    },
    # each positive RoI's sampled points (heads_point), no weight, averaged by the module
    "MaskPointHead": {"loss_point": Rule(avg="none")},
    "PISARetinaHead": {"loss_carl": Rule(rows="positives", weight="none", avg="none", after="weighted_sum")},
    "FSAFHead": {"loss_cls": Rule(after="selected"), "loss_bbox": Rule(after="selected")},
    "CenterNetHead": {
        "loss_center_heatmap": Rule(avg="positives"),
        "loss_wh": Rule(avg="per_positive", constant=2.0),
        "loss_offset": Rule(avg="per_positive", constant=2.0),
    },
    "CenterNetUpdateHead": {
        "loss_cls": Rule(weight="none", avg="positives"),
        "loss_bbox": Rule(rows="positives", weight="quality", quality="heatmap_values", avg="weight_sum"),
    },
    "CornerHead": {
        "loss_heatmap": Rule(
            avg="positives", avg_of="each_call", after="pair_mean", log_name="det_loss", layout="maps"
        ),
        "loss_embedding": Rule(avg="none", layout="maps", parts=("pull_loss", "push_loss")),
        "loss_offset": Rule(avg="positives", avg_of="each_call", after="pair_mean", log_name="off_loss", layout="maps"),
    },
    # two calls (the fused and unfused heatmaps) summed, every element averaged by the module
    "GridHead": {"loss_grid": Rule(avg="none", layout="roi_maps")},
    # the positives whose mask IoU target is above 0, no weight, averaged by the module
    "MaskIoUHead": {"loss_iou": Rule(weight="none", avg="none", log_name="loss_mask_iou", selects=True)},
    # each image's map, every pixel averaged by the module (a call of the images, its own assignment)
    "FusedSemanticHead": {"loss_seg": Rule(weight="none", avg="none", log_name="loss_semantic_seg", selects=True)},
    # every pixel of the images a row, the things merged into one class (heads_semantic), averaged by the module
    "PanopticFPNHead": {"loss_seg": Rule(weight="none", avg="none", selects=True)},
    # each image's class logits, averaged by nn.BCEWithLogitsLoss, × the head's loss_weight (heads_glbctx)
    "GlobalContextHead": {"loss_glbctx": Rule(weight="none", avg="none", selects=True)},
    "YOLOFHead": {"loss_bbox": Rule(avg_of="assignment")},
    "YOLOV3Head": {name: Rule(avg="none", layout="images") for name in ("loss_cls", "loss_conf", "loss_xy", "loss_wh")},
    "FoveaHead": {
        "loss_cls": Rule(weight="none", avg="positives_plus_images"),
        "loss_bbox": Rule(rows="positives", avg="positives"),
    },
    # SparseRoIHead's stages (heads_sparse): every proposal to loss_cls, the positives to the box
    # losses, all by the positives of the images, not clamped
    "DIIHead": {
        "loss_cls": Rule(avg="positives_exact"),
        "loss_bbox": Rule(rows="positives", avg="positives_exact"),
        "loss_iou": Rule(rows="positives", avg="positives_exact"),
    },
    "DynamicMaskHead": {"loss_mask": Rule(avg="positives")},
    # each image's per-mask losses (reduction_override='none') summed, the images' sum ÷ the masks kept
    "CondInstMaskHead": {"loss_mask": Rule(weight="none", avg="none", after="positives", after_what="total_pos")},
    # heads_solo: every grid cell to loss_cls; a call per level of its positives' masks to
    # loss_mask, per mask (reduction_override='none'), summed and divided by num_pos by the head
    **{
        family: {
            "loss_cls": Rule(weight="none", avg="positives_plus_one"),
            "loss_mask": Rule(weight="none", avg="none", after="positives", after_what="num_pos", layout="levels"),
        }
        for family in ("SOLOHead", "DecoupledSOLOHead", "SOLOV2Head")
    },
    # heads_ddod: two ATSS assignments (loss_cls's, the box terms'), a call per level, each × its
    # reweight factor; the sampling's avg_factor of each assignment
    "DDODHead": {
        "loss_cls": Rule(after="reweighted"),
        "loss_bbox": Rule(rows="positives", weight="none", after="reweighted"),
        "loss_iou": Rule(after="reweighted"),
    },
    # heads_reppoints: every point of a level a call, the box losses on each stage's positives
    "RepPointsHead": {
        "loss_cls": Rule(layout="level_rows"),
        "loss_bbox_init": Rule(log_name="loss_pts_init", layout="level_rows"),
        "loss_bbox_refine": Rule(log_name="loss_pts_refine", layout="level_rows"),
    },
    # heads_ga: loss_loc on every location ÷ 200, loss_shape on the ga sampling's positives by its avg_factor
    **{
        family: {
            "loss_loc": Rule(avg="rows_over", constant=heads_ga.LOC_DIVISOR, classes=1, log_name=f"loss{infix}_loc"),
            "loss_shape": Rule(rows="positives", counted_on=heads_ga.SHAPE_METHOD, log_name=f"loss{infix}_shape"),
        }
        | extra
        for family, infix, extra in (
            ("GuidedAnchorHead", "", {}),
            (
                "GARPNHead",
                "_anchor",
                {"loss_cls": Rule(log_name="loss_rpn_cls"), "loss_bbox": Rule(log_name="loss_rpn_bbox")},
            ),
        )
    },
    # heads_mask2former: every query to loss_cls; the matched queries' points to loss_mask and
    # loss_dice, by the images' max(matched, 1) summed (× num_points for loss_mask)
    "Mask2FormerHead": {
        "loss_cls": Rule(avg="class_weighted"),
        "loss_mask": Rule(weight="none", avg_of="assignment", times="points", layout="points"),
        "loss_dice": Rule(weight="none", avg_of="assignment"),
    },
    # heads_mask2former_track: Mask2Former's on a video, a row a frame of each matched instance to
    # loss_dice and loss_mask, by num_total_masks (× num_points / num_frames for loss_mask)
    heads_mask2former_track.TRACK_HEAD: {
        "loss_cls": Rule(avg="class_weighted"),
        "loss_mask": Rule(weight="none", avg_of="assignment", times="frame_points", layout="points"),
        "loss_dice": Rule(weight="none", avg_of="assignment"),
    },
    # heads_maskformer: Mask2Former's loss_cls; the matched queries' masks at the image to loss_dice,
    # and a row a pixel to loss_mask (a FocalLoss against 1 - mask) by num_total_masks × h × w
    "MaskFormerHead": {
        "loss_cls": Rule(avg="class_weighted"),
        "loss_mask": Rule(weight="none", avg_of="assignment", times="image_pixels", layout="pixels"),
        "loss_dice": Rule(weight="none", avg_of="assignment"),
    },
    # heads_yolact: a call per image on its every anchor; loss_cls per anchor (reduction='none'), the
    # positives' and the hardest negatives' summed ÷ the sampling's avg_factor by the head
    "YOLACTHead": {
        "loss_cls": Rule(avg="none", after="mined", after_what="avg_factor", layout="image_calls"),
        "loss_bbox": Rule(layout="image_calls"),
    },
    # each image's (num_classes, H, W) logits, avg_factor = images × H × W; loss_mask in its own code
    # (heads_yolact: per pixel, each mask's mean reweighted by its box, summed, ÷ the masks)
    "YOLACTProtonet": {
        "loss_segm": Rule(weight="none", avg="images", times="pixels", layout="image_calls", selects=True),
        "loss_mask": Rule(weight="none", avg="none", after="positives", after_what="total_pos", selects=True),
    },
    # heads_masktrack: a call per video on the track head's sampled RoIs, by the matched positives,
    # the videos' terms averaged
    heads_masktrack.EMBED_HEAD: {
        "loss_match": Rule(
            avg="positives",
            avg_what=heads_masktrack.MATCHED,
            avg_of="each_call",
            after="images",
            after_what="the videos",
            layout="match_calls",
            classes=1,
        )
    },
    "DETRHead": {
        "loss_cls": Rule(avg="detr_cls"),
        "loss_bbox": Rule(avg="positives"),
        "loss_iou": Rule(avg="positives"),
        # DDQ-DETR's dense queries (heads_ddq): avg_factor=1.0, each image's term ÷ Σ the metrics
        "aux_loss_cls": Rule(avg="constant", after="weight_sum", quality="alignment_metrics", by=_AUX),
        "aux_loss_bbox": replace(_DENSE_QUALITY_FIRST, quality="alignment_metrics", by=_AUX),
    },
}

# GroundingDINOHead: DINO's terms and avg_factors, its logits over the prompt's text tokens (heads_grounding)
RULES[heads_grounding.GROUNDING_HEAD] = {k: RULES["DETRHead"][k] for k in ("loss_cls", "loss_bbox", "loss_iou")}

# the families whose terms are a DETR's: a term per decoder layer, the encoder's, the denoising queries'
DETR_FAMILIES = ("DETRHead", heads_grounding.GROUNDING_HEAD)

# CentripetalHead: CornerHead's heatmaps and offsets (it hands loss_embedding nothing), and each
# corner's shifts (heads_corner) by the corner mask's sum, not clamped, the corners' mean
RULES["CentripetalHead"] = {k: r for k, r in RULES["CornerHead"].items() if k != "loss_embedding"} | {
    key: Rule(
        avg="positives_exact",
        avg_what="the corner mask's sum",
        avg_of="each_call",
        after="pair_mean",
        log_name=log_name,
        layout="maps",
    )
    for key, log_name in (("loss_guiding_shift", "guiding_loss"), ("loss_centripetal_shift", "centripetal_loss"))
}

# Terms a head adds to its log from a second call of one of its loss modules, where the model's
# train_cfg has the option: family -> loss -> (the term's name, the train_cfg key)
EXTRA_TERMS: dict[str, dict[str, tuple[str, str]]] = {"PISARetinaHead": {"loss_bbox": ("loss_carl", "carl")}}

# What a head does to a loss's inputs, where the model's train_cfg has the option, that leaves its
# value as the model computes it: family -> loss -> (the train_cfg key, the note)
TRAIN_NOTES: dict[str, dict[str, tuple[str, str]]] = {
    "PISARetinaHead": {"loss_cls": ("isr", ISR_NOTE)},
    "PISASSDHead": {"loss_cls": ("isr", heads_ssd.ISR_NOTE)},
}

# What each quality weight is in the head's code, and how the sample batch stands in for it.
QUALITY: dict[str, str] = {
    "weight_targets": "the positives' highest sigmoid class score (weight_targets)",
    _CENTERNESS: "the positives' centerness targets",
    "alignment_metrics": "the positives' normalised alignment metrics (their IoUs stand in for them)",
    "assign_metrics": "the positives' assign metrics (the IoUs of their predicted boxes with the targets, as the assigner found them)",
    "bbox_weights_ini": "the IoUs of the positives' boxes with their targets (bbox_weights_ini)",
    "bbox_weights_rf": "the IoUs of the positives' refined boxes with their targets (bbox_weights_rf)",
    "iou_target": "the IoUs of the positives' boxes with their targets (iou_target)",
    "heatmap_values": "the positives' heatmap values (1 unless soft_weight_on_reg)",
}


@dataclass
class Feed:
    """A loss as its head feeds it: the module's inputs, the sampling step's text (ending with how
    the ``avg_factor`` passed arises), what the head does to the module's result (``scale``, a
    factor, and its text; ``None`` when nothing), and the term's name in the training log."""

    inputs: Inputs
    sampling: str
    stats: dict[str, Any]
    scale: float | None = None
    scale_text: str = ""
    log_name: str = ""
    family: str | None = None
    notes: list[str] = field(default_factory=list)
    log_names: list[str] = field(default_factory=list)  # every term of this loss in the log
    rule: AvgRule | None = None  # how the avg_factor and the divisor are counted
    head_weight: Tensor | None = None  # per row, where the head sums the module's per-element result itself


@dataclass(frozen=True)
class AvgRule:
    """A loss's rule with what the model made it with, to count the avg_factor and the head's
    divisor from any counts (the model's own, or those of MMDetection's head on a batch)."""

    rule: Rule
    given_rule: str | None
    bg_cls_weight: float | None
    times: float = 1.0  # what the head multiplies the avg_factor by (SABL's columns per positive)
    times_text: str = ""  # and what that number is, in words
    weighted: float = 1.0  # what the term is multiplied by after the head (a cascade stage's stage_loss_weights)

    def avg(self, counts: Counts, assigned: Counts | None = None, first: Counts | None = None) -> float | None:
        """The avg_factor on ``counts``, or on ``assigned`` (the assignment's) or ``first`` (the first
        call's own) where the rule counts it there."""
        if self.rule.avg_of == "assignment" and assigned is not None:
            counts = assigned
        if self.rule.avg_of == "each_call" and first is not None:
            counts = first
        return self.passed(counts, sampling_avg(counts, self.given_rule))[0]

    def passed(self, counts: Counts, given: float | None) -> tuple[float | None, str | None]:
        """The avg_factor the head passes, counted on ``counts`` (``given``: the sampling's), and
        how it arises: the rule's, times what the head multiplies it by."""
        avg, rule = avg_factor(self.rule, counts, given, self.given_rule, self.bg_cls_weight)
        if avg is None or self.times == 1:
            return avg, rule
        return avg * self.times, f"{f'({rule})' if rule and '+' in rule else rule} × {self.times_text}"

    def divisor(self, counts: Counts) -> float | None:
        """What the term is divided by after the module, counted on ``counts`` (``None``: nothing),
        a cascade stage's weight included."""
        by = divisor(self.rule, counts, sampling_avg(counts, self.given_rule))
        if self.weighted == 1:
            return by
        return (by if by is not None else 1.0) / self.weighted


def family_of(head_type: str | None) -> str | None:
    """The head family whose loss code ``head_type`` runs, or ``None`` where it is not modelled."""
    return FAMILY.get(bare_type(head_type)) if head_type else None


def rule_for(family: str | None, loss_name: str, term: str = "", phase: Phase | None = None) -> Rule:
    """The rule of ``loss_name`` in ``family`` (an anchor head's way where none is known); of its
    log term ``term`` where the family has a rule of that term's own (PISA's ``loss_carl``); in
    the training ``phase`` given, its rule there where the phase has one of its own."""
    rules = RULES.get(family or "", {}) | (phase.rules if phase is not None else {})
    own = rules.get(term.split(".")[-1]) if term else None
    return own or rules.get(loss_name, Rule())


def logged_rule(family: str | None, term: str) -> Rule:
    """The rule of the loss the training log prints as ``term`` (``s0.loss_cls``, ``loss_rpn_cls``)."""
    name = term.split(".")[-1]
    rules = RULES.get(family or "", {})
    # a two-stage detector's RPN term its log renames (rpn_loss_anchor_shape)
    names = (name, name.removeprefix("rpn_"))
    return next((r for key, r in rules.items() if {key, r.log_name, *r.parts} & set(names)), Rule())


# the weights that are the IoUs of the positives' predicted boxes with their targets
PREDICTED_IOUS = ("bbox_weights_ini", "bbox_weights_rf", "iou_target")


def _quality(kind: str, s: Sampled, rows: Tensor, g: torch.Generator, num_classes: int, args: list[Any]) -> Tensor:
    """Per-positive weights standing for the head's ``kind``: the IoUs of the boxes the module is
    given where the head weights by those (``args``, the positives' predicted and target boxes),
    else seeded stand-ins."""
    from losstune.engine.boxes import aligned_overlaps

    n = rows.numel()
    boxes = [a for a in args[:2] if isinstance(a, Tensor) and a.shape == (n, 4)]
    if kind in PREDICTED_IOUS and len(boxes) == 2:
        return aligned_overlaps(boxes[0], boxes[1]).clamp(min=1e-6)
    if kind == "weight_targets":
        return untrained_logits(n, num_classes, generator=g).sigmoid().max(dim=1)[0]
    if kind == _CENTERNESS:  # sqrt of the product of the two ratios of the distances to the sides
        lr, tb = torch.rand(n, generator=g), torch.rand(n, generator=g)
        return (lr * tb).sqrt().clamp(min=1e-6)
    return s.ious[rows].clamp(min=1e-6)


def feed(
    loss_name: str,
    made: Inputs,
    *,
    family: str | None,
    head_type: str,
    num_classes: int,
    seed: int,
    bg_cls_weight: float | None = None,
    where: Where | None = None,
    term: str = "",
    phase: Phase | None = None,
) -> Feed:
    """Apply the ``family``'s rule for ``loss_name`` (its log term ``term``; in the training
    ``phase`` given) to the inputs a dense head would pass (``made``), giving the inputs the module
    gets, the sampling text and the head's scaling (``where``: the head's and the model's configs,
    where the rule reads them: SABL's ``bbox_coder``, PISA's ``train_cfg``)."""
    r = rule_for(family, loss_name, term, phase)
    head = where.head if where is not None else {}
    model = where.model if where is not None else {}
    names = where.classes if where is not None else ()
    s = made.sampled
    args, kwargs = list(made.args), dict(made.kwargs)
    stats = dict(s.stats) if s is not None else {"avg_factor": kwargs.get("avg_factor")}
    text = s.description if s is not None else (made.unsampled or "")
    who = bare_type(head_type) if family is not None else "the head"
    out = Feed(made, text, stats, log_name=r.log_name or loss_name, family=family)
    if family is None and head_type:
        out.notes.append(f"losstune has no model of {bare_type(head_type)}'s own normalisation")
    if s is None:  # no sampler (a heatmap): the maker's avg_factor stands
        out.sampling = _with_avg(text, kwargs, made.avg_rule)
        return out
    positives = int(s.pos_mask.sum())
    g = torch.Generator().manual_seed(seed + 2)
    rows = torch.nonzero(s.pos_mask).squeeze(1)
    all_rows = bool(args) and hasattr(args[0], "size") and args[0].size(0) == s.labels.numel()
    if r.rows == "positives" and all_rows:
        args = [a[rows] if hasattr(a, "size") and a.size(0) == s.labels.numel() else a for a in args]
        text += f"; {who} hands the module the positives only"
    quality = _quality(r.quality, s, rows, g, num_classes, args) if r.quality else None
    if r.target == "quality" and quality is not None:  # one logit per positive against its quality
        args = [torch.randn(positives, generator=g), quality]
        text += f" (one logit each, against {QUALITY[r.quality]})"
    args, how = remade(family, Dense(loss_name, args, kwargs, s, rows, g, num_classes, head, model, names))
    stats.update(s.stats)  # what a maker counted (GLIP's tokens)
    text += how
    times, times_text = 1.0, ""
    if r.times == "points":
        times, times_text = heads_mask2former.avg_times(model)
    elif r.times == "frame_points":
        times, times_text = heads_mask2former_track.avg_times(model, head)
    elif r.times == "pixels":
        h, w = (int(d) for d in args[0].shape[-2:])
        times, times_text = h * w, f"the map's {h}×{w} pixels"
    elif r.times == "image_pixels":
        times, times_text = int(s.stats["pixels"]), f"h × w = the image's {int(s.stats['pixels'])} pixels"
    elif r.times:
        from losstune.engine import heads_sabl

        times, times_text = heads_sabl.avg_times(r.times, heads_sabl.coder_of(head))
    if r.weight == "none":
        args = args[:2]
        kwargs.pop("weight", None)
    elif r.weight == "quality" and quality is not None:
        weight = quality
        if loss_name == "loss_dfl":
            weight = quality.repeat_interleave(4)
        args = args[:2]
        kwargs["weight"] = weight
        text += f", weighted by {QUALITY[r.quality]}"
    head_weight = None
    if r.after == "weighted_sum":
        head_weight, weight_text = carl_weights(positives, num_classes, train_option(model, "carl") or {}, g)
        kwargs["reduction_override"] = "none"
        text += f"; reduction_override='none', the per-element losses weighted by {weight_text}"
    elif r.after == "selected":
        head_weight = torch.ones(int(args[0].shape[0]))
        text += f"; {heads_fsaf.SELECTION}"
    elif kwargs.get("reduction_override") == "none":  # the head sums the module's per-row losses itself
        head_weight = torch.ones(int(args[0].shape[0]))
    noted = TRAIN_NOTES.get(family or "", {}).get(loss_name)
    if noted is not None and train_option(model, noted[0]) is not None:
        out.notes.append(noted[1])
    total = float(positives) if r.after == "selected" else 0.0  # the positives the selection keeps: all
    if quality is not None:
        total = quality.sum().item() if r.rows == "positives" else s.ious[rows].sum().item()
    handed = int(args[0].shape[0]) if r.avg == "rows" else s.labels.numel()
    counts = Counts((positives,), (int(((s.label_weights > 0) & ~s.pos_mask).sum()),), handed, total)
    given = kwargs.get("avg_factor") if "avg_factor" in kwargs else None
    out.rule = AvgRule(r, made.avg_rule, bg_cls_weight, float(times), times_text)
    avg, rule = out.rule.passed(counts, given)
    if avg is None:
        kwargs.pop("avg_factor", None)
    else:
        kwargs["avg_factor"] = avg
    stats["avg_factor"] = avg
    out.sampling = _with_avg(text, kwargs, rule)
    by = divisor(r, counts, sampling_avg(counts, made.avg_rule))
    if by is not None:
        out.scale = 1.0 / by
    out.head_weight = head_weight
    if r.after == "weight_sum":
        what = QUALITY[r.quality]
        out.scale_text = f"÷ max(Σ {what}, 1) = {by:g}, as {r.by or f'{who}.loss_by_feat'} divides the summed term"
    elif r.after == "positives":
        what = f" ({r.after_what})" if r.after_what else ""
        out.scale_text = f"÷ max(positives, 1.0) = {by:g}{what}, as {who}.loss_by_feat divides"
    elif r.after == "pair_mean":
        out.scale_text = f"÷ {by:g}, the mean of the two calls, as {who}.loss_by_feat_single takes it"
    elif r.after == "images":
        out.scale_text = (
            f"÷ {r.after_what or 'the images'} ({by:g} on the model's one), as {who}.loss_by_feat averages "
            "its calls' terms"
        )
    elif r.after == "selected":
        out.scale_text = (
            f"Σ (loss × 1 where the selection keeps it) ÷ (the positives kept, or the negatives where none is "
            f"= {by:g}), as {who}.loss_by_feat divides"
        )
    elif r.after == "weighted_sum":
        out.scale_text = (
            f"Σ (loss × its row's weight) ÷ avg_factor ({made.avg_rule} = {by:g}), as {who}'s carl_loss reduces it"
        )
    out.inputs = Inputs(args, kwargs, s, made.unsampled, rule, made.others)
    return out


@dataclass(frozen=True)
class Counts:
    """What a head counts its avg_factor and its divisor from: per image, the positives and the
    labelled negatives; the rows it hands the module; the sum of the weights it weights the
    positives by (its quality)."""

    positives: tuple[int, ...]
    negatives: tuple[int, ...]
    rows: int
    weights: float = 0.0
    # per feature level: the positives a reweighting head counts there, and the module's result
    # there (DDODHead's; empty where the head does not reweight its levels)
    levels: tuple[tuple[int, float], ...] = ()

    @property
    def pos(self) -> int:
        return sum(self.positives)

    @property
    def neg(self) -> int:
        return sum(self.negatives)


def sampling_avg(counts: Counts, rule: str | None) -> float | None:
    """The avg_factor of the sampling (``SamplingResult.avg_factor`` summed over the images, as
    ``rule`` counts it: with the negatives where it names them), or the number ``rule`` is."""
    if rule is None:
        return None
    if rule == heads_cascade_rpn.ANCHORS_200:
        return counts.rows / heads_cascade_rpn.HARD_CODED
    if _is_number(rule):
        return float(rule.split(",")[0])
    with_neg = "negatives" in rule
    return float(
        sum(max(p, 1) + (max(n, 1) if with_neg else 0) for p, n in zip(counts.positives, counts.negatives, strict=True))
    )


def avg_factor(
    r: Rule, counts: Counts, given: float | None, given_rule: str | None, bg_cls_weight: float | None
) -> tuple[float | None, str | None]:
    """The avg_factor the head passes, counted by rule ``r`` from ``counts`` (``given``: the
    sampling's, ``None`` where no avg_factor is passed), and how it arises."""
    pos, neg = counts.pos, counts.neg
    if r.avg == "none":
        return None, None
    if r.avg == "given":
        return given, given_rule
    if r.avg == "positives":
        return max(float(pos), 1.0), r.avg_what or "max(positives, 1.0)"
    if r.avg == "positives_exact":
        return float(pos), f"positives ({r.avg_what or 'reduce_mean(num_pos)'}, not clamped)"
    if r.avg == "per_positive":
        return max(float(pos), 1.0) * r.constant, f"max(positives, 1) × {r.constant:g}"
    if r.avg == "constant":
        return r.constant, f"{r.constant:g}, as the head passes it (it divides the result itself, step 6)"
    if r.avg == "weight_sum":
        return max(counts.weights, r.floor), f"max(Σ weights, {r.floor:g})" if r.floor else "Σ weights"
    if r.avg == "rois":
        return float(counts.rows), "the sampled RoIs (bbox_targets.size(0))"
    if r.avg == "rows":
        return float(counts.rows), f"the rows handed ({r.avg_what})" if r.avg_what else "the rows handed"
    if r.avg == "labelled":
        return float(max(pos + neg, 1)), "max(RoIs with a label weight, 1)"
    if r.avg == "positives_or_images":
        return float(max(pos, len(counts.positives))), "max(positives, images = 1)"
    if r.avg == "positives_plus_images":
        return float(pos + len(counts.positives)), "positives + images (1)"
    if r.avg == "positives_plus_one":
        return float(pos + 1), "positives + 1 (num_pos + 1)"
    if r.avg == "rows_over":
        return counts.rows / r.constant, f"the locations of every level and image ÷ {r.constant:g} (loc_avg_factor)"
    if r.avg == "images":
        return float(len(counts.positives)), f"the images ({len(counts.positives)})"
    weight = 1.0 if bg_cls_weight is None else bg_cls_weight
    if r.avg == "class_weighted":
        text = f"Σ class_weight[labels] = positives + class_weight[-1] × negatives, class_weight[-1]={weight:g}"
        return pos + neg * weight, text
    value = max(pos + neg * weight, 1.0)
    return value, f"max(positives + bg_cls_weight × negatives, 1), bg_cls_weight={weight:g}"


def divisor(r: Rule, counts: Counts, given: float | None = None) -> float | None:
    """What the head divides the module's result by afterwards (``None``: nothing; ``given``: the
    sampling's avg_factor)."""
    if r.after in ("weighted_sum", "mined"):
        return given
    if r.after == "weight_sum":
        return max(counts.weights, 1.0)
    if r.after == "positives":
        return max(float(counts.pos), 1.0)
    if r.after == "pair_mean":
        return 2.0
    if r.after == "images":
        return float(max(len(counts.positives), 1))
    if r.after == "selected":
        return counts.weights if counts.weights > 0 else float(sum(max(n, 1) for n in counts.negatives))
    if r.after == "reweighted" and counts.levels:  # the model's own calls combine their levels themselves
        return heads_ddod.level_divisor(counts.levels)
    return None


def _with_avg(text: str, kwargs: dict[str, Any], rule: str | None) -> str:
    """The sampling text ending with how the avg_factor passed arises (or that none is)."""
    if "avg_factor" not in kwargs:
        return f"{text}; no avg_factor" + (f" ({rule})" if rule else "")
    value = kwargs["avg_factor"]
    shown = f"{value:g}" if isinstance(value, (int, float)) else str(value)
    if rule is None or rule == shown or _is_number(rule):
        return f"{text}; avg_factor = {shown}"
    return f"{text}; avg_factor = {rule} = {shown}"


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text.split(",")[0]))
    except ValueError:
        return False


DENSE_PRIORS, ROI_PRIORS = 20000, 2000  # the priors of one image, about
YOLOX_PRIORS = 8400  # a 640×640 image at strides 8, 16 and 32
DETR_QUERIES = 100  # DETR's default num_queries


@dataclass(frozen=True)
class Where:
    """Where a loss sits: its key path, the head dict, and the model dict around it."""

    path: tuple[Any, ...]
    head_path: tuple[Any, ...] | None
    head: dict[str, Any]
    model: dict[str, Any]
    version: int = 3  # the MMDetection major version modelled
    classes: tuple[str, ...] = ()  # the training dataset's class names, where read (a text detector's prompt)
    # the precomputed proposals of an image an RoI head trains on where the model has no RPN (Fast
    # R-CNN's, as the training pipeline loads them; proposals.train_proposals), and where that is said
    proposals: int | None = None
    proposals_by: str = ""


def num_queries(model: dict[str, Any], head: dict[str, Any]) -> int:
    """The queries of a DETR model: ``model.num_queries`` (3.x), else the head's ``num_query``
    (2.x), else 100."""
    for d, key in ((model, "num_queries"), (head, "num_query"), (head, "num_queries")):
        n = config_int(d, key, None, least=1)
        if n is not None:
            return n
    return DETR_QUERIES


def _decoder_layers(model: dict[str, Any], head: dict[str, Any]) -> int:
    """``model.decoder.num_layers`` (3.x), else ``head.transformer.decoder.num_layers`` (2.x), else 6."""
    transformer = head.get("transformer")
    for d in (model, transformer if isinstance(transformer, dict) else {}):
        layers = config_int(d.get("decoder"), "num_layers", None, least=1)
        if layers is not None:
            return layers
    return 6


def log_names(where: Where, family: str | None, name: str) -> list[str]:
    """The names the training log prints this loss under: the head's key, ``s{i}.`` for the stages
    of a cascade, and for a DETR head every decoder layer (``d{i}.``), the encoder (``enc_``) of a
    two-stage one and DINO's denoising queries (``dn_``, per layer too); in 3.x, ``rpn_`` before
    the key of a two-stage detector's RPN loss that does not name it (TwoStageDetector.loss renames
    them apart from the RoI head's: an FCOSHead as the RPN logs ``rpn_loss_cls``)."""
    names = _log_names(where, family, name)
    two_stage = where.head_path is not None and where.head_path[-1:] == ("rpn_head",) and "roi_head" in where.model
    if where.version >= 3 and two_stage:
        return [n if "loss" not in n or "rpn" in n else f"rpn_{n}" for n in names]
    return names


def _log_names(where: Where, family: str | None, name: str) -> list[str]:
    path = where.path
    if len(path) >= 2 and isinstance(path[-2], int) and "roi_head" in path:
        if where.version < 3 and _roi_type(where) == "SparseRoIHead":  # 2.x's forward_train names them so
            return [f"stage{path[-2]}_{name}"]
        return [f"s{path[-2]}.{name}"]
    if family == heads_cascade_rpn.CASCADE_RPN:
        return heads_cascade_rpn.stage_log_names(path, name)
    stages = shared_stages(where)
    if stages is not None:
        return [f"s{i}.{name}" for i in range(stages)]
    parts = rule_for(family, name).parts
    if parts:  # the parts of one call's result
        return list(parts)
    if family in ("Mask2FormerHead", heads_mask2former_track.TRACK_HEAD):
        return heads_mask2former.log_names(where.head, name)
    if family == heads_maskformer.MASKFORMER_HEAD:
        return heads_maskformer.log_names(where.head, name)
    if family not in DETR_FAMILIES:
        extra = EXTRA_TERMS.get(family or "", {}).get(name)
        return [name, extra[0]] if extra is not None and train_option(where.model, extra[1]) is not None else [name]
    model = where.model
    layers = _decoder_layers(model, where.head)
    if name in heads_ddq.AUX_LOSSES:
        return heads_ddq.aux_log_names(layers, name)
    names = [name] + [f"d{i}.{name}" for i in range(layers - 1)]
    if model.get("as_two_stage") is True or where.head.get("as_two_stage") is True:
        names.append(f"enc_{name}")
    if isinstance(model.get("dn_cfg"), dict):
        names += [f"dn_{name}"] + [f"d{i}.dn_{name}" for i in range(layers - 1)]
    return names


def shared_stages(where: Where) -> int | None:
    """A cascade RoI head's ``num_stages``, where the loss's head is its ``bbox_head`` or
    ``mask_head`` given as one dict: CascadeRoIHead builds that head once per stage, and each
    stage logs its terms as ``s{i}.``."""
    head_path = where.head_path or ()
    roi = where.model.get("roi_head")
    if len(head_path) < 2 or head_path[-2] != "roi_head" or head_path[-1] not in ("bbox_head", "mask_head"):
        return None
    if not isinstance(roi, dict) or _single_mask_head(where):
        return None
    stages = config_int(roi, "num_stages", None, least=1)
    if stages is None:
        return None
    return stages if isinstance(roi.get("stage_loss_weights"), list) else None


def stage_of(where: Where, term: str = "") -> int | None:
    """The cascade stage a loss (its log term ``term``) belongs to: its index in the list of heads,
    or, for a head all stages share, the ``s{i}.`` of the term."""
    path = where.path
    if "roi_head" in path and len(path) >= 2 and isinstance(path[-2], int):
        return path[-2]
    prefix = term.partition(".")[0]
    if shared_stages(where) is not None and prefix.startswith("s") and prefix[1:].isdigit():
        return int(prefix[1:])
    return 0 if shared_stages(where) is not None else None


def _single_mask_head(where: Where) -> bool:
    """Whether the loss is of SCNetRoIHead's ``mask_head``: one head, run once on the last stage's
    RoIs and logged ``loss_mask``, not a head of each stage."""
    head_path = where.head_path or ()
    return head_path[-2:] == ("roi_head", "mask_head") and _roi_type(where) == "SCNetRoIHead"


def stage_sampler(where: Where, term: str = "") -> dict[str, Any] | None:
    """The sampler of ``train_cfg.rcnn[i]`` a cascade samples stage ``i``'s RoIs with, for a head
    whose config names no stage (a ``mask_head`` all stages share: stage ``i`` of ``term``,
    ``s{i}.…``; SCNet's mask head: the last stage's), else ``None``."""
    train = where.model.get("train_cfg")
    rcnn = train.get("rcnn") if isinstance(train, dict) else None
    if not isinstance(rcnn, list) or not rcnn:
        return None
    if _single_mask_head(where):
        stage = len(rcnn) - 1
    else:
        found = stage_of(where, term) if shared_stages(where) is not None else None
        if found is None or found >= len(rcnn):
            return None
        stage = found
    entry = rcnn[stage]
    sampler = entry.get("sampler") if isinstance(entry, dict) else None
    return dict(sampler) if isinstance(sampler, dict) else None


def stage_weight(where: Where, term: str = "") -> tuple[float, str] | None:
    """The ``stage_loss_weights`` factor a cascade's RoI head multiplies stage ``i``'s terms by
    (``term``: the log term evaluated, ``s{i}.…``); for SCNet's mask head, their sum; for its
    global context head, the head's own ``loss_weight``."""
    if bare_type(str(where.head.get("type", ""))) == heads_glbctx.GLBCTX_HEAD:
        return heads_glbctx.head_weight(where.head)
    if _single_mask_head(where):
        roi = where.model["roi_head"]
        weights = roi.get("stage_loss_weights")
        found = [number(w) for w in weights] if isinstance(weights, list) else [None]
        if not found or any(w is None for w in found):
            return None
        total = float(sum(w for w in found if w is not None))
        return total, f"× sum(stage_loss_weights) = {total:g}, as SCNetRoIHead.loss weights the mask loss"
    stage = stage_of(where, term)
    if stage is None:
        return None
    roi = where.model.get("roi_head")
    weights = roi.get("stage_loss_weights") if isinstance(roi, dict) else None
    if not isinstance(weights, list) or stage >= len(weights):
        return None
    w = number(weights[stage])
    if w is None:
        return None
    who = "SparseRoIHead" if _roi_type(where) == "SparseRoIHead" else "CascadeRoIHead"
    return float(w), f"× stage_loss_weights[{stage}] = {w:g}, as {who}.loss weights stage {stage}"


def _roi_type(where: Where) -> str:
    """The bare type of the model's RoI head ("" where it has none)."""
    roi = where.model.get("roi_head")
    return bare_type(str(roi.get("type", ""))) if isinstance(roi, dict) else ""


def dn_groups(model: dict[str, Any], num_gts: int) -> int:
    """DINO's denoising groups (CdnQueryGenerator.get_num_groups): ``num_dn_queries // num_gts``
    with ``dynamic`` groups (100 queries unless set), else ``num_groups``."""
    dn = model.get("dn_cfg")
    group = dn.get("group_cfg") if isinstance(dn, dict) else None
    group = group if isinstance(group, dict) else {}
    groups = config_int(group, "num_groups", None)
    if group.get("dynamic", True) is False and groups is not None:
        return groups
    queries = config_int(group, "num_dn_queries", 100)
    return max(queries // num_gts, 1) if num_gts else 1


def _assigner(model: dict[str, Any]) -> dict[str, Any]:
    """``model.train_cfg.assigner`` where the config gives one (a dense head's), else ``{}``."""
    train = model.get("train_cfg")
    assigner = train.get("assigner") if isinstance(train, dict) else None
    return assigner if isinstance(assigner, dict) else {}


def _assigner_count(model: dict[str, Any], key: str, default: int) -> int:
    """The assigner's ``key`` where the config sets it to a positive int, else ``default``."""
    return config_int(_assigner(model), key, default, least=1)


def sampled_for(
    family: str | None,
    sampler: dict[str, Any] | None,
    *,
    where: Where,
    num_classes: int,
    roi_head: bool,
    num_priors: int | None,
    seed: int,
    term: str = "",
) -> Sampled:
    """The predictions of one image and their positives, as the family's assigner makes them
    (``term``: the log name evaluated, whose ``dn_`` terms are DINO's denoising queries)."""
    from losstune.engine.sampling import denoising, hungarian, sample, simota

    if family in heads_sparse.SPARSE_HEADS:
        stage = stage_of(where) or 0
        model = where.model
        return heads_sparse.matched(
            model, stage, num_classes=num_classes, num_priors=num_priors, num_gts=NUM_GTS, seed=seed
        ).sampled
    if family == "DETRHead" and where.path[-1] in heads_ddq.AUX_LOSSES:
        queries = num_priors or heads_ddq.dense_queries(where.model, num_queries(where.model, where.head))
        return heads_ddq.aux_assignment(
            where.model, where.head, num_queries=queries, num_gts=NUM_GTS, num_classes=num_classes, seed=seed
        )
    if family in DETR_FAMILIES and term.split(".")[-1].startswith("dn_"):
        return denoising(NUM_GTS, dn_groups(where.model, NUM_GTS), num_classes, seed)
    if family in DETR_FAMILIES:
        return hungarian(num_priors or num_queries(where.model, where.head), NUM_GTS, num_classes, seed)
    if family == heads_cascade_rpn.CASCADE_RPN:
        return heads_cascade_rpn.stage_sampled(
            where.model, where.path, num_priors=num_priors or DENSE_PRIORS, seed=seed
        )
    if family == "YOLOXHead":
        return simota(num_priors or YOLOX_PRIORS, NUM_GTS, num_classes, seed)
    if family == "YOLOFHead":
        match = _assigner_count(where.model, "match_times", heads_yolo.MATCH_TIMES)
        return heads_yolo.uniform(num_priors or DENSE_PRIORS, NUM_GTS, num_classes, seed, match)
    if family == "YOLOV3Head":
        return heads_yolo.grid(num_priors or DENSE_PRIORS, NUM_GTS, num_classes, seed)
    if family in ("RTMDetHead", "RTMDetInsHead"):
        priors = num_priors if num_priors is not None else DENSE_PRIORS
        return heads_rtmdet_ins.assignment(where.model, where.head, priors, NUM_GTS, num_classes, seed)
    priors = num_priors if num_priors is not None else default_priors(where, roi_head)
    return sample(sampler, num_priors=priors, num_classes=num_classes, roi_head=roi_head, seed=seed)


def default_priors(where: Where, roi_head: bool) -> int:
    """The predictions of one image where none are asked for: an RoI head's proposals (the
    precomputed ones the config loads, where it trains on them, else an RPN's, about), a dense
    head's priors."""
    if roi_head:
        return where.proposals or ROI_PRIORS
    return DENSE_PRIORS
