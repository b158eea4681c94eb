"""The model of SOLO's and SOLOv2's mask heads (losstune.engine.heads_solo): the centre regions
and grid cells counted by hand, the calls ``loss_cls`` and ``loss_mask`` get, their avg_factor and
the head's division, and, with MMDetection 3.3.0 installed, the positives its own
``_get_targets_single`` gives and the rules held against its real heads."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_solo as hs  # noqa: E402
from losstune.engine.headmodel import AvgRule, Counts, family_of, rule_for  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config, logged_terms  # noqa: E402
from tests.conftest import invoke  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

SOLO = """
    model = dict(type='SOLO', mask_head=dict(type='{head}', num_classes=80, strides=[8, 8, 16, 32, 32],
        scale_ranges={ranges}, pos_scale=0.2, num_grids=[40, 36, 24, 16, 12],
        mask_feature_head=dict(feat_channels=128, start_level=0, end_level=3, out_channels=256, mask_stride=4),
        loss_mask=dict(type='DiceLoss', use_sigmoid=True, activate={activate}, loss_weight=3.0),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)))
    """
RANGES = "((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048))"
HEADS = {
    "SOLOHead": ("SOLOHead", True),
    "DecoupledSOLOLightHead": ("DecoupledSOLOHead", False),
    "SOLOV2Head": ("SOLOV2Head", True),
}


@pytest.fixture
def solo(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    """``solo("SOLOHead", "loss_mask", ranges=..., **options)``: the loss of that head evaluated."""

    def _eval(head: str, key: str, ranges: str = RANGES, **options: Any) -> EvalResult:
        text = SOLO.format(head=head, ranges=ranges, activate=HEADS[head][1])
        return evaluate_config(losstune.load(write(f"{head}.py", text)), key, **options)

    return _eval


def test_the_centre_region_is_pos_scale_of_the_half_box_at_most_one_cell_about_the_centre() -> None:
    # a 20-pixel box centred at (50, 50) on a 10-cell grid of 100 pixels: the centre's cell is
    # (5, 5); its region, 0.2 × 10 = 2 pixels either side, reaches rows and columns 4.8 to 5.2
    assert hs.centre_region((40, 40, 60, 60), (50, 50), (100, 100), 10, 0.2) == (4, 5, 4, 5)
    # the whole image with pos_scale 1 reaches every cell; the centre's cell ± 1 keeps 3 × 3
    assert hs.centre_region((0, 0, 100, 100), (50, 50), (100, 100), 10, 1.0) == (4, 6, 4, 6)
    # a small box at the corner: clipped to the grid, its own cell only
    assert hs.centre_region((0, 0, 4, 4), (2, 2), (100, 100), 10, 0.2) == (0, 0, 0, 0)
    # width and height apart: 30 wide, 10 high about (15, 75) on a 200 × 100 image, 4 cells a side
    assert hs.centre_region((0, 70, 30, 80), (15, 75), (200, 100), 4, 1.0) == (2, 3, 0, 0)


def test_each_instance_goes_to_the_levels_whose_scale_range_holds_its_size() -> None:
    grid = hs.Grid((10, 5), ((1.0, 40.0), (30.0, 200.0)), (4.0, 4.0), 0.2)
    # 20 × 20 (size 20: level 0), 35 × 35 (35: both levels, the ends included), 90 × 90 (level 1)
    boxes = torch.tensor([[0.0, 0.0, 20.0, 20.0], [50.0, 50.0, 85.0, 85.0], [0.0, 0.0, 90.0, 90.0]])
    levels = hs.assign(boxes, torch.tensor([3, 4, 5]), grid, (100, 100), 80, per_instance=False)
    # level 0, 10-pixel cells: (10, 10) ± 2 reaches rows and columns 0.8 to 1.2: cells 0, 1, 10, 11;
    # (67.5, 67.5) ± 3.5 reaches 6.4 to 7.1: cells 66, 67, 76, 77
    assert levels[0].cells == [0, 1, 10, 11, 66, 67, 76, 77] and levels[0].instances == [0] * 4 + [1] * 4
    assert levels[0].labels[1, 1] == 3 and levels[0].labels[7, 6] == 4 and int((levels[0].labels < 80).sum()) == 8
    # level 1, 20-pixel cells: (67.5, 67.5) ± 3.5 stays in (3, 3); (45, 45) ± 9 reaches 1.8 to 2.7
    assert levels[1].cells == [6, 7, 11, 12, 18] and levels[1].instances == [2, 2, 2, 2, 1]
    assert [lv.positives for lv in levels] == [8, 5]


def test_a_cell_two_instances_share_is_the_last_ones_or_a_mask_each_in_solov2() -> None:
    grid = hs.Grid((10,), ((1.0, 100.0),), (4.0,), 1.0)
    # two boxes whose masks' centre of mass is (50, 50) (their centres less half a pixel): the
    # second's region 3 × 3 cells (rows, columns 4 to 6), the first's 2 × 2 of them (4 to 5.99)
    boxes = torch.tensor([[40.5, 40.5, 60.5, 60.5], [20.5, 20.5, 80.5, 80.5]])
    solo = hs.assign(boxes, torch.tensor([1, 2]), grid, (100, 100), 80, per_instance=False)[0]
    assert solo.cells == [44, 45, 46, 54, 55, 56, 64, 65, 66] and solo.instances == [1] * 9
    assert solo.positives == 9 and int((solo.labels == 2).sum()) == 9
    v2 = hs.assign(boxes, torch.tensor([1, 2]), grid, (100, 100), 80, per_instance=True)[0]
    assert v2.cells == [44, 45, 54, 55, 44, 45, 46, 54, 55, 56, 64, 65, 66] and v2.instances == [0] * 4 + [1] * 9
    assert v2.positives == 9  # num_pos counts a shared cell once


def test_the_grids_are_read_from_the_head_or_its_defaults() -> None:
    default = hs.grid_of("SOLOHead", {})
    assert default.num_grids == (40, 36, 24, 16, 12) and default.cells == 3872
    assert default.mask_strides == (2.0, 4.0, 8.0, 16.0, 32.0) and default.pos_scale == 0.2
    v2 = hs.grid_of("SOLOV2Head", {"num_grids": [12, 8], "scale_ranges": [[1, 50], [40, 500]]})
    assert v2.num_grids == (12, 8) and v2.scale_ranges == ((1.0, 50.0), (40.0, 500.0)) and v2.mask_strides == (4.0, 4.0)
    assert hs.grid_of("SOLOV2Head", {"mask_feature_head": {"mask_stride": 8}}).mask_strides == (8.0,) * 5
    assert hs.image_of(default, None) == (1344, 800)
    assert hs.image_of(hs.grid_of("SOLOHead", {"strides": [8, 8, 16, 32, 32]}), 1024) == (128, 128)


def test_the_heads_are_three_families_logged_loss_mask_and_loss_cls() -> None:
    assert family_of("DecoupledSOLOLightHead") == family_of("DecoupledSOLOHead") == "DecoupledSOLOHead"
    assert family_of("SOLOHead") == "SOLOHead" and family_of("SOLOV2Head") == "SOLOV2Head"
    none = Counts((0, 0), (100, 100), 200)
    some = Counts((7, 5), (93, 95), 200)
    for family in hs.SOLO_HEADS:
        cls, mask = (AvgRule(rule_for(family, k), None, None) for k in ("loss_cls", "loss_mask"))
        assert cls.avg(none) == 1.0 and cls.avg(some) == 13.0 and cls.divisor(some) is None  # num_pos + 1
        assert mask.avg(some) is None and mask.divisor(some) == 12.0 and mask.divisor(none) == 1.0


@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize(("num_priors", "seed"), [(None, 0), (1024, 3)])
def test_loss_cls_gets_every_cell_by_the_positives_plus_1(
    solo: Callable[..., EvalResult], head: str, num_priors: int | None, seed: int
) -> None:
    r = solo(head, "loss_cls", num_priors=num_priors, seed=seed)
    assert r.family == HEADS[head][0] and r.log_name == "loss_cls" and r.log_names == ["loss_cls"]
    pred, labels = r.args
    assert pred.shape == (3872, 80) and labels.shape == (3872,)
    positives = int((labels < 80).sum())
    assert positives == r.trace.steps[0].value["positives"] > 0
    assert r.kwargs["avg_factor"] == positives + 1 and "weight" not in r.kwargs
    step1 = r.trace.steps[0].description
    assert step1.endswith(f"avg_factor = positives + 1 (num_pos + 1) = {positives + 1}"), step1
    assert r.trace.steps[3].description.endswith(f"avg_factor={positives + 1}")
    assert float(logged_terms(r)["loss_cls"]) == pytest.approx(float(r.trace.loss))


def _dice(pred: Any, target: Any, activate: bool) -> Any:
    """MMDetection's dice loss per mask (V-Net's, eps 1e-3), × loss_weight 3."""
    p = (pred.sigmoid() if activate else pred).flatten(1)
    t = target.flatten(1)
    return 3.0 * (1 - 2 * (p * t).sum(1) / ((p * p).sum(1) + 1e-3 + (t * t).sum(1) + 1e-3))


@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize(("num_priors", "seed"), [(None, 0), (1024, 3), (4096, 1)])
def test_loss_mask_is_a_call_per_level_summed_and_divided_by_the_positives(
    solo: Callable[..., EvalResult], head: str, num_priors: int | None, seed: int
) -> None:
    family, activate = HEADS[head]
    r = solo(head, "loss_mask", num_priors=num_priors, seed=seed)
    assert r.family == family and r.log_name == "loss_mask" and r.kwargs == {"reduction_override": "none"}
    stats = r.trace.steps[0].value
    positives, per_level = stats["positives"], stats["positives_per_level"]
    assert sum(per_level) == positives > 0 and stats["avg_factor"] is None
    made = hs.solo_inputs(
        family,
        "loss_mask",
        {"num_grids": [40, 36, 24, 16, 12], "strides": [8, 8, 16, 32, 32], "scale_ranges": eval(RANGES)},
        num_classes=80,
        num_priors=num_priors,
        seed=seed,
    )
    assert made is not None and made.others is not None
    calls = [made.args, *(c.args for c in made.others.calls)]
    assert torch.equal(calls[0][0], r.args[0])
    levels = [i for i, n in enumerate(per_level) if n]
    assert len(calls) == len(levels)
    side = hs.image_of(hs.grid_of(family, {"strides": [8, 8, 16, 32, 32]}), num_priors)
    for level, (pred, target) in zip(levels, calls, strict=True):
        stride = 4.0 if family == "SOLOV2Head" else (4.0, 4.0, 8.0, 16.0, 16.0)[level]
        assert pred.shape == target.shape == (pred.shape[0], int(side[1] / stride), int(side[0] / stride))
        if family != "SOLOV2Head":  # one mask a positive cell
            assert pred.shape[0] == per_level[level]
        else:
            assert pred.shape[0] >= per_level[level]
        assert set(target.unique().tolist()) <= {0.0, 1.0} and target.sum() > 0
    assert stats["masks"] == sum(int(p.shape[0]) for p, _ in calls)
    if family == "DecoupledSOLOHead":  # sigmoid(y) × sigmoid(x): about 0.01²
        assert 0 < float(calls[0][0].max()) < 4e-4
    by_hand = sum(float(_dice(p, t, activate).sum()) for p, t in calls) / positives
    assert float(r.logged) == pytest.approx(by_hand, rel=1e-5)
    assert float(r.trace.loss.sum()) == pytest.approx(float(_dice(*calls[0], activate).sum()), rel=1e-5)
    head_step = r.trace.steps[-1]
    assert head_step.name == "head" and f"÷ num_pos ({positives})" in head_step.description
    assert r.trace.steps[0].description.endswith("no avg_factor")


def test_with_no_positive_loss_mask_is_0_and_loss_cls_divided_by_1(solo: Callable[..., EvalResult]) -> None:
    out_of_reach = "((5000, 6000),) * 5"
    mask = solo("SOLOHead", "loss_mask", ranges=out_of_reach)
    assert mask.trace.steps[0].value["positives"] == 0 and float(mask.logged) == 0.0
    assert "no positive" in mask.trace.steps[0].description and "(no positive: 0)" in mask.trace.steps[-1].description
    cls = solo("SOLOV2Head", "loss_cls", ranges=out_of_reach)
    assert cls.kwargs["avg_factor"] == 1.0 and int((cls.args[1] < 80).sum()) == 0


def test_eval_shows_the_grids_and_the_levels_at_80_columns_and_as_json(write: Callable[..., Path]) -> None:
    path = write("solo.py", SOLO.format(head="SOLOHead", ranges=RANGES, activate=True))
    code, out = invoke("eval", str(path), "--loss", "loss_mask", cwd=path.parent)
    assert code == 0, out
    assert "SOLOHead's grids of 3872 cells" in out and "one call per level with a positive" in out
    assert re.search(r"loss_mask = Σ per-mask losses of the \d calls \(.*\) ÷ num_pos \(\d+\)", " ".join(out.split()))
    assert "3872 grid cells" in out
    code, out = invoke("eval", str(path), "--loss", "loss_cls", "--format", "json", cwd=path.parent)
    assert code == 0, out
    data = json.loads(out)
    sampling = data["steps"][0]
    assert sampling["name"] == "sampling" and sampling["value"]["avg_factor"] == sampling["value"]["positives"] + 1


@needs_mmdet
@pytest.mark.parametrize("head", ["SOLOHead", "SOLOV2Head"])
def test_the_positives_are_mmdetections_get_targets_single(head: str) -> None:
    """The cells, labels and masks handed per level are those MMDetection's _get_targets_single
    gives on the same instances (their ellipses' masks, centres away from the cells' edges)."""
    from losstune.engine.realhead.batch import ellipse_masks
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()  # with the stand-in of mmcv's compiled ops, where mmcv-lite has none
    from mmdet.models.dense_heads import SOLOHead, SOLOV2Head
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    cfg = {"strides": [8, 8, 16, 32, 32], "scale_ranges": eval(RANGES), "num_grids": [40, 36, 24, 16, 12]}
    family = head
    grid = hs.grid_of(family, cfg | {"mask_feature_head": {"mask_stride": 4}})
    size = 256
    boxes = torch.tensor([[10.3, 20.1, 70.7, 90.2], [100.2, 30.6, 230.4, 200.1], [60.4, 60.3, 120.2, 110.7]])
    labels = torch.tensor([3, 7, 11])
    gt = InstanceData(bboxes=boxes, labels=labels, masks=ellipse_masks(boxes, size))
    if head == "SOLOHead":
        real = SOLOHead(num_classes=80, in_channels=32, feat_channels=32, stacked_convs=1, **cfg)
        sizes = [torch.Size((size // int(s), size // int(s))) for s in grid.mask_strides]
        targets, their_labels, pos_masks = real._get_targets_single(gt, featmap_sizes=sizes)
    else:
        real = SOLOV2Head(
            num_classes=80,
            in_channels=32,
            feat_channels=32,
            stacked_convs=1,
            mask_feature_head=dict(feat_channels=8, start_level=0, end_level=3, out_channels=8, mask_stride=4),
            **cfg,
        )
        targets, their_labels, pos_masks, _ = real._get_targets_single(gt, featmap_sizes=(size // 4, size // 4))
    assert isinstance(gt.masks, BitmapMasks)
    ours = hs.assign(boxes, labels, grid, (size, size), 80, per_instance=head == "SOLOV2Head")
    assert sum(lv.positives for lv in ours) > 0
    for lv, theirs, mask, target in zip(ours, their_labels, pos_masks, targets, strict=True):
        assert torch.equal(lv.labels, theirs)
        assert sorted(set(lv.cells)) == torch.nonzero(mask).flatten().tolist()
        assert target.shape[0] == len(lv.cells)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize(
    ("config", "family", "size"),
    [
        ("solo/solo_r50_fpn_1x_coco.py", "SOLOHead", 64),
        ("solo/decoupled-solo-light_r50_fpn_3x_coco.py", "DecoupledSOLOHead", 64),
        ("solov2/solov2-light_r18_fpn_ms-3x_coco.py", "SOLOV2Head", 64),
        # at 256 pixels level 2 has positives (its masks a quarter of level 0's pixels), and in
        # SOLOv2 two instances share cells: masks handed twice, num_pos counting them once
        ("solo/decoupled-solo-light_r50_fpn_3x_coco.py", "DecoupledSOLOHead", 256),
        ("solov2/solov2-light_r18_fpn_ms-3x_coco.py", "SOLOV2Head", 256),
    ],
)
def test_the_models_rules_are_the_real_heads(config: str, family: str, size: int) -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / config), BatchSpec(size=size, boxes=3))
    assert checked.family == family
    held = {t.term: t for t in checked.terms}
    assert set(held) == {"loss_mask", "loss_cls"}
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok and t.value_ok, (t.term, t.why)
        assert t.model_width == t.real.width
    cls, mask = held["loss_cls"], held["loss_mask"]
    assert cls.real.avg == cls.real.counts.pos + 1 == cls.rule_avg and cls.real.width == (80,)
    assert mask.real.avg is None and mask.real.scale == pytest.approx(1 / cls.real.counts.pos, rel=1e-4)
    assert mask.real.width == (size // 4, size // 4) and mask.real.calls >= 1
    if size == 256 and family == "SOLOV2Head":
        assert mask.real.counts.pos > cls.real.counts.pos  # a shared cell's masks, counted once by num_pos


@needs_mmdet
@needs_configs
def test_with_no_box_solos_loss_cls_divides_by_1_and_calls_no_mask_loss() -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / "solo/solo_r50_fpn_1x_coco.py"), BatchSpec(size=64, boxes=0))
    assert [t.term for t in checked.terms] == ["loss_cls"] and "loss_mask" in checked.skipped
    (cls,) = checked.terms
    assert cls.real.avg == 1.0 == cls.rule_avg and cls.avg_ok and cls.shape_ok
    # the positives' rule MMDetection's code is not: max(positives, 1) with none, positives + 1 with some
    assert AvgRule(rule_for("AnchorHead", "loss_cls"), "max(positives, 1)", None).avg(Counts((4,), (9,), 13)) == 4.0
