"""The RecordLossInputs hook of `losstune.mmengine` in a real (tiny) mmengine training run, and
`eval CONFIG --inputs RECORDING` replaying what it recorded, term by term: losstune's values equal
the run's, a parameter changed in the config since the run changes them, and a file that is not a
recording is an error naming it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from losstune.engine import recording  # noqa: E402
from losstune.engine.evaluation import evaluate  # noqa: E402
from tests.conftest import REPO, invoke  # noqa: E402
from tests.golden import assert_golden  # noqa: E402

needs_mmdet = pytest.mark.skipif(
    importlib.util.find_spec("mmdet") is None or importlib.util.find_spec("mmengine") is None,
    reason="MMDetection 3.3.0 and mmengine are not installed (pip install -e '.[dev]' installs them)",
)
RTOL = 1e-4

# A RetinaNet small enough to train on the CPU in a second: ResNet-18 with 8 base channels, three
# FPN levels of 16 channels, 64-pixel images of TinyBoxes (tests/tinydet.py), 3 classes.
TINY = """\
default_scope = 'mmdet'
custom_imports = dict(imports=['losstune.mmengine', 'tests.tinydet'], allow_failed_imports=False)
model = dict(
    type='RetinaNet',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0], pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=18, base_channels=8, stem_channels=8, out_indices=(1, 2, 3),
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False),
    neck=dict(type='FPN', in_channels=[16, 32, 64], out_channels=16, num_outs=3),
    bbox_head=dict(
        type='RetinaHead',
        num_classes=3,
        in_channels=16,
        stacked_convs=1,
        feat_channels=16,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=1, ratios=[1.0],
                              strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0], target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0),
    ),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
    ),
    test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10),
)
train_dataloader = dict(batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                        dataset=dict(type='TinyBoxes', images=4, size=64))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=3, val_interval=1000)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1000, by_epoch=False, save_last=False),
)
log_processor = dict(window_size=1, by_epoch=False)  # each iteration's losses as they are, not averaged
custom_hooks = [dict(type='RecordLossInputs', iterations=2, out='records/loss_inputs.pt')]
randomness = dict(seed=0)
log_level = 'WARNING'
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict[str, Any]]]:
    """The tiny config trained for 3 iterations by mmengine's Runner (in a process of its own): the
    config, the recording the hook wrote, and the losses mmengine logged at each iteration."""
    if importlib.util.find_spec("mmdet") is None or importlib.util.find_spec("mmengine") is None:
        pytest.skip("MMDetection 3.3.0 and mmengine are not installed")
    root = tmp_path_factory.mktemp("run")
    config = root / "tiny_retinanet.py"
    config.write_text(TINY, encoding="utf-8")
    work = root / "work"
    done = subprocess.run(
        [sys.executable, "-m", "tests.tinydet", str(config), str(work)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (scalars,) = work.glob("*/vis_data/scalars.json")
    logged = [json.loads(line) for line in scalars.read_text(encoding="utf-8").splitlines()]
    return config, work / "records" / "loss_inputs.pt", logged


@needs_mmdet
def test_the_hook_records_exactly_the_calls_of_the_first_iterations(
    trained: tuple[Path, Path, list[dict[str, Any]]],
) -> None:
    config, path, logged = trained
    data = torch.load(path, weights_only=True)  # plain tensors, lists and dicts
    assert data["layout"] == "losstune-loss-inputs" and data["version"] == 1
    assert data["asked"] == 2 and data["config"] == str(config)
    assert data["versions"]["mmdet"] == "3.3.0" and data["versions"]["mmengine"] == "0.10.7"
    assert data["configs"] == {
        "bbox_head.loss_cls": {
            "type": "FocalLoss",
            "use_sigmoid": True,
            "gamma": 2.0,
            "alpha": 0.25,
            "loss_weight": 1.0,
        },
        "bbox_head.loss_bbox": {"type": "L1Loss", "loss_weight": 1.0},
    }
    assert [it["iteration"] for it in data["iterations"]] == [1, 2]
    assert [line["iter"] for line in logged] == [1, 2, 3]  # the run went on past what was recorded
    for it, line in zip(data["iterations"], logged, strict=False):
        # one call of each loss per FPN level, in the order RetinaHead makes them
        assert [c["module"] for c in it["calls"]] == ["bbox_head.loss_cls", "bbox_head.loss_bbox"] * 3
        assert [c["term"] for c in it["calls"]] == ["loss_cls", "loss_bbox"] * 3
        for name in ("loss", "loss_cls", "loss_bbox"):  # the loss dict mmengine logged at that iteration
            assert it["log"][name] == pytest.approx(line[name], rel=1e-4)
        for name in ("loss_cls", "loss_bbox"):  # RetinaHead's terms are the sums of their calls
            total = sum(float(c["output"]) for c in it["calls"] if c["term"] == name)
            assert total == pytest.approx(it["log"][name], rel=1e-6)
        first = it["calls"][0]
        pred, labels, weight = first["args"]
        assert pred.shape == (2 * 8 * 8, 3) and labels.dtype == torch.int64 and weight.shape == (128,)
        assert not pred.requires_grad and pred.device.type == "cpu"
        assert set(first["kwargs"]) == {"avg_factor"}


def _replay_json(config: Path, path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code, out = invoke("eval", str(config), "--inputs", str(path), "--format", "json", *extra, cwd=config.parent)
    return code, json.loads(out)


@needs_mmdet
def test_eval_inputs_replays_every_call_with_the_runs_values(trained: tuple[Path, Path, list[dict[str, Any]]]) -> None:
    config, path, _ = trained
    code, data = _replay_json(config, path)
    assert code == 0
    assert data["kind"] == "eval" and data["path"] == "recording" and data["changes"] == []
    calls = data["calls"]
    assert len(calls) == 12 and all(c["equal"] is True for c in calls)
    for c in calls:
        assert c["losstune"] == pytest.approx(c["recorded"], rel=RTOL, abs=1e-7)
        names = [s["name"] for s in c["steps"]]
        if c["key"] == "model.bbox_head.loss_cls" or c["recorded"]:
            assert names == ["sampling", "kernel", "weight", "reduction", "loss_weight"]
        else:  # no positive on this level: MMDetection's L1Loss returns (pred × weight).sum() at once
            assert names == ["sampling", "weight"]
        assert c["now"] is None
    assert [(t["iteration"], t["name"]) for t in data["terms"]] == [
        (1, "loss_cls"),
        (1, "loss_bbox"),
        (2, "loss_cls"),
        (2, "loss_bbox"),
    ]
    for t in data["terms"]:
        assert t["losstune"] == pytest.approx(t["logged"], rel=RTOL) and t["scale"] is None
    assert data["equal"] is True


@needs_mmdet
def test_a_parameter_changed_since_the_run_changes_the_replayed_value(
    trained: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    from losstune.engine.realhead.importing import load_mmdet

    config, path, _ = trained
    child = tmp_path / "gamma1.py"
    child.write_text(
        f"_base_ = [{str(config)!r}]\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma=1.0)))\n", encoding="utf-8"
    )
    code, data = _replay_json(child, path)
    assert code == 0
    assert data["changes"] == [{"key": "model.bbox_head.loss_cls", "param": "gamma", "recorded": 2.0, "now": 1.0}]
    load_mmdet()
    from mmdet.models.losses import FocalLoss

    rec = recording.read(str(path))
    mmdet_gamma1 = FocalLoss(use_sigmoid=True, gamma=1.0, alpha=0.25)
    for c, recorded in zip(data["calls"], rec.calls, strict=True):
        assert c["equal"] is True  # the run's config still gives the run's values
        if c["key"] == "model.bbox_head.loss_bbox":
            assert c["now"] is None
            continue
        theirs = float(mmdet_gamma1(*recorded.args, **recorded.kwargs))  # MMDetection's own, with γ = 1
        assert c["now"] == pytest.approx(theirs, rel=RTOL)
        assert c["now"] != pytest.approx(c["recorded"], rel=1e-3)  # γ changes the value
    for t in data["terms"]:
        if t["name"] == "loss_cls":
            assert t["now"] != pytest.approx(t["logged"], rel=1e-3)
        else:
            assert t["now"] == pytest.approx(t["logged"], rel=RTOL)


@needs_mmdet
def test_eval_inputs_loss_shows_one_losss_calls_with_their_steps(
    trained: tuple[Path, Path, list[dict[str, Any]]],
) -> None:
    config, path, _ = trained
    code, out = invoke("eval", str(config), "--inputs", str(path), "--loss", "loss_bbox", cwd=config.parent)
    assert code == 0, out
    lines = out.splitlines()
    assert sum("model.bbox_head.loss_bbox  L1Loss  call" in line for line in lines) == 6
    assert not any("loss_cls  FocalLoss" in line for line in lines)
    assert sum("1. sampling    as the head passed it in iteration" in line for line in lines) == 6
    assert lines[-1] == "losstune's values agree with the recorded ones on all 6 calls (rtol 1e-4)"


@needs_mmdet
def test_the_hook_refuses_bad_parameters() -> None:
    from losstune.mmengine import RecordLossInputs

    for bad, said in (
        (dict(iterations=0), "iterations=0"),
        (dict(iterations=-2), "iterations=-2"),
        (dict(iterations=True), "iterations=True"),
        (dict(iterations=1.5), "iterations=1.5"),
        (dict(out=""), "out=''"),
        (dict(losses=5), "losses=5: give the loss modules to record"),
        (dict(losses=[]), r"losses=\[\]: give the loss modules to record"),
        (dict(losses=["loss_cls", None]), r"losses=\['loss_cls', None\]: give the loss modules to record"),
    ):
        with pytest.raises(ValueError, match=said):
            RecordLossInputs(**bad)


class _Model(torch.nn.Module):
    """Two loss modules and a ``parse_losses`` as mmengine's BaseModel has it (the total, and each term)."""

    def __init__(self) -> None:
        super().__init__()
        self.loss_a = torch.nn.L1Loss()
        self.loss_b = torch.nn.MSELoss()

    def parse_losses(self, losses: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        log = {k: v.detach() for k, v in losses.items()}
        total = sum(losses.values())
        return total, {"loss": total.detach(), **log}


def test_capture_copies_each_calls_inputs_and_finds_the_term_it_feeds() -> None:
    from losstune.engine.capture import Capture

    model = _Model()
    pred = torch.ones(3, requires_grad=True)
    target = torch.zeros(3)
    model.loss_a(pred, target)  # before any iteration: not recorded
    capture = Capture(model)
    assert capture.modules() == ["loss_a", "loss_b"]
    capture.begin()
    a = model.loss_a(pred * 2, target)
    b = model.loss_b(pred, target)
    model.parse_losses({"loss_a": a, "loss_b": b * 0.5})
    target += 1  # the recorded copy keeps what the call was given
    capture.end(7)
    model.loss_b(pred, target)  # after the iteration: not recorded
    assert "parse_losses" not in vars(model)  # the wrapper is gone
    (it,) = capture.iterations
    assert it["iteration"] == 7 and it["log"] == {"loss": 2.5, "loss_a": 2.0, "loss_b": 0.5}
    assert [(c["module"], c["term"]) for c in it["calls"]] == [("loss_a", "loss_a"), ("loss_b", "loss_b")]
    assert torch.equal(it["calls"][0]["args"][1], torch.zeros(3))
    assert not it["calls"][0]["args"][0].requires_grad and float(it["calls"][1]["output"]) == 1.0

    only = Capture(model, select=lambda name: name.endswith("loss_b"))
    only.begin()
    model.loss_a(pred, target)
    model.loss_b(pred, target)
    only.end(1)
    assert [c["module"] for c in only.iterations[0]["calls"]] == ["loss_b"]


# A recording made by hand (the layout the hook writes), for whole-output tests: fixed tensors, and
# outputs that losstune's engine gives on them, except where a test wants a difference.
HAND = """\
model = dict(
    type='RetinaNet',
    bbox_head=dict(
        type='RetinaHead',
        num_classes=3,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma={gamma}, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=2.0),
    ),
)
"""
CONFIGS = {
    "bbox_head.loss_cls": {"type": "FocalLoss", "use_sigmoid": True, "gamma": 2.0, "alpha": 0.25, "loss_weight": 1.0},
    "bbox_head.loss_bbox": {"type": "L1Loss", "loss_weight": 2.0},
}


def _hand_recording(path: Path, *, off: float = 1.0) -> None:
    g = torch.Generator().manual_seed(0)
    iterations = []
    for n in (1, 2):
        calls: list[dict[str, Any]] = []
        log: dict[str, float] = {}
        for rows in (8, 4):
            score = torch.randn(rows, 3, generator=g)
            labels = torch.tensor([0, 3, 1, 3, 2, 3, 3, 3][:rows])
            weight = torch.ones(rows)
            pred, target = torch.randn(rows, 4, generator=g), torch.randn(rows, 4, generator=g)
            box_weight = (labels < 3).float()[:, None].expand(rows, 4).contiguous()
            for module, args in (
                ("bbox_head.loss_cls", [score, labels, weight]),
                ("bbox_head.loss_bbox", [pred, target, box_weight]),
            ):
                output = evaluate(CONFIGS[module], *args, avg_factor=3).loss
                if n == 2 and module == "bbox_head.loss_bbox" and rows == 4:
                    output = output * off
                term = module.split(".")[-1]
                log[term] = log.get(term, 0.0) + float(output)
                calls.append(
                    {
                        "module": module,
                        "args": args,
                        "kwargs": {"avg_factor": 3},
                        "output": output,
                        "term": term,
                        "note": "",
                    }
                )
        log["loss"] = sum(log.values())
        iterations.append({"iteration": n, "log": log, "calls": calls})
    recording.write(
        str(path),
        {
            "versions": {"torch": "2.13.0", "mmengine": "0.10.7", "mmdet": "3.3.0", "mmcv": "2.1.0"},
            "config": "tiny.py",
            "asked": 2,
            "configs": CONFIGS,
            "iterations": iterations,
            "seconds": 0.01,
        },
    )


@pytest.mark.parametrize(
    ("name", "gamma", "extra"), [("same", 2.0, []), ("changed", 1.5, []), ("gamma1.5", 1.5, ["--loss", "loss_cls"])]
)
def test_replay_text_is_the_golden_file(tmp_path: Path, name: str, gamma: float, extra: list[str]) -> None:
    (tmp_path / "tiny.py").write_text(HAND.format(gamma=gamma), encoding="utf-8")
    _hand_recording(tmp_path / "rec.pt")
    code, out = invoke("eval", "tiny.py", "--inputs", "rec.pt", *extra, cwd=tmp_path)
    assert code == 0, out
    assert_golden(f"eval/replay.{name}.txt", out)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_a_replay_on_cuda_without_a_gpu_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    _hand_recording(tmp_path / "rec.pt")
    code, out = invoke("eval", "tiny.py", "--inputs", "rec.pt", "--device", "cuda", cwd=tmp_path)
    assert code == 2 and "--device cuda was asked for, but this machine has no CUDA GPU" in out
    assert len(out.strip().splitlines()) == 1


def test_a_replay_on_another_config_than_the_runs_names_the_runs(tmp_path: Path) -> None:
    (tmp_path / "other.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    _hand_recording(tmp_path / "rec.pt")
    code, out = invoke("eval", "other.py", "--inputs", "rec.pt", cwd=tmp_path)
    assert code == 0, out
    assert out.startswith("8 loss module calls of iterations 1-2 recorded in a training run of tiny.py (MMDetection")
    code, same = invoke("eval", "other.py", "--inputs", "rec.pt", "--format", "json", cwd=tmp_path)
    assert json.loads(same)["recording"]["config"] == "tiny.py"


def test_a_call_that_differs_from_the_recorded_value_is_said_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    _hand_recording(tmp_path / "rec.pt", off=1.01)
    code, out = invoke("eval", "tiny.py", "--inputs", "rec.pt", cwd=tmp_path)
    assert code == 1
    assert "model.bbox_head.loss_bbox  L1Loss  call 2 of 2 → loss_bbox: recorded " in out
    assert out.count("(DIFFERS)") == 1
    assert out.splitlines()[-1] == "1 call of 8 DIFFER from the recorded values (rtol 1e-4); please report this"


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    whole = tmp_path / "whole.pt"
    _hand_recording(whole)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    plain = tmp_path / "plain.pt"
    torch.save({"pred": torch.zeros(2, 3)}, plain)
    later = tmp_path / "later.pt"
    torch.save({"layout": "losstune-loss-inputs", "version": 2, "iterations": []}, later)
    true = tmp_path / "true.pt"  # True == 1, and is not the version written
    torch.save({"layout": "losstune-loss-inputs", "version": True, "iterations": [], "configs": {}}, true)
    damaged = tmp_path / "damaged.pt"
    torch.save({"layout": "losstune-loss-inputs", "version": 1, "iterations": [{"calls": 3}], "configs": {}}, damaged)
    no_output = tmp_path / "no_output.pt"
    data = torch.load(whole, weights_only=True)
    data["iterations"][0]["calls"][1]["output"] = "0.5"  # read as no tensor, it was shown as recorded 0
    torch.save(data, no_output)
    text = tmp_path / "text.pt"
    text.write_text("model = dict()\n", encoding="utf-8")
    pipe = tmp_path / "pipe.pt"
    os.mkfifo(pipe)  # torch.load would wait on it for ever
    unread = "is not a recording of loss inputs: it cannot be read by torch.load(..., weights_only=True)"
    return {
        "missing": (tmp_path / "missing.pt", "does not exist"),
        "a named pipe": (pipe, "is a named pipe (FIFO), not a regular file; losstune reads only regular files"),
        "cut short": (cut, unread),
        "text": (text, unread),
        "not a recording": (plain, "is not a recording of loss inputs (its `layout` is not 'losstune-loss-inputs')"),
        "later version": (later, "is a recording of loss inputs of version 2, and this losstune reads version 1"),
        "version true": (true, "is a recording of loss inputs of version True, and this losstune reads version 1"),
        "damaged": (damaged, "is a damaged recording of loss inputs: an iteration has no number or no calls"),
        "no output": (no_output, "is a damaged recording of loss inputs: call 2 of iteration 1 has no output tensor"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "a named pipe",
        "cut short",
        "text",
        "not a recording",
        "later version",
        "version true",
        "damaged",
        "no output",
    ],
)
def test_a_file_that_is_not_a_recording_is_an_error_naming_it(tmp_path: Path, case: str) -> None:
    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    path, said = _bad_files(tmp_path)[case]
    code, out = invoke("eval", "tiny.py", "--inputs", path.name, cwd=tmp_path)
    assert code == 2
    assert out.startswith(f"losstune: error: `{path.name}` {said}"), out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1


def test_a_file_of_one_losss_arguments_still_goes_with_loss(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    g = torch.Generator().manual_seed(0)
    torch.save({"pred": torch.randn(4, 4, generator=g), "target": torch.randn(4, 4, generator=g)}, tmp_path / "args.pt")
    code, out = invoke("eval", "tiny.py", "--inputs", "args.pt", "--loss", "loss_bbox", "--no-check", cwd=tmp_path)
    assert code == 0, out
    assert out.startswith(
        "model.bbox_head.loss_bbox  L1Loss  (as MMDetection 3.x computes it; inputs: read from args.pt)"
    )


@pytest.mark.parametrize("extra", [["--plot", "out.png"], ["--num-priors", "10"]])
def test_options_for_sample_inputs_are_refused_with_a_recording(tmp_path: Path, extra: list[str]) -> None:
    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    _hand_recording(tmp_path / "rec.pt")
    code, out = invoke("eval", "tiny.py", "--inputs", "rec.pt", *extra, cwd=tmp_path)
    assert code == 2
    assert f"losstune: error: {extra[0]} does not go with --inputs RECORDING" in out


def test_without_loss_or_inputs_eval_says_what_to_give(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    code, out = invoke("eval", "tiny.py", cwd=tmp_path)
    assert code == 2
    assert out.startswith("losstune: error: give --loss KEY, the loss to evaluate")


def test_a_tuple_and_a_list_of_the_same_numbers_are_no_change() -> None:
    from losstune.engine.replaycalls import changes

    run = {"type": "CrossEntropyLoss", "class_weight": (1.0, 2.0), "loss_weight": 1.0}
    assert changes("k", run, {"type": "CrossEntropyLoss", "class_weight": [1.0, 2.0], "loss_weight": 1.0}) == []
    (changed,) = changes("k", run, {"type": "CrossEntropyLoss", "class_weight": [1.0, 2.0]})
    assert (changed.param, changed.recorded, changed.now_set) == ("loss_weight", 1.0, False)


def test_a_loss_whose_type_changed_or_that_is_gone_still_replays_with_the_runs_config(tmp_path: Path) -> None:
    changed = (
        HAND.format(gamma=2.0)
        .replace("loss_bbox=dict(type='L1Loss', loss_weight=2.0),\n", "")
        .replace("type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0", "type='L1Loss'")
    )
    (tmp_path / "tiny.py").write_text(changed, encoding="utf-8")
    _hand_recording(tmp_path / "rec.pt")
    code, out = invoke("eval", "tiny.py", "--inputs", "rec.pt", "--format", "json", cwd=tmp_path)
    assert code == 0, out
    data = json.loads(out)
    assert {(c["param"], c["recorded"], c["now"]) for c in data["changes"]} >= {("type", "FocalLoss", "L1Loss")}
    for c in data["calls"]:
        assert c["equal"] is True  # the run's config, on the run's inputs, gives the run's values
        if c["key"] == "model.bbox_head.loss_cls":  # L1Loss on scores against labels: the inputs do not fit
            assert c["now"] is None and "with the config now, losstune's engine cannot evaluate it" in c["note"]
        else:
            assert c["note"] == "the config has no loss at model.bbox_head.loss_bbox now"


def test_a_recording_replays_on_one_config(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    _hand_recording(tmp_path / "rec.pt")
    code, out = invoke("eval", "tiny.py", "tiny.py", "--inputs", "rec.pt", cwd=tmp_path)
    assert (code, out) == (2, "losstune: error: --inputs replays a recording on one config: give one config\n")


class _Logger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, text: str) -> None:
        self.lines.append(("info", text))

    def warning(self, text: str) -> None:
        self.lines.append(("warning", text))

    def error(self, text: str) -> None:
        self.lines.append(("error", text))


class _Runner:
    """What the hook reads of mmengine's Runner."""

    def __init__(self, work_dir: Path) -> None:
        self.model = _Model()
        self.work_dir = str(work_dir)
        self.cfg = None
        self.logger = _Logger()
        self.iter = 0
        self.size = 2  # of the predictions

    def step(self, hook: Any) -> None:
        hook.before_train_iter(self, self.iter)
        pred = torch.full((self.size,), float(self.iter + 1), requires_grad=True)
        target = torch.zeros(self.size)
        losses = {"loss_a": self.model.loss_a(pred, target), "loss_b": self.model.loss_b(pred, target)}
        self.model.parse_losses(losses)
        hook.after_train_iter(self, self.iter)
        self.iter += 1


def _hook(**kwargs: Any) -> Any:
    pytest.importorskip("mmengine")
    from losstune.mmengine import RecordLossInputs

    return RecordLossInputs(**kwargs)


def test_the_hook_writes_after_its_iterations_and_records_no_more(tmp_path: Path) -> None:
    hook, runner = _hook(iterations=2, out="rec/inputs.pt"), _Runner(tmp_path)
    hook.before_run(runner)
    for _ in range(3):
        runner.step(hook)
    hook.after_train(runner)
    rec = recording.read(str(tmp_path / "rec" / "inputs.pt"))
    assert [it.iteration for it in rec.iterations] == [1, 2] and rec.asked == 2
    assert [float(c.output) for c in rec.calls] == [1.0, 1.0, 2.0, 4.0]
    assert [level for level, _ in runner.logger.lines] == ["info"]


def test_a_run_shorter_than_asked_writes_what_it_recorded(tmp_path: Path) -> None:
    hook, runner = _hook(iterations=5, out=str(tmp_path / "inputs.pt")), _Runner(tmp_path / "elsewhere")
    hook.before_run(runner)
    runner.step(hook)
    hook.after_train(runner)
    rec = recording.read(str(tmp_path / "inputs.pt"))
    assert [it.iteration for it in rec.iterations] == [1] and rec.asked == 5


def test_a_recording_that_cannot_be_written_is_logged_and_the_training_goes_on(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    hook, runner = _hook(iterations=1, out="file/inputs.pt"), _Runner(tmp_path)
    hook.before_run(runner)
    runner.step(hook)
    runner.step(hook)
    assert runner.logger.lines[0][0] == "error" and "cannot write" in runner.logger.lines[0][1]
    assert not (tmp_path / "file" / "inputs.pt").exists() and list(tmp_path.iterdir()) == [tmp_path / "file"]


def _edited_recording(path: Path, edit: Any) -> None:
    """A hand-made recording, changed by ``edit`` (given the loaded data) before it is saved again."""
    _hand_recording(path)
    data = torch.load(path, weights_only=True)
    edit(data)
    torch.save(data, path)


def test_a_call_that_went_nan_in_the_run_agrees_where_losstune_gives_nan_on_its_inputs(tmp_path: Path) -> None:
    def nan_score(data: dict[str, Any]) -> None:
        first = data["iterations"][0]["calls"][0]  # FocalLoss: one NaN score makes the loss NaN
        first["args"][0][0, 0] = float("nan")
        first["output"] = torch.tensor(float("nan"))
        data["iterations"][0]["log"]["loss_cls"] = data["iterations"][0]["log"]["loss"] = float("nan")
        second = data["iterations"][1]["calls"][0]  # a NaN score, but a finite value recorded: a difference
        second["args"][0][0, 0] = float("nan")

    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    _edited_recording(tmp_path / "rec.pt", nan_score)
    code, data = _replay_json(tmp_path / "tiny.py", tmp_path / "rec.pt")
    assert code == 1
    first, second = (c for c in data["calls"] if c["key"] == "model.bbox_head.loss_cls" and c["call"] == 1)
    assert (first["recorded"], first["losstune"], first["equal"]) == ({"float": "nan"}, {"float": "nan"}, True)
    assert second["losstune"] == {"float": "nan"} and second["equal"] is False
    assert sum(c["equal"] is False for c in data["calls"]) == 1


@pytest.mark.parametrize("log", [{"loss_cls": "x"}, {"loss_cls": True}, ["loss_cls"]])
def test_a_recording_whose_loss_dict_is_not_numbers_is_damaged(tmp_path: Path, log: Any) -> None:
    def bad_log(data: dict[str, Any]) -> None:
        data["iterations"][0]["log"] = log

    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    _edited_recording(tmp_path / "rec.pt", bad_log)
    code, out = invoke("eval", "tiny.py", "--inputs", "rec.pt", cwd=tmp_path)
    assert (code, out) == (
        2,
        "losstune: error: `rec.pt` is a damaged recording of loss inputs: the loss dict of iteration 1 is not "
        "a dict of numbers; record it again\n",
    )


def test_a_term_that_went_infinite_in_the_run_is_infinite_again_with_no_factor(tmp_path: Path) -> None:
    def inf_box(data: dict[str, Any]) -> None:
        it = data["iterations"][0]
        box = it["calls"][1]  # L1Loss: an infinite prediction makes the loss infinite
        box["args"][0][0, 0] = float("inf")
        box["output"] = torch.tensor(float("inf"))
        it["log"]["loss_bbox"] = it["log"]["loss"] = float("inf")
        it["iteration"] = True  # not an iteration number

    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    _edited_recording(tmp_path / "rec.pt", inf_box)
    code, out = invoke("eval", "tiny.py", "--inputs", "rec.pt", cwd=tmp_path)
    assert (code, out.splitlines()[0]) == (
        2,
        "losstune: error: `rec.pt` is a damaged recording of loss inputs: an iteration has no number or no calls; "
        "record it again",
    )
    _edited_recording(tmp_path / "rec.pt", lambda data: inf_box(data) or data["iterations"][0].update(iteration=1))
    code, data = _replay_json(tmp_path / "tiny.py", tmp_path / "rec.pt")
    assert code == 0
    (term,) = (t for t in data["terms"] if (t["iteration"], t["name"]) == (1, "loss_bbox"))
    assert (term["logged"], term["losstune"], term["scale"]) == ({"float": "inf"}, {"float": "inf"}, None)


def test_a_replay_keeps_each_calls_step_summaries_not_its_element_wise_tensors(tmp_path: Path) -> None:
    # A recording of hundreds of MB replayed call by call: what stays after a call is its summary, so
    # the memory is the recording's and one call's, not every call's steps at the size of its inputs.
    from losstune.config import load
    from losstune.engine.replaycalls import replay
    from losstune.render.eval import step_data

    (tmp_path / "tiny.py").write_text(HAND.format(gamma=1.5), encoding="utf-8")
    _hand_recording(tmp_path / "rec.pt")
    rec = recording.read(str(tmp_path / "rec.pt"))
    done = replay(load(str(tmp_path / "tiny.py")), rec)
    fresh = evaluate(CONFIGS["bbox_head.loss_cls"], *rec.calls[0].args, **rec.calls[0].kwargs)
    assert step_data(done.calls[0].trace.steps[1:]) == step_data(fresh.steps)  # the same summaries
    for call in done.calls:
        for trace in (call.trace, call.now):
            for step in trace.steps if trace is not None else []:
                assert not isinstance(step.value, torch.Tensor) or step.value.numel() <= 1, (call.key, step.name)


def test_a_recording_that_fills_the_disk_is_logged_and_the_training_goes_on(tmp_path: Path) -> None:
    # torch.save says a failed write (a full disk, a file size limit) as a RuntimeError: the hook
    # must still see the OSError behind it, log it and leave the training running.
    resource = pytest.importorskip("resource")
    import signal

    hook, runner = _hook(iterations=1, out="inputs.pt"), _Runner(tmp_path)
    runner.size = 100_000  # the limit is met in the middle of the tensors' data
    hook.before_run(runner)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (500_000, limit[1]))
    try:
        runner.step(hook)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)
    runner.step(hook)
    ((level, text),) = runner.logger.lines
    assert level == "error" and text.startswith(
        f"RecordLossInputs: cannot write {tmp_path / 'inputs.pt'}: File too large"
    )
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temporary file left


def test_a_call_made_under_mixed_precision_records_it_and_replays_under_it(tmp_path: Path) -> None:
    # A run with AMP gives the loss low-precision scores and computes it under autocast, which runs
    # some of its operations in float32: replayed without autocast, bfloat16 arithmetic gives 0 on
    # the easy negatives where the run gave 2e-5.
    from losstune.engine.capture import Capture
    from losstune.engine.trace import agrees

    model = _Model()
    capture = Capture(model)
    capture.begin()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model.loss_a(torch.ones(2), torch.zeros(2))
    model.loss_b(torch.ones(2), torch.zeros(2))
    capture.end(1)
    assert [c["autocast"] for c in capture.iterations[0]["calls"]] == [{"device": "cpu", "dtype": "bfloat16"}, None]

    def amp(data: dict[str, Any]) -> None:
        call = data["iterations"][0]["calls"][0]  # FocalLoss on easy negatives, scores in bfloat16
        call["args"][0] = torch.full((8, 3), -2.3, dtype=torch.bfloat16)
        call["args"][1] = torch.full((8,), 3)  # all background
        with torch.autocast("cpu", dtype=torch.bfloat16):
            call["output"] = evaluate(CONFIGS["bbox_head.loss_cls"], *call["args"], **call["kwargs"]).loss
        plain = evaluate(CONFIGS["bbox_head.loss_cls"], *call["args"], **call["kwargs"]).loss
        assert not agrees(plain, call["output"], RTOL)  # autocast is what makes the run's value
        call["autocast"] = {"device": "cpu", "dtype": "bfloat16"}

    (tmp_path / "tiny.py").write_text(HAND.format(gamma=2.0), encoding="utf-8")
    _edited_recording(tmp_path / "rec.pt", amp)
    code, data = _replay_json(tmp_path / "tiny.py", tmp_path / "rec.pt")
    assert code == 0 and data["calls"][0]["equal"] is True, data["calls"][0]


def test_a_file_torch_warns_about_is_refused_without_its_warning(tmp_path: Path) -> None:
    import pickle
    import warnings

    from losstune.engine import tensorfile

    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"pred": [1.0]}, protocol=4))  # a plain pickle, not torch's zip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(tensorfile.TensorFileError, match=r"cannot be read by torch\.load"):
            tensorfile.load(str(raw))
    assert [str(w.message) for w in caught] == []


def test_a_term_whose_call_cannot_be_evaluated_with_the_config_now_has_no_value_now(tmp_path: Path) -> None:
    # QualityFocalLoss now, on FocalLoss's recorded inputs (labels, not labels and scores): the calls
    # cannot be evaluated with the config now, so neither can their term nor the total; they were
    # given the run's values as the config's now.
    now = HAND.format(gamma=2.0).replace(
        "type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25", "type='QualityFocalLoss', use_sigmoid=True"
    )
    (tmp_path / "tiny.py").write_text(now, encoding="utf-8")
    _hand_recording(tmp_path / "rec.pt")
    code, out = invoke("eval", "tiny.py", "--inputs", "rec.pt", "--format", "json", cwd=tmp_path)
    assert code == 0, out
    data = json.loads(out)
    calls = [c for c in data["calls"] if c["key"] == "model.bbox_head.loss_cls"]
    assert calls and all(c["now"] is None and "with the config now" in c["note"] for c in calls)
    terms = {(t["iteration"], t["name"]): t for t in data["terms"]}
    assert terms[(1, "loss_cls")]["now"] is None and terms[(1, "loss_bbox")]["now"] is not None
    assert all(total["now"] is None for total in data["totals"])
