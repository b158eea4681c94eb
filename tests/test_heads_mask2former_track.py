"""The model of Mask2Former's video head (losstune.engine.heads_mask2former_track): every
prediction's three terms and their log names, loss_cls by Σ class_weight[labels], a row a frame of
each matched instance to loss_dice and loss_mask, by num_total_masks (× num_points / num_frames for
loss_mask); with MMDetection 3.3.0 installed, the terms against its loss modules on the same inputs,
the video batch through the head's own preprocess_gt, and the rules held against the real head
(with no box too)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_mask2former_track as hmt  # noqa: E402
from losstune.engine.realhead.batch import BatchSpec  # noqa: E402
from losstune.engine.sampling import NUM_GTS  # noqa: E402
from losstune.engine.session import evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

VIS = "mask2former_vis/mask2former_r50_8xb2-8e_youtubevis2019.py"


def test_the_frames_and_the_mask_avg_factor_times() -> None:
    assert hmt.frames({}) == 2 and hmt.frames({"num_frames": 3}) == 3
    assert hmt.avg_times({"train_cfg": {"num_points": 100}}, {"num_frames": 4}) == (
        25.0,
        "num_points / num_frames = 100 / 4",
    )
    model = {"train_cfg": {"num_points": 50}}
    head = {"num_classes": 5, "num_frames": 3}
    dice = hmt.track_inputs("loss_dice", {}, head, model, num_priors=20, seed=1)
    mask = hmt.track_inputs("loss_mask", {}, head, model, num_priors=20, seed=1)
    assert (
        dice is not None
        and mask is not None
        and hmt.track_inputs("loss_iou", {}, head, model, num_priors=20, seed=1) is None
    )
    instances = NUM_GTS  # 20 queries, 8 instances: each matched
    assert dice.args[0].shape == dice.args[1].shape == (instances * 3, 50)  # a row a frame
    assert mask.args[0].shape == (instances * 3 * 50,) and torch.equal(mask.args[1], dice.args[1].reshape(-1))
    assert dice.kwargs["avg_factor"] == mask.kwargs["avg_factor"] == instances  # the instances, not their frames


@needs_configs
def test_every_prediction_has_its_three_terms() -> None:
    cfg = losstune.load(CONFIGS / VIS)
    cls = evaluate_config(cfg, "track_head.loss_cls")
    assert cls.family == "Mask2FormerTrackHead"
    assert cls.log_names == ["loss_cls"] + [f"d{i}.loss_cls" for i in range(9)]
    masks = int((cls.args[1] < 40).sum())
    assert cls.args[0].shape == (100, 41) and masks == NUM_GTS
    assert cls.kwargs["avg_factor"] == pytest.approx(masks + 0.1 * (100 - masks))  # Σ class_weight[labels]
    dice = evaluate_config(cfg, "track_head.loss_dice", term="d2.loss_dice")
    assert dice.log_name == "d2.loss_dice" and dice.args[0].shape == (masks * 2, 12544)
    assert dice.kwargs["avg_factor"] == masks
    mask = evaluate_config(cfg, "track_head.loss_mask")
    assert mask.args[0].shape == (masks * 2 * 12544,) and mask.kwargs["avg_factor"] == masks * 12544 / 2
    assert "× num_points / num_frames = 12544 / 2" in mask.trace.steps[0].description
    for r in (cls, dice, mask):
        assert r.trace.steps[-1].name == "loss_weight"  # nothing divided after the module


@needs_mmdet
@needs_configs
def test_the_terms_are_mmdetections_modules_on_the_same_inputs() -> None:
    cfg = losstune.load(CONFIGS / VIS)
    for key in ("loss_cls", "loss_mask", "loss_dice"):
        r = evaluate_config(cfg, f"track_head.{key}", check=True)
        assert r.check is not None and r.check.equal, (key, r.check)


@needs_mmdet
def test_the_video_batch_is_each_instance_in_its_frames_to_the_head() -> None:
    from losstune.engine.realhead.batch import synthetic
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.tracking_heads import Mask2FormerTrackHead

    _, samples = synthetic(BatchSpec(size=64, boxes=3, masks=True, frames=2), 40)
    frames = [sample[i].gt_instances for sample in samples for i in range(len(sample))]
    head = Mask2FormerTrackHead.__new__(Mask2FormerTrackHead)
    head.num_frames = 2
    keys = [f.masks.masks.copy() for f in frames[::2]]
    for gt, key in zip(head.preprocess_gt(frames), keys, strict=True):  # the head's own method
        assert gt.masks.shape == (3, 2, 64, 64) and gt.instances_id.tolist() == [[1, 1], [2, 2], [3, -1]]
        assert torch.equal(gt.masks[:, 0], torch.from_numpy(key).long())
        assert not bool(gt.masks[2, 1].any())  # the key frame's last is gone from the reference frame


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("boxes", [3, 0])
def test_the_models_rules_are_the_real_heads(boxes: int) -> None:
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / VIS), BatchSpec(size=128, boxes=boxes))
    assert checked.family == "Mask2FormerTrackHead"
    assert len(checked.terms) == (30 if boxes else 10)
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
        assert t.model_width == t.real.width
    held = {t.term: t for t in checked.terms}
    if not boxes:  # only loss_cls is called: every query the no-object class, 0.1 each
        assert {t.term.split(".")[-1] for t in checked.terms} == {"loss_cls"} and "loss_mask" in checked.skipped
        assert held["loss_cls"].real.avg == pytest.approx(20.0)
        return
    cls, dice, mask = held["d4.loss_cls"], held["d4.loss_dice"], held["d4.loss_mask"]
    assert cls.real.avg == pytest.approx(6 + 0.1 * 194, rel=1e-6) and cls.real.rows == 100  # 2 videos, 3 each
    assert dice.real.rows == mask.real.rows == 6  # a row a frame: 2 videos × 3 instances × 2 frames ÷ 2
    assert dice.real.avg == 6 and mask.real.avg == 6 * 12544 / 2
    assert all(t.value_ok for t in (held["loss_cls"], held["loss_dice"], held["d0.loss_mask"]))
