"""The model of LAD's student head (losstune.engine.heads_lad): PAAHead's loss code on the
teacher's assignment, ``loss_bbox`` unweighted and divided by ``num_pos``, the assignment PAA's on
the model's image and said to be approximated; and the rules held against the real head."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine.headmodel import family_of, rule_for  # noqa: E402
from losstune.engine.session import evaluate_config  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

LAD = ("lad/lad_r50-paa-r101_fpn_2xb8_coco_1x.py", "lad/lad_r101-paa-r50_fpn_2xb8_coco_1x.py")


def test_lad_is_its_own_family_paas_rules_but_loss_bbox() -> None:
    assert family_of("LADHead") == "LADHead"
    for name in ("loss_cls", "loss_centerness"):
        assert rule_for("LADHead", name) == rule_for("PAAHead", name)
    assert rule_for("LADHead", "loss_centerness").log_name == "loss_iou"
    bbox = rule_for("LADHead", "loss_bbox")
    assert (bbox.rows, bbox.weight, bbox.avg, bbox.after) == ("positives", "none", "positives", "none")
    assert rule_for("PAAHead", "loss_bbox").weight == "quality"


@needs_configs
def test_the_students_terms_are_fed_from_the_teachers_assignment_approximated() -> None:
    cfg = losstune.load(CONFIGS / LAD[0])
    bbox = evaluate_config(cfg, "model.bbox_head.loss_bbox", seed=1, num_priors=4000)
    positives = bbox.trace.steps[0].value["positives"]
    assert bbox.family == "LADHead" and bbox.log_name == "loss_bbox"
    assert bbox.args[0].shape == (positives, 4) and "weight" not in bbox.kwargs
    assert bbox.kwargs["avg_factor"] == float(max(positives, 1))
    assert "teacher_bbox_head.get_label_assignment" in bbox.trace.steps[0].description
    assert "approximated" in bbox.trace.steps[0].description
    assert [s.name for s in bbox.trace.steps][-1] != "head"  # nothing after the module
    iou = evaluate_config(cfg, "model.bbox_head.loss_centerness", seed=1, num_priors=4000)
    assert iou.log_name == "loss_iou" and iou.args[0].shape == (positives, 1)
    cls = evaluate_config(cfg, "model.bbox_head.loss_cls", seed=1, num_priors=4000)
    assert cls.args[0].shape == (4000, 80) and cls.kwargs["avg_factor"] == float(max(positives, 1))


@needs_mmdet
@needs_configs
@pytest.mark.parametrize("config", LAD)
def test_the_models_rules_are_the_real_heads(config: str) -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / config), BatchSpec(size=128))
    assert checked.family == "LADHead" and not checked.skipped
    held = {t.term: t for t in checked.terms}
    assert set(held) == {"loss_cls", "loss_bbox", "loss_iou"}
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
        assert t.approximate  # the teacher's assignment
    bbox = held["loss_bbox"]
    assert bbox.real.avg == bbox.real.counts.pos == bbox.rule_avg and bbox.real.scale is None
    assert held["loss_iou"].real.width == (1,) and held["loss_cls"].real.width == (80,)
