"""The model of Mask2Former's head (losstune.engine.heads_mask2former): every prediction's three
terms and their log names, loss_cls by Σ class_weight[labels], the matched queries' points to
loss_dice and loss_mask by num_total_masks (× num_points); with MMDetection 3.3.0 installed, the
terms against its loss modules on the same inputs, the panoptic batch through its own
preprocess_panoptic_gt, and the rules held against the real heads (with no box too)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_mask2former as hm  # noqa: E402
from losstune.engine.realhead.batch import BatchSpec  # noqa: E402
from losstune.engine.session import evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

PANOPTIC = "mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py"
INSTANCE = "mask2former/mask2former_r50_8xb2-lsj-50e_coco.py"


@needs_configs
@pytest.mark.parametrize(("config", "classes", "masks"), [(PANOPTIC, 133, 9), (INSTANCE, 80, 8)])
def test_every_prediction_has_its_three_terms(config: str, classes: int, masks: int) -> None:
    cfg = losstune.load(CONFIGS / config)
    cls = evaluate_config(cfg, "panoptic_head.loss_cls")
    assert cls.family == "Mask2FormerHead"
    assert cls.log_names == ["loss_cls"] + [f"d{i}.loss_cls" for i in range(9)]  # before the 9 layers and after each
    # every query, its classes and the no-object class; 8 things (and the stuff region) matched
    assert cls.args[0].shape == (100, classes + 1) and int((cls.args[1] < classes).sum()) == masks
    assert cls.kwargs["avg_factor"] == pytest.approx(masks + 0.1 * (100 - masks))  # Σ class_weight[labels]
    dice = evaluate_config(cfg, "panoptic_head.loss_dice", term="d3.loss_dice")
    assert dice.log_name == "d3.loss_dice" and dice.args[0].shape == dice.args[1].shape == (masks, 12544)
    assert dice.kwargs["avg_factor"] == masks and "weight" not in dice.kwargs
    mask = evaluate_config(cfg, "panoptic_head.loss_mask")
    assert mask.args[0].shape == mask.args[1].shape == (masks * 12544,)
    assert mask.kwargs["avg_factor"] == masks * 12544
    assert "avg_factor = num_total_masks: each image's max(masks, 1), summed × num_points = 12544" in (
        mask.trace.steps[0].description
    )
    for r in (cls, dice, mask):
        assert r.trace.steps[-1].name == "loss_weight"  # nothing divided after the module


def test_the_uncertain_points_are_the_pools_nearest_0_then_fresh_draws() -> None:
    model = {"train_cfg": {"num_points": 40, "oversample_ratio": 3.0, "importance_sample_ratio": 0.75}}
    g = torch.Generator().manual_seed(3)
    pool = torch.randn(2, 120, generator=g) * hm.MASK_SPREAD + hm.MASK_MEAN
    fresh = torch.randn(2, 10, generator=g) * hm.MASK_SPREAD + hm.MASK_MEAN
    points = hm.point_logits(2, model, torch.Generator().manual_seed(3))
    assert points.shape == (2, 40)
    nearest = pool.gather(1, pool.abs().argsort(1)[:, :30])
    assert torch.equal(points[:, :30].sort(1)[0], nearest.sort(1)[0]) and torch.equal(points[:, 30:], fresh)
    stuff = hm.point_targets(9, True, 500, torch.Generator().manual_seed(0))
    assert stuff.shape == (9, 500) and torch.equal(stuff[8], 1 - stuff[:8].amax(0))  # the points in no thing


@needs_mmdet
@needs_configs
def test_the_terms_are_mmdetections_modules_on_the_same_inputs() -> None:
    cfg = losstune.load(CONFIGS / PANOPTIC)
    for key in ("loss_cls", "loss_mask", "loss_dice"):
        r = evaluate_config(cfg, f"panoptic_head.{key}", check=True)
        assert r.check is not None and r.check.equal, (key, r.check)


@needs_mmdet
def test_the_panoptic_batch_is_things_and_a_stuff_region_to_mmdetection() -> None:
    from losstune.engine.realhead.batch import synthetic
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.utils import preprocess_panoptic_gt

    _, samples = synthetic(BatchSpec(size=64, boxes=3, masks=True, semantic=True, semantic_classes=133), 80)
    for sample in samples:
        gt = sample.gt_instances
        labels, masks = preprocess_panoptic_gt(gt.labels, gt.masks, sample.gt_sem_seg.sem_seg, 80, 53)
        assert labels.tolist() == [*gt.labels.tolist(), 132] and masks.shape == (4, 64, 64)
        assert torch.equal(masks[3].bool(), sample.gt_sem_seg.sem_seg[0] == 132)  # the pixels of no instance


@needs_mmdet
@needs_configs
@pytest.mark.parametrize(("config", "masks"), [(PANOPTIC, 4), (INSTANCE, 3)])
def test_the_models_rules_are_the_real_heads(config: str, masks: int) -> None:
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / config), BatchSpec(size=128, boxes=3))
    assert checked.family == "Mask2FormerHead" and len(checked.terms) == 30 and not checked.skipped
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
        assert t.model_width == t.real.width
    held = {t.term: t for t in checked.terms}
    cls, dice, mask = held["d4.loss_cls"], held["d4.loss_dice"], held["d4.loss_mask"]
    assert cls.real.avg == pytest.approx(2 * masks + 0.1 * (200 - 2 * masks), rel=1e-6) and cls.real.rows == 100
    assert dice.real.rows == mask.real.rows == masks and dice.real.width == mask.real.width == (12544,)
    assert dice.real.avg == 2 * masks and mask.real.avg == 2 * masks * 12544
    assert all(t.value_ok for t in (held["loss_cls"], held["loss_dice"], held["loss_mask"]))


@needs_mmdet
@needs_configs
def test_with_no_box_only_loss_cls_is_called_by_the_no_object_weights() -> None:
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / INSTANCE), BatchSpec(size=128, boxes=0))
    assert {t.term.split(".")[-1] for t in checked.terms} == {"loss_cls"} and len(checked.terms) == 10
    assert "loss_mask" in checked.skipped and "d8.loss_dice" in checked.skipped
    for t in checked.terms:
        assert t.real.avg == pytest.approx(20.0) and t.avg_ok and t.shape_ok, (t.term, t.why)
