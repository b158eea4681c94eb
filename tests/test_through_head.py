"""`eval --through-head`: the configured detector built with MMDetection's registry, its own head run
on a seeded synthetic batch, each loss module call evaluated step by step, and the loss dict as the
training log shows it; `--save-batch` replayed through MMDetection's head gives the same terms."""

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

import losstune  # noqa: E402
from tests.conftest import EXAMPLES, PROJECTS, REPO, invoke  # noqa: E402

HAS_MMDET = importlib.util.find_spec("mmdet") is not None
needs_mmdet = pytest.mark.skipif(
    not HAS_MMDET, reason="MMDetection 3.3.0 is not installed (pip install -e '.[dev]' installs it with mmcv-lite)"
)
CONFIGS = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
RTOL = 1e-4


def _same(ours: dict[str, float], theirs: dict[str, float]) -> None:
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, rel=RTOL, abs=1e-7), name


@needs_mmdet
def test_json_is_pure_and_the_saved_batch_replays_through_mmdetection(tmp_path: Path) -> None:
    from losstune.engine.realhead.replay import replay

    saved = tmp_path / "batch.pt"
    config = EXAMPLES / "retinanet_r50_fpn_1x_coco.py"
    args = ["eval", str(config), "--loss", "loss_cls", "--through-head", "--image-size", "128"]
    out = subprocess.run(
        [sys.executable, "-m", "losstune", *args, "--format", "json", "--save-batch", str(saved)],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # stdout holds the report and nothing else
    assert data["kind"] == "eval" and data["path"] == "head"
    assert data["head"] == {"key": "model.bbox_head", "type": "RetinaHead"}
    assert [t["name"] for t in data["losses"]] == ["loss_cls", "loss_bbox"]
    calls = data["calls"]
    assert len(calls) == 5  # one FocalLoss call per FPN level
    assert {c["term"] for c in calls} == {"loss_cls"} and all(c["equal"] is True for c in calls)
    assert [s["name"] for s in calls[0]["steps"]] == ["sampling", "kernel", "weight", "reduction", "loss_weight"]
    logged = next(t for t in data["losses"] if t["name"] == "loss_cls")
    assert logged["value"] == pytest.approx(sum(c["output"] for c in calls), rel=1e-6)  # the log sums the levels

    batch = torch.load(saved, weights_only=True)
    assert batch["layout"] == "losstune-head-batch/1" and batch["head"]["type"] == "RetinaHead"
    assert set(batch["inputs"]) == {"x", "batch_data_samples"}
    assert len(batch["inputs"]["x"]) == 5 and batch["inputs"]["x"][0].shape[-1] == 16  # stride 8 on 128 pixels
    ours = {t["name"]: t["value"] for t in data["losses"]} | {"loss": data["loss"]}
    _same(ours, replay(str(saved)))


REAL = [
    ("retinanet/retinanet_r50_fpn_1x_coco.py", 128, {"loss_cls", "loss_bbox"}),
    ("gfl/gfl_r50_fpn_1x_coco.py", 128, {"loss_cls", "loss_bbox", "loss_dfl"}),
    ("yolox/yolox_s_8xb8-300e_coco.py", 128, {"loss_cls", "loss_bbox", "loss_obj"}),
    ("detr/detr_r50_8xb2-150e_coco.py", 128, {"loss_cls", "d4.loss_iou"}),
    # 900 queries are picked from the encoder's proposals: the image must give at least 900
    ("dino/dino-4scale_r50_8xb2-12e_coco.py", 256, {"enc_loss_cls", "dn_loss_bbox", "d4.dn_loss_iou"}),
]


@needs_mmdet
@pytest.mark.skipif(not CONFIGS.is_dir(), reason=f"MMDetection 3.3.0's configs are not at {CONFIGS}")
@pytest.mark.parametrize(("config", "size", "names"), REAL, ids=[c for c, _, _ in REAL])
def test_real_configs_through_the_head_equal_mmdetection_on_the_saved_batch(
    tmp_path: Path, config: str, size: int, names: set[str]
) -> None:
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.replay import replay
    from losstune.engine.realhead.run import run_head

    saved = tmp_path / "batch.pt"
    run = run_head(losstune.load(CONFIGS / config), BatchSpec(size=size), save=str(saved))
    assert names <= {t.name for t in run.terms}
    assert run.calls and all(c.equal is True for c in run.calls), [(c.key, c.note) for c in run.calls if not c.equal]
    for term in run.terms:
        assert all(run.calls[i].term == term.name for i in term.calls)
    ours = {t.name: t.value for t in run.terms} | {"loss": run.total}
    _same(ours, replay(str(saved)))
    if config.startswith("gfl/"):  # GFLHead divides the box terms by its own normaliser after the modules
        scales = {t.name: t.scale for t in run.terms}
        assert scales["loss_bbox"] is not None and scales["loss_dfl"] is not None and scales["loss_cls"] is None


@needs_mmdet
def test_a_head_that_needs_a_compiled_op_says_so_in_one_line() -> None:
    from losstune.engine.realhead.ops import ensure_ops

    if not ensure_ops():
        pytest.skip("this mmcv ships its compiled operators")
    config = EXAMPLES / "faster_rcnn_r50_fpn_1x_coco.py"
    code, out = invoke(
        "eval", str(config), "--loss", "rpn_head.loss_cls", "--through-head", "--image-size", "64", cwd=REPO
    )
    assert code == 2
    assert "Traceback" not in out
    message = out.strip().splitlines()
    assert len(message) == 1 and "compiled op `nms`" in message[0] and "faster_rcnn_r50_fpn_1x_coco.py" in message[0]


@needs_mmdet
def test_custom_imports_are_imported_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "my_module_for_heads.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "cfg.py"
    config.write_text(
        f"_base_ = [{str(EXAMPLES / 'retinanet_r50_fpn_1x_coco.py')!r}]\n"
        "custom_imports = dict(imports=['my_module_for_heads'], allow_failed_imports=False)\n"
    )
    args = ["eval", str(config), "--loss", "loss_bbox", "--through-head", "--image-size", "64"]
    code, _ = invoke(*args, cwd=tmp_path)
    assert code == 0 and not marker.exists()
    code, _ = invoke(*args, "--import-custom-modules", cwd=tmp_path)
    assert code == 0 and marker.exists()


def test_without_mmdetection_through_head_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "mmdet" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    config = EXAMPLES / "retinanet_r50_fpn_1x_coco.py"
    code, out = invoke("eval", str(config), "--loss", "loss_cls", "--through-head", cwd=REPO)
    assert code == 2 and "Traceback" not in out
    assert "MMDetection is not installed here: pip install mmdet==3.3.0" in out


@needs_mmdet
def test_explain_through_head_adds_the_loss_dict_and_says_which_path_made_it() -> None:
    config = EXAMPLES / "gfl_r50_fpn_1x_coco.py"
    args = ["explain", str(config), "--no-steps", "--through-head", "--image-size", "128"]
    code, out = invoke(*args, "--format", "json", cwd=REPO)
    assert code == 0
    data, _ = json.JSONDecoder().raw_decode(out)
    head = data["through_head"]
    assert head["path"] == "head" and head["head"]["type"] == "GFLHead"
    assert [t["name"] for t in head["losses"]] == ["loss_cls", "loss_bbox", "loss_dfl"]
    assert all(c["term"] in ("loss_cls", "loss_bbox", "loss_dfl") for c in head["calls"])
    code, out = invoke(*args, cwd=REPO)
    assert code == 0
    assert "the head scales their sum by" in out  # GFLHead divides loss_bbox by its own normaliser
    assert "numbers: MMDetection 3.3.0's GFLHead (model.bbox_head)" in out


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--through-head", "--inputs", "x.pt"], "--inputs is for losstune's model"),
        (["--through-head", "--mmdet-version", "2"], "--mmdet-version 2 is for losstune's model"),
        (["--save-batch", "x.pt"], "--save-batch goes with --through-head"),
        (["--import-custom-modules"], "--import-custom-modules goes with --through-head"),
    ],
)
def test_options_that_do_not_go_with_through_head_are_refused(extra: list[str], named: str) -> None:
    config = EXAMPLES / "retinanet_r50_fpn_1x_coco.py"
    code, out = invoke("eval", str(config), "--loss", "loss_cls", *extra, cwd=REPO)
    assert code == 2 and named in out


@needs_mmdet
@pytest.mark.skipif(not CONFIGS.is_dir(), reason=f"MMDetection 3.3.0's configs are not at {CONFIGS}")
def test_the_saved_weights_are_the_heads_before_its_loss_ran(tmp_path: Path) -> None:
    # GHM-C and GHM-R keep a running sum in a buffer that each call moves: the replay starts from
    # the buffer as the batch found it, not as the run left it
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.replay import replay
    from losstune.engine.realhead.run import run_head

    saved = tmp_path / "batch.pt"
    run = run_head(losstune.load(CONFIGS / "ghm/retinanet_r50_fpn_ghm-1x_coco.py"), BatchSpec(size=64), save=str(saved))
    state = torch.load(saved, weights_only=True)["head"]["state_dict"]
    assert float(state["loss_cls.acc_sum"].abs().sum()) == 0.0
    _same({t.name: t.value for t in run.terms} | {"loss": run.total}, replay(str(saved)))


@needs_mmdet
def test_a_saved_batch_that_fills_the_disk_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    # torch.save says a failed write (a full disk, a file size limit) as a RuntimeError: the error
    # must still be the write's, said as such, not an internal error.
    resource = pytest.importorskip("resource")
    import signal

    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.run import HeadFailed, run_head

    cfg = losstune.load(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (500_000, limit[1]))
    try:
        with pytest.raises(HeadFailed, match=r"--save-batch .*batch\.pt: cannot write it: File too large"):
            run_head(cfg, BatchSpec(size=64), save=str(tmp_path / "batch.pt"))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temporary file left


def _no_reading(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The download and the file read under every checkpoint load, made to raise; the list says
    what was asked for (empty: nothing reached the network or a checkpoint file)."""
    import urllib.request

    import mmengine.runner.checkpoint as checkpoint

    asked: list[str] = []

    def refuse(what: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(what))
        raise AssertionError(f"a checkpoint was read: {what}")

    monkeypatch.setattr(checkpoint, "load_url", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return asked


RETINANET = str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")


def _through_head_with_custom_modules(config: Path) -> tuple[int, str]:
    """``eval CONFIG --loss loss_cls --through-head`` at 64 pixels, its custom_imports imported."""
    args = ["eval", str(config), "--loss", "loss_cls", "--through-head", "--image-size", "64"]
    return invoke(*args, "--import-custom-modules", cwd=config.parent)


URL = "https://example.invalid/r50.pth"


BASE_BACKBONE = ("model.backbone.init_cfg", "torchvision://resnet50")  # the example's own


@needs_mmdet
@pytest.mark.parametrize(
    ("written", "left_out"),
    [
        (
            f"model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint={URL!r})))",
            [("model.backbone.init_cfg", URL)],
        ),
        (
            "model = dict(backbone=dict(init_cfg=[dict(type='Kaiming', layer='Conv2d'), "
            f"dict(type='mmengine.Pretrained', checkpoint={URL!r})]))",
            [("model.backbone.init_cfg", URL)],
        ),
        (f"model = dict(backbone=dict(init_cfg=None, pretrained={URL!r}))", [("model.backbone.pretrained", URL)]),
        (
            f"model = dict(init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint={URL!r}))",
            [BASE_BACKBONE, ("model.init_cfg", URL)],
        ),
        (
            "model = dict(bbox_head=dict(init_cfg=dict(type='Normal', layer='Conv2d', std=0.01, "
            f"override=dict(type='Pretrained', name='retina_cls', checkpoint={URL!r}))))",
            [BASE_BACKBONE, ("model.bbox_head.init_cfg.override", URL)],
        ),
        (f"load_from = {URL!r}", [("load_from", URL), BASE_BACKBONE]),
    ],
    ids=["pretrained-init", "in-a-list", "pretrained-key", "whole-model", "override", "load_from"],
)
def test_checkpoints_a_config_names_are_not_loaded_and_the_output_says_so(
    written: str, left_out: list[tuple[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "cfg.py"
    config.write_text(f"_base_ = [{RETINANET!r}]\n{written}\n")
    asked = _no_reading(monkeypatch)
    args = ["eval", str(config), "--loss", "loss_cls", "--through-head", "--image-size", "64"]
    code, out = invoke(*args, cwd=tmp_path)
    assert code == 0, out
    assert asked == []
    named = "; ".join(f"{key} ({checkpoint})" for key, checkpoint in left_out)
    assert out.endswith(f"pretrained weights not loaded (the model is freshly initialised): {named}\n")
    code, out = invoke(*args, "--format", "json", cwd=tmp_path)
    assert code == 0 and asked == []
    assert json.loads(out)["not_loaded"] == [{"key": key, "checkpoint": checkpoint} for key, checkpoint in left_out]


@needs_mmdet
@pytest.mark.skipif(not CONFIGS.is_dir(), reason=f"MMDetection 3.3.0's configs are not at {CONFIGS}")
def test_pvts_own_checkpoint_and_lds_teacher_are_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _no_reading(monkeypatch)
    # PVT's init_cfg has no type: its own init_weights loads init_cfg.checkpoint
    pvt = CONFIGS / "pvt/retinanet_pvt-t_fpn_1x_coco.py"
    code, out = invoke("eval", str(pvt), "--loss", "loss_cls", "--through-head", "--image-size", "64", cwd=REPO)
    assert code == 0, out
    assert "model.backbone.init_cfg (https://github.com/whai362/PVT/releases/download/v2/pvt_tiny.pth)" in out
    # LD loads teacher_ckpt in __init__ and builds its teacher from a config file (relative to the working
    # directory) whose backbone is pretrained: read without executing it, built without its checkpoint
    ld = "configs/ld/ld_r18-gflv1-r101_fpn_1x_coco.py"
    args = ["eval", ld, "--loss", "loss_ld", "--through-head", "--image-size", "64", "--format", "json"]
    code, out = invoke(*args, cwd=CONFIGS.parent)
    assert code == 0, out
    assert asked == []
    keys = [c["key"] for c in json.loads(out)["not_loaded"]]
    teacher = "model.teacher_config configs/gfl/gfl_r101_fpn_ms-2x_coco.py: model.backbone.init_cfg"
    assert keys == ["model.teacher_ckpt", "model.backbone.init_cfg", teacher]


@needs_mmdet
def test_a_load_the_config_does_not_show_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "own_backbone_loading.py").write_text(
        "from mmdet.models.backbones import ResNet\n"
        "from mmdet.registry import MODELS\n"
        "from mmengine.runner import load_checkpoint\n\n\n"
        "@MODELS.register_module(force=True)\n"
        "class OwnLoadingResNet(ResNet):\n"
        "    def init_weights(self):\n"
        "        super().init_weights()\n"
        "        try:\n"
        "            load_checkpoint(self, 'https://example.invalid/own.pth')\n"
        "        except Exception:\n"
        "            pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "cfg.py"
    config.write_text(
        f"_base_ = [{RETINANET!r}]\n"
        "custom_imports = dict(imports=['own_backbone_loading'], allow_failed_imports=False)\n"
        "model = dict(backbone=dict(type='OwnLoadingResNet', depth=18, init_cfg=None), "
        "neck=dict(in_channels=[64, 128, 256, 512]))\n"
    )
    asked = _no_reading(monkeypatch)
    code, out = _through_head_with_custom_modules(config)
    assert code == 2 and "Traceback" not in out and asked == []
    assert out.strip() == (
        f"losstune: error: {config}: MMDetection's RetinaNet loads the checkpoint https://example.invalid/own.pth "
        "while it is built or initialised, in a way losstune cannot leave out of the config; losstune loads no "
        "weights for the synthetic batch: remove that checkpoint from the config to run it through the head"
    )


def _stand_in_transformers() -> Any:
    """A module in place of Hugging Face's ``transformers``: each class's ``from_pretrained`` fails
    the test if it is reached; ``BertModel`` inherits it, as the real one does."""
    import types

    def loaded(cls: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{cls.__name__}.from_pretrained({name!r}) was reached")

    module = types.ModuleType("transformers")
    for name in (
        "PreTrainedModel",
        "PretrainedConfig",
        "PreTrainedTokenizerBase",
        "AutoConfig",
        "AutoModel",
        "AutoTokenizer",
    ):
        setattr(module, name, type(name, (), {"from_pretrained": classmethod(loaded)}))
    module.BertModel = type("BertModel", (module.PreTrainedModel,), {})  # type: ignore[attr-defined]
    return module


@needs_mmdet
@pytest.mark.parametrize("loads", ["BertModel", "AutoTokenizer"])
def test_a_pretrained_language_model_by_name_is_refused_in_one_line(
    loads: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GLIP and Grounding DINO build a language model with from_pretrained('bert-base-uncased') in __init__
    transformers = _stand_in_transformers()
    originals = {name: getattr(transformers, name).from_pretrained for name in ("BertModel", "AutoTokenizer")}
    monkeypatch.setitem(sys.modules, "transformers", transformers)
    module = f"language_backbone_{loads.lower()}"  # a module of its own: an imported one stays imported
    (tmp_path / f"{module}.py").write_text(
        "import transformers\n"
        "from mmdet.models.backbones import ResNet\n"
        "from mmdet.registry import MODELS\n\n\n"
        "@MODELS.register_module(force=True)\n"
        f"class LanguageResNet{loads}(ResNet):\n"
        "    def __init__(self, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        f"        self.language = transformers.{loads}.from_pretrained('bert-base-uncased')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "cfg.py"
    config.write_text(
        f"_base_ = [{RETINANET!r}]\n"
        f"custom_imports = dict(imports=[{module!r}], allow_failed_imports=False)\n"
        f"model = dict(backbone=dict(type='LanguageResNet{loads}', depth=18, init_cfg=None), "
        "neck=dict(in_channels=[64, 128, 256, 512]))\n"
    )
    asked = _no_reading(monkeypatch)
    code, out = _through_head_with_custom_modules(config)
    assert code == 2 and asked == []
    assert out.strip() == (
        f"losstune: error: {config}: MMDetection's RetinaNet loads the pretrained model bert-base-uncased with "
        "Hugging Face's from_pretrained while it is built, which no config key leaves out; losstune loads no "
        "weights for the synthetic batch, so this model does not run through the head: leave out --through-head"
    )
    # the methods are restored, an inherited one by removing the class's own again
    assert {name: getattr(transformers, name).from_pretrained for name in originals} == originals
    assert "from_pretrained" not in vars(transformers.BertModel)


@needs_mmdet
@pytest.mark.skipif(not CONFIGS.is_dir(), reason=f"MMDetection 3.3.0's configs are not at {CONFIGS}")
def test_a_teacher_config_that_leads_back_to_the_config_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "own_teacher.py"
    config.write_text(
        f"_base_ = [{str(CONFIGS / 'ld/ld_r18-gflv1-r101_fpn_1x_coco.py')!r}]\nmodel = dict(teacher_config='own_teacher.py')\n"
    )
    args = ["eval", str(config), "--loss", "loss_ld", "--through-head", "--image-size", "64"]
    code, out = invoke(*args, cwd=tmp_path)  # MMDetection would execute it and build teachers for ever
    assert (code, out) == (
        2,
        f"losstune: error: {config}: model.teacher_config names {config}, a config it is read from: MMDetection "
        "would build the teacher's teacher for ever; name another teacher config\n",
    )
