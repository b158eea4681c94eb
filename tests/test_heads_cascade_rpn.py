"""The model of Cascade RPN's stages (losstune.engine.heads_cascade_rpn): each stage's log names,
its sampler from ``train_cfg.rpn[i]`` and the avg_factor it gives (every anchor ÷ 200 with a
PseudoSampler), and, with MMDetection 3.3.0 installed, the rules held against its real head."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine import heads_cascade_rpn as hc  # noqa: E402
from losstune.engine.headmodel import Counts, family_of  # noqa: E402
from losstune.engine.session import evaluate_config, logged_terms  # noqa: E402
from tests.test_headmodel_real import CONFIGS, needs_configs, needs_mmdet  # noqa: E402

CONFIG = "cascade_rpn/cascade-rpn_faster-rcnn_r50-caffe_fpn_1x_coco.py"


def test_a_stages_loss_is_found_by_its_path() -> None:
    assert hc.stage_index(("model", "rpn_head", "stages", 1, "loss_cls")) == 1
    assert hc.stage_index(("model", "rpn_head", "loss_cls")) is None
    model = {"train_cfg": {"rpn": [{"assigner": {"type": "RegionAssigner"}}, {"sampler": {"type": "RandomSampler"}}]}}
    assert hc.stage_train_cfg(model, 1) == {"sampler": {"type": "RandomSampler"}}
    assert hc.stage_train_cfg(model, 2) == {} and hc.stage_train_cfg({}, 0) == {}
    assert family_of("CascadeRPNHead") == family_of("StageCascadeRPNHead") == "StageCascadeRPNHead"


@needs_configs
def test_each_stage_is_logged_s_i_with_its_own_sampling() -> None:
    cfg = losstune.load(CONFIGS / CONFIG)
    first = evaluate_config(cfg, "model.rpn_head.stages.0.loss_bbox", num_priors=1364)
    assert first.family == "StageCascadeRPNHead" and first.log_names == ["s0.loss_rpn_reg"]
    assert list(logged_terms(first)) == ["s0.loss_rpn_reg"]
    # no sampler in train_cfg.rpn[0]: a PseudoSampler, whose avg_factor is every anchor / 200
    assert first.args[0].shape == (1364, 4) and first.kwargs["avg_factor"] == pytest.approx(1364 / 200)
    assert "RegionAssigner" in first.trace.steps[0].description
    assert first.rule is not None
    assert first.rule.avg(Counts((3, 0), (1300, 1360), 2728)) == pytest.approx(13.64)  # 2 images' anchors / 200
    cls = evaluate_config(cfg, "s1.loss_rpn_cls", num_priors=1364)
    assert cls.log_name == "s1.loss_rpn_cls" and cls.args[0].shape == (1364, 1)
    positives, negatives = cls.sampled.stats["positives"], cls.sampled.stats["negatives"]
    assert positives + negatives == 256 and cls.kwargs["avg_factor"] == 256.0  # RandomSampler(num=256)
    assert cls.rule is not None and cls.rule.avg(Counts((3, 0), (253, 256), 2728)) == 3 + 1 + 253 + 256
    reg = evaluate_config(cfg, "model.rpn_head.stages.1.loss_bbox", num_priors=1364)
    assert reg.log_names == ["s1.loss_rpn_reg"] and reg.kwargs["avg_factor"] == 256.0


@needs_mmdet
@needs_configs
def test_the_stages_rules_are_the_real_heads() -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.versus import hold

    checked = hold(losstune.load(CONFIGS / CONFIG), BatchSpec(size=128))
    held = {t.term: t for t in checked.terms}
    assert {"s0.loss_rpn_reg", "s1.loss_rpn_cls", "s1.loss_rpn_reg", "loss_cls", "loss_bbox"} <= set(held)
    for t in checked.terms:
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
    s0, s1 = held["s0.loss_rpn_reg"], held["s1.loss_rpn_cls"]
    assert s0.real.avg == pytest.approx(s0.real.counts.rows / 200) == s0.rule_avg  # 2 × 1,364 anchors / 200
    assert s0.real.calls == 5 and s0.real.width == (4,)  # a call per level
    counts = s1.real.counts
    assert s1.real.avg == sum(max(p, 1) + max(n, 1) for p, n in zip(counts.positives, counts.negatives, strict=True))
    assert s0.value_ok and s1.value_ok
