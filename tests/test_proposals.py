"""Fast R-CNN's precomputed proposals: their number read from the training pipeline, the batch's
seeded proposals, the model's RoI head on that many, and the rules against the real head."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine.proposals import DEFAULT_PROPOSALS, train_proposals  # noqa: E402
from tests.conftest import PROJECTS  # noqa: E402

needs_mmdet = pytest.mark.skipif(importlib.util.find_spec("mmdet") is None, reason="MMDetection 3.3.0 is not installed")
CONFIGS = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
needs_configs = pytest.mark.skipif(not CONFIGS.is_dir(), reason=f"MMDetection 3.3.0's configs are not at {CONFIGS}")
FAST = CONFIGS / "fast_rcnn" / "fast-rcnn_r50_fpn_1x_coco.py"


def _tree(pipeline: list[dict[str, object]]) -> dict[str, object]:
    model = {"type": "FastRCNN", "roi_head": {"type": "StandardRoIHead"}}
    return {"model": model, "train_dataloader": {"dataset": {"pipeline": pipeline}}}


def test_the_count_is_load_proposals_num_max_proposals() -> None:
    found = train_proposals(_tree([{"type": "LoadImageFromFile"}, {"type": "LoadProposals", "num_max_proposals": 300}]))
    assert found is not None and found.count == 300
    every = train_proposals(_tree([{"type": "LoadProposals", "num_max_proposals": None}]))
    assert every is not None and every.count == DEFAULT_PROPOSALS and "keeps every proposal" in every.source
    none = train_proposals(_tree([]))
    assert none is not None and "names no LoadProposals" in none.source
    with_rpn = _tree([{"type": "LoadProposals", "num_max_proposals": 300}])
    with_rpn["model"] = {"type": "FasterRCNN", "rpn_head": {"type": "RPNHead"}, "roi_head": {}}
    assert train_proposals(with_rpn) is None


@needs_mmdet
def test_the_batch_carries_seeded_proposals_as_pack_det_inputs_packs_them() -> None:
    from losstune.engine.realhead.batch import BatchSpec, plain_sample, synthetic

    plain = BatchSpec(size=64)
    images, samples = synthetic(plain, 80)
    spec = BatchSpec(size=64, proposals=50, proposals_by="LoadProposals' num_max_proposals=50")
    with_images, with_samples = synthetic(spec, 80)
    assert torch.equal(images, with_images)
    for s, t in zip(samples, with_samples, strict=True):
        assert torch.equal(s.gt_instances.bboxes, t.gt_instances.bboxes)  # drawn after the boxes
        assert "proposals" not in s
        boxes, scores = t.proposals.bboxes, t.proposals.scores
        assert boxes.shape == (50, 4) and scores.shape == (50,)
        assert bool((boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 64).all() and (boxes[:, 2:] > boxes[:, :2]).all())
        assert torch.equal(scores, scores.sort(descending=True).values)
        assert set(plain_sample(t)["proposals"]) == {"bboxes", "scores"}
    assert "50 seeded proposals each" in spec.describe()


@needs_configs
def test_the_model_samples_the_rois_of_the_loaded_proposals() -> None:
    from losstune.engine.session import evaluate_config

    result = evaluate_config(losstune.load(FAST), "loss_cls", seed=0)
    assert any("2000 proposals of an image are the precomputed ones" in n for n in result.notes)


@needs_mmdet
@needs_configs
def test_fast_rcnn_runs_on_the_seeded_proposals_and_its_rules_agree() -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.run import run_head
    from losstune.engine.realhead.versus import hold

    cfg = losstune.load(FAST)
    run = run_head(cfg, BatchSpec(size=128), pure=True)
    assert run.batch.proposals == 2000 and "num_max_proposals=2000" in run.batch.describe()
    checked = hold(cfg, BatchSpec(size=128))
    held = {t.term: t for t in checked.terms}
    assert set(held) == {"loss_cls", "loss_bbox"}
    for t in held.values():
        assert t.shape_ok and t.avg_ok and t.scale_ok, (t.term, t.why)
    assert held["loss_cls"].real.counts.pos > 0
