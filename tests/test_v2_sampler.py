"""Under ``--mmdet-version 2``, the sampler a dense head builds as MMDetection 2.28.2's ``__init__``
does: ``AnchorHead`` (``dense_heads/anchor_head.py:84-102``) uses a PseudoSampler where
``loss_cls`` is a FocalLoss, GHMC or QualityFocalLoss, whatever ``train_cfg.sampler`` is;
``ATSSHead`` (``atss_head.py:57-62``) always does. 3.3.0's ``AnchorHead.__init__``
(``anchor_head.py:90-94``), which ATSSHead inherits, builds the configured one. The avg_factor
follows each: ``SamplingResult.avg_factor`` summed, ``max(pos, 1) + max(neg, 1)`` with a sampler,
2.x's ``num_total_pos = Σ max(pos, 1)`` (``anchor_head.py:383, 498``) without."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine.inputs import InputError  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config  # noqa: E402
from losstune.engine.v2_sampler import built_sampler, without_sampler  # noqa: E402
from tests.test_heads_reppoints import POINT_ASSIGNER, REPPOINTS  # noqa: E402

RANDOM = "dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False)"
DENSE = """
    model = dict(
        bbox_head=dict(type='{head}', num_classes=80,
            loss_cls=dict(type='{loss}', use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
            sampler={sampler}, allowed_border=-1, pos_weight=-1, debug=False))
    """


@pytest.fixture
def dense(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    """``dense(head, loss, version)``: that head's ``loss_cls`` with a RandomSampler configured."""

    def _eval(head: str, loss: str, version: int) -> EvalResult:
        text = DENSE.format(head=head, loss=loss, sampler=RANDOM)
        return evaluate_config(losstune.load(write("dense.py", text)), "loss_cls", mmdet_version=version)

    return _eval


def _counts(r: EvalResult) -> tuple[int, int]:
    """The positives and the labelled negatives of the priors the module was handed."""
    s = r.sampled
    assert s is not None
    return int(s.pos_mask.sum()), int(((s.label_weights > 0) & ~s.pos_mask).sum())


@pytest.mark.parametrize("head", ["RetinaHead", "ATSSHead"])
def test_a_2x_focal_head_ignores_its_random_sampler(dense: Callable[..., EvalResult], head: str) -> None:
    new, old = dense(head, "FocalLoss", 3), dense(head, "FocalLoss", 2)
    pos, neg = _counts(new)
    assert (pos, neg) == (128, 128)  # RandomSampler(num=256, pos_fraction=0.5)
    assert new.kwargs["avg_factor"] == max(pos, 1) + max(neg, 1) == 256
    assert not any("PseudoSampler" in n for n in new.notes)
    pos, neg = _counts(old)
    assert neg > 19000  # every negative prior, not RandomSampler's 128
    assert old.kwargs["avg_factor"] == max(pos, 1) == 248
    assert old.trace.steps[0].description.startswith("PseudoSampler: every prior is used (248 positives")
    who = "ATSSHead.__init__ builds a PseudoSampler whatever" if head == "ATSSHead" else "AnchorHead.__init__"
    assert any(who in n and "the configured RandomSampler is not used" in n for n in old.notes)


def test_a_2x_anchor_head_samples_with_a_cross_entropy_loss(dense: Callable[..., EvalResult]) -> None:
    old, new = dense("RetinaHead", "CrossEntropyLoss", 2), dense("RetinaHead", "CrossEntropyLoss", 3)
    assert _counts(old) == _counts(new) == (128, 128)
    assert old.kwargs["avg_factor"] == new.kwargs["avg_factor"] == 256


def test_which_heads_and_losses_turn_2xs_sampling_off() -> None:
    random = {"type": "RandomSampler", "num": 256}
    focal, ghm, ce = ({"loss_cls": {"type": t}} for t in ("FocalLoss", "GHMC", "CrossEntropyLoss"))
    assert built_sampler("AnchorHead", ghm, random) is not None
    assert built_sampler("AnchorHead", ce, random) is None
    assert built_sampler("AnchorHead", focal, {"type": "PseudoSampler"}) is None
    assert built_sampler("AnchorHead", focal, None) is None
    # GuidedAnchorHead and RepPointsHead test for FocalLoss alone (guided_anchor_head.py:170, reppoints_head.py:101)
    assert built_sampler("GuidedAnchorHead", ghm, random) is None
    assert built_sampler("RepPointsHead", focal, random) is not None
    for family in ("GFLHead", "TOODHead", "PAAHead", "VFNetHead", "DDODHead", "SSDHead", "YOLACTHead"):
        assert built_sampler(family, ce, random) is not None
    # YOLOV3Head builds the configured one in both (yolo_head.py:96-101; 3.x's yolo_head.py:100-104)
    assert built_sampler("YOLOV3Head", ce, random) is None
    model = {"train_cfg": {"assigner": {}, "sampler": random}, "bbox_head": {}}
    assert without_sampler(model) == {"train_cfg": {"assigner": {}}, "bbox_head": {}}
    assert model["train_cfg"]["sampler"] == random  # the config is left as it is


def test_reppoints_with_a_sampler_runs_as_2x_runs_it(write: Callable[..., Path]) -> None:
    text = REPPOINTS.format(transform="moment", grid=False, init=POINT_ASSIGNER, norm="", pos_weight=-1)
    text = text.replace("pos_weight=-1, debug=False)))", f"pos_weight=-1, debug=False), sampler={RANDOM}))")
    cfg = losstune.load(write("reppoints.py", text))
    with pytest.raises(InputError, match="PseudoSampler only"):
        evaluate_config(cfg, "loss_cls")
    plain = REPPOINTS.format(transform="moment", grid=False, init=POINT_ASSIGNER, norm="", pos_weight=-1)
    old = evaluate_config(cfg, "loss_cls", mmdet_version=2)
    same = evaluate_config(losstune.load(write("plain.py", plain)), "loss_cls", mmdet_version=2)
    assert old.kwargs["avg_factor"] == same.kwargs["avg_factor"]
    assert float(old.trace.loss) == float(same.trace.loss)
    assert any("RepPointsHead.__init__ builds a PseudoSampler where loss_cls is a FocalLoss" in n for n in old.notes)


def test_the_notes_are_in_the_json_too(write: Callable[..., Path]) -> None:
    from losstune.render.eval import render_json

    text = DENSE.format(head="RetinaHead", loss="FocalLoss", sampler=RANDOM)
    old = evaluate_config(losstune.load(write("dense.py", text)), "loss_cls", mmdet_version=2)
    notes = json.loads(render_json(old))["notes"]
    assert notes == list(old.notes) and any("the configured RandomSampler is not used" in n for n in notes)
