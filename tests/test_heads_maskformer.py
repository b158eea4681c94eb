"""The model of MaskFormer's head (losstune.engine.heads_maskformer): each decoder layer's three
terms and their log names, loss_cls as Mask2Former's, the matched queries' masks at the image to
loss_dice by num_total_masks and, a row a pixel against 1 - mask, to loss_mask by num_total_masks ×
h × w; with MMDetection 3.3.0 installed, the terms against its loss modules on the same inputs
and the rules held against the real heads (with no box too)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine.realhead.batch import BatchSpec  # noqa: E402
from losstune.engine.session import evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, _rules_agree, needs_configs, needs_mmdet  # noqa: E402

R50 = "maskformer/maskformer_r50_ms-16xb1-75e_coco.py"
SWIN = "maskformer/maskformer_swin-l-p4-w12_64xb1-ms-300e_coco.py"


@needs_configs
def test_every_decoder_layer_has_its_three_terms() -> None:
    cfg = losstune.load(CONFIGS / R50)
    cls = evaluate_config(cfg, "panoptic_head.loss_cls")
    assert cls.family == "MaskFormerHead"
    assert cls.log_names == ["loss_cls"] + [f"d{i}.loss_cls" for i in range(5)]  # the 6 layers' outputs
    # 100 queries of 133 classes and the no-object; the 8 things and the stuff region matched
    assert cls.args[0].shape == (100, 134) and int((cls.args[1] < 133).sum()) == 9
    assert cls.kwargs["avg_factor"] == pytest.approx(9 + 0.1 * 91)  # Σ class_weight[labels]
    dice = evaluate_config(cfg, "panoptic_head.loss_dice", term="d2.loss_dice", num_priors=64 * 64)
    assert dice.log_name == "d2.loss_dice" and dice.args[0].shape == dice.args[1].shape == (9, 64, 64)
    assert dice.kwargs["avg_factor"] == 9 and "weight" not in dice.kwargs
    mask = evaluate_config(cfg, "panoptic_head.loss_mask", num_priors=64 * 64)
    assert mask.args[0].shape == (9 * 4096, 1) and mask.args[1].shape == (9 * 4096,)
    assert mask.kwargs["avg_factor"] == 9 * 4096
    assert "× h × w = the image's 4096 pixels" in mask.trace.steps[0].description
    for r in (cls, dice, mask):
        assert r.trace.steps[-1].name == "loss_weight"  # nothing divided after the module


@needs_configs
def test_loss_mask_is_against_one_minus_the_masks_dice_has() -> None:
    cfg = losstune.load(CONFIGS / R50)
    dice = evaluate_config(cfg, "panoptic_head.loss_dice", num_priors=32 * 32)
    mask = evaluate_config(cfg, "panoptic_head.loss_mask", num_priors=32 * 32)
    assert torch.equal(mask.args[1], (1 - dice.args[1]).reshape(-1).long())
    assert torch.equal(mask.args[0], dice.args[0].reshape(-1, 1))
    stuff = dice.args[1][8]  # the stuff region: the pixels of no thing
    assert torch.equal(stuff, 1 - dice.args[1][:8].amax(0))


@needs_mmdet
@needs_configs
def test_the_terms_are_mmdetections_modules_on_the_same_inputs() -> None:
    cfg = losstune.load(CONFIGS / R50)
    for key in ("loss_cls", "loss_mask", "loss_dice"):
        r = evaluate_config(cfg, f"panoptic_head.{key}", num_priors=48 * 48, check=True)
        assert r.check is not None and r.check.equal, (key, r.check)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("config", [R50, SWIN])
def test_the_models_rules_are_the_real_heads(config: str) -> None:
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / config), BatchSpec(size=128, boxes=3))
    assert checked.family == "MaskFormerHead" and len(checked.terms) == 18 and not checked.skipped
    _rules_agree(checked)
    held = {t.term: t for t in checked.terms}
    cls, dice, mask = held["d4.loss_cls"], held["d4.loss_dice"], held["d4.loss_mask"]
    assert cls.real.avg == pytest.approx(8 + 0.1 * (200 - 8), rel=1e-6) and cls.real.rows == 100
    assert dice.real.rows == mask.real.rows == 4 and dice.real.width == (128, 128) and mask.real.width == (1,)
    assert dice.real.avg == 8 and mask.real.avg == 8 * 128 * 128
    assert all(t.value_ok for t in (held["loss_cls"], held["loss_dice"]))


@needs_mmdet
@needs_configs
def test_with_no_box_each_image_still_has_its_stuff_region() -> None:
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / R50), BatchSpec(size=128, boxes=0))
    assert len(checked.terms) == 18 and not checked.skipped
    _rules_agree(checked)
    held = {t.term: t for t in checked.terms}
    # the whole image one stuff mask an image: 2 matched queries of 200, the masks' avg_factor 2 (× h × w)
    assert held["loss_cls"].real.avg == pytest.approx(2 + 0.1 * 198, rel=1e-6)
    assert held["loss_dice"].real.avg == 2 and held["loss_mask"].real.avg == 2 * 128 * 128
