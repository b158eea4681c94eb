"""LT118 on copies of real MMDetection 3.3.0 configs: a child that changes one count of classes
(a head's, the dataset's) and not the others is found at its own line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from losstune.model import Diagnostic
from tests.conftest import PROJECTS, lint_with

MMDET = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"


def lint(path: Path) -> list[Diagnostic]:
    return lint_with(path, "LT118")[1]


@pytest.fixture
def mask_rcnn(tmp_path: Path) -> Path:
    if not MMDET.is_dir():
        pytest.skip("needs MMDetection 3.3.0's configs: run `python benchmarks/fetch_projects.py --only mmdet`")
    for name in ("_base_", "mask_rcnn", "cascade_rcnn"):
        shutil.copytree(MMDET / name, tmp_path / name)
    return tmp_path


def test_the_real_configs_are_clean(mask_rcnn: Path) -> None:
    assert lint(mask_rcnn / "mask_rcnn" / "mask-rcnn_r50_fpn_1x_coco.py") == []
    assert lint(mask_rcnn / "cascade_rcnn" / "cascade-mask-rcnn_r50_fpn_1x_coco.py") == []


def test_a_child_that_sets_the_bbox_heads_num_classes_only_is_found_at_its_line(mask_rcnn: Path) -> None:
    child = mask_rcnn / "mask_rcnn" / "five.py"
    child.write_text(
        "_base_ = './mask-rcnn_r50_fpn_1x_coco.py'\nmodel = dict(roi_head=dict(bbox_head=dict(num_classes=5)))\n"
    )
    [d] = lint(child)
    assert d.span is not None and (Path(d.span.file).name, d.span.line, d.span.column) == ("five.py", 2, 55)
    assert "`model.roi_head.mask_head.num_classes` is 80" in d.message
    assert [(Path(r.span.file).name, r.span.line) for r in d.related] == [("mask-rcnn_r50_fpn.py", 73)]
    assert d.fix == "set `model.roi_head.mask_head.num_classes=5`"


def test_a_cascade_whose_mask_head_alone_is_changed_is_found_once_per_stage_at_the_child(mask_rcnn: Path) -> None:
    child = mask_rcnn / "cascade_rcnn" / "five.py"
    child.write_text(
        "_base_ = './cascade-mask-rcnn_r50_fpn_1x_coco.py'\nmodel = dict(roi_head=dict(mask_head=dict(num_classes=5)))\n"
    )
    found = lint(child)
    assert [(Path(d.span.file).name, d.span.line) for d in found if d.span] == [("five.py", 2)] * 3
    assert [d.fix for d in found] == [f"set `model.roi_head.bbox_head.{i}.num_classes=5`" for i in range(3)]


def test_a_child_that_names_its_classes_only_is_found_at_the_classes(mask_rcnn: Path) -> None:
    child = mask_rcnn / "mask_rcnn" / "cats.py"
    child.write_text(
        "_base_ = './mask-rcnn_r50_fpn_1x_coco.py'\n"
        "metainfo = dict(classes=('cat', 'dog'))\n"
        "train_dataloader = dict(dataset=dict(metainfo=metainfo))\n"
    )
    [d] = lint(child)
    assert d.span is not None and (Path(d.span.file).name, d.span.line) == ("cats.py", 2)
    assert d.key == "train_dataloader.dataset.metainfo.classes" and "has 2 class names" in d.message
