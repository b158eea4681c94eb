"""`losstune eval`: one loss of a config, sampled and evaluated step by step."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine.sampling import sample  # noqa: E402
from losstune.engine.session import evaluate_config  # noqa: E402
from tests.conftest import EXAMPLES, invoke  # noqa: E402


def test_pseudo_sampler_uses_every_prior_and_normalises_by_positives() -> None:
    s = sample(None, num_priors=5000, num_classes=80, roi_head=False, seed=3)
    assert s.stats["avg_factor"] == max(s.stats["positives"], 1)
    assert int((s.label_weights > 0).sum()) == s.stats["positives"] + s.stats["negatives"]
    assert 0 < s.stats["positives"] < 0.05 * 5000  # a dense head's few positives
    assert torch.equal(s.bbox_weights[:, 0] > 0, s.pos_mask)


def test_random_sampler_follows_num_pos_fraction_and_neg_pos_ub() -> None:
    cfg = {"type": "RandomSampler", "num": 256, "pos_fraction": 0.25, "neg_pos_ub": 2, "add_gt_as_proposals": False}
    s = sample(cfg, num_priors=2000, num_classes=80, roi_head=True, seed=0)
    pos, neg = s.stats["positives"], s.stats["negatives"]
    assert pos == 64 and neg == 2 * 64  # int(256 × 0.25), then at most neg_pos_ub × positives
    assert s.avg_factor == pos + neg and s.labels.numel() == pos + neg  # RoI heads see the sampled RoIs only


def test_eval_retinanet_focal_loss_step_by_step() -> None:
    result = evaluate_config(losstune.load(EXAMPLES / "retinanet_r50_fpn_1x_coco.py"), "loss_cls", seed=1)
    names = [s.name for s in result.trace.steps]
    assert names == ["sampling", "kernel", "weight", "reduction", "loss_weight"]
    assert "PseudoSampler" in result.trace.steps[0].description
    assert result.trace.steps[1].description.startswith("FL = -α_t (1 - p_t)^γ log p_t, γ=2, α=0.25")
    avg = result.trace.steps[0].value["avg_factor"]
    weighted = result.trace.steps[2].value
    assert torch.allclose(result.trace.loss, weighted.sum() / (avg + torch.finfo(torch.float32).eps))


@pytest.mark.parametrize(
    ("config", "key", "logged"),
    [
        ("faster_rcnn_r50_fpn_1x_coco.py", "rpn_head.loss_cls", "loss_rpn_cls"),
        ("faster_rcnn_r50_fpn_1x_coco.py", "rpn_head.loss_bbox", "loss_rpn_bbox"),
        ("faster_rcnn_r50_fpn_1x_coco.py", "roi_head.bbox_head.loss_cls", "loss_cls"),
        ("faster_rcnn_r50_fpn_1x_coco.py", "roi_head.bbox_head.loss_bbox", "loss_bbox"),
        ("gfl_r50_fpn_1x_coco.py", "loss_cls", "loss_cls"),
        ("gfl_r50_fpn_1x_coco.py", "loss_bbox", "loss_bbox"),
        ("retinanet_r50_fpn_giou_1x_coco.py", "loss_bbox", "loss_bbox"),
        ("cascade_rcnn_r50_fpn_1x_coco.py", "bbox_head.2.loss_bbox", "s2.loss_bbox"),
    ],
)
def test_eval_cli_text_and_json(config: str, key: str, logged: str) -> None:
    code, out = invoke("eval", config, "--loss", key, cwd=EXAMPLES)
    assert code == 0, out
    assert "1. sampling" in out and "5. loss_weight" in out and f"\n{logged} = " in out
    code, out = invoke("eval", config, "--loss", key, "--format", "json", cwd=EXAMPLES)
    data = json.loads(out)
    assert data["kind"] == "eval" and data["steps"][0]["name"] == "sampling"
    assert isinstance(data["loss"], float) and data["loss"] >= 0
    assert list(data["log"]) == [logged]


def test_inputs_file(tmp_path: Path) -> None:
    pt = tmp_path / "in.pt"
    torch.save({"pred": torch.randn(6, 4), "target": torch.randn(6, 4), "avg_factor": torch.tensor(3.0)}, pt)
    code, out = invoke("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_bbox", "--inputs", str(pt), cwd=EXAMPLES)
    assert code == 0, out
    assert "read from" in out and "sampling" not in out
    npz = tmp_path / "in.npz"
    import numpy as np

    np.savez(npz, pred=np.random.rand(6, 4).astype("float32"), target=np.random.rand(6, 4).astype("float32"))
    assert (
        invoke("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_bbox", "--inputs", str(npz), cwd=EXAMPLES)[0]
        == 0
    )


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"pred": torch.randn(6, 4)}, "has no `target`"),
        ({"pred": torch.randn(6, 4), "target": torch.randn(6, 4), "weight": torch.ones(5, 4)}, "do not fit L1Loss"),
        ({"pred": torch.full((2, 4), float("nan")), "target": torch.randn(2, 4)}, "NaN or inf"),
        ({"pred": torch.randn(2, 4), "target": torch.randn(2, 4), "beta": torch.tensor(1.0)}, "does not take"),
    ],
)
def test_bad_inputs_are_exit_2(tmp_path: Path, tensors: dict[str, object], message: str) -> None:
    pt = tmp_path / "bad.pt"
    torch.save(tensors, pt)
    code, out = invoke("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_bbox", "--inputs", str(pt), cwd=EXAMPLES)
    assert code == 2 and message in out


def test_the_log_name_of_a_term_asks_for_its_loss() -> None:
    args = ("eval", "cascade_rcnn_r50_fpn_1x_coco.py", "--format")
    for fmt in ("text", "json"):
        code, by_name = invoke(*args, fmt, "--loss", "s1.loss_cls", cwd=EXAMPLES)
        assert code == 0, by_name
        assert (code, by_name) == invoke(*args, fmt, "--loss", "roi_head.bbox_head.1.loss_cls", cwd=EXAMPLES)
    assert "s1.loss_cls = " in invoke(*args, "text", "--loss", "s1.loss_cls", cwd=EXAMPLES)[1]


def test_other_errors_are_exit_2(write: Callable[..., Path], tmp_path: Path) -> None:
    code, out = invoke("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "train_cfg", cwd=EXAMPLES)
    assert code == 2 and "does not name one loss" in out
    kd = write(
        "kd.py", "model = dict(bbox_head=dict(type='LDHead', loss_ld=dict(type='KnowledgeDistillationKLDivLoss')))\n"
    )
    code, out = invoke("eval", "kd.py", "--loss", "loss_ld", cwd=kd.parent)
    assert code == 2 and "losstune makes no sample inputs for KnowledgeDistillationKLDivLoss; give --inputs FILE" in out
    if not torch.cuda.is_available():
        code, out = invoke(
            "eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_cls", "--device", "cuda", cwd=EXAMPLES
        )
        assert code == 2 and "no CUDA GPU" in out


def test_explain_shows_the_five_steps_on_sample_tensors() -> None:
    code, out = invoke("explain", "gfl_r50_fpn_1x_coco.py", "--format", "json", cwd=EXAMPLES)
    assert code == 0, out
    losses = {loss["key"]: loss for loss in json.loads(out)["losses"]}
    qfl = losses["model.bbox_head.loss_cls"]
    assert [s["name"] for s in qfl["steps"]] == ["sampling", "kernel", "weight", "reduction", "loss_weight"]
    assert "positives give" in qfl["steps"][2]["plain"]
    assert qfl["steps"][1]["description"].startswith("QFL = -|y - σ|^β")
    dfl = losses["model.bbox_head.loss_dfl"]
    names = ["sampling", "kernel", "weight", "reduction", "loss_weight", "head"]
    assert [s["name"] for s in dfl["steps"]] == names
    assert dfl["steps"][3]["description"].endswith("avg_factor=4")  # GFLHead's call
    assert dfl["steps"][5]["description"].startswith("÷ max(Σ the positives' highest sigmoid class score")
    code, out = invoke("explain", "gfl_r50_fpn_1x_coco.py", "--format", "json", "--no-steps", cwd=EXAMPLES)
    assert all(loss["steps"] is None for loss in json.loads(out)["losses"])
    code, out = invoke("explain", "retinanet_r50_fpn_1x_coco.py", cwd=EXAMPLES)
    assert "on sample tensors:" in out and "5. loss_weight" in out


def test_plot_kernels_are_the_loss_along_the_axis() -> None:
    pytest.importorskip("matplotlib")
    from losstune.engine.plot import _kernel

    p = torch.tensor([0.1, 0.5, 0.9])
    focal = _kernel({"type": "FocalLoss", "gamma": 2.0, "alpha": 1.0}, p)
    assert torch.allclose(focal, -((1 - p) ** 2) * torch.log(p), atol=1e-5)
    ce = _kernel({"type": "CrossEntropyLoss"}, p)
    assert torch.allclose(ce, -torch.log(p), atol=1e-5)
    err = torch.tensor([-2.0, 0.5, 3.0])
    assert torch.allclose(_kernel({"type": "L1Loss"}, err), err.abs())
    smooth = _kernel({"type": "SmoothL1Loss", "beta": 1.0}, err)
    assert torch.allclose(smooth, torch.tensor([1.5, 0.125, 2.5]))


@pytest.mark.parametrize(
    ("config", "key"),
    [("retinanet_r50_fpn_gamma1.5_1x_coco.py", "loss_cls"), ("faster_rcnn_r50_fpn_1x_coco.py", "rpn_head.loss_bbox")],
)
def test_plot_writes_a_png(tmp_path: Path, config: str, key: str) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "k.png"
    code, text = invoke("eval", config, "--loss", key, "--plot", str(out), cwd=EXAMPLES)
    assert code == 0, text
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert [p.name for p in tmp_path.iterdir()] == ["k.png"]  # no temporary file left behind


def test_plot_refuses_a_loss_it_cannot_draw(write: Callable[..., Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "k.png"
    dfl = write(
        "gfl.py",
        "model = dict(bbox_head=dict(type='GFLHead', num_classes=80, "
        "loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25)))\n",
    )
    code, text = invoke("eval", str(dfl), "--loss", "loss_dfl", "--plot", str(out), cwd=EXAMPLES)
    assert code == 2 and "`DistributionFocalLoss` is none of them" in text and not out.exists()


def test_iou_losses_are_plotted_against_the_iou(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from losstune.engine.plot import _kernel, plot_spec

    iou = torch.tensor([0.25, 0.5, 0.9])
    assert torch.allclose(_kernel({"type": "IoULoss", "mode": "linear"}, iou), 1 - iou, atol=1e-5)
    assert torch.allclose(_kernel({"type": "IoULoss"}, iou), -torch.log(iou), atol=1e-5)
    # a box shifted sideways: the box enclosing both is their union, so GIoU is the IoU
    assert torch.allclose(_kernel({"type": "GIoULoss"}, iou), 1 - iou, atol=1e-5)
    assert plot_spec({"type": "GIoULoss", "loss_weight": 2.0}).xlabel.startswith("IoU of the prediction")
    out = tmp_path / "giou.png"
    code, text = invoke(
        "eval", "retinanet_r50_fpn_giou_1x_coco.py", "--loss", "loss_bbox", "--plot", str(out), cwd=EXAMPLES
    )
    assert code == 0, text
    assert out.read_bytes().startswith(b"\x89PNG")


def test_plot_legends_give_the_parameters_of_each_curve() -> None:
    from losstune.engine.plot import plot_spec

    smooth = plot_spec({"type": "SmoothL1Loss", "beta": 1.0 / 9.0, "loss_weight": 1.0})
    assert smooth.configured_label == "configured: beta = 0.111111"
    focal = plot_spec({"type": "FocalLoss", "use_sigmoid": True, "gamma": 2.0, "alpha": 0.25, "loss_weight": 1.0})
    assert [label for _, label in focal.references] == [f"γ = {g}, α = 1" for g in ("0", "0.5", "1", "2", "5")]
    assert focal.configured_label == "configured: γ = 2, α = 0.25"
    assert plot_spec({"type": "L1Loss"}).configured_label == "configured: defaults"


SEESAW = """
_base_ = '{examples}/faster_rcnn_r50_fpn_1x_coco.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(loss_cls=dict(_delete_=True, type='SeesawLoss', p=0.8, q=2.0, num_classes={n}))))
"""


def test_eval_seesaw_shows_both_terms(write: Callable[..., Path]) -> None:
    cfg = write("seesaw.py", SEESAW.format(examples=EXAMPLES, n=80))
    code, out = invoke("eval", "seesaw.py", "--loss", "bbox_head.loss_cls", "--format", "json", cwd=cfg.parent)
    assert code == 0, out
    data = json.loads(out)
    assert set(data["loss"]) == {"loss_cls_classes", "loss_cls_objectness"}
    descriptions = [s["description"] for s in data["steps"]]
    assert descriptions[1].startswith("classes: Seesaw CE") and "p=0.8, q=2" in descriptions[1]
    assert descriptions[5].startswith("objectness: CE")
    # the classes term is over the 128 sampled positives, the objectness term over all 512 RoIs
    assert data["steps"][1]["shape"] == [128] and data["steps"][5]["shape"] == [512]
    assert data["steps"][4]["sum"] == data["loss"]["loss_cls_classes"]
    code, out = invoke("eval", "seesaw.py", "--loss", "bbox_head.loss_cls", cwd=cfg.parent)
    assert "loss_cls_classes = " in out and "loss_cls_objectness = " in out


def test_eval_seesaw_with_the_wrong_num_classes_says_which(write: Callable[..., Path]) -> None:
    cfg = write("seesaw.py", SEESAW.format(examples=EXAMPLES, n=1203))
    code, out = invoke("eval", "seesaw.py", "--loss", "bbox_head.loss_cls", cwd=cfg.parent)
    assert code == 2 and "num_classes + 2 = 1205" in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("config", "key", "tensors", "message"),
    [
        (
            "retinanet_r50_fpn_1x_coco.py",
            "loss_bbox",
            {"pred": torch.randn(6, 4), "target": torch.randn(5, 4)},
            "`target` must have the shape of `pred`, (6, 4); it has (5, 4)",
        ),
        (
            "retinanet_r50_fpn_giou_1x_coco.py",
            "loss_bbox",
            {"pred": torch.randn(6, 5), "target": torch.randn(6, 5)},
            "`pred` must be boxes of shape (N, 4)",
        ),
        (
            "faster_rcnn_r50_fpn_1x_coco.py",
            "roi_head.bbox_head.loss_cls",
            {"cls_score": torch.randn(4, 81), "label": torch.tensor([0, 3, 81, 80])},
            "`label` holds labels from 0 to 81; a softmax over 81 channels takes 0 to 80",
        ),
        (
            "faster_rcnn_r50_fpn_1x_coco.py",
            "roi_head.bbox_head.loss_cls",
            {"cls_score": torch.randn(4, 81), "label": torch.tensor([0.0, 3.0, 1.0, 80.0])},
            "must hold integer class indices (int64), not float32",
        ),
        (
            "faster_rcnn_r50_fpn_1x_coco.py",
            "roi_head.bbox_head.loss_cls",
            {"cls_score": torch.randn(4, 81), "label": torch.tensor([0, 3, 1])},
            "`label` must have shape (4,), one label per row of the scores; it has (3,)",
        ),
        (
            "retinanet_r50_fpn_1x_coco.py",
            "loss_cls",
            {"pred": torch.randn(3, 80), "target": torch.tensor([0, -1, 80])},
            "`target` holds labels from -1 to 80; a score of 80 classes (label 80 is background) takes 0 to 80",
        ),
    ],
)
def test_inputs_that_do_not_fit_say_what_is_expected(
    tmp_path: Path, config: str, key: str, tensors: dict[str, object], message: str
) -> None:
    pt = tmp_path / "bad.pt"
    torch.save(tensors, pt)
    code, out = invoke("eval", config, "--loss", key, "--inputs", str(pt), cwd=EXAMPLES)
    assert code == 2 and message in out, out


def test_inputs_that_fit_pass_the_checks(tmp_path: Path) -> None:
    pt = tmp_path / "ok.pt"
    label = torch.tensor([0, 3, 80, 80])
    torch.save({"cls_score": torch.randn(4, 81), "label": label, "weight": torch.ones(4)}, pt)
    code, out = invoke(
        "eval",
        "faster_rcnn_r50_fpn_1x_coco.py",
        "--loss",
        "roi_head.bbox_head.loss_cls",
        "--inputs",
        str(pt),
        cwd=EXAMPLES,
    )
    assert code == 0, out
    # a sigmoid CE takes any label; those outside the classes give an all-zero target row
    pt_rpn = tmp_path / "rpn.pt"
    torch.save({"cls_score": torch.randn(4, 1), "label": torch.tensor([0, 1, 5, -1])}, pt_rpn)
    code, out = invoke(
        "eval", "faster_rcnn_r50_fpn_1x_coco.py", "--loss", "rpn_head.loss_cls", "--inputs", str(pt_rpn), cwd=EXAMPLES
    )
    assert code == 0, out
    pt2 = tmp_path / "onehot.pt"
    torch.save(
        {"pred": torch.randn(3, 80), "target": torch.nn.functional.one_hot(torch.tensor([1, 2, 3]), 80).float()}, pt2
    )
    code, out = invoke("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_cls", "--inputs", str(pt2), cwd=EXAMPLES)
    assert code == 0, out


def test_eval_as_mmdetection_2() -> None:
    code, out = invoke(
        "eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_cls", "--mmdet-version", "2", cwd=EXAMPLES
    )
    assert code == 0 and "as MMDetection 2.x computes it" in out
    code, out = invoke("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_cls", "--format", "json", cwd=EXAMPLES)
    assert json.loads(out)["mmdet_version"] == 3


def test_avg_factor_counts_positives_and_negatives_as_at_least_one_in_both_versions() -> None:
    # 3.3.0's SamplingResult: num_pos = max(pos_inds.numel(), 1), num_neg likewise; 2.28.2's
    # AnchorHead.get_targets: sum(max(inds.numel(), 1)) over images, for both
    cfg = {"type": "RandomSampler", "num": 256, "pos_fraction": 0.0, "neg_pos_ub": -1, "add_gt_as_proposals": False}
    s = sample(cfg, num_priors=2000, num_classes=80, roi_head=False, seed=0)
    assert s.stats["positives"] == 0 and s.stats["negatives"] == 256
    assert s.avg_factor == 1 + 256
    none = sample(None, num_priors=50, num_classes=80, roi_head=False, seed=3)
    assert none.stats["positives"] == 0 and none.avg_factor == 1


@pytest.mark.parametrize("version", ["2", "3"])
def test_a_dense_head_without_positives_divides_by_one(version: str) -> None:
    # the sum of the focal loss over 50 negatives, divided by 1: at the prior probability 0.01 each
    # of the 50 × 80 scores gives (1 - α) p^γ (-log(1 - p)) ≈ 7.5e-7, 0.003 in all; an untrained
    # head's spread around the prior (±0.3 in the logits) makes it about 0.004
    code, out = invoke(
        "eval",
        "retinanet_r50_fpn_1x_coco.py",
        "--loss",
        "loss_cls",
        "--num-priors",
        "50",
        "--seed",
        "3",
        "--mmdet-version",
        version,
        "--format",
        "json",
        "--no-check",
        cwd=EXAMPLES,
    )
    assert code == 0, out
    data = json.loads(out)
    assert data["steps"][0]["value"]["positives"] == 0
    weighted = data["steps"][2]["sum"]
    assert data["loss"] == pytest.approx(weighted / (1 + torch.finfo(torch.float32).eps), rel=1e-6)
    assert 0.003 < data["loss"] < 0.006


def test_activated_focal_loss_gets_probabilities_and_the_same_loss(write: Callable[..., Path]) -> None:
    write(
        "act.py",
        f"_base_ = '{EXAMPLES}/retinanet_r50_fpn_1x_coco.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(activated=True)))\n",
    )
    cfg = write("plain.py", f"_base_ = '{EXAMPLES}/retinanet_r50_fpn_1x_coco.py'\n")
    code, act = invoke("eval", "act.py", "--loss", "loss_cls", "--format", "json", cwd=cfg.parent)
    assert code == 0, act
    code, plain = invoke("eval", "plain.py", "--loss", "loss_cls", "--format", "json", cwd=cfg.parent)
    assert json.loads(act)["loss"] == pytest.approx(json.loads(plain)["loss"], rel=1e-5)


def test_plot_of_activated_and_class_weighted_losses(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from losstune.engine.plot import _kernel

    p = torch.tensor([0.2, 0.7])
    activated = _kernel({"type": "FocalLoss", "gamma": 2.0, "alpha": 1.0, "activated": True}, p)
    assert torch.allclose(activated, -((1 - p) ** 2) * torch.log(p), atol=1e-5)
    out = tmp_path / "cw.png"
    code, text = invoke(
        "eval",
        "faster_rcnn_r50_fpn_classweight_1x_cityscapes.py",
        "--loss",
        "roi_head.bbox_head.loss_cls",
        "--plot",
        str(out),
        cwd=EXAMPLES,
    )
    assert code == 0, text
    assert out.read_bytes().startswith(b"\x89PNG")


def test_an_unreadable_inputs_file_is_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    code, out = invoke(
        "eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_bbox", "--inputs", str(empty), cwd=EXAMPLES
    )
    assert code == 2 and "cannot be read as inputs" in out and "empty or cut short" in out


@pytest.mark.parametrize("suffix", [".pt", ".npz"])
def test_an_inputs_file_that_is_a_named_pipe_is_exit_2_not_a_wait(tmp_path: Path, suffix: str) -> None:
    pipe = tmp_path / f"pipe{suffix}"
    os.mkfifo(pipe)  # torch.load and numpy.load would wait on it for ever
    code, out = invoke(
        "eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_bbox", "--inputs", str(pipe), cwd=EXAMPLES
    )
    assert code == 2
    assert out == (
        f"losstune: error: retinanet_r50_fpn_1x_coco.py: `{pipe}` is a named pipe (FIFO), not a regular file; "
        "losstune reads only regular files\n"
    )


MASK_RCNN = """
model = dict(
    type='MaskRCNN',
    roi_head=dict(
        type='StandardRoIHead',
        bbox_head=dict(type='Shared2FCBBoxHead', num_classes=3,
                       loss_cls=dict(type='CrossEntropyLoss'), loss_bbox=dict(type='L1Loss')),
        mask_head=dict(type='FCNMaskHead', num_classes=3,
                       loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(rcnn=dict(sampler=dict(
        type='{sampler}', num=512, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True))))
"""


def test_mask_loss_is_evaluated_on_the_positive_rois(write: Callable[..., Path]) -> None:
    cfg = write("mask.py", MASK_RCNN.format(sampler="RandomSampler"))
    code, out = invoke("eval", "mask.py", "--loss", "loss_mask", "--format", "json", cwd=cfg.parent)
    assert code == 0, out
    data = json.loads(out)
    sampling, kernel = data["steps"][0], data["steps"][1]
    positives = sampling["value"]["positives"]
    assert sampling["value"]["mask_rois"] == positives > 0
    assert kernel["shape"] == [positives, 28, 28]
    assert sampling["description"].endswith("; no avg_factor")
    assert data["steps"][3]["description"].startswith("mean over all")


def test_samplers_that_need_predictions_are_refused_plainly(write: Callable[..., Path]) -> None:
    cfg = write("hlr.py", MASK_RCNN.format(sampler="ScoreHLRSampler"))
    code, out = invoke("eval", "hlr.py", "--loss", "bbox_head.loss_cls", cwd=cfg.parent)
    assert code == 2 and "ScoreHLRSampler cannot be simulated" in out and "Traceback" not in out
    code, out = invoke("explain", "hlr.py", "--format", "json", cwd=cfg.parent)
    assert code == 0, out
    notes = [loss["steps_note"] for loss in json.loads(out)["losses"]]
    assert all("ScoreHLRSampler cannot be simulated" in note for note in notes)


def test_the_hint_to_replay_inputs_names_an_option_of_the_command_that_prints_it(
    write: Callable[..., Path],
) -> None:
    cfg = write("hlr.py", MASK_RCNN.format(sampler="ScoreHLRSampler"))
    code, out = invoke("eval", "hlr.py", "--loss", "bbox_head.loss_cls", cwd=cfg.parent)
    assert code == 2 and "give --inputs FILE" in out
    code, out = invoke("explain", "hlr.py", "--format", "json", cwd=cfg.parent)
    notes = [loss["steps_note"] for loss in json.loads(out)["losses"]]
    assert notes and all(
        "--inputs" not in note.replace("`losstune eval --inputs FILE`", "") and "losstune eval --inputs FILE" in note
        for note in notes
    )
    kd = write(
        "kd.py", "model = dict(bbox_head=dict(type='LDHead', loss_ld=dict(type='KnowledgeDistillationKLDivLoss')))\n"
    )
    code, out = invoke("explain", "kd.py", "--format", "json", cwd=kd.parent)
    note = json.loads(out)["losses"][0]["steps_note"]
    assert "give `KnowledgeDistillationKLDivLoss` --inputs" not in note and "losstune eval --inputs FILE" in note


def test_a_sum_reduced_loss_of_a_head_that_normalises_itself_gets_no_avg_factor(write: Callable[..., Path]) -> None:
    cfg = write(
        "yolo.py",
        """
        model = dict(bbox_head=dict(type='mmyolo.YOLOXHead', num_classes=80,
            loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0, reduction='sum')))
        """,
    )
    code, out = invoke("eval", "yolo.py", "--loss", "loss_cls", "--format", "json", cwd=cfg.parent)
    assert code == 0, out
    data = json.loads(out)
    assert data["steps"][0]["description"].endswith("; no avg_factor (reduction='sum')")
    assert data["steps"][3]["description"].startswith("sum over all")
    # a head known to pass avg_factor keeps it, and MMDetection's refusal of 'sum' with it shows
    cfg = write(
        "retina.py",
        """
        model = dict(bbox_head=dict(type='RetinaHead', num_classes=80,
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, reduction='sum')))
        """,
    )
    code, out = invoke("eval", "retina.py", "--loss", "loss_cls", cwd=cfg.parent)
    assert code == 2 and "MMDetection would fail here too" in out and "LT110" in out


def test_detr_loss_cls_as_the_head_builds_it(write: Callable[..., Path]) -> None:
    cfg = write(
        "detr.py",
        """
        model = dict(bbox_head=dict(type='DETRHead', num_classes=80, loss_cls=dict(
            type='CrossEntropyLoss', bg_cls_weight=0.1, use_sigmoid=False, loss_weight=1.0, class_weight=1.0)))
        """,
    )
    code, out = invoke("eval", "detr.py", "--loss", "loss_cls", "--format", "json", cwd=cfg.parent)
    assert code == 0, out
    data = json.loads(out)
    counts = data["steps"][0]["value"]
    assert counts["positives"] == 8 and counts["priors"] == 100  # one query per box, of DETR's 100
    expected = max(counts["positives"] + 0.1 * counts["negatives"], 1)
    assert data["steps"][0]["description"].endswith(
        f"avg_factor = max(positives + bg_cls_weight × negatives, 1), bg_cls_weight=0.1 = {expected:g}"
    )
    assert data["steps"][3]["description"].endswith(f"avg_factor={expected:g}")
    assert data["steps"][1]["description"].startswith("CE = -w_y log softmax(x)_y over 81 classes")


def test_ghm_losses_get_sample_inputs(write: Callable[..., Path]) -> None:
    cfg = write(
        "ghm.py",
        f"""
        _base_ = '{EXAMPLES}/retinanet_r50_fpn_1x_coco.py'
        model = dict(bbox_head=dict(
            loss_cls=dict(_delete_=True, type='GHMC', bins=30, momentum=0.75, use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(_delete_=True, type='GHMR', mu=0.02, bins=10, momentum=0.7, loss_weight=10.0)))
        """,
    )
    for key, kernel in (("loss_cls", "bins of the gradient norm"), ("loss_bbox", "sqrt(d² + μ²) - μ, μ=0.02")):
        code, out = invoke("eval", "ghm.py", "--loss", key, "--format", "json", cwd=cfg.parent)
        assert code == 0, out
        data = json.loads(out)
        assert data["steps"][0]["name"] == "sampling" and kernel in data["steps"][1]["description"]
        assert data["loss"] > 0


def test_heatmap_and_dice_losses_get_sample_inputs(write: Callable[..., Path]) -> None:
    cfg = write(
        "cn.py",
        """
        model = dict(
            bbox_head=dict(type='CenterNetHead', num_classes=4,
                           loss_center_heatmap=dict(type='GaussianFocalLoss', loss_weight=1.0)),
            mask_head=dict(type='RTMDetInsHead', num_classes=4,
                           loss_mask=dict(type='DiceLoss', loss_weight=2.0, eps=5e-6, reduction='mean')))
        """,
    )
    code, out = invoke("eval", "cn.py", "--loss", "loss_center_heatmap", "--format", "json", cwd=cfg.parent)
    assert code == 0, out
    data = json.loads(out)
    assert data["steps"][0]["description"].startswith("no sampler: a 128×128 output map, 8 object centres")
    assert data["steps"][1]["shape"] == [1, 4, 128, 128]
    peaks = data["steps"][0]["value"]["avg_factor"]
    assert 1 <= peaks <= 8 and data["steps"][3]["description"].endswith(f"avg_factor={peaks:g}")
    code, out = invoke("eval", "cn.py", "--loss", "loss_mask", "--format", "json", cwd=cfg.parent)
    assert code == 0, out
    data = json.loads(out)
    n = data["steps"][0]["value"]["masks"]  # RTMDetInsHead's: every positive's
    assert n > 0 and data["steps"][1]["shape"] == [n]  # one Dice loss per mask


def test_a_non_finite_loss_is_still_valid_json(write: Callable[..., Path], tmp_path: Path) -> None:
    cfg = write("mse.py", "model = dict(bbox_head=dict(type='YOLOV3Head', loss_wh=dict(type='MSELoss')))\n")
    pt = tmp_path / "big.pt"
    torch.save({"pred": torch.full((1, 2), 1e38), "target": torch.full((1, 2), -1e38)}, pt)
    code, out = invoke("eval", "mse.py", "--loss", "loss_wh", "--inputs", str(pt), "--format", "json", cwd=cfg.parent)
    assert code == 0, out
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert data["loss"] == {"float": "inf"}
    assert data["steps"][0]["max"] == {"float": "inf"}


def test_num_priors_below_one_is_refused() -> None:
    for n in ("0", "-5"):
        code, out = invoke(
            "eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_cls", "--num-priors", n, cwd=EXAMPLES
        )
        assert code == 2 and out.startswith(f"losstune: error: --num-priors {n}: give at least 1"), out
        assert len(out.strip().splitlines()) == 1
    with pytest.raises(ValueError, match="num_priors"):
        evaluate_config(losstune.load(EXAMPLES / "retinanet_r50_fpn_1x_coco.py"), "loss_cls", num_priors=0)


@pytest.mark.parametrize("dtype", ["int32", "int16", "uint8"])
def test_labels_of_another_integer_type_are_a_checked_error(tmp_path: Path, dtype: str) -> None:
    pt = tmp_path / "labels.pt"
    label = torch.tensor([0, 3, 1, 80]).to(getattr(torch, dtype))
    torch.save({"cls_score": torch.randn(4, 81), "label": label}, pt)
    args = ("faster_rcnn_r50_fpn_1x_coco.py", "--loss", "roi_head.bbox_head.loss_cls", "--inputs", str(pt))
    code, out = invoke("eval", *args, cwd=EXAMPLES)
    assert code == 2
    assert out.strip().endswith(f"`label` must hold integer class indices (int64), not {dtype}"), out
    assert len(out.strip().splitlines()) == 1


def test_an_ambiguous_loss_lists_its_candidates() -> None:
    code, out = invoke("eval", "faster_rcnn_r50_fpn_1x_coco.py", "--loss", "loss_bbox", cwd=EXAMPLES)
    assert code == 2 and "ambiguous" in out
    assert "  candidate: model.rpn_head.loss_bbox\n  candidate: model.roi_head.bbox_head.loss_bbox\n" in out


def test_the_plot_is_created_with_the_umask(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import os
    import stat

    out = tmp_path / "k.png"
    old = os.umask(0o022)
    try:
        code, text = invoke(
            "eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_cls", "--plot", str(out), cwd=EXAMPLES
        )
    finally:
        os.umask(old)
    assert code == 0, text
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


@pytest.mark.parametrize(("reduction", "rule"), [("avg", "LT105"), ("sum", "LT110")])
def test_a_reduction_that_fails_with_avg_factor_cites_the_rule_it_breaks(
    write: Callable[..., Path], reduction: str, rule: str
) -> None:
    cfg = write(
        "r.py",
        f"_base_ = '{EXAMPLES}/retinanet_r50_fpn_1x_coco.py'\n"
        f"model = dict(bbox_head=dict(loss_bbox=dict(reduction='{reduction}')))\n",
    )
    code, out = invoke("eval", "r.py", "--loss", "loss_bbox", "--no-check", cwd=cfg.parent)
    assert code == 2 and f"reduction='{reduction}'" in out and f"`losstune rule {rule}`" in out, out
    other = {"LT105", "LT110"} - {rule}
    assert not any(o in out for o in other), out


def test_the_sampling_step_states_its_counts_once() -> None:
    code, out = invoke("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_cls", "--no-check", cwd=EXAMPLES)
    assert code == 0, out
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  1. sampling"))
    assert lines[first] == (
        "  1. sampling    PseudoSampler: every prior is used (248 positives, 19682 negatives, 70 ignored); "
        "avg_factor = max(positives, 1) = 248"
    )
    assert lines[first + 1].startswith("  2. kernel")
    code, out = invoke("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_cls", "--format", "json", cwd=EXAMPLES)
    assert json.loads(out)["steps"][0]["value"] == {
        "positives": 248,
        "negatives": 19682,
        "priors": 20000,
        "avg_factor": 248.0,
    }


@pytest.mark.parametrize("config", ["retinanet_r50_fpn_1x_coco.py", "faster_rcnn_r50_fpn_1x_coco.py"])
def test_explain_states_each_sampling_count_once(config: str) -> None:
    code, out = invoke("explain", config, "--wide", cwd=EXAMPLES)
    assert code == 0, out
    steps = [line for line in out.splitlines() if "1. sampling" in line]
    assert steps
    for line in steps:
        block = out[out.index(line) :].split("2. kernel")[0]
        assert len(re.findall(r"\d+ positives", block)) == 1 and block.count("avg_factor") == 1, block


def test_counts_agree_with_their_nouns(tmp_path: Path) -> None:
    from losstune.words import count

    assert (count(1, "class", "classes"), count(2, "class", "classes"), count(0, "loss", "losses")) == (
        "1 class",
        "2 classes",
        "0 losses",
    )
    (tmp_path / "cfg.py").write_text(
        "model = dict(bbox_head=dict(type='RetinaHead', num_classes=1,\n"
        "    loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)))\n",
        encoding="utf-8",
    )
    code, out = invoke("eval", "cfg.py", "--loss", "loss_cls", cwd=tmp_path)
    assert code == 0 and "over 1 class" in out and "1 classes" not in out, out


def test_plot_gradient_is_the_derivative_along_the_axis() -> None:
    pytest.importorskip("matplotlib")
    from losstune.engine.plot import _gradient

    p = torch.tensor([0.1, 0.5, 0.9])
    assert torch.allclose(_gradient({"type": "CrossEntropyLoss"}, p), -1 / p, atol=1e-4)
    focal = _gradient({"type": "FocalLoss", "gamma": 2.0, "alpha": 1.0}, p)
    assert torch.allclose(focal, 2 * (1 - p) * torch.log(p) - (1 - p) ** 2 / p, atol=1e-4)
    err = torch.tensor([-2.0, 0.5, 3.0])
    assert torch.allclose(_gradient({"type": "L1Loss"}, err), err.sign())
    assert torch.allclose(_gradient({"type": "SmoothL1Loss", "beta": 1.0}, err), err.clamp(-1, 1))
    iou = torch.tensor([0.2, 0.5, 0.8])
    assert torch.allclose(_gradient({"type": "IoULoss", "linear": True}, iou), -torch.ones(3), atol=1e-4)
    assert not _gradient({"type": "L1Loss"}, err).requires_grad  # drawn, not kept in a graph


def test_the_iou_gradient_drawn_is_a_derivative_at_every_point_of_its_axis() -> None:
    from losstune.engine.plot import _gradient, plot_spec

    spec = plot_spec({"type": "GIoULoss"})
    # coinciding boxes (IoU = 1) are a kink of the IoU in the shift: no point there
    assert float(spec.x.max()) < 1.0
    assert torch.allclose(_gradient(spec.cfg, spec.x), -torch.ones(len(spec.x)), atol=1e-3)


@pytest.mark.parametrize(
    ("loss", "wrt"),
    [
        ({"type": "FocalLoss", "use_sigmoid": True, "gamma": 1.5}, "d loss / d p"),
        ({"type": "SmoothL1Loss", "beta": 0.5}, "d loss / d error"),
        ({"type": "GIoULoss"}, "d loss / d IoU"),
    ],
)
def test_plot_draws_the_gradient_beside_the_loss(loss: dict[str, object], wrt: str) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from losstune.engine.plot import _figure

    fig = _figure(loss, "title")
    try:
        kernel, gradient = fig.axes
        assert kernel.get_ylabel() == "element-wise loss"
        assert gradient.get_ylabel().startswith(wrt), gradient.get_ylabel()
        assert gradient.get_xlabel() == kernel.get_xlabel() != ""
        curves = [[line for line in ax.get_lines() if not line.get_label().startswith("_")] for ax in fig.axes]
        assert len(curves[0]) == len(curves[1]) >= 2  # every curve, on the same points
        for a, b in zip(*curves, strict=True):
            assert a.get_label() == b.get_label()
            assert list(a.get_xdata()) == list(b.get_xdata())
    finally:
        plt.close(fig)


def test_plot_overlays_several_configs_one_curve_each() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from losstune.engine.plot import _figure

    focal = {"type": "FocalLoss", "use_sigmoid": True}
    fig = _figure([("a.py", focal | {"gamma": 1.5, "alpha": 0.5}), ("b.py", focal)], "title")
    try:
        for ax in fig.axes:
            labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
            assert labels == ["a.py: γ = 1.5, α = 0.5", "b.py: γ = 2, α = 0.25"]
    finally:
        plt.close(fig)


def test_eval_several_configs_overlays_their_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "k.png"
    configs = ["retinanet_r50_fpn_1x_coco.py", "retinanet_r50_fpn_gamma1.5_1x_coco.py"]
    code, text = invoke("eval", *configs, "--loss", "loss_cls", "--no-check", "--plot", str(out), cwd=EXAMPLES)
    assert code == 0, text
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert [line for line in text.splitlines() if line.endswith(".py:")] == [f"{c}:" for c in configs]
    assert text.count("1. sampling") == 2
    one, single = invoke("eval", configs[0], "--loss", "loss_cls", "--no-check", cwd=EXAMPLES)
    assert one == 0 and not single.startswith(configs[0])  # one config: as before, no heading


@pytest.mark.parametrize(
    ("configs", "key", "named", "says"),
    [
        (["retinanet_r50_fpn_1x_coco.py", "faster_rcnn_r50_fpn_1x_coco.py"], "loss_cls", 1, "ambiguous"),
        (["retinanet_r50_fpn_1x_coco.py", "faster_rcnn_r50_fpn_1x_coco.py"], "bbox_head.loss_dfl", 0, ""),
        (["retinanet_r50_fpn_1x_coco.py", "retinanet_r50_fpn_giou_1x_coco.py"], "loss_bbox", 1, "IoU"),
    ],
)
def test_eval_several_configs_name_the_one_that_does_not_fit(
    tmp_path: Path, configs: list[str], key: str, named: int, says: str
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "k.png"
    code, text = invoke("eval", *configs, "--loss", key, "--no-check", "--plot", str(out), cwd=EXAMPLES)
    assert code == 2, text
    assert configs[named] in text and says in text, text
    assert not out.exists()


def test_eval_several_configs_as_json_is_refused() -> None:
    configs = ["retinanet_r50_fpn_1x_coco.py", "retinanet_r50_fpn_gamma1.5_1x_coco.py"]
    code, text = invoke("eval", *configs, "--loss", "loss_cls", "--format", "json", cwd=EXAMPLES)
    assert code == 2 and json.loads(text)["kind"] == "error", text
