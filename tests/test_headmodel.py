"""The head model: what each head family of MMDetection 3.3.0 hands its loss modules and does with
their results, checked against the formulas of the heads' code, computed here by hand on the
inputs the model made (shapes, weights, avg_factor, the head's division, the log names)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import losstune  # noqa: E402
from losstune.engine.headmodel import AvgRule, Counts, Where, log_names, rule_for  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config, logged_terms  # noqa: E402
from tests.conftest import EXAMPLES  # noqa: E402
from tests.golden import assert_golden  # noqa: E402

EPS = torch.finfo(torch.float32).eps

HEADS = {
    "gfl": """
        model = dict(bbox_head=dict(type='GFLHead', num_classes=80, reg_max=16,
            loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0),
            loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0)))
        """,
    "fcos": """
        model = dict(bbox_head=dict(type='FCOSHead', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='IoULoss', loss_weight=1.0),
            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))
        """,
    "atss": """
        model = dict(bbox_head=dict(type='ATSSHead', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))
        """,
    "yolox": """
        model = dict(bbox_head=dict(type='YOLOXHead', num_classes=80,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='sum', loss_weight=1.0),
            loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16, reduction='sum', loss_weight=5.0),
            loss_obj=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='sum', loss_weight=1.0),
            loss_l1=dict(type='L1Loss', reduction='sum', loss_weight=1.0)))
        """,
    "centernet": """
        model = dict(bbox_head=dict(type='CenterNetHead', num_classes=80,
            loss_center_heatmap=dict(type='GaussianFocalLoss', loss_weight=1.0),
            loss_wh=dict(type='L1Loss', loss_weight=0.1),
            loss_offset=dict(type='L1Loss', loss_weight=1.0)))
        """,
    "centernet_update": """
        model = dict(bbox_head=dict(type='CenterNetUpdateHead', num_classes=80, soft_weight_on_reg=True,
            loss_cls=dict(type='GaussianFocalLoss', pos_weight=0.25, neg_weight=0.75, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0)))
        """,
    "corner": """
        model = dict(bbox_head=dict(type='CornerHead', num_classes=80, num_feat_levels=3,
            loss_heatmap=dict(type='GaussianFocalLoss', alpha=2.0, gamma=4.0, loss_weight=1),
            loss_embedding=dict(type='AssociativeEmbeddingLoss', pull_weight=0.1, push_weight=0.2),
            loss_offset=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1)))
        """,
    "grid": """
        model = dict(roi_head=dict(type='GridRoIHead',
            grid_head=dict(type='GridHead', grid_points=9, roi_feat_size=14,
                loss_grid=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=15))),
            train_cfg=dict(rcnn=dict(sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25,
                neg_pos_ub=-1, add_gt_as_proposals=True), pos_radius=1, max_num_grid=100)))
        """,
    "sabl_roi": """
        model = dict(roi_head=dict(type='StandardRoIHead',
            bbox_head=dict(type='SABLHead', num_classes=80,
                bbox_coder=dict(type='BucketingBBoxCoder', num_buckets=14, scale_factor=1.7),
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.5),
                loss_bbox_reg=dict(type='SmoothL1Loss', beta=0.1, loss_weight=1.0))),
            train_cfg=dict(rcnn=dict(sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25,
                neg_pos_ub=-1, add_gt_as_proposals=True))))
        """,
    "point_rend": """
        model = dict(roi_head=dict(type='PointRendRoIHead',
            point_head=dict(type='MaskPointHead', num_classes=80,
                loss_point=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=2.0))),
            train_cfg=dict(rcnn=dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=0.25,
                neg_pos_ub=-1, add_gt_as_proposals=True), num_points=49, oversample_ratio=3,
                importance_sample_ratio=0.75)))
        """,
    "scnet": """
        model = dict(roi_head=dict(type='SCNetRoIHead', num_stages=3, stage_loss_weights=[1, 0.5, 0.25],
            mask_head=dict(type='SCNetMaskHead', num_classes=80,
                loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)),
            semantic_head=dict(type='SCNetSemanticHead', num_classes=183,
                loss_seg=dict(type='CrossEntropyLoss', ignore_index=255, loss_weight=0.2)),
            glbctx_head=dict(type='GlobalContextHead', num_classes=80, loss_weight=3.0)),
            train_cfg=dict(rcnn=[
                dict(sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                    add_gt_as_proposals=True)),
                dict(sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                    add_gt_as_proposals=True)),
                dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=0.25, neg_pos_ub=-1,
                    add_gt_as_proposals=True))]))
        """,
    "ms": """
        model = dict(roi_head=dict(type='MaskScoringRoIHead',
            mask_iou_head=dict(type='MaskIoUHead', num_classes=80)),
            train_cfg=dict(rcnn=dict(sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25,
                neg_pos_ub=-1, add_gt_as_proposals=True), mask_thr_binary=0.5)))
        """,
    "htc": """
        model = dict(roi_head=dict(type='HybridTaskCascadeRoIHead',
            semantic_head=dict(type='FusedSemanticHead', num_ins=5, fusion_level=1, num_classes=183,
                loss_seg=dict(type='CrossEntropyLoss', ignore_index=255, loss_weight=0.2))))
        """,
    "vfnet": """
        model = dict(bbox_head=dict(type='VFNetHead', num_classes=80,
            loss_bbox=dict(type='GIoULoss', loss_weight=1.5)))
        """,
    "fovea": """
        model = dict(bbox_head=dict(type='FoveaHead', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=1.5, alpha=0.4, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=0.11, loss_weight=1.0)))
        """,
    "yolof": """
        model = dict(bbox_head=dict(type='YOLOFHead', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=1.0)),
            train_cfg=dict(assigner=dict(type='UniformAssigner', pos_ignore_thr=0.15, neg_ignore_thr=0.7)))
        """,
    "yolov3": """
        model = dict(bbox_head=dict(type='YOLOV3Head', num_classes=80,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0, reduction='sum'),
            loss_conf=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0, reduction='sum'),
            loss_xy=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=2.0, reduction='sum'),
            loss_wh=dict(type='MSELoss', loss_weight=2.0, reduction='sum')))
        """,
    "detr": """
        model = dict(type='DETR', num_queries=100, decoder=dict(num_layers=6),
            bbox_head=dict(type='DETRHead', num_classes=80,
            loss_cls=dict(type='CrossEntropyLoss', bg_cls_weight=0.1, use_sigmoid=False, loss_weight=1.0,
                          class_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=5.0),
            loss_iou=dict(type='GIoULoss', loss_weight=2.0)))
        """,
    "dino": """
        model = dict(type='DINO', num_queries=900, as_two_stage=True, decoder=dict(num_layers=6),
            dn_cfg=dict(label_noise_scale=0.5, box_noise_scale=1.0, group_cfg=dict(dynamic=True, num_dn_queries=100)),
            bbox_head=dict(type='DINOHead', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=5.0),
            loss_iou=dict(type='GIoULoss', loss_weight=2.0)))
        """,
    "sabl": """
        model = dict(bbox_head=dict(type='SABLRetinaHead', num_classes=80,
            bbox_coder=dict(type='BucketingBBoxCoder', num_buckets=10, scale_factor=3.0, offset_topk=3),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.5),
            loss_bbox_reg=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.5)))
        """,
    "pisa": """
        model = dict(bbox_head=dict(type='PISARetinaHead', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=0.11, loss_weight=0.5)),
            train_cfg=dict(isr=dict(k=2., bias=0.), carl=dict(k=2., bias=0.5)))
        """,
    "tood": """
        model = dict(bbox_head=dict(type='TOODHead', num_classes=80,
            initial_loss_cls=dict(type='FocalLoss', use_sigmoid=True, activated=True, gamma=2.0, alpha=0.25,
                loss_weight=1.0),
            loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, activated=True, beta=2.0, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
            train_cfg=dict(initial_epoch=4, initial_assigner=dict(type='ATSSAssigner', topk=9),
                assigner=dict(type='TaskAlignedAssigner', topk=13), alpha=1, beta=6))
        """,
    "fsaf": """
        model = dict(bbox_head=dict(type='FSAFHead', num_classes=80, reg_decoded_bbox=True,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0, reduction='none'),
            loss_bbox=dict(type='IoULoss', eps=1e-6, loss_weight=1.0, reduction='none')))
        """,
    # no loss dict: SSDHead's loss_cls and loss_bbox are its own code (F.cross_entropy, smooth_l1_loss)
    "ssd": """
        model = dict(bbox_head=dict(type='SSDHead', num_classes=80,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[0.1, 0.1, 0.2, 0.2])),
            train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.),
                sampler=dict(type='PseudoSampler'), smoothl1_beta=0.5, neg_pos_ratio=3))
        """,
    # Sparse R-CNN's SparseRoIHead of two DIIHead stages (QueryInst's adds a DynamicMaskHead each)
    "sparse": """
        model = dict(type='SparseRCNN',
            rpn_head=dict(type='EmbeddingRPNHead', num_proposals=100, proposal_feature_channel=256),
            roi_head=dict(type='SparseRoIHead', num_stages=2, stage_loss_weights=[1, 0.5],
                bbox_head=[dict(type='DIIHead', num_classes=80,
                    bbox_coder=dict(type='DeltaXYWHBBoxCoder', clip_border=False, target_means=[0., 0., 0., 0.],
                                    target_stds=[0.5, 0.5, 1., 1.]),
                    loss_bbox=dict(type='L1Loss', loss_weight=5.0),
                    loss_iou=dict(type='GIoULoss', loss_weight=2.0),
                    loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=2.0))
                    for _ in range(2)],
                mask_head=[dict(type='DynamicMaskHead', num_classes=80, roi_feat_size=14,
                    loss_mask=dict(type='DiceLoss', loss_weight=8.0, use_sigmoid=True, activate=False, eps=1e-5))
                    for _ in range(2)]),
            train_cfg=dict(rpn=None, rcnn=[dict(
                assigner=dict(type='HungarianAssigner', match_costs=[
                    dict(type='FocalLossCost', weight=2.0),
                    dict(type='BBoxL1Cost', weight=5.0, box_format='xyxy'),
                    dict(type='IoUCost', iou_mode='giou', weight=2.0)]),
                sampler=dict(type='PseudoSampler'), pos_weight=1, mask_size=28) for _ in range(2)]))
        """,
    "pisa_plain": """
        model = dict(bbox_head=dict(type='PISARetinaHead', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=0.11, loss_weight=0.5)))
        """,
}


@pytest.fixture
def head(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    """``head("gfl", "loss_bbox", num_priors=..., seed=...)``: the loss of that head evaluated."""

    def _eval(name: str, key: str, **options: Any) -> EvalResult:
        path = write(f"{name}.py", HEADS[name])
        return evaluate_config(losstune.load(path), key, **options)

    return _eval


def _giou(pred: Any, target: Any) -> Any:
    """1 - GIoU of aligned boxes, as mmdet's giou_loss computes it (eps 1e-6)."""
    lt, rb = torch.max(pred[:, :2], target[:, :2]), torch.min(pred[:, 2:], target[:, 2:])
    overlap = (rb - lt).clamp(min=0).prod(1)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    union = area(pred) + area(target) - overlap + 1e-6
    ious = overlap / union
    elt, erb = torch.min(pred[:, :2], target[:, :2]), torch.max(pred[:, 2:], target[:, 2:])
    enclose = (erb - elt).clamp(min=0).prod(1) + 1e-6
    return 1 - (ious - (enclose - union) / enclose)


def _iou(pred: Any, target: Any) -> Any:
    lt, rb = torch.max(pred[:, :2], target[:, :2]), torch.min(pred[:, 2:], target[:, 2:])
    overlap = (rb - lt).clamp(min=0).prod(1)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    return overlap / (area(pred) + area(target) - overlap).clamp(min=1e-6)


def _positives(r: EvalResult) -> int:
    return int(r.trace.steps[0].value["positives"])


@pytest.mark.parametrize(("num_priors", "seed"), [(None, 0), (50, 3)])
def test_gfl_box_losses_are_divided_by_the_sum_of_weight_targets(
    head: Callable[..., EvalResult], num_priors: int | None, seed: int
) -> None:
    # GFLHead.loss_by_feat_single: loss_bbox(pos_decode_bbox_pred, pos_decode_bbox_targets,
    # weight=weight_targets, avg_factor=1.0); loss_by_feat: losses_bbox / max(Σ weight_targets, 1)
    r = head("gfl", "loss_bbox", num_priors=num_priors, seed=seed)
    pred, target = r.args
    w, p = r.kwargs["weight"], _positives(r)
    assert pred.shape == (p, 4) and w.shape == (p,) and r.kwargs["avg_factor"] == 1.0
    divisor = max(float(w.sum()), 1.0)
    expected = 2.0 * float((_giou(pred, target) * w).sum()) / (1.0 + EPS) / divisor
    assert float(r.logged) == pytest.approx(expected, rel=1e-5, abs=1e-7)
    if p == 0:
        assert float(r.logged) == 0.0
    # loss_dfl(pred_corners, target_corners, weight=weight_targets expanded to the 4 sides, avg_factor=4.0),
    # divided by the same Σ weight_targets
    d = head("gfl", "loss_dfl", num_priors=num_priors, seed=seed)
    assert d.args[0].shape == (4 * p, 17) and d.kwargs["avg_factor"] == 4.0
    per_positive = d.kwargs["weight"].view(-1, 4)
    assert torch.equal(per_positive, per_positive[:, :1].expand(-1, 4))
    assert float(d.logged) == pytest.approx(float(d.trace.loss) / max(float(per_positive[:, 0].sum()), 1.0))
    assert r.log_name == "loss_bbox" and d.log_name == "loss_dfl"


def test_fcos_normalises_boxes_by_the_centerness_sum_and_the_rest_by_positives(
    head: Callable[..., EvalResult],
) -> None:
    r = head("fcos", "loss_bbox")
    pred, target = r.args
    w, p = r.kwargs["weight"], _positives(r)
    assert pred.shape == (p, 4) and w.shape == (p,)
    # centerness_denorm = max(reduce_mean(pos_centerness_targets.sum()), 1e-6), passed to the module
    assert r.kwargs["avg_factor"] == pytest.approx(max(float(w.sum()), 1e-6))
    expected = float((-_iou(pred, target).clamp(min=1e-6).log() * w).sum()) / (r.kwargs["avg_factor"] + EPS)
    assert float(r.logged) == pytest.approx(expected, rel=1e-5)
    assert [s.name for s in r.trace.steps][-1] == "loss_weight"  # nothing after the module
    # loss_cls(flatten_cls_scores, flatten_labels, avg_factor=num_pos): every point, no weight
    c = head("fcos", "loss_cls")
    assert len(c.args) == 2 and "weight" not in c.kwargs and c.kwargs["avg_factor"] == max(p, 1)
    c0 = head("fcos", "loss_cls", num_priors=50, seed=3)
    assert _positives(c0) == 0 and c0.kwargs["avg_factor"] == 1.0


def test_atss_centerness_is_one_logit_per_positive_against_its_target(head: Callable[..., EvalResult]) -> None:
    # loss_centerness(pos_centerness, centerness_targets, avg_factor=avg_factor)
    r = head("atss", "loss_centerness")
    logits, targets = r.args
    p = _positives(r)
    assert logits.shape == (p,) and targets.shape == (p,) and targets.is_floating_point()
    assert r.kwargs["avg_factor"] == max(p, 1)
    expected = float(F.binary_cross_entropy_with_logits(logits, targets, reduction="sum")) / (p + EPS)
    assert float(r.logged) == pytest.approx(expected, rel=1e-5)
    b = head("atss", "loss_bbox")
    assert b.kwargs["avg_factor"] == 1.0 and b.trace.steps[-1].name == "head"


def test_yolox_objectness_has_one_channel_and_every_term_is_divided_by_the_positives(
    head: Callable[..., EvalResult],
) -> None:
    # YOLOXHead.loss_by_feat: loss_obj(flatten_objectness.view(-1, 1), obj_targets) / num_total_samples
    r = head("yolox", "loss_obj")
    logits, targets = r.args
    p = _positives(r)
    assert logits.shape == (8400, 1) and targets.shape == (8400, 1) and int(targets.sum()) == p > 0
    assert "avg_factor" not in r.kwargs
    expected = float(F.binary_cross_entropy_with_logits(logits, targets, reduction="sum")) / max(p, 1)
    assert float(r.logged) == pytest.approx(expected, rel=1e-5)
    assert "SimOTAAssigner (approximated)" in r.trace.steps[0].description
    assert p == 8  # an untrained head: dynamic_k = 1 for each of the 8 boxes, as YOLOXHead gives
    # loss_cls(flatten_cls_preds[pos_masks], cls_targets): the positives against one-hot × IoU
    c = head("yolox", "loss_cls")
    logits, targets = c.args
    assert logits.shape == (p, 80) and targets.shape == (p, 80)
    assert torch.all((targets > 0).sum(1) == 1) and float(targets.max()) < 1
    expected = float(F.binary_cross_entropy_with_logits(logits, targets, reduction="sum")) / max(p, 1)
    assert float(c.logged) == pytest.approx(expected, rel=1e-5)


def test_detr_feeds_every_query_and_matches_one_per_box(head: Callable[..., EvalResult]) -> None:
    r = head("detr", "loss_cls")
    scores, labels, label_weights = r.args
    p = _positives(r)
    assert scores.shape == (100, 81) and p == 8 and int((labels < 80).sum()) == p
    # cls_avg_factor = max(num_total_pos + num_total_neg × bg_cls_weight, 1)
    avg = max(p + (100 - p) * 0.1, 1)
    assert r.kwargs["avg_factor"] == pytest.approx(avg)
    weight = torch.ones(81)
    weight[80] = 0.1
    expected = float((F.cross_entropy(scores, labels, weight=weight, reduction="none") * label_weights).sum())
    assert float(r.logged) == pytest.approx(expected / (avg + EPS), rel=1e-5)
    # loss_bbox(bbox_preds, bbox_targets, bbox_weights, avg_factor=num_total_pos)
    b = head("detr", "loss_bbox")
    assert b.args[0].shape == (100, 4) and b.kwargs["avg_factor"] == 8.0
    assert int(b.args[2][:, 0].sum()) == 8
    # the other DETR heads weight no background: avg_factor = positives
    d = head("dino", "loss_cls")
    assert d.args[0].shape == (900, 80) and d.kwargs["avg_factor"] == 8.0
    assert "one matched to each of the 8 boxes" in d.trace.steps[0].description


def test_detr_terms_are_named_as_the_log_names_them(write: Callable[..., Path]) -> None:
    cfg = losstune.load(write("dino.py", HEADS["dino"]))
    model = cfg.tree["model"]
    where = Where(("model", "bbox_head", "loss_cls"), ("model", "bbox_head"), model["bbox_head"], model)
    names = log_names(where, "DETRHead", "loss_cls")
    assert names[0] == "loss_cls" and names[1:6] == [f"d{i}.loss_cls" for i in range(5)]
    assert "enc_loss_cls" in names and "dn_loss_cls" in names and "d4.dn_loss_cls" in names
    assert len(names) == 6 + 1 + 6


def test_a_loss_is_asked_for_by_its_term_as_the_log_names_it(write: Callable[..., Path]) -> None:
    from losstune.engine.inputs import InputError
    from losstune.keypath import KeyPathError

    cascade = losstune.load(EXAMPLES / "cascade_rcnn_r50_fpn_1x_coco.py")
    by_name, by_key = evaluate_config(cascade, "s1.loss_cls"), evaluate_config(cascade, "bbox_head.1.loss_cls")
    assert by_name.loss.key == by_key.loss.key == "model.roi_head.bbox_head.1.loss_cls"
    assert by_name.log_name == "s1.loss_cls" and float(by_name.logged) == float(by_key.logged)
    rpn = evaluate_config(losstune.load(EXAMPLES / "faster_rcnn_r50_fpn_1x_coco.py"), "loss_rpn_cls")
    assert rpn.loss.key == "model.rpn_head.loss_cls" and rpn.log_name == "loss_rpn_cls"
    # a DETR head's decoder layer: that layer's predictions, as the term asked for by the API
    dino = losstune.load(write("dino.py", HEADS["dino"]))
    d2 = evaluate_config(dino, "d2.loss_iou")
    assert d2.loss.key == "model.bbox_head.loss_iou" and d2.log_name == "d2.loss_iou"
    assert float(d2.logged) == float(evaluate_config(dino, "loss_iou", term="d2.loss_iou").logged)
    assert float(d2.logged) != float(evaluate_config(dino, "loss_iou").logged)
    with pytest.raises(
        InputError, match=re.escape("the log's name of model.bbox_head.loss_iou's term d2.loss_iou, not")
    ):
        evaluate_config(dino, "d2.loss_iou", term="d3.loss_iou")
    with pytest.raises(KeyPathError, match="names nothing"):  # a name no term is logged as stays the key's error
        evaluate_config(cascade, "s3.loss_cls")


def test_roi_box_loss_takes_the_positives_normalised_by_every_sampled_roi() -> None:
    r = evaluate_config(losstune.load(EXAMPLES / "faster_rcnn_r50_fpn_1x_coco.py"), "roi_head.bbox_head.loss_bbox")
    stats = r.trace.steps[0].value
    # BBoxHead.loss: loss_bbox(pos_bbox_pred, bbox_targets[pos], bbox_weights[pos], avg_factor=bbox_targets.size(0))
    assert r.args[0].shape == (stats["positives"], 4)
    assert r.kwargs["avg_factor"] == stats["positives"] + stats["negatives"]
    c = evaluate_config(losstune.load(EXAMPLES / "faster_rcnn_r50_fpn_1x_coco.py"), "roi_head.bbox_head.loss_cls")
    assert c.kwargs["avg_factor"] == max(int((c.args[2] > 0).sum()), 1)  # max(label_weights > 0, 1)


def test_cascade_stages_are_named_and_weighted_as_cascade_roi_head_does() -> None:
    cfg = losstune.load(EXAMPLES / "cascade_rcnn_r50_fpn_1x_coco.py")
    weights = cfg.tree["model"]["roi_head"]["stage_loss_weights"]
    for stage in (0, 1, 2):
        r = evaluate_config(cfg, f"bbox_head.{stage}.loss_bbox")
        assert r.log_name == f"s{stage}.loss_bbox"
        assert float(r.logged) == pytest.approx(float(r.trace.loss) * weights[stage])
    rpn = evaluate_config(cfg, "rpn_head.loss_cls")
    assert rpn.log_name == "loss_rpn_cls"


def _stated(step: str) -> str | None:
    """The avg_factor the sampling step says is passed (None: it says none is)."""
    if "no avg_factor" in step:
        return None
    found = re.findall(r"avg_factor = (?:.* = )?([-+0-9.e]+)$", step)
    assert found, step
    return found[-1]


@pytest.mark.parametrize("name", sorted(HEADS))
def test_step_1_states_the_avg_factor_that_step_4_divides_by(write: Callable[..., Path], name: str) -> None:
    cfgs = [losstune.load(write(f"{name}.py", HEADS[name]))]
    if name == "gfl":
        cfgs += [losstune.load(p) for p in sorted(EXAMPLES.glob("*.py"))]
    from losstune.engine.session import NotCalled

    epochs = (0, 4) if name == "tood" else (0,)  # each phase of a head whose losses follow the epoch
    for cfg in cfgs:
        for loss in cfg.losses():
            for seed, priors, epoch in ((s, p, e) for s, p in ((0, None), (3, 50)) for e in epochs):
                try:
                    r = evaluate_config(cfg, loss.key, seed=seed, num_priors=priors, epoch=epoch)
                except NotCalled:  # not called in this phase (TOOD's loss_cls before initial_epoch)
                    continue
                stated = _stated(r.trace.steps[0].description)
                passed = r.kwargs.get("avg_factor")
                assert (stated is None) == (passed is None), r.trace.steps[0].description
                if passed is not None:
                    assert float(stated or "nan") == pytest.approx(float(passed), rel=1e-5)
                    assert r.trace.steps[0].value["avg_factor"] == passed
                    reductions = [s.description for s in r.trace.steps if s.name == "reduction"]
                    # or an element-wise loss the head reduces itself (FSAF's), which says it ignores it
                    ignored = "reduction='none': avg_factor is ignored"
                    assert all(
                        d.endswith(f"avg_factor={float(passed):g}") or d.startswith(ignored) for d in reductions
                    ), reductions


def test_a_heatmap_states_its_avg_factor_once(head: Callable[..., EvalResult]) -> None:
    r = head("centernet", "loss_center_heatmap")
    step = r.trace.steps[0].description
    # CenterNetHead.loss_by_feat: avg_factor = max(1, center_heatmap_target.eq(1).sum())
    peaks = max(1, int(r.args[1].eq(1).sum()))
    assert step.count("avg_factor") == 1 and step.endswith(f"avg_factor = max(positives, 1.0) = {peaks}")
    assert r.kwargs["avg_factor"] == peaks


def test_centernet_hands_its_losses_whole_maps(head: Callable[..., EvalResult]) -> None:
    """CenterNetHead.loss_by_feat: the heatmap (N, C, H, W) against Gaussian peaks, avg_factor
    max(1, peaks); wh and offset (N, 2, H, W) weighted 1 at the centres, avg_factor twice that."""
    heat = head("centernet", "loss_center_heatmap", num_priors=32 * 32)
    pred, target = heat.args
    assert pred.shape == target.shape == (1, 80, 32, 32)
    peaks = int(target.eq(1).sum())
    assert 1 <= peaks <= 8 and heat.kwargs["avg_factor"] == peaks
    eps = 1e-12
    pos = -(pred + eps).log() * (1 - pred).pow(2) * target.eq(1)
    neg = -(1 - pred + eps).log() * pred.pow(2) * (1 - target).pow(4)
    assert float(heat.logged) == pytest.approx(float((pos + neg).sum() / (peaks + EPS)), rel=1e-5)
    for key, loss_weight in (("loss_wh", 0.1), ("loss_offset", 1.0)):
        r = head("centernet", key, num_priors=32 * 32)
        wh_pred, wh_target, weight = r.args
        assert wh_pred.shape == wh_target.shape == weight.shape == (1, 2, 32, 32)
        # the weight marks the heatmap's peaks, the same pixels in both channels
        assert torch.equal(weight[0, 0] > 0, target[0].eq(1).any(0)) and torch.equal(weight[0, 0], weight[0, 1])
        assert r.kwargs["avg_factor"] == 2 * peaks
        expected = ((wh_pred - wh_target).abs() * weight).sum() / (2 * peaks + EPS) * loss_weight
        assert float(r.logged) == pytest.approx(float(expected), rel=1e-5)
    sizes = head("centernet", "loss_wh", num_priors=32 * 32).args[1]
    at = sizes[0, 0] > 0
    assert ((sizes[0][:, at] >= 3.2) & (sizes[0][:, at] <= 16)).all()  # a tenth to a half of the side


def _gfl(pred: Any, target: Any, avg: float) -> float:
    eps = 1e-12
    pos = -(pred + eps).log() * (1 - pred).pow(2) * target.eq(1)
    neg = -(1 - pred + eps).log() * pred.pow(2) * (1 - target).pow(4)
    return float((pos + neg).sum() / (avg + EPS))


def _corner_calls(loss: str, levels: int = 3) -> list[Any]:
    """Every call the model makes for ``loss`` of the ``corner`` head (32 × 32 maps, seed 0)."""
    from losstune.engine.heads_corner import corner_inputs

    cfg = {"loss_heatmap": "GaussianFocalLoss", "loss_offset": "SmoothL1Loss"}.get(loss, "AssociativeEmbeddingLoss")
    made = corner_inputs(
        loss, {"type": cfg}, head={"num_feat_levels": levels}, num_classes=80, num_priors=32 * 32, seed=0
    )
    assert made is not None and made.others is not None
    return [made, *made.others.calls]


def test_cornernet_averages_its_corners_and_sums_its_stacks(head: Callable[..., EvalResult]) -> None:
    """CornerHead.loss_by_feat_single: GaussianFocalLoss on each corner's sigmoid heatmap, avg_factor
    max(1, its peaks), det_loss their mean; SmoothL1 on each corner's offsets weighted by the
    class-agnostic corner mask (one channel), avg_factor max(1, the mask's pixels), not twice it;
    the log sums the num_feat_levels stacks."""
    det = head("corner", "loss_heatmap", num_priors=32 * 32)
    assert det.log_name == "det_loss" and det.log_names == ["det_loss"]
    calls = _corner_calls("loss_heatmap")
    assert len(calls) == 6  # top-left and bottom-right, for each of the 3 stacks
    (tl_pred, tl), (_, br) = calls[0].args, calls[1].args
    match = _corner_calls("loss_embedding")[0].args[2][0]  # the corner pairs, [[tl_y, tl_x], [br_y, br_x]]
    for peaks, at in ((tl, 0), (br, 1)):
        assert {tuple(p) for p in peaks[0].eq(1).nonzero()[:, 1:].tolist()} == {tuple(m[at]) for m in match}
    assert tl_pred.shape == tl.shape == (1, 80, 32, 32) and torch.equal(tl_pred, det.args[0])
    assert torch.equal(tl, calls[2].args[1]) and not torch.equal(tl_pred, calls[2].args[0])  # same targets
    assert not torch.equal(tl, br) and int(tl.eq(1).sum()) == int(br.eq(1).sum()) == 8
    values = [_gfl(c.args[0], c.args[1], max(1, int(c.args[1].eq(1).sum()))) for c in calls]
    assert float(det.trace.loss) == pytest.approx(values[0], rel=1e-5)
    expected = sum((values[2 * i] + values[2 * i + 1]) / 2 for i in range(3))
    assert float(det.logged) == pytest.approx(expected, rel=1e-5)
    assert det.trace.steps[-1].name == "head" and "Σ over the 3 stacks" in det.trace.steps[-1].description

    off = head("corner", "loss_offset", num_priors=32 * 32)
    assert off.log_name == "off_loss"
    calls = _corner_calls("loss_offset")
    total = 0.0
    for c in calls:
        pred, target, mask = c.args
        assert pred.shape == target.shape == (1, 2, 32, 32) and mask.shape == (1, 1, 32, 32)
        assert c.kwargs["avg_factor"] == float(mask.sum()) == 8.0
        d = (pred - target).abs()
        total += float((torch.where(d < 1, 0.5 * d * d, d - 0.5) * mask).sum() / (8 + EPS))
    assert float(off.logged) == pytest.approx(total / 2, rel=1e-5)
    mask, target = calls[0].args[2], calls[0].args[1]
    assert torch.equal(mask[0, 0] > 0, calls[0].sampled.pos_mask.view(32, 32))
    assert ((target[0][:, mask[0, 0] > 0] >= 0) & (target[0][:, mask[0, 0] > 0] < 1)).all()  # sub-pixel


def test_cornernets_embedding_loss_gives_pull_and_push(head: Callable[..., EvalResult]) -> None:
    """AssociativeEmbeddingLoss, once per stack on the two embedding maps and the corner pairs:
    pull = w_pull × Σ (e - ē)² / K, push = w_push × Σ_{j≠k} relu(1 - |ē_j - ē_k|) / (K(K - 1)),
    logged as pull_loss and push_loss, each summed over the stacks; no avg_factor."""
    r = head("corner", "loss_embedding", num_priors=32 * 32)
    assert r.log_names == ["pull_loss", "push_loss"] and "avg_factor" not in r.kwargs
    pulls, pushes = [], []
    for c in _corner_calls("loss_embedding"):
        tl, br, match = c.args
        assert tl.shape == br.shape == (1, 1, 32, 32) and len(match) == 1 and len(match[0]) == 8
        e_tl = torch.stack([tl[0, 0, y, x] for (y, x), _ in match[0]])
        e_br = torch.stack([br[0, 0, y, x] for _, (y, x) in match[0]])
        mean = (e_tl + e_br) / 2
        pulls.append(0.1 * float(((e_tl - mean) ** 2 + (e_br - mean) ** 2).sum() / 8))
        apart = (1 - (mean[:, None] - mean[None, :]).abs()).clamp(min=0) * (1 - torch.eye(8))
        pushes.append(0.2 * float(apart.sum() / (8 * 7)))
    terms = logged_terms(r)
    assert list(terms) == ["pull_loss", "push_loss"]
    assert float(terms["pull_loss"]) == pytest.approx(sum(pulls), rel=1e-5)
    assert float(terms["push_loss"]) == pytest.approx(sum(pushes), rel=1e-5)
    assert float(r.trace.loss.pull) == pytest.approx(pulls[0], rel=1e-5)
    # the two terms of one call: either name evaluates the same call
    push = head("corner", "loss_embedding", num_priors=32 * 32, term="push_loss")
    assert float(logged_terms(push)["push_loss"]) == pytest.approx(sum(pushes), rel=1e-5)


def test_cornernet_without_embeddings_never_calls_its_embedding_loss(write: Callable[..., Path]) -> None:
    from losstune.engine.inputs import InputError

    text = """
        model = dict(bbox_head=dict(type='CornerHead', num_classes=80, corner_emb_channels=0,
            loss_embedding=dict(type='AssociativeEmbeddingLoss', pull_weight=0.1, push_weight=0.1)))
        """
    cfg = losstune.load(write("corner_no_embedding.py", text))
    with pytest.raises(InputError, match="corner_emb_channels=0"):
        evaluate_config(cfg, "loss_embedding")


def test_centernet_update_feeds_its_positives_by_index(head: Callable[..., EvalResult]) -> None:
    """CenterNetUpdateHead.loss_by_feat: GaussianFocalLoss on every point with pos_inds, avg_factor
    max(positives, 1); GIoULoss on the points that regress a box, weighted by their heatmap values
    (soft_weight_on_reg), avg_factor max(Σ weights, 1)."""
    cls = head("centernet_update", "loss_cls", num_priors=500)
    scores, target = cls.args
    pos_inds, pos_labels = cls.kwargs["pos_inds"], cls.kwargs["pos_labels"]
    assert scores.shape == target.shape == (500, 80) and pos_inds.numel() == pos_labels.numel() == 8
    assert cls.kwargs["avg_factor"] == 8.0
    assert torch.equal(target[pos_inds, pos_labels], torch.ones(8))  # each positive its object's peak
    eps = 1e-12
    pos_pred = scores[pos_inds, pos_labels]
    pos = (-(pos_pred + eps).log() * (1 - pos_pred).pow(2)).sum() / (8 + EPS)
    neg = (-(1 - scores + eps).log() * scores.pow(2) * (1 - target).pow(4)).sum() / (8 + EPS)
    assert float(cls.logged) == pytest.approx(float(0.25 * pos + 0.75 * neg), rel=1e-5)
    box = head("centernet_update", "loss_bbox", num_priors=500)
    pred, boxes = box.args
    weight = box.kwargs["weight"]
    positives = box.trace.steps[0].value["positives"]
    assert pred.shape == boxes.shape == (positives, 4) and 8 <= positives <= 72
    assert ((weight > 0) & (weight <= 1)).all() and (weight == 1).sum() >= 8  # the centres' peaks
    assert box.kwargs["avg_factor"] == pytest.approx(max(float(weight.sum()), 1.0))
    expected = (_giou(pred, boxes) * weight).sum() / (max(float(weight.sum()), 1.0) + EPS) * 2.0
    assert float(box.logged) == pytest.approx(float(expected), rel=1e-5)


def test_explain_sums_up_the_terms_as_the_log_names_them(write: Callable[..., Path]) -> None:
    import json

    from tests.conftest import invoke

    code, out = invoke("explain", "cascade_rcnn_r50_fpn_1x_coco.py", "--format", "json", cwd=EXAMPLES)
    assert code == 0, out
    data = json.loads(out)
    names = [t["name"] for t in data["terms"]]
    assert names[:2] == ["loss_rpn_cls", "loss_rpn_bbox"]
    assert {f"s{i}.{k}" for i in range(3) for k in ("loss_cls", "loss_bbox")} <= set(names)
    assert data["total"] == pytest.approx(sum(t["value"] for t in data["terms"]))
    assert sum(t["share"] for t in data["terms"]) == pytest.approx(1.0)
    assert {t["path"] for t in data["terms"]} == {"model"}
    cfg = losstune.load(EXAMPLES / "cascade_rcnn_r50_fpn_1x_coco.py")
    s1 = next(t for t in data["terms"] if t["name"] == "s1.loss_bbox")
    assert s1["value"] == pytest.approx(float(evaluate_config(cfg, "bbox_head.1.loss_bbox").logged))
    # a DETR head: every decoder layer, the encoder and the denoising queries, each its own term
    write("dino.py", HEADS["dino"])
    code, out = invoke("explain", str(write("dino.py", HEADS["dino"])), "--format", "json", cwd=EXAMPLES)
    assert code == 0, out
    names = [t["name"] for t in json.loads(out)["terms"]]
    assert len(names) == 3 * 13 and "d4.dn_loss_iou" in names and "enc_loss_bbox" in names
    # CornerHead: the embedding loss's pull and push are the two parts of one call, each once
    code, out = invoke("explain", str(write("corner.py", HEADS["corner"])), "--format", "json", cwd=EXAMPLES)
    assert code == 0, out
    terms = {t["name"]: t["value"] for t in json.loads(out)["terms"]}
    assert [t["name"] for t in json.loads(out)["terms"]] == ["det_loss", "pull_loss", "push_loss", "off_loss"]
    pair = logged_terms(evaluate_config(losstune.load(write("corner.py", HEADS["corner"])), "loss_embedding"))
    assert terms["push_loss"] == pytest.approx(float(pair["push_loss"]))
    code, out = invoke("explain", "gfl_r50_fpn_1x_coco.py", cwd=EXAMPLES)
    assert "loss terms on the sample batch, as the training log names them (total " in out
    row = next(line for line in out.splitlines() if line.strip().startswith("loss_dfl "))
    assert row.split()[-3:] == ["losstune's", "head", "model"] and "%" in row


def test_explain_with_steps_says_which_path_made_the_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    from losstune.render.explain import render_text
    from losstune.report import explain
    from losstune.schema.registry import load_schema

    monkeypatch.chdir(EXAMPLES.parent)
    report = explain(losstune.load("examples/gfl_r50_fpn_1x_coco.py"), load_schema(), steps=True)
    out = render_text(report, width=120, shorten=True)
    assert_golden("explain/examples__gfl_r50_fpn_1x_coco.py.steps.120.txt", out)
    assert "  numbers: losstune's head model (MMDetection's loss code modelled, on synthetic inputs; " in out


def test_vfnet_weights_its_box_loss_by_the_ious_of_the_boxes_it_is_given(head: Callable[..., EvalResult]) -> None:
    r = head("vfnet", "loss_bbox")
    pred, target = r.args
    # VFNetHead: bbox_weights_ini = bbox_overlaps(pos_decoded_bbox_preds, pos_decoded_target_preds,
    # is_aligned=True).clamp(min=1e-6); avg_factor = max(reduce_mean(bbox_weights_ini.sum()), 1)
    ious = _iou(pred, target).clamp(min=1e-6)
    assert torch.allclose(r.kwargs["weight"], ious, atol=1e-6)
    assert r.kwargs["avg_factor"] == pytest.approx(max(float(ious.sum()), 1.0), rel=1e-5)
    expected = 1.5 * float((_giou(pred, target) * ious).sum()) / (r.kwargs["avg_factor"] + EPS)
    assert float(r.logged) == pytest.approx(expected, rel=1e-4)


RTMDET = """
    model = dict(bbox_head=dict(type='RTMDetSepBNHead', num_classes=80,
        loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
        train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13)))
    """


@pytest.mark.parametrize("key", ["loss_cls", "loss_bbox"])
def test_rtmdet_divides_by_the_assign_metrics_of_an_untrained_head(write: Callable[..., Path], key: str) -> None:
    # RTMDetHead.loss_by_feat: each term ÷ max(Σ assign_metrics, 1), the metrics being the IoUs of
    # the positives' predicted boxes with their boxes (DynamicSoftLabelAssigner's max_overlaps);
    # an untrained head's boxes barely overlap, so each box gets dynamic_k = 1 prior and the sum
    # stays below 1: the head divides by 1 (not by the positives' anchor IoUs)
    r = evaluate_config(losstune.load(write("rtmdet.py", RTMDET)), key)
    stats = r.trace.steps[0].value
    assert stats["positives"] == 8  # one prior per box of the sample image
    assert "DynamicSoftLabelAssigner (approximated)" in r.trace.steps[0].description
    head = r.trace.steps[-1]
    assert head.name == "head" and "= 1," in head.description
    assert float(r.logged) == pytest.approx(float(r.trace.loss))
    if key == "loss_cls":  # the quality focal loss's target scores are those metrics
        _, scores = r.args[1]
        assert 0 < float(scores.sum()) < 1 and int((scores > 0).sum()) == 8
    else:  # the box weights are the same metrics
        assert 0 < float(r.kwargs["weight"].sum()) < 1


@pytest.mark.parametrize(("num_priors", "seed"), [(None, 0), (50, 3)])
def test_sabl_feeds_every_prior_its_side_buckets_normalised_per_column(
    head: Callable[..., EvalResult], num_priors: int | None, seed: int
) -> None:
    # SABLRetinaHead.loss_by_feat_single: loss_bbox_cls(bbox_cls_pred, bbox_cls_targets.long(),
    # bbox_cls_weights, avg_factor=avg_factor * 4 * side_num), loss_bbox_reg(bbox_reg_pred,
    # bbox_reg_targets, bbox_reg_weights, avg_factor=avg_factor * 4 * offset_topk), each
    # (priors, 4 * side_num) with side_num = ceil(num_buckets / 2): 5 here, offset_topk 3
    c = head("sabl", "loss_bbox_cls", num_priors=num_priors, seed=seed)
    r = head("sabl", "loss_bbox_reg", num_priors=num_priors, seed=seed)
    p = _positives(c)
    avg = float(max(p, 1))
    assert c.kwargs["avg_factor"] == avg * 4 * 5 and r.kwargs["avg_factor"] == avg * 4 * 3
    for t in (c, r):
        pred, target, weight = t.args
        assert pred.shape == target.shape == weight.shape == (t.trace.steps[0].value["priors"], 20)
        assert int((weight.sum(1) > 0).sum()) == p  # weighted at the positives only
    _, labels, cls_weight = c.args
    assert labels.dtype == torch.long
    rows = labels.sum(1) > 0
    # one bucket per side is the edge's; its neighbour within one bucket is ignored, no other
    assert torch.equal(labels[rows].view(-1, 4, 5).sum(2), torch.ones(p, 4, dtype=torch.long))
    assert bool(((cls_weight[rows].view(-1, 4, 5) == 0).sum(2) <= 1).all())
    assert bool((cls_weight[rows][labels[rows] == 1] == 1).all())
    # the offsets are weighted at each side's nearest bucket, and its next two within one bucket
    reg_weight = r.args[2][rows].view(-1, 4, 5).sum(2)
    assert bool(((reg_weight >= 1) & (reg_weight <= 3)).all())
    pred, target, weight = c.args
    bce = F.binary_cross_entropy_with_logits(pred, target.float(), reduction="none")
    assert float(c.logged) == pytest.approx(
        1.5 * float((bce * weight).sum()) / (c.kwargs["avg_factor"] + EPS), rel=1e-5
    )
    assert "avg_factor = max(positives, 1) × 4 × side_num (5)" in c.trace.steps[0].description


def test_fovea_divides_the_classes_by_positives_plus_images_and_the_boxes_by_positives(
    head: Callable[..., EvalResult],
) -> None:
    # FoveaHead.loss_by_feat: loss_cls(scores, labels, avg_factor=num_pos + num_imgs), and
    # loss_bbox(pos_bbox_preds, pos_bbox_targets, ones, avg_factor=num_pos)
    c = head("fovea", "loss_cls")
    p = _positives(c)
    assert c.kwargs["avg_factor"] == p + 1 and len(c.args) == 2 and "weight" not in c.kwargs
    b = head("fovea", "loss_bbox")
    pred, target, weight = b.args
    assert pred.shape == target.shape == (p, 4) and bool(torch.all(weight == 1)) and b.kwargs["avg_factor"] == p


def test_yolof_box_loss_takes_the_candidates_divided_by_the_assignments_positives(
    head: Callable[..., EvalResult],
) -> None:
    # UniformAssigner: 4 predicted boxes and 4 anchors per box, the same priors on an untrained head
    c = head("yolof", "loss_cls")
    p = _positives(c)
    assert p == 4 * 8 and c.kwargs["avg_factor"] == p
    b = head("yolof", "loss_bbox")
    pred, target = b.args
    assert pred.shape == target.shape == (2 * p, 4) and b.kwargs["weight"].shape == (2 * p,)
    assert b.kwargs["avg_factor"] == p
    assert float(b.logged) == pytest.approx(float(_giou(pred, target).sum()) / (p + EPS), rel=1e-5)


def test_yolov3_sums_its_masked_maps_with_no_avg_factor(head: Callable[..., EvalResult]) -> None:
    # YOLOV3Head.loss_by_feat_single: loss_conf(pred_conf, target_conf, weight=pos_and_neg_mask);
    # loss_cls, loss_xy and loss_wh weighted by the positive mask; reduction 'sum', no avg_factor
    r = head("yolov3", "loss_conf", num_priors=300)
    logits, targets = r.args
    weight = r.kwargs["weight"]
    assert logits.shape == targets.shape == weight.shape == (300,) and "avg_factor" not in r.kwargs
    assert int(targets.sum()) == _positives(r) == 8
    expected = float((F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * weight).sum())
    assert float(r.logged) == pytest.approx(expected, rel=1e-5)
    c = head("yolov3", "loss_cls", num_priors=300)
    logits, targets = c.args
    assert logits.shape == targets.shape == (300, 80) and c.kwargs["weight"].shape == (300, 1)
    assert int(targets.sum()) == 8 and "avg_factor" not in c.kwargs
    w = head("yolov3", "loss_wh", num_priors=300)
    pred, target = w.args
    mask = w.kwargs["weight"]
    assert pred.shape == (300, 2) and int(mask.sum()) == 8
    assert float(w.logged) == pytest.approx(2.0 * float((((pred - target) ** 2) * mask).sum()), rel=1e-5)


@pytest.mark.parametrize(("num_priors", "seed"), [(None, 0), (50, 3)])
def test_pisa_carl_is_a_second_call_of_loss_bbox_summed_by_the_head(
    head: Callable[..., EvalResult], num_priors: int | None, seed: int
) -> None:
    # carl_loss: loss_bbox(pos_bbox_preds, bbox_targets[pos], reduction_override='none') / avg_factor,
    # times each positive's (bias + (1 - bias) σ(its class score))^k scaled to sum to the positives, summed
    r = head("pisa", "loss_bbox", num_priors=num_priors, seed=seed, term="loss_carl")
    p = _positives(r)
    pred, target = r.args
    assert pred.shape == target.shape == (p, 4)
    assert r.kwargs == {"reduction_override": "none"} and r.log_name == "loss_carl"
    assert r.log_names == ["loss_bbox", "loss_carl"]
    d = (pred - target).abs()
    smooth = torch.where(d < 0.11, 0.5 * d * d / 0.11, d - 0.5 * 0.11)
    assert r.trace.loss.shape == (p, 4)
    w = r.head_weight
    assert w.shape == (p,) and float(w.sum()) == pytest.approx(p, rel=1e-5)
    assert bool((w > 0).all()) and "k=2, bias=0.5" in r.trace.steps[0].description
    avg = float(max(p, 1))
    assert float(r.logged) == pytest.approx(float((0.5 * smooth.sum(1) * w).sum()) / avg, rel=1e-5, abs=1e-8)
    plain = head("pisa_plain", "loss_bbox", num_priors=num_priors, seed=seed)
    assert plain.log_names == ["loss_bbox"]
    with pytest.raises(Exception, match="loss_carl"):
        head("pisa_plain", "loss_bbox", term="loss_carl")


def test_pisa_isr_is_said_to_keep_the_classification_value(head: Callable[..., EvalResult]) -> None:
    # isr_p rescales the positives' new label weights by Σ original / Σ reweighted positive loss_cls
    isr, plain = head("pisa", "loss_cls"), head("pisa_plain", "loss_cls")
    assert any("isr_p" in n for n in isr.notes) and not any("isr_p" in n for n in plain.notes)
    assert float(isr.logged) == float(plain.logged)


@pytest.mark.parametrize(
    ("head_type", "terms", "key", "use"),
    [
        ("FreeAnchorRetinaHead", "positive_bag_loss, negative_bag_loss", "loss_cls", "loss_cls is never called"),
        ("AutoAssignHead", "loss_pos, loss_neg, loss_center", "loss_cls", "loss_cls is never called"),
    ],
)
def test_a_loss_a_head_computing_its_own_terms_never_calls_names_them_and_is_not_evaluated(
    write: Callable[..., Path], head_type: str, terms: str, key: str, use: str
) -> None:
    # FreeAnchorRetinaHead.loss_by_feat returns positive_bag_loss and negative_bag_loss, computed by
    # the head; AutoAssignHead's loss_pos, loss_neg and loss_center alike: no term is a module's
    # output, and neither head calls its loss_cls at all (loss_bbox enters the positive term)
    from losstune.engine.inputs import InputError

    path = write(
        "own.py",
        f"""
        model = dict(bbox_head=dict(type='{head_type}', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=0.11, loss_weight=0.75)))
        """,
    )
    with pytest.raises(InputError, match=re.escape(f"{head_type}'s log terms ({terms}) are its own")) as e:
        evaluate_config(losstune.load(path), key)
    assert use in str(e.value) and e.value.replayable


def _focal_with_prob(p: Any, labels: Any, weight: Any, gamma: float = 2.0, alpha: float = 0.25) -> Any:
    """mmdet's py_focal_loss_with_prob on probabilities, per element, weighted per row."""
    target = F.one_hot(labels, p.size(1) + 1)[:, :-1].float()
    pt = (1 - p) * target + p * (1 - target)
    focal = (alpha * target + (1 - alpha) * (1 - target)) * pt.pow(gamma)
    return F.binary_cross_entropy(p, target, reduction="none") * focal * weight[:, None]


@pytest.mark.parametrize(("num_priors", "seed"), [(None, 0), (50, 3)])
def test_tood_first_epochs_call_initial_loss_cls_on_the_labels_divided_by_the_positives(
    head: Callable[..., EvalResult], num_priors: int | None, seed: int
) -> None:
    # TOODHead.loss_by_feat_single while epoch < initial_epoch: initial_loss_cls(cls_score, labels,
    # label_weights, avg_factor=1.0); loss_by_feat: ÷ max(Σ alignment metrics, 1), the metrics being
    # the bbox weights' first column (ATSSHead's targets: 1 at each positive)
    r = head("tood", "initial_loss_cls", num_priors=num_priors, seed=seed)
    pred, labels, weight = r.args
    p = _positives(r)
    assert (
        weight.shape == labels.shape
        and r.kwargs["avg_factor"] == 1.0
        and labels.dtype == torch.int64
        and pred.shape == (labels.numel(), 80)
    )
    assert bool(((pred > 0) & (pred < 1)).all())  # activated: probabilities
    expected = float(_focal_with_prob(pred, labels, weight).sum()) / (1.0 + EPS) / max(p, 1)
    assert float(r.logged) == pytest.approx(expected, rel=1e-5)
    assert r.log_name == "loss_cls" and r.log_names == ["loss_cls"]
    assert r.phase is not None and r.phase.phase.name == "initial" and r.phase.epoch == 0
    assert r.trace.steps[-1].name == "head" and f"÷ max(positives, 1.0) = {max(p, 1)}" in r.trace.steps[-1].description


def test_tood_box_loss_is_weighted_by_centerness_first_and_by_the_alignment_metrics_after(
    head: Callable[..., EvalResult],
) -> None:
    for epoch, weights in ((0, "centerness targets"), (3, "centerness targets"), (4, "alignment metrics")):
        r = head("tood", "loss_bbox", epoch=epoch)
        pred, target = r.args
        w = r.kwargs["weight"]
        assert pred.shape == (_positives(r), 4) and r.kwargs["avg_factor"] == 1.0
        assert weights in r.trace.steps[0].description and weights in r.trace.steps[-1].description
        expected = 2.0 * float((_giou(pred, target) * w).sum()) / (1.0 + EPS) / max(float(w.sum()), 1.0)
        assert float(r.logged) == pytest.approx(expected, rel=1e-5)
        assert r.phase is not None and r.phase.phase.name == ("initial" if epoch < 4 else "task-aligned")


def test_tood_calls_one_classification_loss_per_phase(head: Callable[..., EvalResult], write: Any) -> None:
    from losstune.engine.session import NotCalled

    with pytest.raises(
        NotCalled,
        match=r"loss_cls is not called at epoch 0, before train_cfg.initial_epoch = 4: .*"
        r"makes the log's loss_cls with model.bbox_head.initial_loss_cls instead; --epoch 4 models",
    ):
        head("tood", "loss_cls")
    with pytest.raises(NotCalled, match=r"initial_loss_cls is not called at epoch 7, from train_cfg.initial_epoch"):
        head("tood", "initial_loss_cls", epoch=7)
    after = head("tood", "loss_cls", epoch=4)
    assert after.log_name == "loss_cls" and isinstance(after.args[1], tuple)  # (labels, alignment metrics)
    assert after.phase is not None and after.phase.others == (("initial", 0),)
    # the phases follow the config's initial_epoch: with none, every epoch is the task-aligned one
    path = write("tood0.py", HEADS["tood"].replace("initial_epoch=4", "initial_epoch=0"))
    r = evaluate_config(losstune.load(path), "loss_cls")
    assert r.phase is not None and r.phase.phase.name == "task-aligned" and r.phase.others == ()
    with pytest.raises(ValueError, match="epoch must be at least 0"):
        head("tood", "loss_bbox", epoch=-1)


def test_tood_says_which_phase_it_modelled_in_eval_and_explain(write: Callable[..., Path]) -> None:
    import json

    from tests.conftest import invoke

    path = write("tood.py", HEADS["tood"])
    where = path.parent
    path = path.name
    code, out = invoke("eval", path, "--loss", "initial_loss_cls", "--format", "json", cwd=where)
    assert code == 0, out
    data = json.loads(out)
    assert data["phase"]["name"] == "initial" and data["phase"]["epoch"] == 0 and list(data["log"]) == ["loss_cls"]
    assert data["phase"]["others"] == {"task-aligned": 4}
    code, out = invoke("eval", path, "--loss", "loss_cls", "--epoch", "4", cwd=where)
    assert code == 0, out
    line = next(x for x in out.splitlines() if x.startswith("phase: "))
    assert line.startswith("phase: epoch 4, from train_cfg.initial_epoch = 4 on: TOODHead's task-aligned phase: ")
    assert line.endswith("; --epoch 0 models the initial phase")
    code, out = invoke("eval", path, "--loss", "loss_cls", cwd=where)
    assert code == 2 and "initial_loss_cls instead; --epoch 4 models the task-aligned phase" in out
    for epoch, maker in (("0", "model.bbox_head.initial_loss_cls"), ("4", "model.bbox_head.loss_cls")):
        code, out = invoke("explain", path, "--format", "json", "--epoch", epoch, cwd=where)
        assert code == 0, out
        data = json.loads(out)
        assert [(t["name"], t["key"]) for t in data["terms"]] == [
            ("loss_cls", maker),
            ("loss_bbox", "model.bbox_head.loss_bbox"),
        ]
        idle = next(x for x in data["losses"] if x["steps"] is None)
        assert "is not called at epoch" in idle["steps_note"] and "phase" not in idle
        assert all(x["phase"].startswith(f"epoch {epoch}, ") for x in data["losses"] if x["steps"] is not None)
    code, out = invoke("explain", path, cwd=where)
    assert "  phase: epoch 0, before train_cfg.initial_epoch = 4: TOODHead's initial phase: " in out


def test_a_familys_inputs_are_one_entry_of_the_makers_table(
    monkeypatch: pytest.MonkeyPatch, head: Callable[..., EvalResult]
) -> None:
    # every family's own inputs and remade arguments come from makers.MAKERS: an entry is all a
    # family needs (here the anchor head's arguments remade, and inputs of its own that do not fit)
    from losstune.engine import makers

    plain = head("atss", "loss_cls")
    seen: list[str] = []

    def remake(d: makers.Dense) -> tuple[list[Any], str]:
        seen.append(d.loss_name)
        return [a * 1 for a in d.args], "; remade by its entry"

    monkeypatch.setitem(makers.MAKERS, "ATSSHead", makers.Maker(own=lambda o: None, remake=remake))
    r = head("atss", "loss_cls")
    assert seen == ["loss_cls"] and r.trace.steps[0].description.startswith(plain.trace.steps[0].description[:40])
    assert "; remade by its entry" in r.trace.steps[0].description and float(r.logged) == float(plain.logged)
    assert set(makers.MAKERS) >= {"CenterNetHead", "CenterNetUpdateHead", "CornerHead", "SABLRetinaHead"}
    assert {"YOLOXHead", "YOLOFHead", "YOLOV3Head"} <= set(makers.MAKERS)


@pytest.mark.parametrize(("num_priors", "seed"), [(None, 0), (300, 3), (40, 1)])
def test_ssd_sums_the_positives_and_the_hard_negatives_divided_by_the_positives(
    head: Callable[..., EvalResult], num_priors: int | None, seed: int
) -> None:
    # SSDHead.loss_by_feat_single: loss_cls_all = F.cross_entropy(cls_score, labels, reduction='none')
    # * label_weights; the positives' sum plus the topk(neg_pos_ratio × positives) of the losses of
    # the rows labelled num_classes, / avg_factor (Σ max(positives, 1) of SamplingResult)
    r = head("ssd", "loss_cls", num_priors=num_priors, seed=seed)
    score, labels, weights = r.args
    n, p = labels.numel(), _positives(r)
    assert score.shape == (n, 81) and r.kwargs["avg_factor"] == max(p, 1)
    sampled = r.sampled
    assert sampled is not None
    every = F.cross_entropy(score, labels, reduction="none") * sampled.label_weights
    positive = labels < 80
    background = every[labels == 80]
    k = min(3 * p, background.numel())
    expected = (float(every[positive].sum()) + float(background.sort(descending=True).values[:k].sum())) / max(p, 1)
    assert float(r.logged) == pytest.approx(expected, rel=1e-5)
    assert int((weights > 0).sum()) == p + k
    step1 = r.trace.steps[0].description
    assert f"neg_pos_ratio × positives = 3 × {p} = {k} of the" in step1
    assert step1.endswith(f"avg_factor = max(positives, 1) = {max(p, 1)}")
    assert r.trace.steps[3].description.endswith(f"avg_factor={max(p, 1)}")
    assert r.log_names == ["loss_cls"] and r.family == "SSDHead"
    assert any("SSDHead computes loss_cls in its own code" in note for note in r.notes)
    # loss_bbox: smooth_l1_loss(bbox_pred, bbox_targets, bbox_weights, beta=train_cfg.smoothl1_beta, avg_factor)
    b = head("ssd", "loss_bbox", num_priors=num_priors, seed=seed)
    pred, target, box_weights = b.args
    assert pred.shape == target.shape == box_weights.shape == (n, 4) and b.kwargs["avg_factor"] == max(p, 1)
    d = (pred - target).abs()
    smooth = torch.where(d < 0.5, 0.5 * d * d / 0.5, d - 0.5 * 0.5)
    assert float(b.logged) == pytest.approx(float((smooth * box_weights).sum()) / max(p, 1), rel=1e-5)
    assert b.loss_cfg == {"type": "SmoothL1Loss", "loss_weight": 1.0, "beta": 0.5}


def test_ssd_without_positives_mines_no_negatives(head: Callable[..., EvalResult]) -> None:
    # num_neg_samples = neg_pos_ratio × 0: loss_cls is 0, divided by the floor of the avg_factor
    r = head("ssd", "loss_cls", num_priors=3, seed=0)
    assert _positives(r) == 0 and r.kwargs["avg_factor"] == 1.0
    assert float(r.logged) == 0.0 and int((r.args[2] > 0).sum()) == 0


def test_ssd_needs_the_train_cfg_keys_its_head_reads(write: Callable[..., Path]) -> None:
    # SSDHead reads self.train_cfg['neg_pos_ratio'] and ['smoothl1_beta']: KeyError in MMDetection
    from losstune.engine.inputs import InputError

    path = write("ssd.py", "model = dict(bbox_head=dict(type='SSDHead', num_classes=80), train_cfg=dict())\n")
    cfg = losstune.load(path)
    with pytest.raises(InputError, match=r"train_cfg\.neg_pos_ratio.*KeyError"):
        evaluate_config(cfg, "loss_cls")
    with pytest.raises(InputError, match=r"train_cfg\.smoothl1_beta.*KeyError"):
        evaluate_config(cfg, "loss_bbox")
    with pytest.raises(InputError, match=re.escape("model.bbox_head.loss_cls, model.bbox_head.loss_bbox")):
        evaluate_config(cfg, "loss_iou")


def test_explain_shows_the_terms_ssds_head_computes_itself(
    write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # no loss dict in the config: explain lists SSDHead's two terms at their log keys, the
    # train_cfg keys its code reads with where they are set, and evaluates them as eval does
    import json

    from losstune.render.explain import render_text
    from losstune.report import explain
    from losstune.schema.registry import load_schema
    from tests.conftest import invoke

    path = write("ssd.py", HEADS["ssd"])
    monkeypatch.chdir(path.parent)
    report = explain(losstune.load("ssd.py"), load_schema(), steps=True)
    assert_golden("explain/ssd.py.steps.80.txt", render_text(report, width=80))
    code, out = invoke("explain", "ssd.py", "--format", "json", cwd=path.parent)
    assert code == 0, out
    data = json.loads(out)
    losses = {x["key"]: x for x in data["losses"]}
    assert list(losses) == ["model.bbox_head.loss_cls", "model.bbox_head.loss_bbox"]
    assert {x["computed_by_head"] for x in losses.values()} == {"SSDHead"}
    params = {p["name"]: p for p in losses["model.bbox_head.loss_cls"]["params"]}
    assert params["neg_pos_ratio"]["value"] == 3 and params["neg_pos_ratio"]["origin"]["line"] == 4
    assert {p["name"]: p["value"] for p in losses["model.bbox_head.loss_bbox"]["params"]}["beta"] == 0.5
    cfg = losstune.load(path)
    terms = {t["name"]: t["value"] for t in data["terms"]}
    assert list(terms) == ["loss_cls", "loss_bbox"]
    assert terms["loss_cls"] == pytest.approx(float(evaluate_config(cfg, "loss_cls").logged))
    assert data["total"] == pytest.approx(sum(terms.values()))
    # the keys are not the config's: lint and set see no loss dict there
    assert cfg.losses() == []


@pytest.mark.parametrize(("num_priors", "seed"), [(None, 0), (300, 3), (3, 0)])
def test_fsaf_sums_its_element_wise_losses_divided_by_the_positives_kept(
    head: Callable[..., EvalResult], num_priors: int | None, seed: int
) -> None:
    # FSAFHead: the modules reduce with 'none' (the avg_factor passed is ignored); reweight_loss_single
    # sums each level's weighted element-wise losses; loss_by_feat divides by num_pos, the positives
    # kept, or by num_pos + num_total_neg (each image's negatives floored at 1) where none is
    r = head("fsaf", "loss_cls", num_priors=num_priors, seed=seed)
    p = _positives(r)
    score, labels, label_weights = r.args
    assert r.trace.loss.shape == score.shape == (labels.numel(), 80)
    sampled = r.sampled
    assert sampled is not None and torch.equal(label_weights, sampled.label_weights)
    negatives = int(((sampled.label_weights > 0) & ~sampled.pos_mask).sum())
    by = p if p else max(negatives, 1)
    assert float(r.logged) == pytest.approx(float(r.trace.loss.sum()) / by, rel=1e-5)
    assert r.trace.steps[-1].description.endswith("= " + f"{by:g}), as FSAFHead.loss_by_feat divides")
    assert "approximated: every positive is taken as on its box's level" in r.trace.steps[0].description
    b = head("fsaf", "loss_bbox", num_priors=num_priors, seed=seed)
    pred, target, weight = b.args
    iou = _iou(pred, target).clamp(min=1e-6)
    assert float(b.logged) == pytest.approx(float((-iou.log() * weight.mean(-1)).sum()) / by, rel=1e-5)


def test_the_epoch_an_idle_loss_is_not_called_at_is_the_phases_own() -> None:
    from losstune.engine.phases import idle_message, phase_at

    at = phase_at("TOODHead", {"train_cfg": {"initial_epoch": 4}}, 0)
    assert at is not None
    assert at.when == "epoch 0, before train_cfg.initial_epoch = 4" and at.text.startswith(f"{at.when}: ")
    # said from the phase's own field, not from the text cut at its first ':'
    said = idle_message(replace(at, when="epoch 0: the first"), "model.bbox_head.loss_cls", "loss_cls")
    assert said is not None and said.startswith("model.bbox_head.loss_cls is not called at epoch 0: the first: ")


def test_grid_rcnn_sums_its_fused_and_unfused_heatmaps_averaged_over_every_element(
    head: Callable[..., EvalResult], write: Callable[..., Path]
) -> None:
    """GridHead.loss: loss_grid (sigmoid BCE, no weight, no avg_factor) on the fused and on the
    unfused heatmaps of the sampled positives (at most max_num_grid), against the same targets,
    summed; each point's target map its half-size sub-region, 1 within pos_radius of the point."""
    grid = head("grid", "loss_grid", seed=0)
    assert grid.log_name == "loss_grid" and grid.log_names == ["loss_grid"]
    assert "avg_factor" not in grid.kwargs
    pred, target = grid.args
    # the sampler's 128 positives of one image, capped at max_num_grid=100
    assert pred.shape == target.shape == (100, 9, 28, 28)
    assert set(target.unique().tolist()) <= {0.0, 1.0} and int(target.sum()) > 0
    step1 = grid.trace.steps[0].description
    assert "100 RoIs" in step1 and "max_num_grid=100" in step1 and step1.endswith("no avg_factor")
    assert "mean over all" in grid.trace.steps[3].description
    one = float(15 * torch.nn.functional.binary_cross_entropy_with_logits(pred, target))
    assert float(grid.trace.loss) == pytest.approx(one, rel=1e-5)
    from losstune.engine.heads_grid import grid_inputs

    cfg = losstune.load(write("grid.py", HEADS["grid"])).tree["model"]
    made = grid_inputs(
        "loss_grid", {}, head=cfg["roi_head"]["grid_head"], model=cfg, num_classes=80, num_priors=None, seed=0
    )
    assert made is not None and made.others is not None and len(made.others.calls) == 1
    unfused_pred, unfused_target = made.others.calls[0].args
    assert torch.equal(made.args[0], pred) and torch.equal(unfused_target, target)
    assert not torch.equal(unfused_pred, pred)  # predictions of its own
    two = float(15 * torch.nn.functional.binary_cross_entropy_with_logits(unfused_pred, target))
    last = grid.trace.steps[-1]
    assert last.name == "head" and "loss_fused + loss_unfused" in last.description
    assert float(grid.logged) == pytest.approx(one + two, rel=1e-5)
    asked = head("grid", "loss_grid", seed=0, num_priors=7)
    assert asked.args[0].shape == (7, 9, 28, 28) and "7 RoIs" in asked.trace.steps[0].description


def test_mask_scoring_averages_the_positives_whose_mask_iou_target_is_above_0(
    head: Callable[..., EvalResult], write: Callable[..., Path]
) -> None:
    """MaskIoUHead.loss_and_target: its default MSELoss (loss_weight 0.5, no dict in the config) on
    each positive's predicted IoU against its mask IoU target, those of a target above 0 only, no
    weight, no avg_factor; logged loss_mask_iou. Without mask_thr_binary MMDetection fails."""
    ms = head("ms", "loss_iou", seed=0)
    assert ms.log_name == "loss_mask_iou" and ms.log_names == ["loss_mask_iou"]
    assert "avg_factor" not in ms.kwargs and "weight" not in ms.kwargs
    pred, target = ms.args
    assert pred.dim() == 1 and pred.shape == target.shape and bool((target > 0).all()) and bool((target <= 1).all())
    assert float(ms.logged) == pytest.approx(0.5 * float(((pred - target) ** 2).mean()), rel=1e-5)
    assert ms.trace.steps[0].description.endswith("with no weight; no avg_factor")
    assert any("MaskIoUHead builds loss_iou from its class's default (MSELoss" in n for n in ms.notes)
    asked = head("ms", "loss_iou", seed=0, num_priors=9)
    assert "9 RoIs" in asked.trace.steps[0].description and asked.args[0].numel() <= 9
    from losstune.engine.inputs import InputError

    path = write("ms_unset.py", HEADS["ms"].replace("mask_thr_binary=0.5", "pos_weight=-1"))
    with pytest.raises(InputError, match=r"train_cfg\.rcnn\.mask_thr_binary"):
        evaluate_config(losstune.load(path), "loss_iou")
    written = write(
        "ms_written.py",
        HEADS["ms"].replace("num_classes=80)", "num_classes=80, loss_iou=dict(type='MSELoss', loss_weight=2.0))"),
    )
    cfg = losstune.load(written)
    assert not cfg.in_head_losses() and [n.key for n in cfg.losses()] == ["model.roi_head.mask_iou_head.loss_iou"]


@pytest.mark.parametrize(
    ("stages", "expected"), [(3, 3), (True, 1), (False, None), (0, None), (2.0, None), ("3", None)]
)
def test_a_shared_cascade_heads_stages_are_read_as_cascade_roi_head_uses_num_stages(
    stages: object, expected: int | None
) -> None:
    from losstune.engine.headmodel import Where, shared_stages

    # CascadeRoIHead runs range(num_stages): True is one stage, a float or a string fails in MMDetection
    model = {"roi_head": {"num_stages": stages, "stage_loss_weights": [1, 0.5, 0.25], "mask_head": {}}}
    where = Where(("roi_head", "mask_head", "loss_mask"), ("roi_head", "mask_head"), {}, model)
    assert shared_stages(where) == expected


@pytest.mark.parametrize(("ratio", "expected"), [(3, 3), (True, 1), (0, 0)])
def test_neg_pos_ratio_is_the_number_ssd_head_multiplies_the_positives_by(ratio: object, expected: int) -> None:
    from losstune.engine.heads_ssd import neg_pos_ratio

    # num_neg_samples = self.train_cfg['neg_pos_ratio'] * num_pos_samples: True * n is n
    assert neg_pos_ratio({"train_cfg": {"neg_pos_ratio": ratio}}) == expected


@pytest.mark.parametrize("ratio", [-1, "3", None, 3.0])  # topk(3.0 * n) is a TypeError
def test_a_neg_pos_ratio_ssd_head_cannot_use_is_an_error(ratio: object) -> None:
    from losstune.engine.heads_ssd import MissingTrainOption, neg_pos_ratio

    with pytest.raises(MissingTrainOption, match=r"train_cfg\.neg_pos_ratio"):
        neg_pos_ratio({"train_cfg": {"neg_pos_ratio": ratio}})


def test_htcs_semantic_head_averages_every_pixel_of_its_map(head: Callable[..., EvalResult]) -> None:
    """FusedSemanticHead.loss: loss_seg, a softmax cross-entropy over its 183 classes per pixel, on
    the image's semantic map, no weight, no avg_factor (the mean of every pixel); logged
    loss_semantic_seg."""
    seg = head("htc", "loss_seg", seed=0, num_priors=20 * 20)
    assert seg.log_name == "loss_semantic_seg" and seg.log_names == ["loss_semantic_seg"]
    logits, labels = seg.args
    assert logits.shape == (1, 183, 20, 20) and labels.shape == (1, 20, 20) and labels.dtype == torch.long
    assert int(labels.max()) == 182 and int((labels < 182).sum()) > 0  # objects, the rest the last class
    assert "avg_factor" not in seg.kwargs
    expected = 0.2 * float(torch.nn.functional.cross_entropy(logits, labels))
    assert float(seg.logged) == pytest.approx(expected, rel=1e-5)
    assert "over 183 classes" in seg.trace.steps[1].description
    assert seg.trace.steps[0].description.endswith("with no weight; no avg_factor")


def test_sparse_rcnn_matches_one_proposal_to_each_box_and_divides_by_the_positives(
    head: Callable[..., EvalResult],
) -> None:
    # DIIHead.loss_and_target: every proposal to loss_cls, the positives to the box losses, all by
    # avg_factor = reduce_mean(num_pos), the boxes of loss_bbox divided by the image's size
    c = head("sparse", "bbox_head.0.loss_cls")
    assert c.args[0].shape == (100, 80) and c.family == "DIIHead"
    assert _positives(c) == 8 and int((c.args[1] < 80).sum()) == 8
    assert bool((c.args[2] == 1).all())  # pos_weight 1, every negative 1
    assert c.kwargs["avg_factor"] == 8.0
    assert "HungarianAssigner (FocalLossCost × 2, BBoxL1Cost × 5, IoUCost × 2)" in c.trace.steps[0].description
    assert c.trace.steps[0].description.endswith("avg_factor = positives (reduce_mean(num_pos), not clamped) = 8")
    assert c.inputs.endswith("100 proposals, 80 classes")
    b = head("sparse", "bbox_head.0.loss_bbox")
    iou = head("sparse", "bbox_head.0.loss_iou")
    assert b.args[0].shape == b.args[1].shape == (8, 4) and b.kwargs["avg_factor"] == 8.0
    assert float(b.args[1].max()) <= 1.0 and float(b.args[1].min()) >= 0.0  # normalised by imgs_whwh
    whwh = torch.tensor([1333.0, 800.0, 1333.0, 800.0])
    assert torch.allclose(iou.args[0], b.args[0] * whwh) and torch.allclose(iou.args[1], b.args[1] * whwh)
    assert float(iou.logged) == pytest.approx(2.0 * float(_giou(iou.args[0], iou.args[1]).sum()) / (8 + 1.1920929e-07))
    # the matched pairs are the minimum of the assigner's costs: each box has its own proposal
    assert len({tuple(row.tolist()) for row in b.args[0]}) == 8


def test_sparse_rcnns_stages_are_logged_and_weighted_as_sparse_roi_head_does(
    head: Callable[..., EvalResult], write: Callable[..., Path]
) -> None:
    s1 = head("sparse", "bbox_head.1.loss_iou")
    assert s1.log_name == "s1.loss_iou"
    assert float(s1.logged) == pytest.approx(0.5 * float(s1.trace.loss))
    assert s1.trace.steps[-1].description == "× stage_loss_weights[1] = 0.5, as SparseRoIHead.loss weights stage 1"
    s0 = head("sparse", "bbox_head.0.loss_iou")
    assert float(s0.logged) != pytest.approx(float(s1.logged) * 2)  # each stage refines the boxes again
    v2 = evaluate_config(losstune.load(write("sparse.py", HEADS["sparse"])), "bbox_head.1.loss_cls", mmdet_version=2)
    assert v2.log_name == "stage1_loss_cls"  # 2.x's SparseRoIHead.forward_train


def test_queryinst_masks_are_the_positives_probabilities_by_the_positives_at_least_1(
    head: Callable[..., EvalResult],
) -> None:
    # DynamicMaskHead.loss_and_target: mask_preds[arange(num_pos), pos_labels].sigmoid() against the
    # targets, avg_factor = clamp(reduce_mean(num_pos), min=1)
    m = head("sparse", "mask_head.1.loss_mask")
    assert m.family == "DynamicMaskHead" and m.log_name == "s1.loss_mask"
    assert m.args[0].shape == m.args[1].shape == (8, 28, 28)
    assert 0.0 < float(m.args[0].min()) and float(m.args[0].max()) < 1.0  # probabilities
    assert set(m.args[1].unique().tolist()) <= {0.0, 1.0} and float(m.args[1].mean()) > 0.05
    assert m.kwargs["avg_factor"] == 8.0
    assert m.trace.steps[0].description.endswith("avg_factor = max(positives, 1.0) = 8")
    assert float(m.logged) == pytest.approx(0.5 * float(m.trace.loss))


def test_sparse_rcnns_avg_factor_is_not_clamped_but_its_masks_is() -> None:
    none = Counts((0, 0), (100, 100), 200)
    assert AvgRule(rule_for("DIIHead", "loss_cls"), None, None).avg(none) == 0.0  # the class loss ÷ ε
    assert AvgRule(rule_for("DIIHead", "loss_bbox"), None, None).avg(Counts((3, 2), (0, 0), 5)) == 5.0
    assert AvgRule(rule_for("DynamicMaskHead", "loss_mask"), None, None).avg(none) == 1.0


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (4, 4), (5, 9)])
def test_the_hungarian_assignment_is_the_cheapest_of_all(shape: tuple[int, int]) -> None:
    import itertools

    from losstune.engine.heads_sparse import assignment

    for seed in range(20):
        cost = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
        cols = assignment(cost)
        assert len(set(cols)) == shape[0]
        best = min(
            sum(float(cost[i, j]) for i, j in enumerate(p)) for p in itertools.permutations(range(shape[1]), shape[0])
        )
        assert sum(float(cost[i, j]) for i, j in enumerate(cols)) == pytest.approx(best, abs=1e-5)


def test_a_2x_hungarian_assigners_costs_are_its_cls_reg_and_iou_costs(write: Callable[..., Path]) -> None:
    costs = """match_costs=[
                    dict(type='FocalLossCost', weight=2.0),
                    dict(type='BBoxL1Cost', weight=5.0, box_format='xyxy'),
                    dict(type='IoUCost', iou_mode='giou', weight=2.0)]"""
    assert costs in HEADS["sparse"]
    v2 = HEADS["sparse"].replace(
        costs,
        """cls_cost=dict(type='FocalLossCost', weight=2.0), reg_cost=dict(type='BBoxL1Cost', weight=5.0),
                    iou_cost=dict(type='IoUCost', iou_mode='giou', weight=2.0)""",
    )
    old = evaluate_config(losstune.load(write("v2.py", v2)), "bbox_head.0.loss_iou", mmdet_version=2)
    new = evaluate_config(losstune.load(write("v3.py", HEADS["sparse"])), "bbox_head.0.loss_iou")
    assert "HungarianAssigner (FocalLossCost × 2, BBoxL1Cost × 5, IoUCost × 2)" in old.trace.steps[0].description
    assert torch.equal(old.args[0], new.args[0])  # the same proposals matched
    assert old.log_name == "stage0_loss_iou"


def test_sabls_roi_head_feeds_every_sampled_roi_its_sides_divided_by_the_rows(
    head: Callable[..., EvalResult],
) -> None:
    """SABLHead.loss: loss_bbox_cls(bucket_cls_preds.view(-1, side_num), targets, weights,
    avg_factor=bucket_cls_targets.size(0)), loss_bbox_reg(bucket_offset_preds, targets, weights,
    avg_factor=bucket_offset_targets.size(0)), every sampled RoI (512: 128 positives, 384
    negatives), weighted at the positives; loss_cls by the RoIs with a label weight."""
    c = head("sabl_roi", "loss_bbox_cls", seed=0)
    r = head("sabl_roi", "loss_bbox_reg", seed=0)
    k = head("sabl_roi", "loss_cls", seed=0)
    assert c.family == r.family == k.family == "SABLHead"
    assert k.kwargs["avg_factor"] == 512.0
    pred, target, weight = c.args  # side_num = ceil(14 / 2) = 7, the four sides of each RoI a row
    assert pred.shape == target.shape == weight.shape == (4 * 512, 7)
    assert c.kwargs["avg_factor"] == 2048.0
    assert int((weight.sum(1) > 0).sum()) == 4 * 128  # each positive's four sides, no negative's
    assert torch.equal(target[weight.sum(1) > 0].sum(1), torch.ones(4 * 128, dtype=target.dtype))
    bce = F.binary_cross_entropy_with_logits(pred, target.float(), reduction="none")
    assert float(c.logged) == pytest.approx(1.5 * float((bce * weight).sum()) / (2048 + EPS), rel=1e-5)
    assert "bucket_cls_targets.size(0): 4 sides of each sampled RoI) = 2048" in c.trace.steps[0].description
    pred, target, weight = r.args
    assert pred.shape == target.shape == weight.shape == (512, 28) and r.kwargs["avg_factor"] == 512.0
    assert int((weight.sum(1) > 0).sum()) == 128
    d = (pred - target).abs()
    smooth = torch.where(d < 0.1, 0.5 * d * d / 0.1, d - 0.05)
    assert float(r.logged) == pytest.approx(float((smooth * weight).sum()) / (512 + EPS), rel=1e-5)
    # fewer proposals: the rows still every sampled RoI, however many are positives
    few = head("sabl_roi", "loss_bbox_reg", seed=3, num_priors=30)
    stats = few.trace.steps[0].value
    assert few.kwargs["avg_factor"] == stats["positives"] + stats["negatives"] == few.args[0].shape[0]


def test_point_rends_point_head_averages_every_sampled_point_of_the_positives(
    head: Callable[..., EvalResult], write: Callable[..., Path]
) -> None:
    """MaskPointHead.loss_and_target: loss_point(point_pred, point_targets, pos_labels) on the
    positive RoIs' num_points points, (positives, num_classes, num_points) logits, no weight, no
    avg_factor: the mean of each RoI's class channel over every point; logged loss_point."""
    p = head("point_rend", "loss_point", seed=0)
    assert p.family == "MaskPointHead" and p.log_names == ["loss_point"]
    pred, target, labels = p.args
    assert pred.shape == (64, 80, 49) and target.shape == (64, 49) and labels.shape == (64,)  # 256 × 0.25
    assert set(target.unique().tolist()) == {0.0, 1.0}
    assert "avg_factor" not in p.kwargs and p.trace.steps[0].description.endswith("with no weight; no avg_factor")
    own = pred[torch.arange(64), labels]
    assert float(p.logged) == pytest.approx(2.0 * float(F.binary_cross_entropy_with_logits(own, target)), rel=1e-5)
    agnostic = write(
        "agnostic.py", HEADS["point_rend"].replace("num_classes=80,", "num_classes=80, class_agnostic=True,")
    )
    one = evaluate_config(losstune.load(agnostic), "loss_point")
    assert one.args[0].shape == (64, 1, 49) and int(one.args[2].abs().sum()) == 0
    from losstune.engine.inputs import InputError

    unset = write("unset.py", HEADS["point_rend"].replace("num_points=49,", ""))
    with pytest.raises(InputError, match=r"train_cfg\.rcnn\.num_points"):
        evaluate_config(losstune.load(unset), "loss_point")


def test_scnets_mask_head_is_the_last_stages_weighted_by_the_sum_of_the_stage_weights(
    head: Callable[..., EvalResult],
) -> None:
    """SCNetRoIHead.loss: one mask head, run on the last stage's sampling (train_cfg.rcnn[-1]),
    logged loss_mask and multiplied by sum(stage_loss_weights); SCNetSemanticHead is
    FusedSemanticHead's loss (logged loss_semantic_seg)."""
    m = head("scnet", "loss_mask", seed=0)
    assert m.log_names == ["loss_mask"] and m.rule is not None and m.rule.weighted == 1.75
    assert m.args[0].shape[0] == 64  # the last stage's RandomSampler(num=256, pos_fraction=0.25)
    assert float(m.logged) == pytest.approx(1.75 * float(m.trace.loss), rel=1e-6)
    assert "sum(stage_loss_weights) = 1.75" in m.trace.steps[-1].description
    seg = head("scnet", "loss_seg", seed=0, num_priors=20 * 20)
    assert seg.family == "FusedSemanticHead" and seg.log_names == ["loss_semantic_seg"]


def test_scnets_global_context_loss_is_the_mean_bce_of_the_images_classes_times_its_loss_weight(
    head: Callable[..., EvalResult], write: Callable[..., Path]
) -> None:
    """GlobalContextHead.loss: loss_weight × nn.BCEWithLogitsLoss()(pred, targets), one logit per
    class an image against 1 at each class of its boxes; no loss dict in the config."""
    cfg = losstune.load(write("scnet.py", HEADS["scnet"]))
    assert "model.roi_head.glbctx_head.loss_glbctx" in [n.key for n in cfg.in_head_losses()]
    g = head("scnet", "loss_glbctx", seed=0)
    assert g.family == "GlobalContextHead" and g.log_names == ["loss_glbctx"]
    pred, target = g.args
    assert pred.shape == target.shape == (1, 80) and 1 <= int(target.sum()) <= 8
    assert "avg_factor" not in g.kwargs and "weight" not in g.kwargs
    mean = float(F.binary_cross_entropy_with_logits(pred, target))
    assert float(g.trace.loss) == pytest.approx(mean, rel=1e-5)
    assert float(g.logged) == pytest.approx(3.0 * mean, rel=1e-5)
    assert g.rule is not None and g.rule.weighted == 3.0
    assert any("nn.BCEWithLogitsLoss" in n for n in g.notes)
