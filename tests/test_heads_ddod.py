"""The model of DDOD's head (losstune.engine.heads_ddod): its anchors, its two ATSS assignments and
the reweight factors of its levels, held against MMDetection 3.3.0's own AnchorGenerator,
ATSSAssigner and DDODHead.calc_reweight_factor on the same inputs; the calls each loss gets, a call
per level weighted by its level's factor; and the rules held against the real head."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_ddod as hd  # noqa: E402
from losstune.engine.headmodel import family_of, rule_for  # noqa: E402
from losstune.engine.session import evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

DDOD = CONFIGS / "ddod" / "ddod_r50_fpn_1x_coco.py"


@pytest.fixture
def mmdet() -> None:
    """MMDetection imported, with the stand-in of mmcv's compiled ops where mmcv-lite has none."""
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()


def test_the_reweight_factors_run_from_2_on_the_fewest_positives_to_1_on_the_most() -> None:
    assert hd.reweight_factors([0, 10, 40, 20, 0]) == pytest.approx([2.0, 1.75, 1.0, 1.5, 2.0])
    assert hd.reweight_factors([0, 0, 0]) == [2.0, 2.0, 2.0]  # no positive: every level doubled
    # the divisor of a term: Σ results / Σ factor × result; a level of no call adds nothing
    assert hd.level_divisor([(0, 0.0), (10, 1.0), (40, 3.0)]) == pytest.approx(4.0 / (1.75 * 1.0 + 3.0))
    assert hd.level_divisor([(0, 0.0), (5, 0.0)]) is None


def test_the_model_image_has_the_anchors_asked_for_about() -> None:
    anchors = hd.anchors_of({"anchor_generator": {"strides": [8, 16, 32, 64, 128], "octave_base_scale": 8}})
    assert anchors.count(hd.IMAGE) == 16800 + 4200 + 1050 + 273 + 77
    assert hd.image_of(anchors, None) == hd.IMAGE
    side = hd.image_of(anchors, 341)[0]  # a 128 × 128 image's: 256 + 64 + 16 + 4 + 1
    assert side == 128 and anchors.count((side, side)) == 341


def test_ddod_is_its_own_family_with_a_call_per_level_reweighted() -> None:
    assert family_of("DDODHead") == "DDODHead"
    assert {rule_for("DDODHead", n).after for n in hd.LOSSES} == {"reweighted"}
    assert rule_for("DDODHead", "loss_bbox").rows == "positives"


@needs_mmdet
@pytest.mark.parametrize(("ratios", "per_octave"), [([1.0], 1), ([0.5, 1.0, 2.0], 3)])
def test_the_anchors_are_mmdetections_anchor_generator(mmdet: None, ratios: list[float], per_octave: int) -> None:
    from mmdet.models.task_modules.prior_generators import AnchorGenerator

    cfg = {"strides": [8, 16, 32, 64, 128], "ratios": ratios, "octave_base_scale": 8, "scales_per_octave": per_octave}
    ours = hd.anchors_of({"anchor_generator": cfg})
    image = (200, 136)
    sizes = ours.sizes(image)
    theirs = AnchorGenerator(**cfg).grid_priors(sizes, device="cpu")
    for i, size in enumerate(sizes):
        assert torch.allclose(ours.level(i, size), theirs[i])


def _atss_inputs(seed: int) -> tuple[torch.Tensor, list[int], torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    anchors_cfg = hd.anchors_of({})
    levels = [anchors_cfg.level(i, size) for i, size in enumerate(anchors_cfg.sizes((320, 256)))]
    priors = torch.cat(levels)
    g = torch.Generator().manual_seed(seed)
    wh = (0.1 + 0.4 * torch.rand(5, 2, generator=g)) * torch.tensor([320.0, 256.0])
    xy = torch.rand(5, 2, generator=g) * (torch.tensor([320.0, 256.0]) - wh)
    boxes = torch.cat([xy, xy + wh], 1)
    labels = torch.randint(0, 80, (5,), generator=g)
    scores = torch.randn(priors.shape[0], 80, generator=g) * 0.3 - 4.6
    pred = priors + torch.randn(priors.shape[0], 4, generator=g) * 4
    return priors, [lv.shape[0] for lv in levels], boxes, labels, scores, pred


@needs_mmdet
@pytest.mark.parametrize(("alpha", "seed"), [(None, 0), (0.8, 1), (0.5, 2)])
def test_the_assignments_are_mmdetections_atss_assigner(mmdet: None, alpha: float | None, seed: int) -> None:
    from mmdet.models.task_modules.assigners import ATSSAssigner
    from mmengine.structures import InstanceData

    priors, sizes, boxes, labels, scores, pred = _atss_inputs(seed)
    ours = hd.atss_assign(priors, sizes, boxes, labels, topk=9, alpha=alpha, scores=scores, pred_boxes=pred)
    # Without alpha the assigner is IoU-based and given the priors alone, as ATSSHead gives them (with
    # scores and boxes beside no alpha it warns that they are not used)
    pred_instances = InstanceData(priors=priors, bboxes=pred, scores=scores) if alpha else InstanceData(priors=priors)
    real = ATSSAssigner(topk=9, alpha=alpha).assign(pred_instances, sizes, InstanceData(bboxes=boxes, labels=labels))
    assert int((ours >= 0).sum()) > 0
    assert torch.equal(ours, real.gt_inds - 1)


@needs_mmdet
def test_the_factors_are_calc_reweight_factors_the_box_terms_counting_both_assignments(mmdet: None) -> None:
    from mmdet.models.dense_heads import DDODHead

    head = SimpleNamespace(num_classes=80, cls_num_pos_samples_per_level=[0.0] * 3)
    cls = [torch.tensor([3, 80, 80]), torch.tensor([80, 5, 7]), torch.tensor([80, 80, 80])]
    reg = [torch.tensor([80, 80, 80]), torch.tensor([80, 5, 80]), torch.tensor([1, 2, 80])]
    first = DDODHead.calc_reweight_factor(head, cls)  # type: ignore[arg-type]
    then = DDODHead.calc_reweight_factor(head, reg)  # type: ignore[arg-type]
    assert hd.reweight_factors([1, 2, 0]) == pytest.approx(first)
    assert hd.reweight_factors([1 + 0, 2 + 1, 0 + 2]) == pytest.approx(then)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("key", hd.LOSSES)
def test_each_term_is_every_levels_module_result_times_its_factor(mmdet: None, key: str) -> None:
    """The model's term is Σ f_l × MMDetection's own loss module on each level's call, the factors
    counted on the model's assignments, each call given its assignment's max(positives, 1)."""
    from mmdet.registry import MODELS

    from losstune.engine.session import loss_dict

    cfg = losstune.load(DDOD)
    r = evaluate_config(cfg, f"model.bbox_head.{key}", seed=3, num_priors=5000)
    assert r.family == "DDODHead" and r.log_name == key
    stats = r.trace.steps[0].value
    batch = hd.model_batch(cfg.tree["model"]["bbox_head"], cfg.tree["model"], num_classes=80, num_priors=5000, seed=3)
    cls_levels, reg_levels = batch.per_level(batch.cls_gt), batch.per_level(batch.reg_gt)
    own = cls_levels if key == "loss_cls" else reg_levels
    assert stats["positives_per_level"] == own and stats["positives"] == sum(own) > 0
    assert r.kwargs["avg_factor"] == float(max(sum(own), 1))
    counted = cls_levels if key == "loss_cls" else [c + g for c, g in zip(cls_levels, reg_levels, strict=True)]
    factors = hd.reweight_factors(counted)
    node = next(n for n in cfg.losses() if n.key == f"model.bbox_head.{key}")
    module = MODELS.build(loss_dict(cfg, node))
    made = hd.ddod_inputs(
        key, cfg.tree["model"]["bbox_head"], cfg.tree["model"], num_classes=80, num_priors=5000, seed=3
    )
    assert made is not None and made.others is not None
    calls = [made, *made.others.calls]
    called = [i for i, n in enumerate(own) if n] if key != "loss_cls" else list(range(5))
    assert len(calls) == len(called)
    expected = sum(
        factors[level] * float(module(*c.args, avg_factor=c.kwargs["avg_factor"]))
        for level, c in zip(called, calls, strict=True)
    )
    assert float(r.logged) == pytest.approx(expected, rel=1e-5)
    assert "calc_reweight_factor" in r.trace.steps[-1].description


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("size", [128, 640])
def test_the_models_rules_are_the_real_heads(size: int) -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(DDOD), BatchSpec(size=size))
    assert checked.family == "DDODHead"
    assert [t.term for t in checked.terms] == list(hd.LOSSES)
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok and t.value_ok, (t.term, t.why)
        assert len(t.real.counts.levels) == 5
    held = {t.term: t for t in checked.terms}
    assert held["loss_iou"].real.width == () and held["loss_cls"].real.width == (80,)
    assert held["loss_bbox"].real.avg == held["loss_iou"].real.avg == held["loss_iou"].rule_avg
    if size == 640:  # positives on two levels: factors other than 1 on every term
        for t in checked.terms:
            assert t.real.scale is not None and t.real.scale > 1.05
            assert t.rule_scale == pytest.approx(t.real.scale, rel=1e-4)


@needs_mmdet
@needs_configs
def test_with_no_box_every_level_of_loss_cls_is_doubled() -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(DDOD), BatchSpec(size=128, boxes=0))
    assert [t.term for t in checked.terms] == ["loss_cls"]
    (cls,) = checked.terms
    # the model's own image has its boxes: its value is not the head's here, its rules are
    assert cls.real.scale == pytest.approx(2.0, rel=1e-6) and cls.scale_ok and cls.avg_ok and cls.shape_ok, cls.why
    assert cls.real.avg == 2.0 == cls.rule_avg  # max(positives, 1) an image
