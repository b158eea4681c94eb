"""The model of Guided Anchoring's heads (losstune.engine.heads_ga): the location targets and the
ga assignment counted by hand, the calls ``loss_loc`` and ``loss_shape`` get, their avg_factors and
log names, and, with MMDetection 3.3.0 installed, the targets its own ``ga_loc_targets``,
``AnchorGenerator``, ``ApproxMaxIoUAssigner`` and ``ga_shape_targets`` give on the same boxes, and
the rules held against its real heads."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_ga as ga  # noqa: E402
from losstune.engine.headmodel import AvgRule, Counts, family_of, logged_rule, rule_for  # noqa: E402
from losstune.engine.sampling import NUM_GTS  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config, logged_terms  # noqa: E402
from tests.conftest import invoke  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

HEAD = """
    {head}=dict(type='{type}', num_classes=80, in_channels=256, feat_channels=256,
        approx_anchor_generator=dict(type='AnchorGenerator', octave_base_scale={scale}, scales_per_octave=3,
            ratios=[0.5, 1.0, 2.0], strides={strides}),
        square_anchor_generator=dict(type='AnchorGenerator', ratios=[1.0], scales=[{scale}], strides={strides}),
        anchor_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[0.07, 0.07, 0.14, 0.14]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[0.07, 0.07, 0.11, 0.11]),
        loss_loc=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_shape=dict(type='BoundedIoULoss', beta=0.2, loss_weight=1.0),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))"""
TRAIN = """dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3, ignore_iof_thr=-1),
        sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),
        ga_assigner=dict(type='ApproxMaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
            ignore_iof_thr=-1),
        {ga_sampler}allowed_border=-1, center_ratio=0.2, ignore_ratio=0.5)"""
GA_SAMPLER = (
    "ga_sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),"
)
RPN = "model = dict(type='RPN', {head}, train_cfg=dict(rpn={train}))"
TWO_STAGE = (
    "model = dict(type='FasterRCNN', {head}, roi_head=dict(type='StandardRoIHead'), train_cfg=dict(rpn={train}))"
)
RETINA = "model = dict(type='RetinaNet', {head}, train_cfg={train})"
STRIDES = "[4, 8, 16, 32, 64]"


def _config(kind: str, *, ga_sampler: bool = True) -> str:
    head_key, head_type = ("bbox_head", "GARetinaHead") if kind == "retina" else ("rpn_head", "GARPNHead")
    head = HEAD.format(head=head_key, type=head_type, scale=8, strides=STRIDES).strip()
    train = TRAIN.format(ga_sampler=GA_SAMPLER if ga_sampler else "")
    return {"retina": RETINA, "rpn": RPN, "two_stage": TWO_STAGE}[kind].format(head=head, train=train)


@pytest.fixture
def ga_eval(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    """``ga_eval("rpn", "loss_shape", **options)``: that loss of a GARPNHead (``"retina"``: a
    GARetinaHead; ``"two_stage"``: a GARPNHead under Faster R-CNN) evaluated."""

    def _eval(kind: str, key: str, ga_sampler: bool = True, **options: Any) -> EvalResult:
        path = write(f"{kind}.py", _config(kind, ga_sampler=ga_sampler))
        return evaluate_config(losstune.load(path), key, **options)

    return _eval


def test_a_box_goes_to_the_level_of_its_scale_with_its_centre_and_ignore_regions() -> None:
    # a 64-pixel box from (32, 32): floor(log2(√area = 64) - log2(8 × 4) + 0.5) = level 1
    sizes = [(32, 32), (16, 16), (8, 8)]  # a 128-pixel image
    targets, weights = ga.loc_targets(torch.tensor([[32.0, 32.0, 96.0, 96.0]]), sizes, (4, 8, 16), 8, 0.2, 0.5)
    # on level 1 (stride 8) the box is 4..12: its centre region (0.4 of each side off) 7.2..8.8 → 7..9
    # (rounded half to even), its ignore region 0.25 off each side: 6..10
    assert torch.nonzero(targets[1]).unique().tolist() == [7, 8, 9]
    assert weights[1][7:10, 7:10].eq(1).all() and int(weights[1].eq(1).sum()) == 9
    assert int(weights[1].eq(0).sum()) == 5 * 5 - 9  # the ignore region less the centre
    assert not targets[0].any() and not targets[2].any()
    # the levels either side: only the ignore region (weight 0), the rest 0.1
    assert int(weights[0].eq(0).sum()) == 9 * 9 and int(weights[2].eq(0).sum()) == 9  # 12..20, 3..5 on 16 px
    assert weights[0].eq(0.1).sum() == 32 * 32 - 81


def test_a_location_is_assigned_by_the_best_iou_of_its_approxes() -> None:
    a = ga.Anchors(8.0, 3, (0.5, 1.0, 2.0), 8.0, (16,))
    squares, approxes = ga.squares_and_approxes(a, [(4, 4)])
    assert squares.shape == (16, 4) and approxes.shape == (16, 9, 4)
    assert squares[5].tolist() == [-48.0, -48.0, 80.0, 80.0]  # location (1, 1) at (16, 16), side 8 × 16
    # a box the shape of a wide approx at location (1, 1): the square's IoU is below 0.7, the approx's 1
    wide = approxes[5, 0]
    gt_inds, best = ga.approx_assign(approxes, wide[None], {"pos_iou_thr": 0.7, "neg_iou_thr": 0.3})
    assert gt_inds[5] == 1 and best[5] == pytest.approx(1.0)
    assert ga.approx_assign(approxes, torch.zeros(0, 4), {})[0].eq(0).all()  # no box: every location negative


def test_the_ga_sampling_counts_the_positives_and_256_less_them() -> None:
    gt_inds = torch.zeros(1000, dtype=torch.long)
    gt_inds[:40] = 1
    gt_inds[40:60] = -1
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    sampler = {"type": "RandomSampler", "num": 256, "pos_fraction": 0.5}
    s = ga.ga_sample(gt_inds, boxes, sampler, torch.Generator().manual_seed(0))
    assert s.positives.numel() == 40 and s.negatives.numel() == 216 and s.avg_factor == 256.0
    assert s.negatives.min() >= 60  # never an ignored location
    none = ga.ga_sample(torch.zeros(1000, dtype=torch.long), boxes, sampler, torch.Generator().manual_seed(0))
    assert none.avg_factor == 1 + 256  # num_pos at least 1
    pseudo = ga.ga_sample(gt_inds, boxes, None, torch.Generator().manual_seed(0))
    assert pseudo.negatives.numel() == 940 and pseudo.avg_factor == 40.0 and pseudo.rule == "max(positives, 1)"


def test_the_heads_are_two_families_logged_as_mmdetection_logs_them(ga_eval: Callable[..., EvalResult]) -> None:
    assert family_of("GARetinaHead") == family_of("GuidedAnchorHead") == "GuidedAnchorHead"
    assert family_of("GARPNHead") == "GARPNHead"
    assert ga_eval("retina", "loss_shape").log_names == ["loss_shape"]
    assert ga_eval("rpn", "loss_shape").log_names == ["loss_anchor_shape"]
    assert ga_eval("rpn", "loss_cls").log_names == ["loss_rpn_cls"]
    # TwoStageDetector.loss renames the RPN's terms that do not name it
    assert ga_eval("two_stage", "loss_loc").log_names == ["rpn_loss_anchor_loc"]
    assert ga_eval("two_stage", "loss_bbox").log_names == ["loss_rpn_bbox"]
    assert logged_rule("GARPNHead", "rpn_loss_anchor_shape").counted_on == ga.SHAPE_METHOD


def test_loss_loc_gets_every_location_by_the_locations_over_200(ga_eval: Callable[..., EvalResult]) -> None:
    r = ga_eval("rpn", "loss_loc", num_priors=1364)  # a 128-pixel image at strides 4 to 64
    pred, target, weight = r.args
    assert pred.shape == (1364, 1) and target.dtype == torch.long and weight.shape == (1364,)
    assert r.kwargs["avg_factor"] == pytest.approx(1364 / 200)
    assert torch.isin(weight, torch.tensor([0.0, 0.1, 1.0])).all()
    # a centre is weighted 1, or 0 where a later box's ignore region covers it (ga_loc_targets' order)
    assert torch.isin(weight[target == 1], torch.tensor([0.0, 1.0])).all() and weight[target == 1].eq(1).any()
    assert r.rule is not None and r.rule.divisor(Counts((5,), (9,), 1364)) is None
    focal = torch.nn.functional.binary_cross_entropy_with_logits  # FocalLoss of one class: target 0 is its class
    p = pred.sigmoid()[:, 0]
    is_class = (target == 0).float()
    pt = p * is_class + (1 - p) * (1 - is_class)
    alpha = 0.25 * is_class + 0.75 * (1 - is_class)
    expected = (focal(pred[:, 0], is_class, reduction="none") * alpha * (1 - pt) ** 2 * weight).sum() / (1364 / 200)
    assert float(logged_terms(r)["loss_anchor_loc"]) == pytest.approx(float(expected), rel=1e-4)


def test_loss_shape_gets_the_ga_samplings_positives_by_its_avg_factor(ga_eval: Callable[..., EvalResult]) -> None:
    r = ga_eval("retina", "loss_shape", num_priors=1364)
    positives = int(r.trace.steps[0].value["positives"])
    assert 0 < positives <= 128 and r.args[0].shape == (positives, 4) and r.args[2].eq(1).all()
    assert r.kwargs["avg_factor"] == 256.0  # max(positives, 1) + 256 - positives
    pseudo = ga_eval("retina", "loss_shape", ga_sampler=False, num_priors=1364)
    assert pseudo.kwargs["avg_factor"] == float(pseudo.trace.steps[0].value["positives"])
    assert pseudo.args[0].shape[0] == pseudo.trace.steps[0].value["positives"]
    # counted on any image's sampling: Σ max(positives, 1) + max(negatives, 1)
    assert r.rule is not None and r.rule.avg(Counts((0, 30), (256, 226), 30)) == 257 + 256


def test_eval_shows_the_location_targets_and_the_ga_sampling(write: Callable[..., Path]) -> None:
    path = write("rpn.py", _config("rpn"))
    code, out = invoke("eval", str(path), "--loss", "loss_loc", cwd=path.parent)
    assert code == 0, out
    text = " ".join(out.split())
    assert "ga_loc_targets on a 488×488 image of 8 boxes, 19886 locations" in text
    assert "avg_factor = the locations of every level and image ÷ 200 (loc_avg_factor) = 99.43" in text
    assert "loss_anchor_loc = " in text
    code, out = invoke("eval", str(path), "--loss", "loss_anchor_shape", "--format", "json", cwd=path.parent)
    assert code == 0, out
    sampling = json.loads(out)["steps"][0]
    assert sampling["name"] == "sampling" and "ApproxMaxIoUAssigner" in sampling["description"]
    value = sampling["value"]
    assert value["avg_factor"] == max(value["positives"], 1) + max(value["negatives"], 1)


def _mmdet() -> Any:
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()  # with the stand-in of mmcv's compiled ops, where mmcv-lite has none
    from mmdet.models.dense_heads.guided_anchor_head import GuidedAnchorHead

    return GuidedAnchorHead


@needs_mmdet
def test_the_location_targets_are_mmdetections_ga_loc_targets() -> None:
    from mmengine.structures import InstanceData

    head = _mmdet()
    side, strides = 256, (4, 8, 16, 32, 64)
    boxes = ga.model_boxes(side, NUM_GTS, seed=3)
    sizes = ga.featmap_sizes(side, strides)
    fake = SimpleNamespace(
        approx_anchor_generator=SimpleNamespace(octave_base_scale=8, strides=[(s, s) for s in strides]),
        train_cfg={"center_ratio": 0.2, "ignore_ratio": 0.5},
    )
    theirs, their_weights, avg = head.ga_loc_targets(fake, [InstanceData(bboxes=boxes)], sizes)
    ours, our_weights = ga.loc_targets(boxes, sizes, strides, 8, 0.2, 0.5)
    assert avg == pytest.approx(sum(h * w for h, w in sizes) / 200)
    for t, w, mine, mine_w in zip(theirs, their_weights, ours, our_weights, strict=True):
        assert torch.equal(t[0, 0], mine) and torch.equal(w[0, 0], mine_w)
    assert sum(int(t.sum()) for t in ours) > 0


@needs_mmdet
def test_the_squares_approxes_and_assignment_are_mmdetections() -> None:
    _mmdet()
    from mmdet.models.task_modules.assigners import ApproxMaxIoUAssigner
    from mmdet.registry import TASK_UTILS
    from mmengine.structures import InstanceData

    a = ga.anchors_of({})  # GuidedAnchorHead's defaults: octave_base_scale 8, strides 4 to 64
    sizes = ga.featmap_sizes(128, a.strides)
    squares, approxes = ga.squares_and_approxes(a, sizes)
    approx_gen = TASK_UTILS.build(
        dict(
            type="AnchorGenerator", octave_base_scale=8, scales_per_octave=3, ratios=[0.5, 1.0, 2.0], strides=a.strides
        )
    )
    square_gen = TASK_UTILS.build(dict(type="AnchorGenerator", ratios=[1.0], scales=[8], strides=a.strides))
    assert torch.allclose(torch.cat(approx_gen.grid_priors(sizes, device="cpu")), approxes.reshape(-1, 4))
    assert torch.allclose(torch.cat(square_gen.grid_priors(sizes, device="cpu")), squares)
    boxes = ga.model_boxes(128, NUM_GTS, seed=5)
    cfg = {"pos_iou_thr": 0.7, "neg_iou_thr": 0.3, "min_pos_iou": 0.3}
    theirs = ApproxMaxIoUAssigner(**cfg).assign(
        InstanceData(priors=squares, approxs=approxes),
        InstanceData(bboxes=boxes, labels=torch.zeros(NUM_GTS, dtype=torch.long)),
    )
    ours, _ = ga.approx_assign(approxes, boxes, cfg)
    assert torch.equal(theirs.gt_inds, ours) and int((ours > 0).sum()) > 0


@needs_mmdet
@pytest.mark.filterwarnings("ignore:DeprecationWarning. pos_bboxes")  # MMDetection's own code reads them
def test_loss_shapes_inputs_are_mmdetections_ga_shape_targets(ga_eval: Callable[..., EvalResult]) -> None:
    """With no ga_sampler (PseudoSampler: nothing drawn), the positives' squares and boxes and the
    avg_factor the model hands loss_shape are those of MMDetection's ga_shape_targets on its image."""
    head = _mmdet()
    from mmdet.models.task_modules.assigners import ApproxMaxIoUAssigner
    from mmdet.models.task_modules.samplers import PseudoSampler
    from mmengine.structures import InstanceData

    r = ga_eval("rpn", "loss_shape", ga_sampler=False, num_priors=1364, seed=4)
    a = ga.anchors_of({"anchor_coder": {"target_stds": [0.07, 0.07, 0.14, 0.14]}})
    side = 128
    sizes = ga.featmap_sizes(side, a.strides)
    squares, approxes = ga.squares_and_approxes(a, sizes)
    fake = SimpleNamespace(
        approxs_per_octave=9,
        ga_assigner=ApproxMaxIoUAssigner(pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3),
        ga_sampler=PseudoSampler(),
    )
    fake._ga_shape_target_single = partial(head._ga_shape_target_single, fake)
    per_level = [len(s) for s in torch.split(torch.arange(squares.shape[0]), [h * w for h, w in sizes])]
    flags = [torch.ones(n, dtype=torch.bool) for n in per_level]
    gt = InstanceData(bboxes=ga.model_boxes(side, NUM_GTS, seed=4), labels=torch.zeros(NUM_GTS, dtype=torch.long))
    anchors, gts, weights, avg = head.ga_shape_targets(
        fake,
        [list(torch.split(approxes.reshape(-1, 4), [n * 9 for n in per_level]))],
        [flags],
        [list(torch.split(squares, per_level))],
        [gt],
        [{"pad_shape": (side, side), "img_shape": (side, side)}],
    )
    kept = torch.cat([w.reshape(-1, 4) for w in weights])[:, 0] > 0
    their_gts = torch.cat([g.reshape(-1, 4) for g in gts])[kept]
    their_squares = torch.cat([x.reshape(-1, 4) for x in anchors])[kept]
    assert r.kwargs["avg_factor"] == avg == int(kept.sum()) > 0
    assert torch.equal(r.args[1], their_gts)
    # the model's predicted anchors: the squares with the shape deltas, centres kept
    assert torch.allclose((r.args[0][:, :2] + r.args[0][:, 2:]) / 2, (their_squares[:, :2] + their_squares[:, 2:]) / 2)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize(
    ("config", "family", "size", "boxes"),
    [
        ("guided_anchoring/ga-retinanet_r50_fpn_1x_coco.py", "GuidedAnchorHead", 128, 3),
        ("guided_anchoring/ga-rpn_r50_fpn_1x_coco.py", "GARPNHead", 128, 3),
        ("guided_anchoring/ga-rpn_r50_fpn_1x_coco.py", "GARPNHead", 128, 0),
        ("guided_anchoring/ga-faster-rcnn_r50_fpn_1x_coco.py", "GARPNHead + BBoxHead", 128, 3),
    ],
)
def test_the_models_rules_are_the_real_heads(config: str, family: str, size: int, boxes: int) -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / config), BatchSpec(size=size, boxes=boxes))
    assert checked.family == family
    held = {t.term: t for t in checked.terms}
    rpn = "GARPNHead" in family
    prefix = "rpn_" if "BBoxHead" in family else ""
    shape = held[f"{prefix}loss_anchor_shape" if rpn else "loss_shape"]
    loc = held[f"{prefix}loss_anchor_loc" if rpn else "loss_loc"]
    for t in (shape, loc, held["loss_rpn_cls" if rpn else "loss_cls"], held["loss_rpn_bbox" if rpn else "loss_bbox"]):
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
    for t in (shape, loc):
        assert t.value_ok or boxes == 0, (t.term, t.why)
    # loss_shape's avg_factor: each image's ga sampling, max(positives, 1) + max(negatives, 1)
    assert shape.real.avg == sum(
        max(p, 1) + max(n, 1) for p, n in zip(shape.real.counts.positives, shape.real.counts.negatives, strict=True)
    )
    assert shape.real.avg == (2 * 257 if boxes == 0 else 2 * 256)
    assert loc.real.avg == pytest.approx(loc.real.counts.rows / 200) and loc.real.width == (1,)
    assert AvgRule(rule_for(checked.family.split(" ")[0], "loss_loc"), None, None).avg(loc.real.counts) == loc.rule_avg
