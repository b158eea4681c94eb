"""--cfg-options read as mmengine's DictAction reads them and merged as Config.merge_from_dict
merges them, compared with mmengine itself on real configs; each value's origin is the command line."""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from losstune.cli.app import app
from losstune.config import LoadedConfig
from losstune.loader.cfgoptions import COMMAND_LINE, OptionError, parse_options, parse_value
from losstune.loader.resolve import Resolver
from tests.conftest import EXAMPLES, PROJECTS

mmengine_config = pytest.importorskip("mmengine.config")
DictAction = mmengine_config.DictAction
MMDET = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"


def mmengine_with(path: Path, options: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction)
    parsed = parser.parse_args(["--cfg-options", *options]).cfg_options
    with redirect_stdout(io.StringIO()):
        cfg = mmengine_config.Config.fromfile(str(path))
        cfg.merge_from_dict(parsed)
    out: dict[str, object] = cfg.to_dict()
    return out


def ours_with(path: Path, options: list[str]) -> dict[str, object]:
    return LoadedConfig(Resolver(options=parse_options(options)).resolve(str(path))).to_dict()


OPTIONS = [
    ["model.bbox_head.loss_cls.gamma=1.5"],
    ["model.bbox_head.loss_cls.loss_weight=2", "model.bbox_head.num_classes=3"],
    ["model.backbone.out_indices=(0,1,2)", "model.neck.in_channels=[256,512,1024]"],
    ["model.test_cfg.nms=None", "model.bbox_head.loss_cls.use_sigmoid=false"],
    ["train_dataloader.dataset.pipeline.2.scale=(800,600)", "train_dataloader.dataset.pipeline.0.type=X"],
    ["model.neck._delete_=True", "model.neck.type=FPN", "model.neck.num_outs=5"],
    ["new.key.deep=[(1,2),[a,b],c]", "x='a b'", 'y="1,2"', "z=1e-3", "w=True"],
    ["model.bbox_head.loss_cls.gamma=1", "model.bbox_head.loss_cls.gamma=3"],
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: " ".join(o)[:40])
def test_same_config_as_mmengine_on_the_examples(options: list[str]) -> None:
    path = EXAMPLES / "retinanet_r50_fpn_1x_coco.py"
    assert ours_with(path, options) == mmengine_with(path, options)


@pytest.mark.parametrize(
    ("config", "options"),
    [
        ("faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py", ["model.roi_head.bbox_head.num_classes=3"]),
        ("cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py", ["model.roi_head.bbox_head.1.loss_cls.loss_weight=0.5"]),
        ("mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py", ["test_dataloader.dataset.metainfo.classes=(cat,)"]),
    ],
)
def test_same_config_as_mmengine_on_real_configs(config: str, options: list[str]) -> None:
    if not MMDET.is_dir():
        pytest.skip("needs MMDetection 3.3.0's configs: run `python benchmarks/fetch_projects.py --only mmdet`")
    assert ours_with(MMDET / config, options) == mmengine_with(MMDET / config, options)


_PIECES = st.sampled_from(["a", "1", "0.5", "true", "None", ",", "[", "]", "(", ")", " ", "'", '"', "x1"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_values_are_read_as_dictaction_reads_them(raw: str) -> None:
    try:
        expected = DictAction._parse_iterable(raw)
    except (AssertionError, RecursionError):
        with pytest.raises(OptionError):
            parse_value(raw)
        return
    assert parse_value(raw) == expected
    assert repr(parse_value(raw)) == repr(expected)  # the same types, all the way down


def test_an_option_mmengine_refuses_is_refused() -> None:
    path = EXAMPLES / "retinanet_r50_fpn_1x_coco.py"
    for options in (["no_equals"], ["a=[1,(2"]):
        with pytest.raises(OptionError):
            ours_with(path, options)
    for options in (
        ["train_dataloader.dataset.pipeline.9.type=X"],  # no item 9: mmengine's KeyError
        ["model.type.x=1"],  # a string has no keys: mmengine's TypeError
        ["train_dataloader.dataset.pipeline.0=X"],  # an item replaced whole: mmengine fails
    ):
        with pytest.raises(OptionError):
            ours_with(path, options)
        with pytest.raises(
            (KeyError, TypeError, AttributeError)
        ):  # mmengine raises KeyError, TypeError, AttributeError
            mmengine_with(path, options)


def test_a_value_given_on_the_command_line_says_so() -> None:
    path = EXAMPLES / "retinanet_r50_fpn_1x_coco.py"
    loaded = LoadedConfig(Resolver(options=parse_options(["a=1", "model.bbox_head.loss_cls.gamma=1.5"])).resolve(path))
    origin = loaded.origin("model.bbox_head.loss_cls.gamma")
    assert origin is not None and origin.kind == "command-line" and origin.text == "model.bbox_head.loss_cls.gamma=1.5"
    assert (origin.span.file, origin.span.line) == (COMMAND_LINE, 2)
    # the dicts merged into keep where they were written
    assert loaded.origin("model.bbox_head.loss_cls").span.file.endswith("retinanet_r50_fpn.py")  # type: ignore[union-attr]


runner = CliRunner()


def test_lint_explain_and_eval_take_cfg_options() -> None:
    path = str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")
    result = runner.invoke(app, ["lint", path, "--cfg-options", "model.bbox_head.loss_cls.gamma=-1"])
    assert result.exit_code == 1
    assert "<command line>\n  1:1  error  LT104 out-of-range" in result.stdout
    assert "1 | model.bbox_head.loss_cls.gamma=-1" in result.stdout
    out = runner.invoke(
        app, ["explain", path, "--no-steps", "--format", "json", "--cfg-options", "model.bbox_head.loss_cls.gamma=1.5"]
    )
    assert out.exit_code == 0, out.output
    [gamma] = [p for loss in json.loads(out.stdout)["losses"] for p in loss["params"] if p["name"] == "gamma"]
    assert gamma["value"] == 1.5 and gamma["origin"]["kind"] == "command-line"
    assert gamma["origin"]["file"] == COMMAND_LINE
    text = runner.invoke(app, ["explain", path, "--no-steps", "--cfg-options", "model.bbox_head.loss_cls.gamma=1.5"])
    assert "<command line>:1" in text.stdout
    bad = runner.invoke(app, ["lint", path, "--cfg-options", "nothing"])
    assert bad.exit_code == 2 and "is not KEY=VALUE" in bad.output
    fixing = runner.invoke(app, ["lint", path, "--fix", "--cfg-options", "a=1"])
    assert fixing.exit_code == 2


def test_eval_takes_cfg_options() -> None:
    pytest.importorskip("torch")
    path = str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")
    args = ["eval", path, "--loss", "loss_cls", "--format", "json", "--no-check"]
    base = runner.invoke(app, args)
    changed = runner.invoke(app, [*args, "--cfg-options", "model.bbox_head.loss_cls.loss_weight=2.0"])
    assert base.exit_code == 0 and changed.exit_code == 0, changed.output
    assert json.loads(base.stdout) != json.loads(changed.stdout)
