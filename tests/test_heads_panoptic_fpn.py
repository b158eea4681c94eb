"""PanopticFPN's semantic head (``PanopticFPNHead``): the batch's semantic map, the model's
``loss_seg`` against MMDetection 3.3.0's own head code on the same map, and the rules against the
real head."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine.heads_semantic import panoptic_fpn_inputs  # noqa: E402
from tests.conftest import PROJECTS  # noqa: E402

needs_mmdet = pytest.mark.skipif(importlib.util.find_spec("mmdet") is None, reason="MMDetection 3.3.0 is not installed")
CONFIGS = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
CONFIG = CONFIGS / "panoptic_fpn" / "panoptic-fpn_r50_fpn_1x_coco.py"
needs_configs = pytest.mark.skipif(not CONFIGS.is_dir(), reason=f"MMDetection 3.3.0's configs are not at {CONFIGS}")
HEAD = {"type": "PanopticFPNHead", "num_things_classes": 80, "num_stuff_classes": 53}


def test_the_model_hands_every_pixel_with_the_things_merged() -> None:
    made = panoptic_fpn_inputs("loss_seg", head=HEAD, num_priors=32 * 32, seed=0)
    assert made is not None
    logits, target = made.args
    assert logits.shape == (1024, 54)
    assert target.shape == (1024,)
    assert set(target.unique().tolist()) == {52, 53}  # the last stuff class and the things' one class
    assert made.kwargs == {}
    assert panoptic_fpn_inputs("loss_cls", head=HEAD, num_priors=None, seed=0) is None


@needs_mmdet
def test_the_things_are_merged_as_mmdetections_head_merges_them() -> None:
    from losstune.engine.heads_semantic import paint_ellipses
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()  # mmcv's compiled ops stood in for, as mmdet.models needs them with mmcv-lite
    from mmdet.models.seg_heads import PanopticFPNHead

    head = PanopticFPNHead(num_things_classes=80, num_stuff_classes=53)
    boxes = torch.tensor([[2.0, 3.0, 20.0, 18.0], [10.0, 10.0, 30.0, 31.0]])
    painted = paint_ellipses(boxes, torch.tensor([5, 79]), 32, 133)  # the panoptic map the batch carries
    merged = head._set_things_to_void(painted).reshape(-1)
    ours = torch.full((1024,), 52)
    ours[(painted < 80).reshape(-1)] = 53
    assert torch.equal(merged.long(), ours)


@needs_mmdet
def test_the_model_term_is_mmdetections_module_on_its_inputs() -> None:
    from losstune.engine.evaluation import evaluate
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.losses import CrossEntropyLoss

    made = panoptic_fpn_inputs("loss_seg", head=HEAD, num_priors=64 * 64, seed=3)
    assert made is not None
    cfg = {"type": "CrossEntropyLoss", "ignore_index": 255, "loss_weight": 0.5}
    module = CrossEntropyLoss(ignore_index=255, loss_weight=0.5)
    assert evaluate(cfg, *made.args).loss == pytest.approx(float(module(*made.args)), rel=1e-5)


@needs_mmdet
@needs_configs
def test_panoptic_fpn_runs_on_the_semantic_map_and_its_rules_agree() -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIG), BatchSpec(size=128))
    held = {t.term: t for t in checked.terms}
    assert set(held) == {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_mask", "loss_seg"}
    for t in held.values():
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
    seg = held["loss_seg"]
    assert seg.real.width == (54,) and seg.model_width == (54,)
    assert seg.value_ok, seg.why
