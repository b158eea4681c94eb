"""The model of RepPoints' head (losstune.engine.heads_reppoints): the calls of ``loss_cls``,
``loss_bbox_init`` and ``loss_bbox_refine`` (logged ``loss_pts_init``, ``loss_pts_refine``), each
stage's positives and avg_factor, the division by ``point_base_scale × stride``, and, with
MMDetection 3.3.0 installed, its points, ``points2bbox``, ``gen_grid_from_reg`` and assigners
against MMDetection's own on the same inputs, and the rules held against its real heads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_reppoints as hr  # noqa: E402
from losstune.engine.headmodel import AvgRule, Counts, family_of, rule_for  # noqa: E402
from losstune.engine.inputs import InputError  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config, logged_terms  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

REPPOINTS = """
    model = dict(type='RepPointsDetector',
        bbox_head=dict(type='RepPointsHead', num_classes=80, in_channels=256, point_strides=[8, 16, 32, 64, 128],
            point_base_scale=4, transform_method='{transform}', use_grid_points={grid}, {norm}
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox_init=dict(type='SmoothL1Loss', beta=0.11, loss_weight=0.5),
            loss_bbox_refine=dict(type='SmoothL1Loss', beta=0.11, loss_weight=1.0)),
        train_cfg=dict(
            init=dict(assigner={init}, allowed_border=-1, pos_weight=-1, debug=False),
            refine=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0,
                ignore_iof_thr=-1), allowed_border=-1, pos_weight={pos_weight}, debug=False)))
    """
POINT_ASSIGNER = "dict(type='PointAssigner', scale=4, pos_num=1)"
BOX_ASSIGNER = "dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1)"


@pytest.fixture
def reppoints(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    """``reppoints("loss_cls", transform=..., grid=..., init=..., norm=..., **options)``: the loss evaluated."""

    def _eval(
        key: str,
        transform: str = "moment",
        grid: bool = False,
        init: str = POINT_ASSIGNER,
        norm: str = "norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),",
        pos_weight: float = -1,
        **options: Any,
    ) -> EvalResult:
        text = REPPOINTS.format(transform=transform, grid=grid, init=init, norm=norm, pos_weight=pos_weight)
        return evaluate_config(losstune.load(write("reppoints.py", text)), key, **options)

    return _eval


def test_the_head_is_its_own_family_logging_the_points_terms() -> None:
    assert family_of("RepPointsHead") == "RepPointsHead"
    assert rule_for("RepPointsHead", "loss_bbox_init").log_name == "loss_pts_init"
    assert rule_for("RepPointsHead", "loss_bbox_refine").log_name == "loss_pts_refine"
    # PseudoSampler's avg_factor: max(positives, 1) summed over the images, no division afterwards
    for key in ("loss_cls", "loss_bbox_init", "loss_bbox_refine"):
        rule = AvgRule(rule_for("RepPointsHead", key), "max(positives, 1)", None)
        assert rule.avg(Counts((3, 0), (300, 341), 682)) == 4.0 and rule.divisor(Counts((3, 0), (1, 1), 2)) is None


def test_the_points_are_each_levels_every_stride_from_0() -> None:
    points = hr.level_points(128, (8, 16, 32, 64, 128))
    assert points.shape == (256 + 64 + 16 + 4 + 1, 3)
    assert points[:3].tolist() == [[0.0, 0.0, 8.0], [8.0, 0.0, 8.0], [16.0, 0.0, 8.0]]
    assert points[16].tolist() == [0.0, 8.0, 8.0] and points[-1].tolist() == [0.0, 0.0, 128.0]


def test_points2bbox_of_each_transform_by_hand() -> None:
    # three points (y, x): (0, 0), (2, 4), (4, 2) and six more at (2, 2): x and y each 0, 4, 2, 2 × 6
    pts = torch.tensor([[0.0, 0.0, 2.0, 4.0, 4.0, 2.0] + [2.0, 2.0] * 6])
    assert hr.points2bbox(pts, "minmax").tolist() == [[0.0, 0.0, 4.0, 4.0]]
    assert hr.points2bbox(pts, "partial_minmax").tolist() == [[0.0, 0.0, 4.0, 4.0]]
    std = float(torch.tensor([0.0, 4.0, 2.0] + [2.0] * 6).std())
    assert hr.points2bbox(pts, "moment")[0].tolist() == pytest.approx([2 - std, 2 - std, 2 + std, 2 + std])
    assert hr.points2bbox(pts.view(1, -1, 2).flip(-1).reshape(1, -1), "minmax", y_first=False).tolist() == [
        [0.0, 0.0, 4.0, 4.0]
    ]


def test_point_assigner_takes_each_boxs_nearest_points_on_its_level() -> None:
    points = hr.level_points(64, (8, 16))
    # a 20 × 20 box: level int(log2(20 / 4)) = 2, clamped to 3 (stride 8); a 90 × 90 box: level 4
    boxes = torch.tensor([[10.0, 10.0, 30.0, 30.0], [0.0, 0.0, 90.0, 90.0]])
    inds = hr.point_assign(points, boxes, 4.0, 1)
    assert torch.nonzero(inds).flatten().tolist() == [2 * 8 + 2, 64 + 3 * 4 + 3]
    assert inds[2 * 8 + 2] == 1 and inds[64 + 15] == 2  # (16, 16) by (20, 20); (48, 48) nearest (45, 45)


def test_max_iou_gives_each_box_its_best_boxes_and_the_rest_by_threshold() -> None:
    gts = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    boxes = torch.tensor([[0.0, 0.0, 10.0, 9.0], [0.0, 0.0, 10.0, 6.0], [50.0, 50.0, 51.0, 51.0], [20, 20, 21, 21.0]])
    # IoUs 0.9 and 0.6 with box 1, far away, 0.01 with box 2 (its best)
    assert hr.MaxIoU().assign(boxes, gts).tolist() == [1, 1, 0, 2]
    assert hr.MaxIoU(pos_iou_thr=0.7).assign(boxes, gts).tolist() == [1, -1, 0, 2]  # 0.6: neither
    assert hr.MaxIoU(pos_iou_thr=0.7, match_low_quality=False).assign(boxes, gts).tolist() == [1, -1, 0, 0]
    assert hr.max_iou_of({"pos_iou_thr": 0.6, "neg_iou_thr": [0.1, 0.3]}) == hr.MaxIoU(0.6, (0.1, 0.3))


@pytest.mark.parametrize(("num_priors", "seed"), [(341, 0), (None, 3)])
def test_each_loss_gets_every_point_with_its_stages_avg_factor(
    reppoints: Callable[..., EvalResult], num_priors: int | None, seed: int
) -> None:
    results = {k: reppoints(k, num_priors=num_priors, seed=seed) for k in ("loss_cls", *hr.BOX_LOSSES)}
    cls, init, refine = results["loss_cls"], results["loss_bbox_init"], results["loss_bbox_refine"]
    assert [r.log_name for r in results.values()] == ["loss_cls", "loss_pts_init", "loss_pts_refine"]
    points = hr.level_points(128 if num_priors else 976, hr.STRIDES)
    n = points.shape[0]
    assert cls.args[0].shape == (n, 80) and init.args[0].shape == refine.args[0].shape == (n, 4)
    for r in (init, refine):
        _, target, weight = r.args
        positives = weight.sum(1) > 0
        assert positives.sum() == r.trace.steps[0].value["positives"] > 0
        assert r.kwargs["avg_factor"] == float(positives.sum())
        # the targets are boxes ÷ point_base_scale × stride: × 4 × stride they are inside the image
        boxes = target[positives] * 4 * points[positives, 2:3]
        assert (boxes[:, 2:] > boxes[:, :2]).all() and (target[~positives] == 0).all()
        assert float(logged_terms(r)[r.log_name]) == pytest.approx(float(r.trace.loss))
    # loss_cls on the refine stage's labels, by its avg_factor
    labels = cls.args[1]
    refine_positives = refine.args[2].sum(1) > 0
    assert torch.equal(labels < 80, refine_positives) and cls.kwargs["avg_factor"] == refine.kwargs["avg_factor"]
    assert (cls.args[2] == 1).all()  # every point a positive or a negative of MaxIoUAssigner(0.4, 0.5) here
    # PointAssigner(pos_num=1): one point a box (the later box where two share it)
    assert init.trace.steps[0].value["positives"] <= hr.NUM_GTS
    assert "÷ normalize_term = point_base_scale × stride" in init.trace.steps[0].description


def test_the_refine_stages_pos_weight_weights_loss_cls(reppoints: Callable[..., EvalResult]) -> None:
    cls = reppoints("loss_cls", pos_weight=2.5, num_priors=341)
    weights, labels = cls.args[2], cls.args[1]
    assert (weights[labels < 80] == 2.5).all() and (weights[labels == 80] == 1).all()


def test_grid_points_and_a_box_assigner_make_boxes_of_four_strides(reppoints: Callable[..., EvalResult]) -> None:
    init = reppoints("loss_bbox_init", transform="minmax", grid=True, init=BOX_ASSIGNER, num_priors=341)
    pred = init.args[0]
    # an untrained grid: about point_base_scale strides wide, ÷ point_base_scale × stride: about 1
    assert float((pred[:, 2] - pred[:, 0]).mean()) == pytest.approx(1.0, abs=0.05)
    assert "MaxIoUAssigner" in init.trace.steps[0].description


def test_a_sampler_other_than_pseudosampler_is_refused(write: Callable[..., Path]) -> None:
    text = REPPOINTS.format(transform="moment", grid=False, init=POINT_ASSIGNER, norm="", pos_weight=-1)
    text += "model['train_cfg']['sampler'] = dict(type='RandomSampler', num=256, pos_fraction=0.5)\n"
    with pytest.raises(InputError, match="PseudoSampler"):
        evaluate_config(losstune.load(write("sampled.py", text)), "loss_cls")


def _head(**options: Any) -> Any:
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()  # with the stand-in of mmcv's compiled ops, where mmcv-lite has none
    from mmdet.models.dense_heads import RepPointsHead

    return RepPointsHead(
        num_classes=80, in_channels=8, feat_channels=8, point_feat_channels=8, stacked_convs=1, **options
    )


@needs_mmdet
@pytest.mark.parametrize("transform", hr.TRANSFORMS)
def test_points2bbox_is_mmdetections(transform: str) -> None:
    pts = torch.randn(50, 18, generator=torch.Generator().manual_seed(4)) * 3
    head = _head(transform_method=transform)
    for y_first in (True, False):
        theirs = head.points2bbox(pts, y_first=y_first).detach()
        assert torch.allclose(hr.points2bbox(pts, transform, y_first=y_first), theirs, atol=1e-6)


@needs_mmdet
def test_the_grid_from_a_regression_is_mmdetections() -> None:
    g = torch.Generator().manual_seed(5)
    reg, previous = torch.randn(2, 4, 3, 5, generator=g) * 0.3, torch.randn(2, 4, 3, 5, generator=g)
    previous[:, 2:] = previous[:, :2] + 4 * previous[:, 2:].abs()
    grid, box = _head(use_grid_points=True).gen_grid_from_reg(reg, previous)

    def rows(t: Any) -> Any:
        return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])

    ours_grid, ours_box = hr.grid_from_reg(rows(reg), rows(previous), 3)
    assert torch.allclose(ours_grid, rows(grid), atol=1e-5) and torch.allclose(ours_box, rows(box), atol=1e-5)
    assert torch.equal(hr.base_offsets(3), _head().dcn_base_offset.flatten().float())


@needs_mmdet
def test_the_points_and_assigners_are_mmdetections() -> None:
    _head()
    from mmdet.models.task_modules.assigners import MaxIoUAssigner, PointAssigner
    from mmdet.models.task_modules.prior_generators import MlvlPointGenerator
    from mmengine.structures import InstanceData

    sizes = [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    theirs = MlvlPointGenerator(hr.STRIDES, offset=0.0).grid_priors(sizes, device="cpu", with_stride=True)
    points = hr.level_points(128, hr.STRIDES)
    assert torch.equal(points, torch.cat(theirs)[:, :3])
    g = torch.Generator().manual_seed(2)
    wh = (0.1 + 0.4 * torch.rand(12, 2, generator=g)) * 128
    xy = torch.rand(12, 2, generator=g) * (128 - wh)
    gts = InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=torch.randint(0, 80, (12,), generator=g))
    for pos_num in (1, 3):
        real = PointAssigner(scale=4, pos_num=pos_num).assign(InstanceData(priors=points), gts)
        assert torch.equal(hr.point_assign(points, gts.bboxes, 4.0, pos_num), real.gt_inds)
    boxes = torch.cat([points[:, :2] - 9, points[:, :2] + 9 + points[:, 2:3]], 1)
    for cfg in ({"pos_iou_thr": 0.5, "neg_iou_thr": 0.4, "min_pos_iou": 0}, {"pos_iou_thr": 0.3, "neg_iou_thr": 0.2}):
        real = MaxIoUAssigner(**cfg).assign(InstanceData(priors=boxes), gts)
        assert torch.equal(hr.max_iou_of(cfg).assign(boxes, gts.bboxes), real.gt_inds)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize(
    "config",
    [
        "reppoints/reppoints-moment_r50_fpn-gn_head-gn_1x_coco.py",
        "reppoints/reppoints-moment_r50_fpn_1x_coco.py",
        "reppoints/reppoints-bbox_r50_fpn-gn_head-gn-grid_1x_coco.py",
        "reppoints/reppoints-partial-minmax_r50_fpn-gn_head-gn_1x_coco.py",
    ],
)
def test_the_models_rules_are_the_real_heads(config: str) -> None:
    """Shape, avg_factor (each stage's positives per image, at least 1) and no division, against
    the head; the values of loss_cls and loss_pts_init within the factor of 2 (loss_pts_refine's
    swings with the level each box's refine positive falls on, on both sides)."""
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / config), BatchSpec(size=128, boxes=3))
    assert checked.family == "RepPointsHead" and not checked.skipped
    held = {t.term: t for t in checked.terms}
    assert set(held) == {"loss_cls", "loss_pts_init", "loss_pts_refine"}
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
        assert t.real.calls == 5 and t.real.rows == 341 and t.real.scale is None
    assert held["loss_cls"].value_ok and held["loss_pts_init"].value_ok
    assert held["loss_cls"].real.width == (80,) and held["loss_pts_init"].real.width == (4,)
    cls, init = held["loss_cls"], held["loss_pts_init"]
    assert cls.real.avg == sum(max(p, 1) for p in cls.real.counts.positives) == cls.rule_avg
    assert init.real.avg == sum(max(p, 1) for p in init.real.counts.positives) == init.rule_avg
