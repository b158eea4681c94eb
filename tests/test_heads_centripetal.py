"""The model of CentripetalNet's head (``CentripetalHead``, losstune.engine.heads_corner): CornerHead's
heatmaps and offsets, and its guiding and centripetal shifts, each corner a call with the corner
mask's sum as its avg_factor (not clamped), their mean, summed over the stacks; with MMDetection
3.3.0 installed, the shift targets against its ``get_targets`` and the rules against its real head."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_corner as hc  # noqa: E402
from losstune.engine.headmodel import family_of  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

CENTRIPETAL = """
    model = dict(type='CornerNet', bbox_head=dict(type='CentripetalHead', num_classes=80, in_channels=256,
        num_feat_levels=2, corner_emb_channels=0,
        loss_heatmap=dict(type='GaussianFocalLoss', alpha=2.0, gamma=4.0, loss_weight=1),
        loss_offset=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1),
        loss_guiding_shift=dict(type='SmoothL1Loss', beta=1.0, loss_weight=0.05),
        loss_centripetal_shift=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1)))
    """


@pytest.fixture
def centripetal(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    def _eval(key: str) -> EvalResult:
        return evaluate_config(losstune.load(write("centripetal.py", CENTRIPETAL)), key, num_priors=32 * 32)

    return _eval


def test_the_shift_targets_by_hand() -> None:
    # a box from (2.5, 4.0) to (10.5, 12.0): its centre (6.5, 8.0), its int corners (2, 4), (10, 12)
    guiding, centripetal = hc.shift_targets([(2.5, 4.0, 10.5, 12.0, 3)], 16).values()
    assert guiding[0][0, :, 4, 2].tolist() == [4.5, 4.0] and guiding[1][0, :, 12, 10].tolist() == [3.5, 4.0]
    assert centripetal[0][0, :, 4, 2].tolist() == pytest.approx([math.log(4.0), math.log(4.0)])
    assert centripetal[1][0, :, 12, 10].tolist() == pytest.approx([math.log(4.0), math.log(4.0)])
    assert int((guiding[0] != 0).sum()) == 2 and int((centripetal[1] != 0).sum()) == 2


@pytest.mark.parametrize(
    ("key", "log_name"), [("loss_guiding_shift", "guiding_loss"), ("loss_centripetal_shift", "centripetal_loss")]
)
def test_each_shift_is_a_call_per_corner_and_stack_by_the_corner_mask(
    centripetal: Callable[..., EvalResult], key: str, log_name: str
) -> None:
    r = centripetal(key)
    assert family_of("CentripetalHead") == r.family == "CentripetalHead" and r.log_name == log_name
    pred, target, mask = r.args
    assert pred.shape == target.shape == (1, 2, 32, 32) and mask.shape == (1, 1, 32, 32)
    assert r.kwargs["avg_factor"] == float(mask.sum()) == r.trace.steps[0].value["positives"] > 0
    made = hc.corner_inputs(
        key, {"type": "SmoothL1Loss"}, head={"type": "CentripetalHead"}, num_classes=80, num_priors=32 * 32, seed=0
    )
    assert made is not None and made.others is not None and len(made.others.calls) == 3  # 2 corners × 2 stacks

    def smooth_l1(call_args: list[torch.Tensor], avg: float) -> float:
        p, t, w = call_args
        d = (p - t).abs()
        return float((torch.where(d < 1, 0.5 * d * d, d - 0.5) * w).sum() / avg)

    weight = 0.05 if key == "loss_guiding_shift" else 1.0
    values = [smooth_l1(made.args, made.kwargs["avg_factor"])]
    values += [smooth_l1(c.args, c.kwargs["avg_factor"]) for c in made.others.calls]
    assert float(r.logged) == pytest.approx(weight * (values[0] + values[1] + values[2] + values[3]) / 2, rel=1e-5)
    assert f"{log_name} = Σ over the 2 stacks" in r.trace.steps[-1].description
    assert "avg_factor = positives (the corner mask's sum, not clamped)" in r.trace.steps[0].description


def test_its_heatmaps_and_offsets_are_cornernets_and_it_has_no_embedding(
    centripetal: Callable[..., EvalResult],
) -> None:
    det, off = centripetal("loss_heatmap"), centripetal("loss_offset")
    assert (det.log_name, off.log_name) == ("det_loss", "off_loss")
    assert "CentripetalHead calls the module 2 times" in det.trace.steps[0].description
    embedding = {"type": "AssociativeEmbeddingLoss"}
    assert hc.corner_inputs("loss_embedding", embedding, head={"type": "CentripetalHead"}, num_classes=80,
                            num_priors=None, seed=0) is None  # fmt: skip
    assert hc.corner_inputs("loss_guiding_shift", {"type": "SmoothL1Loss"}, head={"type": "CornerHead"},
                            num_classes=80, num_priors=None, seed=0) is None  # fmt: skip


@needs_mmdet
def test_the_shift_targets_are_mmdetections() -> None:
    from types import SimpleNamespace

    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    from mmdet.models.dense_heads.corner_head import CornerHead

    side, classes = 32, 5
    boxes = hc.seeded_boxes(classes, side, seed=3)
    bboxes = torch.tensor([b[:4] for b in boxes])
    labels = torch.tensor([b[4] for b in boxes])
    head = SimpleNamespace(num_classes=classes)
    theirs = CornerHead.get_targets(head, [bboxes], [labels], (1, classes, side, side), (side, side), False, True, True)
    ours = hc.shift_targets(boxes, side)
    for key, name in (("loss_guiding_shift", "guiding_shift"), ("loss_centripetal_shift", "centripetal_shift")):
        assert torch.allclose(ours[key][0], theirs[f"topleft_{name}"], atol=1e-5)
        assert torch.allclose(ours[key][1], theirs[f"bottomright_{name}"], atol=1e-5)


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("boxes", [3, 0])
def test_the_models_rules_are_the_real_heads(boxes: int) -> None:
    """Shape, avg_factor (each corner's mask sum: 0 with no box, where CornerHead's offsets take 1)
    and the corners' mean, against the head; the shifts' and offsets' values within the factor of 2
    (det_loss's per peak grows with the pixels per object: 8 objects on one map in the model, 3 on
    each of 2 in the batch). With no box every term is 0, and no division can be read from it."""
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    config = CONFIGS / "centripetalnet/centripetalnet_hourglass104_16xb6-crop511-210e-mstest_coco.py"
    checked = hold(losstune.load(config), BatchSpec(size=128, boxes=boxes))
    assert checked.family == "CentripetalHead"
    held = {t.term: t for t in checked.terms}
    assert set(held) == {"det_loss", "off_loss", "guiding_loss", "centripetal_loss"}
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok, (t.term, t.why)
        assert t.real.calls == 4 and (t.scale_ok or not boxes), (t.term, t.why)
    for name in ("guiding_loss", "centripetal_loss"):
        t = held[name]
        assert t.real.width == (2,) and t.real.avg == t.rule_avg == 2 * boxes
        assert t.value_ok if boxes else t.real.value == 0.0
    assert held["off_loss"].real.avg == held["off_loss"].rule_avg == max(2 * boxes, 1)
    assert held["off_loss"].value_ok or not boxes
