"""The head model held against MMDetection's own head (losstune.engine.realhead.versus): on real
configs of MMDetection 3.3.0, the prediction width and rows (every prior or the positives), the
avg_factor and the division after the module that the model's rules give, counted on the real
head's own positives, negatives and weights, equal what the head passed and did, with and without
positives in the batch."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine.headmodel import AvgRule, Counts, Rule, rule_for  # noqa: E402
from tests.conftest import PROJECTS  # noqa: E402

needs_mmdet = pytest.mark.skipif(
    importlib.util.find_spec("mmdet") is None,
    reason="MMDetection 3.3.0 is not installed (pip install -e '.[dev]' installs it with mmcv-lite)",
)
CONFIGS = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
needs_configs = pytest.mark.skipif(not CONFIGS.is_dir(), reason=f"MMDetection 3.3.0's configs are not at {CONFIGS}")

# config, family, terms it logs, terms whose values are the real head's within a factor of 2 (the
# model's inputs are its own, made as an untrained head makes them: the class logits at the prior)
REAL = [
    ("retinanet/retinanet_r18_fpn_1x_coco.py", "AnchorHead", {"loss_cls", "loss_bbox"}, {"loss_cls"}),
    # GHM-C and GHM-R take label_weight and an avg_factor through **kwargs
    ("ghm/retinanet_r50_fpn_ghm-1x_coco.py", "AnchorHead", {"loss_cls", "loss_bbox"}, set()),
    # one class; a RandomSampler's negatives are the sampled ones, not every prior without a box
    ("rpn/rpn_r50_fpn_1x_coco.py", "RPNHead", {"loss_rpn_cls", "loss_rpn_bbox"}, set()),
    (
        "fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py",
        "FCOSHead",
        {"loss_cls", "loss_bbox", "loss_centerness"},
        {"loss_cls", "loss_centerness"},
    ),
    ("atss/atss_r50_fpn_1x_coco.py", "ATSSHead", {"loss_cls", "loss_bbox", "loss_centerness"}, {"loss_cls"}),
    ("gfl/gfl_r50_fpn_1x_coco.py", "GFLHead", {"loss_cls", "loss_bbox", "loss_dfl"}, set()),
    (
        "yolox/yolox_tiny_8xb8-300e_coco.py",
        "YOLOXHead",
        {"loss_cls", "loss_bbox", "loss_obj"},
        {"loss_cls", "loss_obj"},
    ),
    ("rtmdet/rtmdet_tiny_8xb32-300e_coco.py", "RTMDetHead", {"loss_cls", "loss_bbox"}, set()),
    # 4 × side_num bucket columns per prior; the avg_factor times the columns a positive's weights reach
    (
        "sabl/sabl-retinanet_r50_fpn_1x_coco.py",
        "SABLRetinaHead",
        {"loss_cls", "loss_bbox_cls", "loss_bbox_reg"},
        {"loss_cls", "loss_bbox_cls", "loss_bbox_reg"},
    ),
    # loss_carl: loss_bbox's second call, per element, weighted and summed by the head
    ("pisa/retinanet-r50_fpn_pisa_1x_coco.py", "PISARetinaHead", {"loss_cls", "loss_bbox", "loss_carl"}, {"loss_cls"}),
    ("detr/detr_r18_8xb2-500e_coco.py", "DETRHead", {"loss_cls", "loss_bbox", "loss_iou", "d4.loss_iou"}, {"loss_cls"}),
    # avg_factor = positives + images; the boxes of the positives only, each side weighted 1
    ("foveabox/fovea_r50_fpn_4xb4-1x_coco.py", "FoveaHead", {"loss_cls", "loss_bbox"}, set()),
    # its DeformConv2d computed in PyTorch; loss_cls on every prior's IoU targets (the positives'
    # refined IoUs at their labels) by max(positives, 1), the box losses by their IoU weights' sum
    ("vfnet/vfnet_r50_fpn_1x_coco.py", "VFNetHead", {"loss_cls", "loss_bbox", "loss_bbox_rf"}, set()),
    # loss_bbox on the assigner's candidate boxes, divided by the classification's avg_factor
    ("yolof/yolof_r50-c5_8xb8-1x_coco.py", "YOLOFHead", {"loss_cls", "loss_bbox"}, {"loss_cls"}),
    # (images, priors, …) maps, one call per level, masked by weights, summed with no avg_factor
    (
        "yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py",
        "YOLOV3Head",
        {"loss_cls", "loss_conf", "loss_xy", "loss_wh"},
        set(),
    ),
    # whole maps (N, C, H, W), the wh and offset maps weighted at the centres
    (
        "centernet/centernet_r18_8xb16-crop512-140e_coco.py",
        "CenterNetHead",
        {"loss_center_heatmap", "loss_wh", "loss_offset"},
        {"loss_center_heatmap", "loss_wh", "loss_offset"},
    ),
    # the classification's positives handed by index (pos_inds)
    (
        "centernet/centernet-update_r18_fpn_8xb8-amp-lsj-200e_coco.py",
        "CenterNetUpdateHead",
        {"loss_cls", "loss_bbox"},
        {"loss_cls", "loss_bbox"},
    ),
    # element-wise modules; the positives FSAF's feature selection keeps read from reweight_loss_single
    ("fsaf/fsaf_r50_fpn_1x_coco.py", "FSAFHead", {"loss_cls", "loss_bbox"}, {"loss_cls", "loss_bbox"}),
    # no loss module: the head's own code (loss_by_feat_single) read per image; the hard negatives
    # mined, every prior's softmax logits (num_classes + 1 wide)
    (
        "ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py",
        "SSDHead",
        {"loss_cls", "loss_bbox"},
        {"loss_cls", "loss_bbox"},
    ),
    ("pisa/ssd300_pisa_coco.py", "PISASSDHead", {"loss_cls", "loss_bbox"}, {"loss_cls", "loss_bbox"}),
    # two calls per stack on whole maps, each its own avg_factor, their mean; the embedding loss's
    # pair of terms from one call per stack; the stacks summed in the log (the model's 8 objects on
    # one image against the batch's 3 on each of 2: the heatmap's and the pull's values differ)
    (
        "cornernet/cornernet_hourglass104_8xb6-210e-mstest_coco.py",
        "CornerHead",
        {"det_loss", "pull_loss", "push_loss", "off_loss"},
        {"off_loss", "push_loss"},
    ),
    # two-stage (mmcv's NMS and RoIAlign computed in PyTorch): the RPN's terms on every anchor, the
    # RoI head's on the 512 sampled RoIs of each image, loss_bbox on their positives divided by
    # all of them (bbox_targets.size(0)); the model's sampler fills its 128 positives where an
    # untrained RPN's proposals give the real one a few, so loss_bbox's values differ
    (
        "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
        "RPNHead + BBoxHead",
        {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox"},
        {"loss_rpn_cls", "loss_cls"},
    ),
    # each stage's terms s{i}. weighted by stage_loss_weights (1, 0.5, 0.25) after the head
    (
        "cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py",
        "RPNHead + BBoxHead",
        {"loss_rpn_cls", *(f"s{i}.loss_{n}" for i in range(3) for n in ("cls", "bbox"))},
        {"loss_rpn_cls", "s0.loss_cls", "s1.loss_cls", "s2.loss_cls"},
    ),
    # loss_mask on the positive RoIs' masks of their class, no avg_factor
    (
        "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py",
        "RPNHead + BBoxHead + FCNMaskHead",
        {"loss_rpn_cls", "loss_cls", "loss_bbox", "loss_mask"},
        {"loss_cls", "loss_mask"},
    ),
    # GridHead's loss_grid: the fused and unfused heatmaps of the sampled positives, every element
    # averaged, no avg_factor, the two calls summed (the bbox head's loss_cls is its default, not
    # in the config: not compared)
    (
        "grid_rcnn/grid-rcnn_r50_fpn_gn-head_1x_coco.py",
        "RPNHead + BBoxHead + GridHead",
        {"loss_rpn_cls", "loss_rpn_bbox", "loss_grid"},
        {"loss_grid"},
    ),
    # MaskIoUHead's loss_iou (its class's default, MSELoss): the positives whose mask IoU target is
    # above 0, as the head selects them, no avg_factor; logged loss_mask_iou
    (
        "ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py",
        "RPNHead + BBoxHead + FCNMaskHead + MaskIoUHead",
        {"loss_rpn_cls", "loss_cls", "loss_bbox", "loss_mask", "loss_mask_iou"},
        {"loss_cls", "loss_mask"},
    ),
    # HTC: FusedSemanticHead's loss_seg on each image's semantic map (logged loss_semantic_seg);
    # the mask branch's RoIs re-sampled after each stage's refined boxes (interleaved)
    (
        "htc/htc_r50_fpn_1x_coco.py",
        "RPNHead + FusedSemanticHead + BBoxHead + FCNMaskHead",
        {"loss_semantic_seg", "s0.loss_mask", "s1.loss_mask", "s2.loss_mask", "s0.loss_cls"},
        {"loss_semantic_seg"},
    ),
    # SparseRoIHead's six DIIHead stages: EmbeddingRPNHead's 100 proposals an image, each stage's
    # refined boxes matched one to a box (HungarianAssigner), every proposal to loss_cls, the
    # positives to the box losses, all by the positives, not clamped
    (
        "sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py",
        "DIIHead",
        {f"s{i}.loss_{n}" for i in range(6) for n in ("cls", "bbox", "iou")},
        {"s0.loss_cls", "s0.loss_bbox", "s0.loss_iou", "s5.loss_cls", "s5.loss_iou"},
    ),
    # QueryInst: a DynamicMaskHead a stage, the positives' mask probabilities by max(positives, 1)
    (
        "queryinst/queryinst_r50_fpn_1x_coco.py",
        "DIIHead + DynamicMaskHead",
        {"s0.loss_cls", "s0.loss_bbox", "s0.loss_iou", "s0.loss_mask", "s5.loss_mask"},
        {"s0.loss_cls", "s0.loss_iou", "s0.loss_mask", "s5.loss_mask"},
    ),
    # one mask_head dict, built once per stage: logged s0. to s2., each stage's weight
    (
        "cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py",
        "RPNHead + BBoxHead + FCNMaskHead",
        {"s0.loss_mask", "s1.loss_mask", "s2.loss_mask", "s2.loss_cls"},
        {"s0.loss_mask", "s1.loss_mask", "s2.loss_mask"},
    ),
    # SABLHead in each stage: every sampled RoI's sides (side_num columns a row) and offsets, each
    # by the rows handed
    (
        "sabl/sabl-cascade-rcnn_r50_fpn_1x_coco.py",
        "RPNHead + SABLHead",
        {f"s{i}.loss_{n}" for i in range(3) for n in ("cls", "bbox_cls", "bbox_reg")},
        {"s0.loss_cls"},
    ),
    # MaskPointHead: the positive RoIs' num_points points, (positives, classes, points), averaged
    (
        "point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py",
        "RPNHead + BBoxHead + FCNMaskHead + MaskPointHead",
        {"loss_cls", "loss_mask", "loss_point"},
        {"loss_cls", "loss_mask", "loss_point"},
    ),
    # SCNet: its semantic head FusedSemanticHead's loss; GlobalContextHead's nn.BCEWithLogitsLoss
    # × its loss_weight; one mask head on the last stage's RoIs, × sum(stage_loss_weights)
    (
        "scnet/scnet_r50_fpn_1x_coco.py",
        "RPNHead + FusedSemanticHead + GlobalContextHead + BBoxHead + FCNMaskHead",
        {"loss_semantic_seg", "loss_glbctx", "loss_mask", "s0.loss_cls", "s2.loss_bbox"},
        {"loss_semantic_seg", "loss_glbctx", "loss_mask", "s0.loss_cls"},
    ),
]

ZERO = [
    ("retinanet/retinanet_r18_fpn_1x_coco.py", {"loss_cls", "loss_bbox"}),
    ("yolox/yolox_tiny_8xb8-300e_coco.py", {"loss_obj"}),
    ("foveabox/fovea_r50_fpn_4xb4-1x_coco.py", {"loss_cls"}),
    ("vfnet/vfnet_r50_fpn_1x_coco.py", {"loss_cls"}),  # every IoU target 0, avg_factor max(0, 1)
    ("yolof/yolof_r50-c5_8xb8-1x_coco.py", {"loss_cls"}),
    # every term is a call on the maps, its weights all 0 but the objectness's negatives
    ("yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py", {"loss_cls", "loss_conf", "loss_xy", "loss_wh"}),
    (
        "detr/detr_r18_8xb2-500e_coco.py",
        {f"{p}loss_{n}" for p in ("", "d0.", "d1.", "d2.", "d3.", "d4.") for n in ("cls", "bbox", "iou")},
    ),
    ("centernet/centernet_r18_8xb16-crop512-140e_coco.py", {"loss_center_heatmap", "loss_wh", "loss_offset"}),
    ("centernet/centernet-update_r18_fpn_8xb8-amp-lsj-200e_coco.py", {"loss_cls"}),  # pos_inds=None
    # no positive: no negative is mined, each term 0 over the images' floors of the avg_factor
    ("ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py", {"loss_cls", "loss_bbox"}),
    # the RoI head's sampled RoIs all negatives: loss_bbox is 0 × the predictions, no call
    ("faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py", {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls"}),
    # SABLHead calls its bucket losses on every sampled RoI, positives or not: weights all 0
    (
        "sabl/sabl-faster-rcnn_r50_fpn_1x_coco.py",
        {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox_cls", "loss_bbox_reg"},
    ),
    # every proposal a negative: avg_factor 0 (not clamped), the box and mask terms 0 × the predictions
    ("sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py", {f"s{i}.loss_cls" for i in range(6)}),
    ("queryinst/queryinst_r50_fpn_1x_coco.py", {f"s{i}.loss_cls" for i in range(6)}),
]


# a head of a single coarse level has 2 × 2 cells at 64 pixels, fewer priors than the model's
# 8 boxes take
SIZES = {
    "yolof/yolof_r50-c5_8xb8-1x_coco.py": 128,
    # HourglassNet halves a stride-4 map five times: 128 pixels make its smallest 1 × 1
    "cornernet/cornernet_hourglass104_8xb6-210e-mstest_coco.py": 128,
    # SSDLite's anchors are sized for 320 pixels (min_sizes 48 to 304, no input_size to run the batch
    # at): at 64 every box is smaller than the smallest anchor, its encoded targets far from usual
    "ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py": 128,
    **{
        c: 128
        for c in (
            "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
            "cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py",
            "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py",
            "cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py",
            "sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py",
            "queryinst/queryinst_r50_fpn_1x_coco.py",
            "sabl/sabl-cascade-rcnn_r50_fpn_1x_coco.py",
            "sabl/sabl-faster-rcnn_r50_fpn_1x_coco.py",
            "point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py",
            "scnet/scnet_r50_fpn_1x_coco.py",
        )
    },
}


def _hold(config: str, boxes: int) -> Any:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    return hold(losstune.load(CONFIGS / config), BatchSpec(size=SIZES.get(config, 64), boxes=boxes))


def _rules_agree(checked: Any) -> None:
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
        assert t.model_width == t.real.width


@needs_mmdet
@needs_configs
@pytest.mark.parametrize(("config", "family", "terms", "values"), REAL, ids=[c.split("/")[0] for c, *_ in REAL])
def test_the_models_shapes_and_avg_factor_rules_are_the_real_heads(
    config: str, family: str, terms: set[str], values: set[str]
) -> None:
    checked = _hold(config, 3)
    assert checked.family == family
    assert terms <= {t.term for t in checked.terms}
    for t in checked.terms:
        assert t.value_ok or t.term not in values, (t.term, t.why)
    assert any(t.real.counts.pos > 0 for t in checked.terms)
    _rules_agree(checked)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize(("config", "terms"), ZERO, ids=[c.split("/")[0] for c, _ in ZERO])
def test_with_no_positives_the_rules_still_agree(config: str, terms: set[str]) -> None:
    # with no box in the batch the head calls only the losses on every prior (a term on the
    # positives is 0 × the predictions, no call); each avg_factor and divisor is then its floor
    checked = _hold(config, 0)
    assert {t.term for t in checked.terms} == terms
    assert all(t.real.counts.pos == 0 for t in checked.terms)
    _rules_agree(checked)


@needs_mmdet
@needs_configs
def test_sparse_rcnns_class_loss_with_no_box_divides_by_epsilon() -> None:
    """DIIHead passes reduce_mean(num_pos) unclamped: with no box in the batch its loss_cls is the
    sum over ε, which the model's rule (the positives, 0) gives and max(positives, 1) would not."""
    checked = _hold("sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py", 0)
    s0 = next(t for t in checked.terms if t.term == "s0.loss_cls")
    assert s0.real.avg == 0.0 and s0.rule_avg == 0.0
    assert s0.real.value > 1e5
    assert AvgRule(Rule(avg="positives"), None, None).avg(s0.real.counts) == 1.0  # the clamp MMDetection lacks


@needs_mmdet
@needs_configs
def test_a_wrong_rule_is_caught() -> None:
    """The comparison fails where the model's rule is not the head's: RetinaNet's avg_factor counted
    as DETR's (positives + the negatives) is not what RetinaHead passes."""
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.run import run_head
    from losstune.engine.realhead.versus import real_feed

    run = run_head(losstune.load(CONFIGS / "retinanet/retinanet_r18_fpn_1x_coco.py"), BatchSpec(size=64))
    term = next(t for t in run.terms if t.name == "loss_cls")
    feed, split = real_feed(run, term.calls, 80)
    assert split and feed.avg == float(sum(max(p, 1) for p in feed.counts.positives))
    right = AvgRule(rule_for("AnchorHead", "loss_cls"), "max(positives, 1)", None)
    wrong = AvgRule(Rule(avg="detr_cls"), None, 1.0)
    assert right.avg(feed.counts) == feed.avg
    assert wrong.avg(feed.counts) != feed.avg


@needs_mmdet
@needs_configs
def test_a_term_whose_head_selects_its_rows_is_its_own_assignment(monkeypatch: pytest.MonkeyPatch) -> None:
    """MaskIoUHead hands the module the positives whose target is above 0, fewer than the RoI
    head's: counted on another term's assignment, its rows would not be the positives."""
    from dataclasses import replace

    from losstune.engine import headmodel

    config = "ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py"
    held = {t.term: t for t in _hold(config, 3).terms}
    right = held["loss_mask_iou"]
    assert right.shape_ok and right.real.counts.pos < held["loss_mask"].real.counts.pos
    rules = dict(headmodel.RULES["MaskIoUHead"])
    rules["loss_iou"] = replace(rules["loss_iou"], selects=False)
    monkeypatch.setitem(headmodel.RULES, "MaskIoUHead", rules)
    wrong = next(t for t in _hold(config, 3).terms if t.term == "loss_mask_iou")
    assert not wrong.shape_ok, wrong.why


def test_the_avg_factor_rules_at_zero_positives() -> None:
    # SamplingResult floors each image's positives (and negatives, with a sampler) at 1
    none = Counts(positives=(0, 0), negatives=(0, 5), rows=5)
    assert AvgRule(Rule(), "max(positives, 1)", None).avg(none) == 2.0
    assert AvgRule(Rule(), "max(positives, 1) + max(negatives, 1)", None).avg(none) == 8.0
    assert AvgRule(rule_for("FCOSHead", "loss_cls"), None, None).avg(none) == 1.0
    assert AvgRule(rule_for("FCOSHead", "loss_bbox"), None, None).avg(none) == 1e-6
    assert AvgRule(rule_for("DETRHead", "loss_cls"), None, 0.1).avg(none) == pytest.approx(1.0)
    assert AvgRule(rule_for("DETRHead", "loss_cls"), None, 0.1).avg(Counts((0,), (100,), 100)) == pytest.approx(10.0)
    assert AvgRule(rule_for("YOLOXHead", "loss_obj"), None, None).divisor(none) == 1.0
    assert AvgRule(rule_for("FoveaHead", "loss_cls"), None, None).avg(none) == 2.0  # positives + images
    assert AvgRule(rule_for("YOLOV3Head", "loss_conf"), None, None).avg(none) is None
    # YOLOF's loss_bbox is handed the assigner's 48 candidates, divided by the assignment's avg_factor
    candidates, assigned = Counts((48, 0), (0, 0), 48), Counts((7, 0), (13, 20), 40)
    rule = AvgRule(rule_for("YOLOFHead", "loss_bbox"), "max(positives, 1)", None)
    assert rule.avg(candidates) == 49.0 and rule.avg(candidates, assigned) == 8.0
    assert AvgRule(rule_for("RTMDetHead", "loss_cls"), None, None).divisor(Counts((3,), (0,), 3, 0.2)) == 1.0


@needs_mmdet
def test_the_side_buckets_are_bucketing_bbox_coders() -> None:
    """heads_sabl.bucket_targets gives what MMDetection's bbox2bucket gives, for its options."""
    from mmdet.models.task_modules.coders.bucketing_bbox_coder import bbox2bucket

    from losstune.engine.heads_sabl import Coder, bucket_targets

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(64, 2, generator=g) * 500
    side = torch.rand(64, 1, generator=g) * 200 + 16
    squares = torch.cat([xy, xy + side], 1)
    boxes = squares + (torch.rand(64, 4, generator=g) - 0.5) * side * 0.6
    for coder in (Coder(14, 3.0), Coder(10, 2.0, 3, 0.5), Coder(7, 3.0, 1, 1.0, False)):
        theirs = bbox2bucket(
            squares,
            boxes,
            coder.num_buckets,
            coder.scale_factor,
            coder.offset_topk,
            coder.offset_upperbound,
            coder.cls_ignore_neighbor,
        )
        for ours, real in zip(bucket_targets(squares, boxes, coder), theirs, strict=True):
            assert torch.allclose(ours, real, atol=1e-5)


def test_a_head_built_for_one_input_size_is_run_at_it() -> None:
    # SSDAnchorGenerator lays its anchors out for `input_size`; SSD300's sixth level is 1×1 at 300
    # pixels, and its backbone cannot run much below it
    from losstune.engine.realhead.batch import BatchSpec, fitted

    model = {"bbox_head": {"type": "SSDHead", "anchor_generator": {"type": "SSDAnchorGenerator", "input_size": 300}}}
    spec = fitted(BatchSpec(size=128), model)
    assert spec.size == 300 and "300×300 (the input size of SSDAnchorGenerator)" in spec.describe()
    assert fitted(BatchSpec(size=128), {"bbox_head": {"anchor_generator": {"type": "AnchorGenerator"}}}).size == 128
    assert fitted(BatchSpec(size=128), {"bbox_head": {"anchor_generator": {"input_size": True}}}).size == 128


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("boxes", [3, 0])
def test_ssd_is_read_from_its_own_code_and_the_model_gives_its_terms_on_its_inputs(boxes: int) -> None:
    # SSDHead calls no loss module: its loss_by_feat_single is recorded per image, and the model's
    # mining and reduction on exactly those arguments give the head's terms
    checked = _hold("ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py", boxes)
    assert "SSDHead.loss_by_feat_single" in checked.compared_on and not checked.skipped
    terms = {t.term: t for t in checked.terms}
    assert set(terms) == {"loss_cls", "loss_bbox"}
    assert terms["loss_cls"].real.width == (81,) and terms["loss_bbox"].real.width == (4,)
    for t in terms.values():
        assert t.real.calls == 2 and t.real.avg == float(sum(max(p, 1) for p in t.real.counts.positives))
        assert t.replayed == pytest.approx(t.real.value, rel=1e-4, abs=1e-7)
    if not boxes:
        assert terms["loss_cls"].real.value == 0.0


@needs_mmdet
@needs_configs
def test_a_wrong_neg_pos_ratio_is_caught() -> None:
    """The replay holds the mining to the head's: with 1 negative a positive, not the configured 3,
    the model's loss_cls on the head's own arguments is not the head's."""
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.ownterms import ssd_feeds
    from losstune.engine.realhead.run import run_head
    from losstune.engine.session import loss_dict

    cfg = losstune.load(CONFIGS / "ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py")
    run = run_head(cfg, BatchSpec(size=128))
    logged = next(t.value for t in run.terms if t.name == "loss_cls")
    loss_cfgs = {str(n.path[-1]): loss_dict(cfg, n) for n in cfg.in_head_losses()}
    assert ssd_feeds(run.own, 80, 3, loss_cfgs)["loss_cls"].replayed == pytest.approx(logged, rel=1e-4)
    assert ssd_feeds(run.own, 80, 1, loss_cfgs)["loss_cls"].replayed < 0.9 * logged


@needs_mmdet
def test_centernets_gaussian_targets_are_mmdetections() -> None:
    from mmdet.models.utils.gaussian_target import gaussian_radius as real_radius
    from mmdet.models.utils.gaussian_target import gen_gaussian_target

    from losstune.engine.heads_centernet import draw_gaussian, gaussian_radius

    for h, w, overlap in ((12.0, 30.5, 0.3), (3.2, 3.2, 0.3), (50.0, 7.0, 0.7)):
        assert gaussian_radius(h, w, overlap) == pytest.approx(real_radius([h, w], overlap), rel=1e-9)
    for x, y, radius in ((5, 7, 3), (0, 19, 4), (19, 0, 0), (10, 10, 12)):
        ours, theirs = torch.rand(20, 20) * 0.5, torch.zeros(20, 20)
        theirs.copy_(ours)
        draw_gaussian(ours, x, y, radius)
        gen_gaussian_target(theirs, [x, y], radius)
        assert torch.equal(ours, theirs)


@needs_mmdet
def test_cornernets_targets_are_mmdetections() -> None:
    """The model's corner targets are CornerHead.get_targets' on the same boxes (given on the map:
    an image the map's size), the corner pairs of the embedding loss too."""
    from types import SimpleNamespace

    from mmdet.models.dense_heads.corner_head import CornerHead

    from losstune.engine.heads_corner import corner_targets, seeded_boxes

    side, classes = 32, 5
    boxes = seeded_boxes(classes, side, seed=3)
    boxes.append((20.5, 25.0, 40.0, 33.0, 1))  # corners off the map: clamped inside it
    ours = corner_targets(boxes, classes, side)
    bboxes = torch.tensor([b[:4] for b in boxes])
    labels = torch.tensor([b[4] for b in boxes])
    head = SimpleNamespace(num_classes=classes)
    theirs = CornerHead.get_targets(head, [bboxes], [labels], (1, classes, side, side), (side, side), True)
    assert torch.equal(ours.heatmaps[0], theirs["topleft_heatmap"])
    assert torch.equal(ours.heatmaps[1], theirs["bottomright_heatmap"])
    assert torch.allclose(ours.offsets[0], theirs["topleft_offset"])
    assert torch.allclose(ours.offsets[1], theirs["bottomright_offset"])
    assert ours.match == theirs["corner_embedding"]
    assert int(ours.heatmaps[0].eq(1).sum()) == len(boxes)  # distinct corners: one peak each


@needs_mmdet
@pytest.mark.parametrize(("points", "radius"), [(9, 1), (4, 2)])
def test_grid_rcnns_targets_are_mmdetections(points: int, radius: int) -> None:
    """The model's grid targets are GridHead.get_targets' on the same boxes: each point's
    sub-region of the doubled box, its circle of pos_radius; a box whose doubled side is at most
    sqrt(grid_points) pixels has none."""
    from types import SimpleNamespace

    from mmdet.models.roi_heads.mask_heads.grid_head import GridHead

    from losstune.engine.heads_grid import grid_targets, sub_regions

    g = torch.Generator().manual_seed(1)
    gts = torch.tensor([[10.0, 20.0, 90.0, 70.0], [0.0, 0.0, 33.0, 41.0], [5.0, 5.0, 6.0, 6.5]])
    boxes = gts + torch.randn(3, 4, generator=g) * 3
    boxes[2] = torch.tensor([5.0, 5.0, 6.0, 6.4])  # doubled: 2 × 1.4 pixels, no point
    head = SimpleNamespace(grid_points=points, grid_size=int(points**0.5), whole_map_size=4 * 14)
    head.sub_regions = GridHead.calc_sub_regions(head)
    assert sub_regions(points, 4 * 14) == head.sub_regions
    results = [SimpleNamespace(pos_bboxes=boxes, pos_gt_bboxes=gts)]
    theirs = GridHead.get_targets(head, results, SimpleNamespace(pos_radius=radius))
    ours = grid_targets(boxes, gts, grid_points=points, roi_feat_size=14, radius=radius)
    assert ours.shape == theirs.shape == (3, points, 28, 28)
    assert torch.equal(ours, theirs)
    assert int(ours[:2].sum()) > 0 and int(ours[2].sum()) == 0


@needs_mmdet
def test_mask_scorings_iou_targets_are_mmdetections() -> None:
    """The model's mask IoU targets are MaskIoUHead.get_targets' on the same mask logits, mask
    targets and area ratios (the masks binarised at mask_thr_binary, the instance's whole area its
    area in the RoI over the ratio)."""
    from types import SimpleNamespace

    from mmdet.models.roi_heads.mask_heads.maskiou_head import MaskIoUHead

    from losstune.engine.heads_maskiou import mask_iou_targets

    g = torch.Generator().manual_seed(2)
    logits = torch.randn(6, 28, 28, generator=g)
    masks = (torch.rand(6, 28, 28, generator=g) > 0.4).float()
    ratios = torch.rand(6, generator=g) * 0.5 + 0.5
    logits[5] = -1.0  # no pixel above the threshold: a target of 0
    head = SimpleNamespace(_get_area_ratio=lambda proposals, inds, gt_masks: ratios)
    results = [SimpleNamespace(pos_priors=torch.zeros(6, 4), pos_assigned_gt_inds=torch.zeros(6, dtype=torch.long))]
    theirs = MaskIoUHead.get_targets(
        head, results, [SimpleNamespace(masks=None)], logits, masks, SimpleNamespace(mask_thr_binary=0.5)
    )
    ours = mask_iou_targets(logits, masks, ratios, 0.5)
    assert torch.equal(ours, theirs)
    assert float(ours[5]) == 0.0 and bool((ours[:5] > 0).all())


@needs_mmdet
def test_the_associative_embedding_loss_is_mmdetections() -> None:
    """The engine's AssociativeEmbeddingLoss gives MMDetection's pair on the same inputs: images
    with several objects, one, and none."""
    from mmdet.models.losses import AssociativeEmbeddingLoss as Theirs

    from losstune.engine.evaluation import evaluate

    g = torch.Generator().manual_seed(0)
    tl, br = torch.randn(3, 2, 12, 12, generator=g), torch.randn(3, 2, 12, 12, generator=g)
    match = [[[[1, 2], [5, 7]], [[3, 3], [9, 11]], [[0, 0], [11, 11]]], [[[4, 4], [8, 8]]], []]
    ours = evaluate({"type": "AssociativeEmbeddingLoss", "pull_weight": 0.1, "push_weight": 0.3}, tl, br, match).loss
    pull, push = Theirs(pull_weight=0.1, push_weight=0.3)(tl, br, match)
    assert torch.allclose(ours.pull, pull, rtol=1e-6) and torch.allclose(ours.push, push, rtol=1e-6)
    assert float(ours.push) > 0 and float(ours.pull) > 0


@needs_mmdet
@needs_configs
def test_fsafs_division_is_counted_on_the_positives_its_selection_keeps() -> None:
    # FSAFHead hands its modules reduction='none' and reduces the losses itself: each term is the
    # levels' sums after the feature selection, divided by the positives it kept (fewer than the
    # assignment's: a box keeps its positives on one level)
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / "fsaf" / "fsaf_r50_fpn_1x_coco.py"), BatchSpec(seed=0, size=128))
    terms = {t.term: t for t in checked.terms}
    assert set(terms) == {"loss_cls", "loss_bbox"} and "reweight_loss_single" in checked.compared_on
    for t in terms.values():
        assert t.shape_ok and t.avg_ok and t.scale_ok and t.value_ok, t.why
        kept = t.real.counts.weights
        assert 0 < kept < t.real.counts.pos and t.real.scale == pytest.approx(1 / kept, rel=1e-5)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize(
    ("epoch", "phase", "maker", "idle"),
    [(0, "initial", "initial_loss_cls", "loss_cls"), (4, "task-aligned", "loss_cls", "initial_loss_cls")],
)
def test_tood_agrees_with_the_real_head_in_each_phase(epoch: int, phase: str, maker: str, idle: str) -> None:
    # TOODHead reads the epoch from mmengine's MessageHub: before train_cfg.initial_epoch (4) it
    # assigns with ATSS and calls initial_loss_cls, then the task-aligned way; its forward's
    # deform_sampling is computed in PyTorch (mmcv-lite has no deformable convolution)
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / "tood/tood_r50_fpn_1x_coco.py"), BatchSpec(size=64, epoch=epoch))
    assert checked.family == "TOODHead" and checked.phase == phase
    assert checked.idle == [f"model.bbox_head.{idle}"] and "deform_sampling" in " ".join(checked.stood_in)
    terms = {t.term: t for t in checked.terms}
    assert set(terms) == {"loss_cls", "loss_bbox"}
    assert terms["loss_cls"].key == f"model.bbox_head.{maker}"
    assert terms["loss_cls"].real.modules == (f"bbox_head.{maker}",)  # the real head ran in that phase
    assert terms["loss_cls"].real.avg == 1.0 and terms["loss_bbox"].real.avg == 1.0
    assert all(t.real.counts.pos > 0 for t in checked.terms)
    _rules_agree(checked)


@needs_mmdet
@needs_configs
@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="PAAHead needs scikit-learn (the dev extra)")
@pytest.mark.parametrize("boxes", [3, 0])
def test_paa_agrees_with_the_real_head(boxes: int) -> None:
    # PAAHead re-assigns its positives with scikit-learn's GaussianMixture; loss_cls by
    # max(positives, images), loss_iou (its loss_centerness) on (N, 1) columns by the positives
    checked = _hold("paa/paa_r50_fpn_1x_coco.py", boxes)
    assert checked.family == "PAAHead"
    assert {t.term for t in checked.terms} == ({"loss_cls", "loss_bbox", "loss_iou"} if boxes else {"loss_cls"})
    assert all(t.real.counts.pos > 0 for t in checked.terms) == bool(boxes)
    if not boxes:
        assert checked.terms[0].real.avg == 2.0  # the images
    _rules_agree(checked)


def test_the_pure_deform_sampling_is_bilinear_sampling_with_zeros_outside() -> None:
    # TOODHead's deform_conv2d of ones (1×1 kernel, a group per channel) is bilinear sampling at the
    # offsets; grid_sample (align_corners=True, zeros) samples the same points, pixel centres at the
    # integer coordinates
    from losstune.engine.realhead.pureops import bilinear_at_offsets

    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 4, 5, 7, generator=g)
    offset = torch.randn(2, 8, 5, 7, generator=g) * 3  # far enough to leave the map at the borders
    ours = bilinear_at_offsets(feat, offset)
    ys = torch.arange(5.0).view(1, 5, 1) + offset[:, 0::2].reshape(8, 5, 7)
    xs = torch.arange(7.0).view(1, 1, 7) + offset[:, 1::2].reshape(8, 5, 7)
    grid = torch.stack([xs / 6 * 2 - 1, ys / 4 * 2 - 1], dim=-1)
    theirs = torch.nn.functional.grid_sample(
        feat.reshape(8, 1, 5, 7), grid, mode="bilinear", padding_mode="zeros", align_corners=True
    ).view(2, 4, 5, 7)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.equal(bilinear_at_offsets(feat, torch.zeros_like(offset)), feat)


@needs_mmdet
def test_the_head_runs_at_the_epoch_asked_and_the_message_hub_is_restored() -> None:
    from mmengine.logging import MessageHub

    from losstune.engine.realhead.run import at_epoch

    hub = MessageHub.get_current_instance()
    before = dict(hub.runtime_info)
    with at_epoch(3):
        assert hub.get_info("epoch") == 3
    assert dict(hub.runtime_info) == before


def test_the_through_head_output_says_the_phase_the_head_ran_in() -> None:
    import json

    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.run import HeadRun, LogTerm, phase_of
    from losstune.render.headrun import render_terms, run_data

    model = {"bbox_head": {"type": "TOODHead"}, "train_cfg": {"initial_epoch": 4}}
    assert phase_of(model, "RetinaHead", 0) is None
    run = HeadRun(
        "TOOD",
        "model.bbox_head",
        "TOODHead",
        "3.3.0",
        "2.1.0",
        True,
        BatchSpec(epoch=5),
        [],
        [LogTerm("loss_cls", 1.0)],
        1.0,
    )
    run.at = phase_of(model, "TOODHead", 5)
    assert run.phase.startswith("epoch 5, from train_cfg.initial_epoch = 4 on: TOODHead's task-aligned phase")
    assert f"\nphase: {run.phase}\n" in render_terms(run)
    assert json.loads(json.dumps(run_data(run)))["phase"] == {"epoch": 5, "description": run.phase}


def test_the_pure_nms_keeps_what_mmcvs_nms_keeps_on_hand_counted_boxes() -> None:
    # mmcv's nms_cpu: descending score; a kept box suppresses a later one of IoU > the threshold
    from losstune.engine.realhead.pureops import nms_indices

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    # box 3 first: box 0 is the same box (IoU 1), box 1 overlaps it 81 / 119 = 0.68
    assert nms_indices(boxes, scores, 0.5).tolist() == [3, 2]
    assert nms_indices(boxes, scores, 0.7).tolist() == [3, 1, 2]
    # an IoU equal to the threshold (1 / 2) suppresses nothing
    half = torch.tensor([[0, 0, 2, 1], [0, 0, 1, 1.0]])
    assert nms_indices(half, torch.tensor([0.5, 0.6]), 0.5).tolist() == [1, 0]
    assert nms_indices(half, torch.tensor([0.5, 0.6]), 0.49).tolist() == [1]
    # two boxes of no area: 0 / 0, no suppression
    flat = torch.tensor([[1, 1, 1, 5], [1, 1, 1, 5.0]])
    assert nms_indices(flat, torch.tensor([0.2, 0.3]), 0.5).tolist() == [1, 0]
    empty = nms_indices(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.dtype == torch.long and empty.numel() == 0


def test_the_pure_roi_align_is_mmcvs_on_hand_counted_rois() -> None:
    # mmcv's RoIAlign, avg, aligned: an RoI starts half a pixel before its box, each bin averages
    # ceil(size / bins) samples per axis, bilinear, 0 beyond [-1, size], the border row beyond it
    from losstune.engine.realhead.pureops import roi_align_avg

    feat = (torch.arange(16.0) + 1).view(1, 1, 4, 4)
    one = lambda roi, size=(1, 1), **kw: roi_align_avg(feat, torch.tensor([[0.0, *roi]]), size, **kw)  # noqa: E731
    # four bins of 2 × 2 samples each at the pixels' centres: the mean of each 2 × 2 block
    assert one((0, 0, 4, 4), (2, 2)).flatten().tolist() == [3.5, 5.5, 11.5, 13.5]
    # the same grid from a box twice the size at scale 1/2, one sample a bin (sampling_ratio=1)
    assert one((0, 0, 8, 8), (2, 2), spatial_scale=0.5, sampling_ratio=1).flatten().tolist() == [3.5, 5.5, 11.5, 13.5]
    assert one((0.5, 0.5, 1.5, 1.5)).item() == 3.5  # smaller than a bin: one sample between four pixels
    assert one((3.5, 3.5, 4.5, 4.5)).item() == 16.0  # a sample past the last pixel's centre: the last pixel
    assert one((-0.5, -0.5, 0.5, 0.5)).item() == 1.0  # a sample in [-1, 0]: the first pixel
    assert one((10, 10, 12, 12)).item() == 0.0  # samples beyond the map
    assert one((2, 2, 2, 2)).item() == 0.0  # no size, no sample: 0
    with pytest.raises(ValueError, match="ROIAlign"):
        one((3, 3, 1, 1))  # an aligned RoI of negative size: mmcv refuses it
    # the RoI's first number is its image
    two = torch.stack([feat[0], feat[0] * 10])
    out = roi_align_avg(two, torch.tensor([[1.0, 0.5, 0.5, 1.5, 1.5], [0.0, 0.5, 0.5, 1.5, 1.5]]), (1, 1))
    assert out.flatten().tolist() == [35.0, 3.5]
    assert roi_align_avg(two, torch.zeros(0, 5), (7, 7)).shape == (0, 1, 7, 7)


@needs_mmdet
def test_mmcvs_nms_and_roi_align_run_on_the_ports_only_inside_pure_ops() -> None:
    from losstune.engine.realhead.importing import load_mmdet
    from losstune.engine.realhead.ops import CompiledOpMissing
    from losstune.engine.realhead.pureops import pure_ops

    if not load_mmdet().stand_in:
        pytest.skip("mmcv has its compiled operators here: nothing is stood in")
    from mmcv.ops import RoIAlign, batched_nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10.0]])
    scores, labels = torch.tensor([0.9, 0.8, 0.95]), torch.tensor([0, 0, 1])
    feat, rois = (torch.arange(16.0) + 1).view(1, 1, 4, 4), torch.tensor([[0.0, 0, 0, 4, 4]])
    with pure_ops(torch.nn.Module()) as used:
        dets, keep = batched_nms(boxes, scores, labels, dict(type="nms", iou_threshold=0.5))
        pooled = RoIAlign(2, sampling_ratio=0)(feat, rois)
    assert keep.tolist() == [2, 0] and dets[:, 4].tolist() == pytest.approx([0.95, 0.9])
    assert pooled.flatten().tolist() == [3.5, 5.5, 11.5, 13.5]
    assert any("nms" in u for u in used) and any("RoIAlign" in u for u in used)
    with pytest.raises(CompiledOpMissing):
        batched_nms(boxes, scores, labels, dict(type="nms", iou_threshold=0.5))


def test_the_roi_heads_avg_factors_are_counted_on_the_sampled_rois() -> None:
    # BBoxHead.loss: loss_cls's avg_factor is max(RoIs with a label weight, 1); loss_bbox is handed
    # the positives only, with avg_factor bbox_targets.size(0), every sampled RoI of the batch
    sampled = Counts(positives=(33, 23), negatives=(479, 489), rows=1024)
    positives_only = Counts(positives=(56, 0), negatives=(0, 0), rows=56)
    bbox = AvgRule(rule_for("BBoxHead", "loss_bbox"), None, None)
    assert bbox.avg(positives_only, sampled) == 1024.0
    assert AvgRule(rule_for("BBoxHead", "loss_cls"), None, None).avg(sampled) == 1024.0
    # a cascade's stage weight is part of what the term is divided by afterwards
    assert AvgRule(Rule(), None, None, weighted=0.25).divisor(sampled) == 4.0
    assert AvgRule(Rule(), None, None).divisor(sampled) is None


@needs_mmdet
def test_a_model_with_a_semantic_head_is_given_a_semantic_map_for_each_image() -> None:
    """HTC's FusedSemanticHead reads each image's gt_sem_seg.sem_seg: the boxes' ellipses painted
    with their labels (the instance masks' pixels), the others the semantic head's last class."""
    from losstune.engine.realhead.batch import BatchSpec, data_sample, fitted, plain_sample, synthetic

    model = {"roi_head": {"semantic_head": {"type": "FusedSemanticHead", "num_classes": 50}, "mask_head": {}}}
    spec = fitted(BatchSpec(size=32, boxes=2), model)
    assert spec.semantic and spec.semantic_classes == 50 and "a semantic map each" in spec.describe()
    assert not fitted(BatchSpec(), {"roi_head": {"mask_head": {}}}).semantic
    _, samples = synthetic(spec, 10)
    sem = samples[0].gt_sem_seg.sem_seg
    gt = samples[0].gt_instances
    assert sem.shape == (1, 32, 32) and sem.dtype == torch.long
    inside = torch.from_numpy(gt.masks.masks.astype(bool)).any(0)
    assert bool((sem[0][~inside] == 49).all())
    last = torch.from_numpy(gt.masks.masks[-1].astype(bool))
    assert bool((sem[0][last] == gt.labels[-1]).all())  # the later box painted over the earlier
    again = data_sample(plain_sample(samples[0]))
    assert torch.equal(again.gt_sem_seg.sem_seg, sem)


@needs_configs
def test_a_cascades_stages_are_logged_and_weighted_as_cascade_roi_head_does() -> None:
    from losstune.engine.session import evaluate_config

    cfg = losstune.load(CONFIGS / "cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py")
    # bbox_head is a list of three: each its stage; mask_head one dict, built for each stage
    one = evaluate_config(cfg, "model.roi_head.bbox_head.1.loss_cls", num_priors=300)
    assert one.log_names == ["s1.loss_cls"] and one.rule is not None and one.rule.weighted == 0.5
    shared = evaluate_config(cfg, "model.roi_head.mask_head.loss_mask", num_priors=300)
    assert shared.log_names == ["s0.loss_mask", "s1.loss_mask", "s2.loss_mask"]
    assert shared.rule is not None and shared.rule.weighted == 1.0
    last = evaluate_config(cfg, "model.roi_head.mask_head.loss_mask", num_priors=300, term="s2.loss_mask")
    assert last.log_name == "s2.loss_mask" and last.rule is not None and last.rule.weighted == 0.25
    assert "stage_loss_weights[2] = 0.25" in last.trace.steps[-1].description
    # a plain RoI head's mask head is one stage, unweighted
    plain = losstune.load(CONFIGS / "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py")
    assert evaluate_config(plain, "model.roi_head.mask_head.loss_mask", num_priors=300).log_names == ["loss_mask"]


@needs_mmdet
def test_a_model_with_a_mask_head_is_given_a_mask_for_each_box() -> None:
    from losstune.engine.realhead.batch import BatchSpec, data_sample, fitted, plain_sample, synthetic

    spec = fitted(BatchSpec(size=32, boxes=2), {"roi_head": {"mask_head": {"type": "FCNMaskHead"}}})
    assert spec.masks and "each with its mask" in spec.describe()
    assert not fitted(BatchSpec(), {"roi_head": {"bbox_head": {}}}).masks
    assert fitted(BatchSpec(), {"roi_head": {"mask_head": [{"type": "HTCMaskHead"}] * 3}}).masks  # HTC's stages
    _, samples = synthetic(spec, 80)
    gt = samples[0].gt_instances
    masks = torch.from_numpy(gt.masks.masks)
    assert masks.shape == (2, 32, 32)
    for box, mask in zip(gt.bboxes, masks, strict=True):
        ys, xs = mask.nonzero(as_tuple=True)
        # the ellipse inside the box: its pixels' centres within the box, the centre's pixel in it
        assert bool((xs + 0.5 >= box[0]).all() and (xs + 0.5 <= box[2]).all())
        assert bool((ys + 0.5 >= box[1]).all() and (ys + 0.5 <= box[3]).all())
        cx, cy = int((box[0] + box[2]) / 2), int((box[1] + box[3]) / 2)
        assert mask[cy, cx] == 1
    again = data_sample(plain_sample(samples[0])).gt_instances
    assert type(again.masks).__name__ == "BitmapMasks" and (again.masks.masks == gt.masks.masks).all()


@needs_configs
def test_a_two_stage_detectors_rpn_terms_are_renamed_as_mmdetection_3_renames_them() -> None:
    # TwoStageDetector.loss (3.x) logs an RPN term without "rpn" in its name as rpn_{name}, apart
    # from the RoI head's; 2.x's forward_train logs it as the head returns it
    from losstune.engine.session import evaluate_config

    fcos = losstune.load(CONFIGS / "faster_rcnn/faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py")
    assert evaluate_config(fcos, "model.rpn_head.loss_centerness", num_priors=300).log_names == ["rpn_loss_centerness"]
    two = evaluate_config(fcos, "model.rpn_head.loss_centerness", num_priors=300, mmdet_version=2)
    assert two.log_names == ["loss_centerness"]
    faster = losstune.load(CONFIGS / "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py")
    assert evaluate_config(faster, "model.rpn_head.loss_cls", num_priors=300).log_names == ["loss_rpn_cls"]
    rpn = losstune.load(CONFIGS / "rpn/rpn_r50_fpn_1x_coco.py")  # the RPN detector alone renames nothing
    assert evaluate_config(rpn, "model.rpn_head.loss_cls", num_priors=300).log_names == ["loss_rpn_cls"]


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("boxes", [3, 0])
def test_free_anchor_is_read_from_its_own_code_and_the_model_gives_its_bag_terms(boxes: int) -> None:
    # FreeAnchorRetinaHead's terms are its own bags (loss_bbox enters each per anchor): its
    # loss_by_feat is recorded, and the model's bags on exactly those arguments give the head's terms
    checked = _hold("free_anchor/freeanchor_r50_fpn_1x_coco.py", boxes)
    assert "FreeAnchorRetinaHead.loss_by_feat" in checked.compared_on and not checked.skipped
    terms = {t.term: t for t in checked.terms}
    assert set(terms) == {"positive_bag_loss", "negative_bag_loss"}
    assert terms["positive_bag_loss"].real.width == (50,) and terms["negative_bag_loss"].real.width == (80,)
    _rules_agree(checked)
    for t in terms.values():
        assert t.real.avg is None and t.model_avg is None  # no avg_factor: the head divides itself
        assert t.real.counts.positives == (boxes, boxes)
        assert t.replayed == pytest.approx(t.real.value, rel=1e-4, abs=1e-7)
    by = max(1, 2 * boxes)
    assert terms["positive_bag_loss"].rule_scale == pytest.approx(1 / by)
    assert terms["negative_bag_loss"].rule_scale == pytest.approx(1 / max(1, 2 * boxes * 50))
    if boxes:
        assert terms["negative_bag_loss"].real.scale == pytest.approx(1 / (2 * boxes * 50), rel=1e-4)
    else:
        assert terms["positive_bag_loss"].real.value == 0.0
        assert terms["negative_bag_loss"].real.scale == pytest.approx(1.0, rel=1e-4)


@needs_mmdet
@pytest.mark.parametrize("boxes", [3, 0])
def test_free_anchor_bag_terms_equal_the_heads_on_its_inputs(boxes: int) -> None:
    """The model's bags on random logits, deltas and boxes equal FreeAnchorRetinaHead.loss_by_feat's
    terms, with a pre_anchor_topk, bbox_thr, gamma and alpha other than the defaults."""
    from mmengine.structures import InstanceData

    from losstune.engine import heads_freeanchor as fa
    from losstune.engine.realhead.importing import load_mmdet

    head_cfg = {
        "type": "FreeAnchorRetinaHead",
        "num_classes": 5,
        "in_channels": 4,
        "stacked_convs": 1,
        "feat_channels": 4,
        "pre_anchor_topk": 20,
        "bbox_thr": 0.5,
        "gamma": 1.5,
        "alpha": 0.4,
        "anchor_generator": {
            "type": "AnchorGenerator",
            "octave_base_scale": 4,
            "scales_per_octave": 3,
            "ratios": [0.5, 1.0, 2.0],
            "strides": [8, 16, 32],
        },
        "bbox_coder": {"type": "DeltaXYWHBBoxCoder", "target_means": [0.0] * 4, "target_stds": [0.1, 0.1, 0.2, 0.2]},
        "loss_bbox": {"type": "SmoothL1Loss", "beta": 0.11, "loss_weight": 0.75},
    }
    head = load_mmdet().models.build(head_cfg)
    g = torch.Generator().manual_seed(1)
    sizes = [(8, 8), (4, 4), (2, 2)]
    cls = [torch.randn(2, 9 * 5, h, w, generator=g) - 2 for h, w in sizes]
    deltas = [torch.randn(2, 36, h, w, generator=g) * 0.5 for h, w in sizes]
    gts = []
    for _ in range(2):
        xy, wh = torch.rand(boxes, 2, generator=g) * 30, torch.rand(boxes, 2, generator=g) * 30 + 4
        gts.append(InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=torch.randint(0, 5, (boxes,), generator=g)))
    metas = [{"img_shape": (64, 64), "pad_shape": (64, 64), "batch_input_shape": (64, 64)}] * 2
    real = head.loss_by_feat(cls, deltas, gts, metas)
    anchors = [torch.cat(a) for a in head.get_anchors([c.shape[-2:] for c in cls], metas, device="cpu")[0]]
    logits = torch.cat([c.permute(0, 2, 3, 1).reshape(2, -1, 5) for c in cls], 1)
    preds = torch.cat([d.permute(0, 2, 3, 1).reshape(2, -1, 4) for d in deltas], 1)
    p = fa.bag_params(head_cfg)
    assert (p.pre_anchor_topk, p.bbox_thr, p.gamma, p.alpha) == (20, 0.5, 1.5, 0.4)
    ours = fa.bag_terms(
        logits,
        preds,
        anchors,
        [x.bboxes for x in gts],
        [x.labels for x in gts],
        fa.box_loss_of(head_cfg["loss_bbox"]),
        p,
    )
    assert ours.positive == pytest.approx(float(real["positive_bag_loss"]), rel=1e-5, abs=1e-8)
    assert ours.negative == pytest.approx(float(real["negative_bag_loss"]), rel=1e-5)
    assert ours.boxes == 2 * boxes and ours.negative_divisor == max(1, 2 * boxes * 20)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("boxes", [3, 0])
def test_auto_assign_is_read_from_its_own_code_and_the_model_gives_its_terms(boxes: int) -> None:
    # AutoAssignHead's terms are its own (loss_bbox enters loss_pos per point and box): its
    # loss_by_feat is recorded, and the model's terms on exactly those arguments give the head's
    checked = _hold("autoassign/autoassign_r50-caffe_fpn_1x_coco.py", boxes)
    assert "AutoAssignHead.loss_by_feat" in checked.compared_on and not checked.skipped
    terms = {t.term: t for t in checked.terms}
    assert set(terms) == {"loss_pos", "loss_neg", "loss_center"}
    _rules_agree(checked)
    for t in terms.values():
        assert t.real.width == (80,) and t.real.avg is None and t.model_avg is None
        assert t.replayed == pytest.approx(t.real.value, rel=1e-4, abs=1e-7)
    assert terms["loss_pos"].rule_scale == pytest.approx(1 / max(1, 2 * boxes))
    assert terms["loss_center"].rule_scale == pytest.approx(1 / 2)  # the mean over the 2 images
    if boxes:
        prior = terms["loss_neg"].real.counts.weights  # the summed center prior, the neg_avg_factor
        assert prior > 1 and terms["loss_neg"].real.scale == pytest.approx(1 / prior, rel=1e-4)
    else:
        assert terms["loss_pos"].real.value == 0.0 and terms["loss_center"].real.value == 0.0
        assert terms["loss_neg"].real.scale == pytest.approx(1.0, rel=1e-4)


@needs_mmdet
@pytest.mark.parametrize(("boxes", "force_topk"), [(3, False), (3, True), (0, False)])
def test_auto_assign_terms_equal_the_heads_on_its_inputs(boxes: int, force_topk: bool) -> None:
    """The model's terms on random logits, distances and boxes equal AutoAssignHead.loss_by_feat's,
    with weights other than the defaults, and with ``force_topk`` on small boxes (some with no point
    inside)."""
    from mmengine.structures import InstanceData

    from losstune.engine import heads_autoassign as aa
    from losstune.engine.realhead.importing import load_mmdet

    head_cfg = {
        "type": "AutoAssignHead",
        "num_classes": 5,
        "in_channels": 4,
        "stacked_convs": 1,
        "feat_channels": 4,
        "norm_cfg": None,
        "strides": [8, 16, 32],
        "force_topk": force_topk,
        "pos_loss_weight": 0.5,
        "neg_loss_weight": 0.6,
        "center_loss_weight": 0.9,
        "loss_bbox": {"type": "GIoULoss", "loss_weight": 5.0},
    }
    head = load_mmdet().models.build(head_cfg)
    g = torch.Generator().manual_seed(2)
    sizes = [(8, 8), (4, 4), (2, 2)]
    cls = [torch.randn(2, 5, h, w, generator=g) - 2 for h, w in sizes]
    dist = [torch.rand(2, 4, h, w, generator=g) * 20 + 1 for h, w in sizes]
    obj = [torch.randn(2, 1, h, w, generator=g) for h, w in sizes]
    gts = []
    for _ in range(2):
        xy, wh = (
            torch.rand(boxes, 2, generator=g) * 40,
            torch.rand(boxes, 2, generator=g) * 20 + (2 if force_topk else 8),
        )
        gts.append(InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=torch.randint(0, 5, (boxes,), generator=g)))
    metas = [{"img_shape": (64, 64), "pad_shape": (64, 64), "batch_input_shape": (64, 64)}] * 2
    real = head.loss_by_feat(cls, dist, obj, gts, metas)
    levels = head.prior_generator.grid_priors([c.shape[-2:] for c in cls], dtype=torch.float32, device="cpu")
    strides = torch.cat([torch.full((len(p),), float(s)) for p, s in zip(levels, (8, 16, 32), strict=True)])

    def flat(maps: list[Any], width: int) -> Any:
        return torch.cat([m.permute(0, 2, 3, 1).reshape(2, -1, width) for m in maps], 1)

    p = aa.auto_params(head_cfg)
    assert (p.pos_loss_weight, p.neg_loss_weight, p.center_loss_weight, p.force_topk) == (0.5, 0.6, 0.9, force_topk)
    ours = aa.auto_terms(
        flat(cls, 5),
        flat(obj, 1),
        flat(dist, 4),
        torch.cat(levels),
        strides,
        [x.bboxes for x in gts],
        [x.labels for x in gts],
        aa.box_loss_of(head_cfg["loss_bbox"]),
        p,
    )
    for name in aa.TERMS:
        assert getattr(ours, name) == pytest.approx(float(real[name].detach()), rel=1e-5, abs=1e-8), name
    assert ours.boxes == 2 * boxes and ours.pos_divisor == max(1, 2 * boxes)


def test_rows_with_no_negatives_are_the_positives_and_every_sampled_one() -> None:
    # with no negative in the assignment, a call on every sampled RoI is a call on the positives
    from losstune.engine.realhead.versus import row_kinds

    assert row_kinds(3, 3, 0) == ("the positives", "the positives and negatives")
    assert row_kinds(512, 128, 384) == ("the positives and negatives",)
    assert row_kinds(128, 128, 384) == ("the positives",)  # negatives there, not handed
    assert row_kinds(12, 3, 0) == ("4 × the positives",)


@needs_mmdet
@needs_configs
def test_an_hrnet_rpn_whose_proposals_are_all_gone_still_hands_every_sampled_roi() -> None:
    """HRNet freshly initialised, its norm layers kept in eval mode by its norm_eval (so that they
    normalise nothing), makes feature maps of order 1e+8: the RPN's proposals are all filtered out, the RoI head samples the ground-truth boxes alone, and BBoxHead hands loss_cls
    every sampled RoI, which are then all positives. The model's rows (positives and negatives) are
    that rule, not a difference."""
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    cfg = losstune.load(CONFIGS / "hrnet/faster-rcnn_hrnetv2p-w18-1x_coco.py")
    checked = hold(cfg, BatchSpec(size=128))
    terms = {t.term: t for t in checked.terms}
    cls = terms["loss_cls"]
    assert cls.real.counts.neg == 0 and cls.real.rows == 3  # each image's 3 ground-truth boxes
    assert cls.model_rows > cls.real.rows and terms["loss_rpn_cls"].real.value > 1e3
    _rules_agree(checked)
