"""The model of YOLACT's box head and its protonet's segmentation loss (losstune.engine.heads_yolact):
the image and its anchors counted by hand, the calls ``loss_cls``, ``loss_bbox`` and ``loss_segm``
get, the head's hard negative mining and division, and, with MMDetection 3.3.0 installed, its own
``OHEMloss_by_feat_single`` and ``_get_targets_single`` on the model's inputs and its real heads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_yolact as hy  # noqa: E402
from losstune.engine.ellipses import inside_ellipses  # noqa: E402
from losstune.engine.headmodel import Counts, family_of  # noqa: E402
from losstune.engine.inputs import InputError  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config, logged_terms  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

YOLACT = """
    model = dict(type='YOLACT',
        bbox_head=dict(type='YOLACTHead', num_classes=80, in_channels=256, feat_channels=256, use_ohem=OHEM,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=3, scales_per_octave=1,
                base_sizes=[8, 16, 32, 64, 128], ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32, 64, 128]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, reduction='REDUCTION', loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.5), num_head_convs=1, num_protos=32),
        mask_head=dict(type='YOLACTProtonet', in_channels=256, num_protos=32, num_classes=80, max_masks_to_train=100,
            loss_mask_weight=6.125, with_seg_branch=True,
            loss_segm=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
        train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0.,
            ignore_iof_thr=-1, gt_max_assign_all=False), sampler=dict(type='PseudoSampler'), allowed_border=-1,
            pos_weight=-1, neg_pos_ratio=3, debug=False))
    """


@pytest.fixture
def yolact(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    """``yolact(key, ohem=True, reduction='none', **options)``: that loss of the config evaluated."""

    def _eval(key: str, ohem: bool = True, reduction: str = "none", **options: Any) -> EvalResult:
        text = YOLACT.replace("OHEM", str(ohem)).replace("REDUCTION", reduction)
        return evaluate_config(losstune.load(write("yolact.py", text)), key, **options)

    return _eval


def test_the_image_is_the_one_whose_anchors_are_asked_for() -> None:
    head = {"anchor_generator": {"octave_base_scale": 3, "scales_per_octave": 1, "ratios": [0.5, 1.0, 2.0]}}
    assert hy.anchors_per_cell(head) == 3 and hy.anchors_per_cell({}) == 3
    assert hy.anchors_per_cell({"anchor_generator": {"scales": [1, 2], "ratios": [1.0]}}) == 2
    # 550 pixels: 69, 35, 18, 9 and 5 cells a side at strides 8 to 128, as the configs' strides say
    assert hy.level_sides(550) == [69, 35, 18, 9, 5]
    assert hy.anchor_count(550, head) == 3 * (69**2 + 35**2 + 18**2 + 9**2 + 5**2) == 19248
    assert hy.side_of(None, head) == 550
    # 3 × (16² + 8² + 4² + 2² + 1²) = 1023 anchors: 128 pixels (121 to 128 give as many; the largest)
    assert hy.side_of(1023, head) == 128 and hy.anchor_count(128, head) == 1023


def test_the_mining_keeps_the_positives_and_3_negatives_each_or_every_negative_without_one() -> None:
    labels = torch.tensor([80, 2, 80, 80, 80, 80, 5, 80, 80, 80])
    losses = torch.tensor([0.1, 9.0, 0.5, 0.2, 0.9, 0.3, 1.0, 0.8, 0.05, 0.7])
    kept = hy.ohem_kept(losses, labels, 80, 3)
    # 2 positives: the 6 background anchors of highest loss (0.9, 0.8, 0.7, 0.5, 0.3, 0.2)
    assert kept.tolist() == [False, True, True, True, True, True, True, True, False, True]
    assert hy.ohem_kept(losses, labels, 80, 10).sum() == 10  # capped at the 8 background anchors
    background = torch.full((10,), 80)
    assert hy.ohem_kept(losses, background, 80, 3).all()


def test_the_heads_are_two_families_and_the_log_names_are_the_configs(yolact: Callable[..., EvalResult]) -> None:
    assert family_of("YOLACTHead") == "YOLACTHead" and family_of("YOLACTProtonet") == "YOLACTProtonet"
    for key, name in [("loss_cls",) * 2, ("loss_bbox",) * 2, ("loss_segm",) * 2, ("mask_head.loss_mask", "loss_mask")]:
        r = yolact(key, num_priors=1023)
        assert r.log_names == [name] and list(logged_terms(r)) == [name]


@pytest.mark.parametrize(("num_priors", "seed"), [(None, 0), (1023, 3)])
def test_loss_cls_gets_every_anchor_and_the_head_sums_the_mined_ones_by_the_positives(
    yolact: Callable[..., EvalResult], num_priors: int | None, seed: int
) -> None:
    r = yolact("bbox_head.loss_cls", num_priors=num_priors, seed=seed)
    n = num_priors or 19248
    score, labels, weights = r.args
    assert score.shape == (n, 81) and labels.shape == weights.shape == (n,)
    assert r.kwargs == {} and r.trace.loss.shape == (n,)  # reduction='none': a loss per anchor
    positives = int((labels < 80).sum())
    assert positives == r.sampled.stats["positives"] > 0
    kept = hy.ohem_kept(r.trace.loss, labels, 80, 3)
    assert int(kept.sum()) == 4 * positives
    assert float(r.logged) == pytest.approx(float(r.trace.loss[kept].sum()) / positives, rel=1e-6)
    assert r.trace.steps[-1].description.endswith(
        f"÷ avg_factor = {positives}, as YOLACTHead.OHEMloss_by_feat_single reduces them"
    )
    assert r.rule is not None and r.rule.avg(Counts((7, 6), (1000, 990), 2046)) is None
    assert r.rule.divisor(Counts((7, 0), (1000, 990), 2046)) == 8.0  # Σ max(positives, 1) of the images


def test_loss_bbox_gets_every_anchor_with_the_samplings_avg_factor(yolact: Callable[..., EvalResult]) -> None:
    r = yolact("bbox_head.loss_bbox", num_priors=1023)
    pred, target, weights = r.args
    assert pred.shape == target.shape == weights.shape == (1023, 4)
    positives = r.sampled.stats["positives"]
    assert int(weights[:, 0].sum()) == positives and r.kwargs["avg_factor"] == positives
    c = yolact("bbox_head.loss_cls", num_priors=1023)
    assert torch.equal(c.args[1] < 80, weights[:, 0] > 0)  # the same assignment as loss_cls's


def test_loss_segm_is_a_map_an_image_by_its_pixels(yolact: Callable[..., EvalResult]) -> None:
    r = yolact("mask_head.loss_segm", num_priors=1023)
    logits, target = r.args
    assert logits.shape == target.shape == (80, 16, 16)  # a 128-pixel image at stride 8
    assert set(target.unique().tolist()) == {0.0, 1.0} and "weight" not in r.kwargs
    assert r.kwargs["avg_factor"] == 256.0
    assert r.rule is not None and r.rule.avg(Counts((80, 80), (0, 0), 160)) == 512.0  # images × H × W
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum") / 256
    assert float(r.logged) == pytest.approx(float(expected), rel=1e-5)
    assert r.trace.steps[0].description.endswith("avg_factor = the images (1) × the map's 16×16 pixels = 256")


def test_a_reduction_the_head_cannot_mine_and_use_ohem_false_are_said(yolact: Callable[..., EvalResult]) -> None:
    with pytest.raises(InputError, match="reduction='mean' the module returns one number"):
        yolact("bbox_head.loss_cls", reduction="mean")
    with pytest.raises(InputError, match="use_ohem=True"):
        yolact("bbox_head.loss_cls", ohem=False)


def _real_yolact_head() -> Any:
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.dense_heads import YOLACTHead

    head = YOLACTHead(
        num_classes=80,
        in_channels=8,
        feat_channels=8,
        loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False, reduction="none", loss_weight=1.0),
        loss_bbox=dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.5),
    )
    head.train_cfg = dict(neg_pos_ratio=3)  # all OHEMloss_by_feat_single reads of it
    return head


@needs_mmdet
@pytest.mark.parametrize("positives", [True, False])
def test_the_terms_are_mmdetections_ohem_on_the_models_inputs(
    yolact: Callable[..., EvalResult], positives: bool
) -> None:
    """MMDetection's own OHEMloss_by_feat_single, handed the model's logits, labels and boxes with
    the model's avg_factor, gives the model's loss_cls and loss_bbox (with no positive too: every
    background anchor mined)."""
    c = yolact("bbox_head.loss_cls", num_priors=1023, seed=1)
    b = yolact("bbox_head.loss_bbox", num_priors=1023, seed=1)
    score, labels, label_weights = c.args
    pred, target, box_weights = b.args
    avg = b.kwargs["avg_factor"]
    if not positives:
        labels = torch.full_like(labels, 80)
    head = _real_yolact_head()
    anchors = torch.zeros(1023, 4)
    cls, box = head.OHEMloss_by_feat_single(
        score, pred, anchors, labels, label_weights, target, box_weights, avg_factor=avg
    )
    if positives:
        assert float(cls) == pytest.approx(float(c.logged), rel=1e-5)
    else:  # the module's per-anchor losses on the background labels, mined as the model mines them
        losses = torch.nn.functional.cross_entropy(score, labels, reduction="none") * label_weights
        kept = hy.ohem_kept(losses, labels, 80, 3)
        assert bool(kept.all())
        assert float(cls) == pytest.approx(float(losses[kept].sum() / avg), rel=1e-5)
    assert float(box) == pytest.approx(float(b.logged), rel=1e-5)


@needs_mmdet
def test_the_semantic_targets_are_mmdetections_get_targets_single() -> None:
    """YOLACTProtonet._get_targets_single's semantic targets of instances given at the map's size
    are the model's: each instance's mask on channel label - 1 (label 0 on the last)."""
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.dense_heads import YOLACTProtonet
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    side, size = 128, 16
    boxes = torch.tensor([[10.0, 20.0, 70.0, 90.0], [60.0, 30.0, 120.0, 100.0], [0.0, 0.0, 40.0, 30.0]])
    labels = torch.tensor([0, 7, 7])
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) * (side / size)
    masks = BitmapMasks(inside_ellipses(boxes, centres, centres).numpy().astype("uint8"), size, size)
    gt = InstanceData(bboxes=boxes, labels=labels, masks=masks)
    info = InstanceData(pos_assigned_gt_inds=torch.tensor([0, 2]))
    proto = YOLACTProtonet(num_classes=80, in_channels=8)
    out = proto._get_targets_single(torch.zeros(2, 32, 32), torch.zeros(80, size, size), gt, info)
    ours = hy.segm_targets(boxes, labels, side, size, 80)
    assert torch.equal(out[2], ours)
    assert ours[79].sum() > 0 and ours[6].sum() > 0 and ours.sum(dim=(1, 2)).gt(0).sum() == 2


@needs_mmdet
@needs_configs
@pytest.mark.parametrize(
    ("config", "size", "seed"),
    [
        ("yolact/yolact_r50_1xb8-55e_coco.py", 128, 0),
        ("yolact/yolact_r101_1xb8-55e_coco.py", 192, 1),
    ],
)
def test_the_models_rules_are_the_real_heads(config: str, size: int, seed: int) -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / config), BatchSpec(size=size, seed=seed))
    assert checked.family == "YOLACTHead"
    held = {t.term: t for t in checked.terms}
    assert set(held) == {"loss_cls", "loss_bbox", "loss_segm", "loss_mask"} and not checked.skipped
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok and t.value_ok, (t.term, t.why)
        assert t.model_width == t.real.width
    cls, box, segm = held["loss_cls"], held["loss_bbox"], held["loss_segm"]
    avg = sum(max(p, 1) for p in cls.real.counts.positives)
    assert cls.real.avg is None and cls.real.scale == pytest.approx(1 / avg, rel=1e-4)
    assert box.real.avg == avg == box.rule_avg and cls.real.width == (81,)
    side = -(-size // 8)
    assert segm.real.width == (side, side) and segm.real.avg == 2 * side * side == segm.rule_avg
    # loss_mask, the head's own code: the model's replay on its arguments is the head's term
    mask = held["loss_mask"]
    assert mask.real.width == (2 * side, 2 * side) and mask.real.avg is None
    assert mask.real.counts.pos == cls.real.counts.pos  # every positive's mask (fewer than 100 an image)
    assert mask.real.scale == pytest.approx(1 / mask.real.counts.pos, rel=1e-4)
    assert mask.replayed == pytest.approx(mask.real.value, rel=1e-4)


def test_loss_mask_is_each_kept_positives_cropped_mask_reweighted_and_divided_by_the_masks(
    yolact: Callable[..., EvalResult],
) -> None:
    r = yolact("mask_head.loss_mask", num_priors=1023)
    assert r.family == "YOLACTProtonet" and r.loss.by_head == "YOLACTProtonet"
    assert r.loss_cfg == {"type": "CrossEntropyLoss", "use_sigmoid": True, "loss_weight": 6.125}
    logits, targets = r.args
    kept = r.sampled.stats["positives"]
    box = yolact("bbox_head.loss_bbox", num_priors=1023)
    assert kept == box.sampled.stats["positives"] > 0  # the box head's positives, fewer than 100
    assert logits.shape == targets.shape == (kept, 32, 32)  # a 128-pixel image's first level × 2
    assert r.kwargs == {"reduction_override": "none"} and r.trace.loss.shape == (kept, 32, 32)
    assert bool((logits == -hy.CROP_LOGIT).any()) and bool((logits > -hy.CROP_LOGIT).any())  # cropped
    assert r.trace.steps[-1].description.endswith(
        f"summed, ÷ max(masks, 1) = {kept} (total_pos), as YOLACTProtonet.loss_by_feat reduces them"
    )
    # each mask's mean ÷ its box's shares of the image (each at most 1): above the plain mean
    assert float(r.logged) > float(r.trace.loss.mean(dim=(1, 2)).sum()) / kept
    assert r.rule is not None and r.rule.divisor(Counts((3, 0), (0, 0), 3)) == 3.0
    capped = yolact("mask_head.loss_mask")  # 241 positives on a 550-pixel image: 100 kept
    assert capped.args[0].shape == (100, 138, 138) and "max_masks_to_train = 100" in capped.trace.steps[0].description


def test_the_cropped_logits_cost_what_the_heads_binary_cross_entropy_does() -> None:
    p = torch.tensor([[0.0, 1.0, 0.3, 1e-45, 1.0 - 1e-7, 0.5]])
    t = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    inside = torch.tensor([[True, True, True, True, True, False]])
    logits = hy.cropped_logits(p, inside)
    theirs = torch.nn.functional.binary_cross_entropy(p * inside, t, reduction="none")
    ours = torch.nn.functional.binary_cross_entropy_with_logits(logits, t, reduction="none")
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-6) and float(theirs[0, 0]) == 100.0


@needs_mmdet
def test_the_crop_and_the_replay_are_mmdetections_protonet() -> None:
    """YOLACTProtonet's crop_single keeps the pixels crop_inside does, and its loss_by_feat on two
    images (one with saturated probabilities, one with no positive) is the model's replay."""
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.dense_heads import YOLACTProtonet
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    g = torch.Generator().manual_seed(5)
    proto = YOLACTProtonet(num_classes=80, in_channels=8, loss_mask_weight=6.125)
    shares = torch.tensor([[0.1, 0.2, 0.55, 0.9], [0.5, 0.05, 0.97, 0.4], [0.0, 0.0, 1.0, 1.0]])
    ones = torch.ones(16, 16, 3)
    assert torch.equal(proto.crop_single(ones, shares.clone()).permute(2, 0, 1) > 0, hy.crop_inside(shares, 16, 16))
    side, size = 64, 16
    boxes = shares * side
    centres = torch.arange(side, dtype=torch.float32) + 0.5
    full = inside_ellipses(boxes, centres, centres).numpy().astype("uint8")
    gts = [InstanceData(bboxes=boxes, labels=torch.tensor([1, 2, 3]), masks=BitmapMasks(full, side, side))] * 2
    metas = [{"img_shape": (side, side)}] * 2
    logits = torch.randn(size, size, 4, generator=g) * 4.5 + 1.0
    logits[..., 0] = 30.0  # probabilities of 1.0: the log clamp's 100 where the target is 0
    probabilities = [logits.sigmoid(), torch.rand(size, size, 0, generator=g)]
    infos = [
        InstanceData(pos_assigned_gt_inds=torch.tensor([0, 1, 2, 1]), bboxes=boxes[[0, 1, 2, 1]]),
        InstanceData(pos_assigned_gt_inds=torch.zeros(0, dtype=torch.long), bboxes=torch.zeros(0, 4)),
    ]
    segm = torch.randn(2, 80, size, size, generator=g)
    theirs = proto.loss_by_feat(probabilities, segm, gts, metas, infos)
    arguments = {
        "mask_preds": probabilities,
        "batch_gt_instances": gts,
        "batch_img_metas": metas,
        "positive_infos": infos,
    }
    cfg = {"type": "CrossEntropyLoss", "use_sigmoid": True, "loss_weight": 6.125}
    rep = hy.replay_masks(arguments, cfg, 100)
    assert rep.masks == (4, 0) and rep.size == (size, size)
    assert rep.value == pytest.approx(float(sum(theirs["loss_mask"])), rel=1e-5)
