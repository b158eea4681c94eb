"""The input makers of the head families, one table: family -> how the inputs of its losses are
made where they are not a dense head's as the family's rule feeds them. ``own`` makes a family's
inputs in place of a dense head's (its own maps or points, with their own counts: CenterNet's,
CornerNet's, Grid R-CNN's heatmaps); ``remake`` turns a dense head's arguments, after the rule took its rows and
weights, into the ones the head hands (YOLOX's objectness, YOLOF's candidate boxes, YOLOv3's
masked maps, SABL's side buckets, SSD's hard negatives). A new family is one entry of :data:`MAKERS`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import Tensor

from losstune.engine import (
    heads_centernet,
    heads_condinst,
    heads_corner,
    heads_ddod,
    heads_ga,
    heads_glbctx,
    heads_glip,
    heads_grid,
    heads_lad,
    heads_mask2former,
    heads_mask2former_track,
    heads_maskformer,
    heads_maskiou,
    heads_masktrack,
    heads_point,
    heads_reppoints,
    heads_rtmdet_ins,
    heads_sabl,
    heads_semantic,
    heads_solo,
    heads_sparse,
    heads_ssd,
    heads_yolact,
    heads_yolo,
)
from losstune.engine.inputs import Inputs
from losstune.engine.sampling import NUM_GTS, Sampled


@dataclass(frozen=True)
class Own:
    """What a family that makes its own inputs is given: the loss (its key in the head, its config),
    the head's config, its classes, the predictions asked for (``None``: its own default, else
    ``default_priors``) and the seed."""

    loss_name: str
    loss_cfg: dict[str, Any]
    head: dict[str, Any]
    num_classes: int
    num_priors: int | None
    default_priors: int
    seed: int
    model: dict[str, Any] = field(default_factory=dict)  # the model dict around the head (its train_cfg)
    stage: int = 0  # the stage of a cascade's RoI head the loss is of


@dataclass(frozen=True)
class Dense:
    """A dense head's inputs of one loss as its family's rule left them (the positives' rows taken
    where the rule hands those only), with the assignment they come from, the positives' indices,
    the seeded generator of the rule's own draws and the head's config."""

    loss_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    sampled: Sampled
    rows: Tensor
    generator: torch.Generator
    num_classes: int
    head: dict[str, Any]
    model: dict[str, Any] = field(default_factory=dict)  # the model dict around the head (its train_cfg)
    names: tuple[str, ...] = ()  # the training dataset's class names, where read (GLIP's caption)


@dataclass(frozen=True)
class Maker:
    """How a family makes its losses' inputs (see the module's text); ``remake`` returns the
    arguments and what the head hands, in words, to add to the sampling text ("" where as made)."""

    own: Callable[[Own], Inputs | None] | None = None
    remake: Callable[[Dense], tuple[list[Any], str]] | None = None


def _sabl(d: Dense) -> tuple[list[Any], str]:
    """SABLRetinaHead's bucket losses on every prior's side-bucket columns; its others as made."""
    if d.loss_name not in heads_sabl.BUCKET_LOSSES:
        return d.args, ""
    coder = heads_sabl.coder_of(d.head)
    args = heads_sabl.bucket_inputs(d.loss_name, d.sampled.pos_mask, coder, d.generator)
    return list(args), heads_sabl.describe(d.loss_name, coder)


def _sabl_roi(d: Dense) -> tuple[list[Any], str]:
    """SABLHead's bucket losses on every sampled RoI's sides; its ``loss_cls`` as made."""
    if d.loss_name not in heads_sabl.BUCKET_LOSSES:
        return d.args, ""
    coder = heads_sabl.coder_of(d.head, heads_sabl.ROI_SCALE_FACTOR)
    args = heads_sabl.roi_bucket_inputs(d.loss_name, d.sampled.pos_mask, coder, d.generator)
    return args, heads_sabl.describe_roi(d.loss_name, coder)


def _sparse(o: Own) -> Inputs | None:
    """A stage of SparseRoIHead: its proposals matched to the sample image's boxes."""
    return heads_sparse.sparse_inputs(
        o.loss_name, o.model, o.stage, num_classes=o.num_classes, num_priors=o.num_priors, num_gts=NUM_GTS, seed=o.seed
    )


def _paa(d: Dense) -> tuple[list[Any], str]:
    """PAAHead's loss_centerness (logged loss_iou) on columns: ``iou_preds[pos]`` is ``(N, 1)``
    and its target ``iou_target.unsqueeze(-1)``; its others as made."""
    if d.loss_name != "loss_centerness" or not d.args or d.args[0].dim() != 1:
        return d.args, ""
    return [a.unsqueeze(-1) if i < 2 else a for i, a in enumerate(d.args)], " as (N, 1) columns"


def _rtmdet_boxes(d: Dense) -> tuple[list[Any], str]:
    """RTMDetHead's ``loss_bbox`` on the positives' own boxes where the assignment was computed on
    them (heads_rtmdet_ins); its others as made."""
    if d.loss_name != "loss_bbox":
        return d.args, ""
    return heads_rtmdet_ins.box_inputs(d.args, d.sampled, d.rows)


def _glip(d: Dense) -> tuple[list[Any], str]:
    """ATSSVLFusionHead's ``loss_cls`` on every anchor's caption tokens, flattened; its box terms
    as ATSSHead's."""
    if d.loss_name != "loss_cls":
        return d.args, ""
    cap = heads_glip.caption(d.model, d.num_classes, d.names)
    d.sampled.stats["tokens"] = cap.tokens  # the width the comparison reads its flat rows by
    return heads_glip.token_inputs(d.args, d.sampled.pos_mask, d.sampled.labels, cap, d.generator)


def _solo(family: str, o: Own) -> Inputs | None:
    """A SOLO head's grid cells, and its masks per level, on the model's image."""
    return heads_solo.solo_inputs(
        family, o.loss_name, o.head, num_classes=o.num_classes, num_priors=o.num_priors, seed=o.seed
    )


def _positives_masks(inputs: Callable[..., Inputs | None], o: Own) -> Inputs | None:
    """A dense head's mask loss on its positives' masks (CondInst's, RTMDet-Ins'): ``inputs`` of
    the loss, the head, the model, the classes, the priors, the sample image's boxes and the seed."""
    return inputs(
        o.loss_name,
        o.head,
        o.model,
        num_classes=o.num_classes,
        num_priors=o.num_priors or o.default_priors,
        num_gts=NUM_GTS,
        seed=o.seed,
    )


MAKERS: dict[str, Maker] = {
    "CenterNetHead": Maker(
        own=lambda o: heads_centernet.centernet_inputs(
            o.loss_name, o.loss_cfg, num_classes=o.num_classes, num_priors=o.num_priors, seed=o.seed
        )
    ),
    "CenterNetUpdateHead": Maker(
        own=lambda o: heads_centernet.update_inputs(
            o.loss_name,
            o.loss_cfg,
            head=o.head,
            num_classes=o.num_classes,
            num_priors=o.num_priors or o.default_priors,
            seed=o.seed,
        )
    ),
    "CornerHead": Maker(
        own=lambda o: heads_corner.corner_inputs(
            o.loss_name, o.loss_cfg, head=o.head, num_classes=o.num_classes, num_priors=o.num_priors, seed=o.seed
        )
    ),
    heads_corner.CENTRIPETAL_HEAD: Maker(own=lambda o: own_inputs("CornerHead", o)),  # its shifts there too
    "GridHead": Maker(
        own=lambda o: heads_grid.grid_inputs(
            o.loss_name,
            o.loss_cfg,
            head=o.head,
            model=o.model,
            num_classes=o.num_classes,
            num_priors=o.num_priors,
            seed=o.seed,
        )
    ),
    "MaskIoUHead": Maker(
        own=lambda o: heads_maskiou.mask_iou_inputs(
            o.loss_name, o.loss_cfg, model=o.model, num_classes=o.num_classes, num_priors=o.num_priors, seed=o.seed
        )
    ),
    "FusedSemanticHead": Maker(
        own=lambda o: heads_semantic.semantic_inputs(
            o.loss_name, o.loss_cfg, head=o.head, num_classes=o.num_classes, num_priors=o.num_priors, seed=o.seed
        )
    ),
    heads_semantic.PANOPTIC_FPN_HEAD: Maker(
        own=lambda o: heads_semantic.panoptic_fpn_inputs(o.loss_name, head=o.head, num_priors=o.num_priors, seed=o.seed)
    ),
    heads_glbctx.GLBCTX_HEAD: Maker(own=lambda o: heads_glbctx.glbctx_inputs(o.loss_name, head=o.head, seed=o.seed)),
    **{family: Maker(own=_sparse) for family in heads_sparse.SPARSE_HEADS},
    "CondInstMaskHead": Maker(own=partial(_positives_masks, heads_condinst.mask_inputs)),
    **{family: Maker(own=partial(_solo, family)) for family in heads_solo.SOLO_HEADS},
    heads_ddod.DDOD_HEAD: Maker(
        own=lambda o: heads_ddod.ddod_inputs(
            o.loss_name, o.head, o.model, num_classes=o.num_classes, num_priors=o.num_priors, seed=o.seed
        )
    ),
    heads_reppoints.REPPOINTS_HEAD: Maker(
        own=lambda o: heads_reppoints.reppoints_inputs(
            o.loss_name,
            o.loss_cfg,
            o.head,
            o.model,
            num_classes=o.num_classes,
            num_priors=o.num_priors or o.default_priors,
            seed=o.seed,
        )
    ),
    **{
        family: Maker(
            own=lambda o: heads_ga.ga_inputs(
                o.loss_name, o.head, o.model, num_priors=o.num_priors or o.default_priors, seed=o.seed
            )
        )
        for family in heads_ga.GA_FAMILIES
    },
    "RTMDetHead": Maker(remake=_rtmdet_boxes),
    "RTMDetInsHead": Maker(own=partial(_positives_masks, heads_rtmdet_ins.mask_inputs), remake=_rtmdet_boxes),
    "Mask2FormerHead": Maker(
        own=lambda o: heads_mask2former.mask2former_inputs(
            o.loss_name, o.loss_cfg, o.head, o.model, num_priors=o.num_priors, seed=o.seed
        )
    ),
    heads_mask2former_track.TRACK_HEAD: Maker(
        own=lambda o: heads_mask2former_track.track_inputs(
            o.loss_name, o.loss_cfg, o.head, o.model, num_priors=o.num_priors, seed=o.seed
        )
    ),
    heads_maskformer.MASKFORMER_HEAD: Maker(
        own=lambda o: heads_maskformer.maskformer_inputs(
            o.loss_name, o.loss_cfg, o.head, num_priors=o.num_priors, seed=o.seed
        )
    ),
    heads_yolact.YOLACT_HEAD: Maker(
        own=lambda o: heads_yolact.yolact_inputs(
            o.loss_name, o.loss_cfg, o.head, o.model, num_classes=o.num_classes, num_priors=o.num_priors, seed=o.seed
        )
    ),
    heads_yolact.PROTONET: Maker(
        own=lambda o: (
            heads_yolact.segm_inputs(o.loss_name, o.head, o.model, num_priors=o.num_priors, seed=o.seed)
            or heads_yolact.mask_inputs(
                o.loss_name, o.head, o.model, num_classes=o.num_classes, num_priors=o.num_priors, seed=o.seed
            )
        )
    ),
    heads_masktrack.EMBED_HEAD: Maker(
        own=lambda o: heads_masktrack.match_inputs(o.loss_name, o.model, num_priors=o.num_priors, seed=o.seed)
    ),
    # a MaskTrack R-CNN's RPN is handed its boxes' classes; any other RPN as made
    "RPNHead": Maker(remake=lambda d: heads_masktrack.rpn_labels(d.loss_name, d.args, d.sampled, d.generator, d.model)),
    "YOLOXHead": Maker(
        remake=lambda d: (
            heads_yolo.yolox_args(d.loss_name, d.args, d.sampled, d.rows, d.generator, d.num_classes),
            "",
        )
    ),
    "YOLOFHead": Maker(remake=lambda d: heads_yolo.yolof_args(d.loss_name, d.args, d.kwargs, d.rows)),
    "YOLOV3Head": Maker(
        remake=lambda d: heads_yolo.yolov3_args(d.loss_name, d.kwargs, d.sampled, d.generator, d.num_classes)
    ),
    "SABLRetinaHead": Maker(remake=_sabl),
    "PAAHead": Maker(remake=_paa),
    heads_glip.GLIP_HEAD: Maker(remake=_glip),
    heads_lad.LAD_HEAD: Maker(remake=lambda d: heads_lad.with_teacher(_paa(d))),
    "SABLHead": Maker(remake=_sabl_roi),
    "MaskPointHead": Maker(
        own=lambda o: heads_point.point_inputs(
            o.loss_name, head=o.head, model=o.model, num_classes=o.num_classes, num_priors=o.num_priors, seed=o.seed
        )
    ),
    **{
        family: Maker(
            remake=lambda d: heads_ssd.ssd_args(d.loss_name, d.args, d.num_classes, d.head, d.model, d.generator)
        )
        for family in heads_ssd.SSD_HEADS
    },
}


def own_inputs(family: str | None, own: Own) -> Inputs | None:
    """The inputs ``family`` makes of its own for ``own``'s loss (``None``: a dense head's are made,
    the family has no maker of its own or its own do not fit this loss)."""
    maker = MAKERS.get(family or "")
    return maker.own(own) if maker is not None and maker.own is not None else None


def remade(family: str | None, dense: Dense) -> tuple[list[Any], str]:
    """A dense head's arguments as ``family``'s head hands them, and the words for it."""
    maker = MAKERS.get(family or "")
    if maker is None or maker.remake is None:
        return dense.args, ""
    return maker.remake(dense)


__all__ = ["MAKERS", "Dense", "Maker", "Own", "own_inputs", "remade"]
