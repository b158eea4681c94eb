"""The model of RTMDet-Ins' head (losstune.engine.heads_rtmdet_ins): loss_cls and loss_bbox as
RTMDet's, loss_mask every positive's mask at mask_loss_stride by max(masks, 1); with MMDetection
3.3.0 installed, the call its own ``loss_mask_by_feat`` makes on the same instances, the term
against its DiceLoss, and the rules held against the real heads (with no box too)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_rtmdet_ins as hr  # noqa: E402
from losstune.engine.ellipses import seeded_boxes  # noqa: E402
from losstune.engine.heads_condinst import ellipse_masks, image_side  # noqa: E402
from losstune.engine.realhead.batch import BatchSpec, fitted, semantic_classes  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

HEAD = dict(
    type="RTMDetInsSepBNHead",
    num_classes=80,
    in_channels=16,
    feat_channels=16,
    stacked_convs=1,
    share_conv=True,
    pred_kernel_size=1,
    anchor_generator=dict(type="MlvlPointGenerator", offset=0, strides=[8, 16, 32]),
    bbox_coder=dict(type="DistancePointBBoxCoder"),
    loss_cls=dict(type="QualityFocalLoss", use_sigmoid=True, beta=2.0, loss_weight=1.0),
    loss_bbox=dict(type="GIoULoss", loss_weight=2.0),
    loss_mask=dict(type="DiceLoss", loss_weight=2.0, eps=5e-6, reduction="mean"),
)
RTMDET_INS = f"""
    model = dict(type='RTMDet', bbox_head={HEAD!r},
        train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13), allowed_border=-1, pos_weight=-1))
    """


@pytest.fixture
def rtmdet_ins(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    def _eval(key: str, **options: Any) -> EvalResult:
        return evaluate_config(losstune.load(write("rtmdet_ins.py", RTMDET_INS)), key, **options)

    return _eval


def test_the_image_and_the_masks_of_the_points_asked_for() -> None:
    # 16² + 8² + 4² = 336 points at strides 8, 16, 32: a 128 × 128 image
    assert image_side(336, hr.strides(HEAD)) == 128
    # the mask map at stride 8 (16 × 16) upsampled × 8 // mask_loss_stride
    assert hr.mask_side(128, HEAD) == (32, 4)
    assert hr.mask_side(128, HEAD | {"mask_loss_stride": 8}) == (16, 8)
    assert hr.strides({}) == (8, 16, 32)


def test_loss_mask_takes_every_positive_by_the_masks(rtmdet_ins: Callable[..., EvalResult]) -> None:
    m = rtmdet_ins("bbox_head.loss_mask", num_priors=336)
    assert m.family == "RTMDetInsHead" and m.log_name == "loss_mask" and m.log_names == ["loss_mask"]
    cls = rtmdet_ins("bbox_head.loss_cls", num_priors=336)
    assert cls.family == "RTMDetInsHead" and cls.kwargs["avg_factor"] == 1.0  # RTMDetHead's: ÷ Σ metrics after
    positives = int(cls.sampled.pos_mask.sum())
    # the same assignment: DynamicSoftLabelAssigner on the untrained head's boxes, several points a box
    assert positives == int(m.sampled.pos_mask.sum()) > 8
    assert m.sampled.boxes is not None and torch.equal(m.sampled.boxes.gt_index >= 0, m.sampled.pos_mask)
    assert m.args[0].shape == m.args[1].shape == (positives, 32, 32)
    assert set(m.args[1].unique().tolist()) <= {0.0, 1.0}
    assert m.kwargs["avg_factor"] == float(positives) and "weight" not in m.kwargs
    assert m.trace.steps[-1].name == "loss_weight"  # the head divides nothing afterwards
    x, y = m.args[0].sigmoid().flatten(1), m.args[1].flatten(1)
    per_mask = 1 - (2 * (x * y).sum(1) + 5e-6) / ((x * x).sum(1) + (y * y).sum(1) + 5e-6)
    assert float(m.logged) == pytest.approx(2.0 * float(per_mask.sum()) / positives, rel=1e-5)
    assert f"every positive's mask ({positives} masks): its 32×32 mask logits" in m.trace.steps[0].description


def test_the_untrained_heads_boxes_are_two_strides_across_and_loss_bbox_gets_them(
    rtmdet_ins: Callable[..., EvalResult],
) -> None:
    box = rtmdet_ins("bbox_head.loss_bbox", num_priors=336)
    s = box.sampled
    assert s.boxes is not None
    pred, target = box.args[0], box.args[1]
    assert torch.equal(pred, s.boxes.pred[s.pos_mask]) and torch.equal(target, s.boxes.target[s.pos_mask])
    # relu(rtm_reg's bias 1) × stride a side: squares of two strides, centred on the points
    priors = hr.points(128, (8, 16, 32))
    assert torch.allclose(s.boxes.pred[:, 2:] - s.boxes.pred[:, :2], 2 * priors[:, 2:])
    # each positive's weight is its assign metric: the IoU of its box with its target
    from losstune.engine.boxes import aligned_overlaps

    assert torch.allclose(box.kwargs["weight"], aligned_overlaps(pred, target), atol=1e-6)
    assert 0.2 < float(box.kwargs["weight"].mean()) < 0.7
    # a head without rtm_reg's bias keeps the approximated assignment: one point a box, IoUs below 0.1
    plain = hr.assignment({}, {"type": "RTMDetInsHead"}, 336, 8, 80, 0)
    assert plain.boxes is None and int(plain.pos_mask.sum()) == 8 and float(plain.ious.max()) < 0.1


@pytest.mark.parametrize(
    ("head", "side"),
    [
        ({"type": "RTMDetInsSepBNHead"}, 1.0),  # relu(bias 1) × stride
        ({"type": "RTMDetHead"}, 1.0),  # exp(rtm_reg ≈ 0) × stride
        ({"type": "RTMDetSepBNHead", "exp_on_reg": True}, 1.0),
        ({"type": "RTMDetSepBNHead", "exp_on_reg": False}, None),  # rtm_reg ≈ 0 × stride: the points
        ({"type": "RTMDetSepBNHead"}, None),  # exp_on_reg defaults to False
        ({"type": "RTMDetInsHead"}, None),
    ],
)
def test_which_untrained_heads_predict_two_stride_squares(head: dict[str, Any], side: float | None) -> None:
    assert hr.untrained_side(head) == side
    s = hr.assignment({}, head, 336, 8, 80, 0)
    assert (s.boxes is not None) == (side is not None)


@needs_mmdet
def test_the_points_and_the_assignment_are_mmdetections() -> None:
    """MlvlPointGenerator's points and DynamicSoftLabelAssigner's assignment on the same boxes,
    scores and masks, against the model's port."""
    from losstune.engine.realhead.batch import ellipse_masks as bitmap_masks
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.task_modules import DynamicSoftLabelAssigner
    from mmdet.models.task_modules.prior_generators import MlvlPointGenerator
    from mmengine.structures import InstanceData

    theirs = MlvlPointGenerator(strides=[8, 16, 32], offset=0)
    grid = torch.cat(theirs.grid_priors([(16, 16), (8, 8), (4, 4)], device="cpu", with_stride=True))
    priors = hr.points(128, (8, 16, 32))
    assert torch.equal(grid, priors)
    for seed, n in ((0, 8), (1, 3), (2, 1)):
        g = torch.Generator().manual_seed(seed)
        boxes = seeded_boxes(n, 128, g)
        labels = torch.randint(0, 80, (n,), generator=g)
        scores = torch.randn(priors.shape[0], 80, generator=g) * 0.3 - 4.6
        decoded = torch.cat([priors[:, :2] - priors[:, 2:] * 1.03, priors[:, :2] + priors[:, 2:] * 0.97], 1)
        masks = bitmap_masks(boxes, 128).to_tensor(dtype=torch.bool, device="cpu")
        result = DynamicSoftLabelAssigner(topk=13).assign(
            InstanceData(bboxes=decoded, scores=scores, priors=priors),
            InstanceData(bboxes=boxes, labels=labels, masks=masks),
        )
        centres = hr.centres_of_mass(ellipse_masks(boxes, 128, 1))
        mine, overlaps = hr.soft_label_assign(priors, decoded, scores, boxes, labels, centres, topk=13)
        assert torch.equal(mine, result.gt_inds)
        assert torch.allclose(overlaps, result.max_overlaps, atol=1e-6)


@needs_mmdet
def test_the_term_is_mmdetections_dice_loss_on_the_same_inputs(rtmdet_ins: Callable[..., EvalResult]) -> None:
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.losses import DiceLoss

    m = rtmdet_ins("bbox_head.loss_mask", num_priors=336)
    theirs = DiceLoss(loss_weight=2.0, eps=5e-6, reduction="mean")(m.args[0], m.args[1], weight=None, **m.kwargs)
    assert float(m.logged) == pytest.approx(float(theirs), rel=1e-6)


@needs_mmdet
def test_the_masks_are_those_loss_mask_by_feat_hands_on_the_same_instances() -> None:
    """MMDetection's own ``loss_mask_by_feat``, given the model's instances and positives, hands
    ``loss_mask`` masks of the model's size and exactly the model's targets, by the masks."""
    from losstune.engine.realhead.batch import ellipse_masks as bitmap_masks
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.task_modules import AssignResult, PseudoSampler
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.structures import InstanceData

    register_all_modules()
    head = MODELS.build(HEAD)
    side, boxes_n = 128, 3
    boxes = seeded_boxes(boxes_n, side, torch.Generator().manual_seed(5))
    priors = head.prior_generator.grid_priors([(16, 16), (8, 8), (4, 4)], device="cpu", with_stride=True)
    points = torch.cat(priors)
    gt_inds = torch.zeros(points.shape[0], dtype=torch.long)
    chosen = torch.tensor([20, 100, 300, 301])  # the positives, of boxes 1, 3, 2, 2
    of = torch.tensor([0, 2, 1, 1])
    gt_inds[chosen] = of + 1
    labels = torch.full((points.shape[0],), -1, dtype=torch.long)
    labels[chosen] = 7
    assign = AssignResult(boxes_n, gt_inds, torch.zeros(points.shape[0]), labels)
    gt = InstanceData(bboxes=boxes, labels=torch.full((boxes_n,), 7), masks=bitmap_masks(boxes, side))
    sampling = PseudoSampler().sample(assign, InstanceData(priors=points), gt)
    gt.masks = gt.masks.to_tensor(dtype=torch.bool, device="cpu")
    calls: list[tuple[Any, ...]] = []
    head.loss_mask.register_forward_pre_hook(lambda _, args, kwargs: calls.append((args, kwargs)), with_kwargs=True)
    mask_feats = torch.randn(1, head.num_prototypes, 16, 16)
    kernels = torch.randn(1, points.shape[0], head.num_gen_params)
    head.loss_mask_by_feat(mask_feats, kernels, [sampling], [gt])
    ((pred, target), kwargs) = calls[0]
    size, every = hr.mask_side(side, HEAD)
    assert pred.shape == (4, size, size) and kwargs == {"weight": None, "avg_factor": 4}
    assert torch.equal(target.float(), ellipse_masks(boxes, side, every)[of])


@needs_mmdet
@needs_configs
def test_the_models_rules_are_the_real_heads() -> None:
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / "rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py"), BatchSpec(size=128))
    assert checked.family == "RTMDetInsHead"
    held = {t.term: t for t in checked.terms}
    assert set(held) == {"loss_cls", "loss_bbox", "loss_mask"}
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
        assert t.model_width == t.real.width
    mask = held["loss_mask"]
    assert mask.real.width == (32, 32) and mask.real.calls == 1 and mask.value_ok, mask.why
    # every positive of the assignment, by their number, nothing divided afterwards
    assert mask.real.avg == mask.real.counts.pos == held["loss_cls"].real.counts.pos == mask.rule_avg
    assert mask.real.scale is None and mask.rule_scale is None


@needs_mmdet
@needs_configs
def test_with_no_box_no_mask_loss_is_called() -> None:
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / "rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py"), BatchSpec(size=128, boxes=0))
    assert [t.term for t in checked.terms] == ["loss_cls"] and {"loss_bbox", "loss_mask"} <= set(checked.skipped)
    (cls,) = checked.terms
    assert cls.real.avg == 1.0 == cls.rule_avg and cls.avg_ok and cls.scale_ok


def test_the_batch_has_masks_for_a_head_with_a_mask_loss_and_stuff_for_a_panoptic_one() -> None:
    assert fitted(BatchSpec(), {"bbox_head": HEAD}).masks
    assert not fitted(BatchSpec(), {"bbox_head": {k: v for k, v in HEAD.items() if k != "loss_mask"}}).masks
    panoptic = {"panoptic_head": {"type": "Mask2FormerHead", "num_things_classes": 80, "num_stuff_classes": 53}}
    spec = fitted(BatchSpec(), panoptic | {"panoptic_head": panoptic["panoptic_head"] | {"loss_mask": {}}})
    assert spec.masks and spec.semantic and spec.semantic_classes == 133
    # an instance configuration's panoptic head has no stuff: no semantic map
    assert semantic_classes({"panoptic_head": {"num_things_classes": 80, "num_stuff_classes": 0}}) is None
