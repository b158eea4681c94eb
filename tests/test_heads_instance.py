"""The head model of the instance heads built on a dense head: CondInst's (and BoxInst's) box head
as FCOS, CondInstMaskHead's loss_mask summed per mask and divided by the masks kept; DDQ-DETR's
decoder, encoder and denoising terms as DINO's, and its dense queries' auxiliary terms."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config  # noqa: E402
from tests.conftest import PROJECTS  # noqa: E402

CONFIGS = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
needs_real = pytest.mark.skipif(
    importlib.util.find_spec("mmdet") is None or not CONFIGS.is_dir(),
    reason="needs MMDetection 3.3.0 (the dev extra) and its configs",
)

CONDINST = """
    model = dict(type='CondInst',
        bbox_head=dict(type='CondInstBboxHead', num_classes=80, strides=[8, 16, 32, 64, 128],
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
        mask_head=dict(type='CondInstMaskHead', mask_out_stride=4, max_masks_to_train=MOST,
            mask_feature_head=dict(in_channels=256, mask_stride=8),
            loss_mask=dict(type='DiceLoss', use_sigmoid=True, activate=True, eps=5e-6, loss_weight=2.0)))
    """


@pytest.fixture
def condinst(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    def _eval(key: str, most: int = 300, **options: Any) -> EvalResult:
        path = write("condinst.py", CONDINST.replace("MOST", str(most)))
        return evaluate_config(losstune.load(path), key, **options)

    return _eval


def _dice(logits: Any, targets: Any, eps: float) -> Any:
    x, y = logits.sigmoid().flatten(1), targets.flatten(1)
    return 1 - 2 * (x * y).sum(1) / ((x * x).sum(1) + eps + (y * y).sum(1) + eps)


def test_condinsts_image_is_the_one_of_the_points_asked_for() -> None:
    from losstune.engine.heads_condinst import image_side, mask_side

    # 16² + 8² + 4² + 2² + 1² = 341 points at strides 8 to 128: a 128 × 128 image (121 to 128 give
    # as many; the largest, as a padded image is)
    assert image_side(341, (8, 16, 32, 64, 128)) == 128
    assert image_side(1 + 4 + 16 + 64 + 256, (8, 16, 32, 64, 128)) == 128
    # the mask branch's 16 × 16 map at stride 8, upsampled × 8 // 4 = 2
    assert mask_side(128, {"mask_out_stride": 4, "mask_feature_head": {"mask_stride": 8}}) == 32
    assert mask_side(128, {}) == 32  # stride 4, mask_out_stride 4: no upsampling


def test_condinsts_box_head_is_fed_as_fcos_feeds_its_losses(condinst: Callable[..., EvalResult]) -> None:
    b = condinst("bbox_head.loss_bbox", num_priors=341)
    assert b.family == "FCOSHead" and b.log_name == "loss_bbox"
    positives = b.sampled.stats["positives"]
    assert b.args[0].shape == (positives, 4)  # the positives only, weighted by their centerness
    assert b.kwargs["avg_factor"] == pytest.approx(max(float(b.kwargs["weight"].sum()), 1e-6))
    c = condinst("bbox_head.loss_cls", num_priors=341)
    assert c.args[0].shape == (341, 80) and c.kwargs["avg_factor"] == max(positives, 1)


@pytest.mark.parametrize("most", [300, 2])
def test_condinsts_masks_are_summed_and_divided_by_the_masks_kept(
    condinst: Callable[..., EvalResult], most: int
) -> None:
    m = condinst("mask_head.loss_mask", most=most, num_priors=341)
    assert m.family == "CondInstMaskHead" and m.log_name == "loss_mask"
    positives = int(m.sampled.labels.lt(80).sum())  # the box head's positives of the same assignment
    kept = min(positives, most)
    assert kept >= 2 and kept == m.sampled.stats["positives"]
    assert m.args[0].shape == m.args[1].shape == (kept, 32, 32)
    assert set(m.args[1].unique().tolist()) <= {0.0, 1.0}
    assert "avg_factor" not in m.kwargs and m.kwargs["reduction_override"] == "none"
    per_mask = _dice(m.args[0], m.args[1], 5e-6)
    assert float(m.logged) == pytest.approx(2.0 * float(per_mask.sum()) / kept, rel=1e-5)
    assert m.trace.steps[-1].description == (
        f"÷ max(positives, 1.0) = {kept:g} (total_pos), as CondInstMaskHead.loss_by_feat divides"
    )


@needs_real
def test_condinst_agrees_with_the_real_head() -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(
        losstune.load(CONFIGS / "condinst/condinst_r50_fpn_ms-poly-90k_coco_instance.py"), BatchSpec(size=128)
    )
    assert {t.term for t in checked.terms} == {"loss_cls", "loss_bbox", "loss_centerness", "loss_mask"}
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
        assert t.model_width == t.real.width
    mask = next(t for t in checked.terms if t.term == "loss_mask")
    assert mask.real.width == (32, 32) and mask.value_ok, mask.why


DDQ = """
    model = dict(type='DDQDETR', num_queries=900, dense_topk_ratio=1.5, as_two_stage=True,
        decoder=dict(num_layers=6),
        bbox_head=dict(type='DDQDETRHead', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=5.0),
            loss_iou=dict(type='GIoULoss', loss_weight=2.0)),
        dn_cfg=dict(label_noise_scale=0.5, box_noise_scale=1.0,
            group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=100)))
    """


@pytest.fixture
def ddq(write: Callable[..., Path]) -> Callable[..., EvalResult]:
    def _eval(key: str, **options: Any) -> EvalResult:
        return evaluate_config(losstune.load(write("ddq.py", DDQ)), key, **options)

    return _eval


def test_ddqs_distinct_queries_are_logged_as_dinos(ddq: Callable[..., EvalResult]) -> None:
    c = ddq("bbox_head.loss_cls")
    assert c.family == "DETRHead"
    layers = [f"d{i}." for i in range(5)]
    assert c.log_names == [
        "loss_cls",
        *(f"{d}loss_cls" for d in layers),
        "enc_loss_cls",
        "dn_loss_cls",
        *(f"{d}dn_loss_cls" for d in layers),
    ]
    assert c.args[0].shape == (900, 80) and c.kwargs["avg_factor"] == 8.0  # one query a box, bg_cls_weight 0
    assert ddq("d3.loss_iou").log_name == "d3.loss_iou"


def test_ddqs_dense_queries_are_divided_by_their_alignment_metrics(ddq: Callable[..., EvalResult]) -> None:
    c = ddq("bbox_head.aux_loss_cls")
    assert c.log_names == [*(f"{i}_aux_aux_loss_cls" for i in range(6)), "aux_enc_aux_loss_cls"]
    assert c.loss_cfg["type"] == "QualityFocalLoss" and c.loss_cfg["activated"] is True
    labels, scores = c.args[1]
    assert c.args[0].shape == (1350, 80)  # int(900 × 1.5) dense queries
    assert int((labels < 80).sum()) == 32  # min(aux_num_pos = 4, 1350 // 8) a box, 8 boxes
    assert 0.0 <= float(c.args[0].min()) and float(c.args[0].max()) <= 1.0  # probabilities (activated)
    assert c.kwargs["avg_factor"] == 1.0
    metrics = float(scores.sum())
    assert metrics > 1.0
    assert float(c.logged) == pytest.approx(float(c.trace.loss) / metrics, rel=1e-5)
    assert c.trace.steps[-1].description.endswith("as DDQAuxLoss.loss divides the summed term")
    b = ddq("5_aux_aux_loss_bbox")
    assert b.loss_cfg["type"] == "GIoULoss" and b.loss_cfg["loss_weight"] == 2.0
    weight = b.kwargs["weight"]
    assert b.args[0].shape == (32, 4) and weight.shape == (32,) and b.kwargs["avg_factor"] == 1.0
    assert float(b.logged) == pytest.approx(float(b.trace.loss) / max(float(weight.sum()), 1.0), rel=1e-5)


@needs_real
def test_ddq_detr_agrees_with_the_real_head_on_every_term() -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / "ddq/ddq-detr-4scale_r50_8xb2-12e_coco.py"), BatchSpec(size=128))
    names = {t.term for t in checked.terms}
    assert not checked.skipped, checked.skipped
    assert {"loss_cls", "d4.loss_iou", "enc_loss_cls", "d4.dn_loss_bbox", "aux_enc_aux_loss_cls"} <= names
    assert {f"{i}_aux_aux_loss_{n}" for i in range(6) for n in ("cls", "bbox")} <= names
    assert len(names) == 53
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
