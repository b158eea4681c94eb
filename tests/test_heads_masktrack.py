"""The model of MaskTrack R-CNN (losstune.engine.heads_masktrack): RoIEmbedHead's default
``loss_match`` on the track head's sampled RoIs (a 0 column and one per reference box, the matched
positives' targets, weights at the positives, by max(matched, 1), the videos averaged) and the RPN
handed the boxes' classes; with MMDetection 3.3.0 installed, the term against its loss module and
its own ``RoIEmbedHead.loss_by_feat`` on the same inputs, the video batch as MaskTrackRCNN reads it,
and the rules held against the real model (with no box too)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_masktrack as hmt  # noqa: E402
from losstune.engine.realhead.batch import BatchSpec  # noqa: E402
from losstune.engine.sampling import NUM_GTS  # noqa: E402
from losstune.engine.session import evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

MASKTRACK = "masktrack_rcnn/masktrack-rcnn_mask-rcnn_r50_fpn_8xb1-12e_youtubevis2019.py"
MASK_RCNN = "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py"
TERMS = {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_mask", "loss_match"}


def test_loss_match_is_every_sampled_roi_against_the_reference_boxes() -> None:
    model = {"type": "MaskTrackRCNN", "track_head": {"train_cfg": {"sampler": {
        "type": "RandomSampler", "num": 128, "pos_fraction": 0.25, "neg_pos_ub": -1, "add_gt_as_proposals": True
    }}}}  # fmt: skip
    made = hmt.match_inputs("loss_match", model, num_priors=500, seed=3)
    assert made is not None and hmt.match_inputs("loss_cls", model, num_priors=500, seed=3) is None
    logits, targets, weights = made.args
    assert logits.shape == (128, 1 + NUM_GTS - 1) and bool((logits[:, 0] == 0).all())  # the dummy column
    positives = weights > 0
    assert int(positives.sum()) == 32  # int(num × pos_fraction) of the sampler
    assert bool((targets[~positives] == 0).all()) and int(targets.max()) <= NUM_GTS - 1
    matched = int((targets > 0).sum())
    assert 0 < matched < 32  # a positive of the instance gone from the reference frame matches nothing
    assert made.kwargs["avg_factor"] == matched
    assert made.sampled is not None and made.sampled.stats["references"] == NUM_GTS - 1


def test_only_a_masktrack_rpn_is_handed_class_labels() -> None:
    assert hmt.class_labelled_rpn({"type": "MaskRCNN"}) is None
    detector = {"roi_head": {"bbox_head": {"num_classes": 40}}}
    assert hmt.class_labelled_rpn({"type": "MaskTrackRCNN", "detector": detector}) == 40


@needs_configs
def test_the_model_feeds_loss_match_per_video_and_the_rpn_its_classes() -> None:
    cfg = losstune.load(CONFIGS / MASKTRACK)
    r = evaluate_config(cfg, "track_head.embed_head.loss_match")
    assert r.family == "RoIEmbedHead" and r.log_names == ["loss_match"]
    assert r.args[0].shape[1] == NUM_GTS and r.kwargs["avg_factor"] == max(int((r.args[1] > 0).sum()), 1)
    assert "averages its calls' terms" in r.trace.steps[-1].description or r.scale in (None, 1.0)
    rpn = evaluate_config(cfg, "detector.rpn_head.loss_cls")
    labels = rpn.args[1][rpn.args[2] > 0]
    assert int((labels == 0).sum()) < int((labels < 40).sum()) - int((labels == 1).sum())  # classes, not 0
    plain = evaluate_config(losstune.load(CONFIGS / MASK_RCNN), "rpn_head.loss_cls")
    assert set(plain.args[1].unique().tolist()) <= {0, 1}  # a two-stage detector's RPN: foreground 0


@needs_mmdet
@needs_configs
def test_the_term_is_mmdetections_module_and_loss_by_feat_on_the_same_inputs() -> None:
    from losstune.engine.realhead.importing import load_mmdet

    cfg = losstune.load(CONFIGS / MASKTRACK)
    r = evaluate_config(cfg, "track_head.embed_head.loss_match", check=True)
    assert r.check is not None and r.check.equal, r.check
    load_mmdet()
    from mmdet.models.task_modules import SamplingResult
    from mmdet.models.tracking_heads import RoIEmbedHead

    head = RoIEmbedHead()
    logits, targets, weights = r.args
    rows, refs = logits.shape[0], logits.shape[1] - 1
    # one video: positives first (as SamplingResult orders them), each of the instance its target names
    order = torch.argsort(weights, descending=True, stable=True)
    logits, targets, weights = logits[order], targets[order], weights[order]
    pos = int(weights.sum())
    gt_ids = torch.arange(1, NUM_GTS + 1)
    ref_ids = gt_ids[:refs]
    assigned = torch.where(targets[:pos] > 0, targets[:pos] - 1, torch.full_like(targets[:pos], NUM_GTS - 1))
    boxes = torch.rand(rows, 4) * 10
    boxes[:, 2:] += boxes[:, :2] + 1
    result = SamplingResult(
        pos_inds=torch.arange(pos),
        neg_inds=torch.arange(pos, rows),
        priors=boxes,
        gt_bboxes=torch.rand(NUM_GTS, 4) * 10 + torch.tensor([0, 0, 20, 20]),
        assign_result=_assign(assigned, rows, pos),
        gt_flags=torch.zeros(rows, dtype=torch.uint8),
    )
    got_targets, got_weights = head.get_targets([result], [gt_ids], [ref_ids])
    assert torch.equal(got_targets[0], targets) and torch.equal(got_weights[0], weights)
    # loss_by_feat on embeddings whose dot products are the model's similarity logits: the key RoIs'
    # rows of the logits, the reference boxes' the identity (one-hot columns)
    x = logits[:, 1:]
    losses = head.loss_by_feat((x,), (torch.eye(refs),), [result], [gt_ids], [ref_ids])
    assert float(losses["loss_match"]) == pytest.approx(float(r.logged), rel=1e-5)


def _assign(assigned: torch.Tensor, rows: int, pos: int) -> object:
    from mmdet.models.task_modules import AssignResult

    gt_inds = torch.zeros(rows, dtype=torch.long)
    gt_inds[:pos] = assigned + 1
    return AssignResult(NUM_GTS, gt_inds, torch.ones(rows), labels=torch.zeros(rows, dtype=torch.long))


@needs_mmdet
def test_the_video_batch_is_a_key_and_a_reference_frame_to_mmdetection() -> None:
    from losstune.engine.realhead.batch import synthetic
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    images, samples = synthetic(BatchSpec(size=64, boxes=3, masks=True, frames=2), 40)
    assert images.shape == (2, 2, 3, 64, 64)
    for video in samples:
        key, ref = video.get_key_frames()[0], video.get_ref_frames()[0]
        assert key.gt_instances.instances_ids.tolist() == [1, 2, 3]
        assert ref.gt_instances.instances_ids.tolist() == [1, 2]  # the key frame's last is gone
        assert torch.equal(ref.gt_instances.labels, key.gt_instances.labels[:2])
        moved = (ref.gt_instances.bboxes - key.gt_instances.bboxes[:2]).abs()
        assert float(moved.max()) <= 64 / 20 + 1e-4 and ref.gt_instances.masks.masks.shape == (2, 64, 64)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("boxes", [3, 0])
def test_the_models_rules_are_the_real_heads(boxes: int) -> None:
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / MASKTRACK), BatchSpec(size=128, boxes=boxes))
    mask = " + FCNMaskHead" if boxes else ""  # no positive RoI: the mask head calls no loss module
    assert checked.family == f"RPNHead + BBoxHead{mask} + RoIEmbedHead"
    held = {t.term: t for t in checked.terms}
    assert set(held) == (TERMS if boxes else TERMS - {"loss_bbox", "loss_mask"})
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
        assert t.model_width == t.real.width
    match = held["loss_match"]
    assert match.real.calls == 2 and match.real.width == (1 + max(boxes - 1, 0),)  # a call a video
    if not boxes:  # no positive RoI: every weight 0, the term 0, by max(0, 1)
        assert match.real.value == 0 and match.real.avg == 1
    else:
        assert match.real.scale == pytest.approx(0.5)  # the videos' mean
        assert match.real.avg == max(match.real.first.pos if match.real.first else 0, 1)
        assert match.value_ok, match.why
        assert held["loss_rpn_cls"].real.counts.pos == held["loss_rpn_bbox"].real.counts.pos > 0
