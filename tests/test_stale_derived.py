"""LT117 on copies of real configs: a value a base computed from a name that a child redefines is
found at the child's line, with the value mmengine would give if the base had the child's
definition."""

from __future__ import annotations

import io
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from losstune.model import Diagnostic
from tests.conftest import PROJECTS, lint_with

MMYOLO = PROJECTS / "site3" / "mmyolo" / ".mim" / "configs"
MMDET = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"


def lint(path: Path) -> list[Diagnostic]:
    return lint_with(path, "LT117")[1]


def mmengine_value(path: Path, *keys: str) -> object:
    config = pytest.importorskip("mmengine.config")
    with redirect_stdout(io.StringIO()):
        value: object = config.Config.fromfile(str(path))
    for k in keys:
        value = value[k]  # type: ignore[index]
    return value


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    if not MMYOLO.is_dir():
        pytest.skip("needs MMYOLO 0.6.0's configs: run `python benchmarks/fetch_projects.py --only mmyolo`")
    for name in ("_base_", "yolov5"):
        shutil.copytree(MMYOLO / name, tmp_path / name)
    return tmp_path / "yolov5"


def test_a_child_of_yolov5_that_sets_num_classes_gets_the_stale_loss_weight(yolo: Path) -> None:
    child = yolo / "child.py"
    child.write_text(
        "_base_ = './yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py'\n"
        "num_classes = 3\n"
        "model = dict(bbox_head=dict(head_module=dict(num_classes=num_classes)))\n"
    )
    [d] = lint(child)
    assert d.span is not None and (Path(d.span.file).name, d.span.line, d.span.column) == ("child.py", 2, 15)
    assert d.key == "model.bbox_head.loss_cls.loss_weight"
    assert "yolov5_s-v61_syncbn_8xb16-300e_coco.py:133" in d.message and "keeps 0.5" in d.message
    assert mmengine_value(child, "model", "bbox_head", "loss_cls", "loss_weight") == 0.5
    # what the finding says it would be is what mmengine gives when the base has the child's value
    base = yolo / "yolov5_s-v61_syncbn_8xb16-300e_coco.py"
    base.write_text(base.read_text().replace("num_classes = 80 ", "num_classes = 3 ", 1))
    expected = mmengine_value(child, "model", "bbox_head", "loss_cls", "loss_weight")
    assert f"it would be {expected!r}" in d.message


def test_the_tutorial_config_that_sets_everything_it_changes_is_not_reported_for_other_values(yolo: Path) -> None:
    found = lint(yolo / "yolov5_s-v61_fast_1xb12-40e_cat.py")
    assert [(d.key, d.span.line if d.span else 0) for d in found] == [("model.bbox_head.loss_cls.loss_weight", 5)]


def test_a_child_that_redefines_a_name_to_the_same_value_or_writes_the_value_again_is_clean(yolo: Path) -> None:
    same = yolo / "same.py"
    same.write_text("_base_ = './yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py'\nnum_classes = 80\n")
    assert lint(same) == []
    written = yolo / "written.py"
    written.write_text(
        "_base_ = './yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py'\nnum_classes = 3\n"
        "model = dict(bbox_head=dict(head_module=dict(num_classes=num_classes),\n"
        "    loss_cls=dict(loss_weight=0.5 * num_classes / 80)))\n"
    )
    assert lint(written) == []


def test_num_classes_injected_into_a_copy_of_an_mmdetection_base_is_found_at_the_child(tmp_path: Path) -> None:
    if not MMDET.is_dir():
        pytest.skip("needs MMDetection 3.3.0's configs: run `python benchmarks/fetch_projects.py --only mmdet`")
    shutil.copytree(MMDET / "_base_", tmp_path / "_base_")
    model = tmp_path / "_base_" / "models" / "faster-rcnn_r50_fpn.py"
    text = model.read_text()
    assert text.count("num_classes=80") == 1
    model.write_text("num_classes = 80\n" + text.replace("num_classes=80", "num_classes=num_classes"))
    (tmp_path / "faster").mkdir()
    child = tmp_path / "faster" / "voc.py"
    child.write_text(
        "_base_ = ['../_base_/models/faster-rcnn_r50_fpn.py', '../_base_/default_runtime.py']\nnum_classes = 20\n"
    )
    [d] = lint(child)
    assert d.span is not None and (Path(d.span.file).name, d.span.line) == ("voc.py", 2)
    assert d.key == "model.roi_head.bbox_head.num_classes" and "it would be 20" in d.message
    assert mmengine_value(child, "model", "roi_head", "bbox_head", "num_classes") == 80
    assert [(Path(r.span.file).name, r.span.line) for r in d.related] == [("faster-rcnn_r50_fpn.py", 54)]
