"""`losstune set` writes new text in the layout of the text around it: its neighbours' indent,
one item a line where they are one a line, one line where the dict is, within the file's line
length (79 unless the file has longer lines), closing parentheses as the file writes them."""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import losstune
from tests.conftest import invoke

BASE = """\
model = dict(
    type='FasterRCNN',
    roi_head=dict(
        type='StandardRoIHead',
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            num_classes=80,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))))
"""
RETINA = """\
model = dict(
    type='RetinaNet',
    bbox_head=dict(
        type='RetinaHead',
        num_classes=80,
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
"""


def _set(*args: str, cwd: Path) -> tuple[int, str]:
    return invoke("set", *args, cwd=cwd)


def _mmengine(path: Path) -> dict[str, Any]:
    from mmengine.config import Config

    with redirect_stdout(io.StringIO()):
        out: dict[str, Any] = Config.fromfile(str(path)).to_dict()
        return out


def _edit(write: Callable[..., Path], tmp_path: Path, child: str, *args: str) -> str:
    write("base.py", BASE)
    cfg = write("cfg.py", child)
    code, out = _set(*args, cfg.name, cwd=tmp_path)
    assert code == 0, out
    return cfg.read_text(encoding="utf-8")


def test_an_appended_override_wraps_at_79_columns(write: Callable[..., Path], tmp_path: Path) -> None:
    text = _edit(write, tmp_path, "_base_ = './base.py'\n", "--unset", "roi_head.bbox_head.loss_bbox.loss_weight")
    assert text == (
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    roi_head=dict(\n"
        "        bbox_head=dict(loss_bbox=dict(_delete_=True, type='L1Loss'))))\n"
    )


def test_a_file_with_lines_longer_than_79_is_written_to_its_longest_line(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    long = "# " + "x" * 83 + "\n"
    text = _edit(write, tmp_path, f"_base_ = './base.py'\n{long}", "--unset", "loss_bbox.loss_weight")
    assert text == (
        f"_base_ = './base.py'\n{long}"
        "model = dict(\n"
        "    roi_head=dict(bbox_head=dict(loss_bbox=dict(_delete_=True, type='L1Loss'))))\n"
    )


def test_nested_items_count_their_key_and_closing_parentheses(write: Callable[..., Path], tmp_path: Path) -> None:
    text = _edit(
        write,
        tmp_path,
        "_base_ = './base.py'\n",
        "loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)",
    )
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 79, text
    assert text == (
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    roi_head=dict(\n"
        "        bbox_head=dict(\n"
        "            loss_cls=dict(\n"
        "                type='FocalLoss',\n"
        "                use_sigmoid=True,\n"
        "                gamma=2.0,\n"
        "                alpha=0.25,\n"
        "                loss_weight=1.0))))\n"
    )


def test_a_key_added_to_a_one_line_dict_stays_on_the_line_when_it_fits(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    write("retina.py", RETINA)
    cfg = write("cfg.py", "_base_ = './retina.py'\nmodel = dict(bbox_head=dict(num_classes=3))\n")
    code, out = _set("loss_bbox.loss_weight=2.0", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert cfg.read_text(encoding="utf-8") == (
        "_base_ = './retina.py'\nmodel = dict(bbox_head=dict(num_classes=3, loss_bbox=dict(loss_weight=2.0)))\n"
    )


def test_a_key_added_to_a_one_line_dict_that_would_not_fit_aligns_with_its_first_item(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    child = "_base_ = './base.py'\nmodel = dict(roi_head=dict(bbox_head=dict(num_classes=3)))\n"
    text = _edit(write, tmp_path, child, "loss_bbox.loss_weight=2.0")
    assert text == (
        "_base_ = './base.py'\n"
        "model = dict(roi_head=dict(bbox_head=dict(num_classes=3,\n"
        "                                          loss_bbox=dict(loss_weight=2.0))))\n"
    )


def test_a_key_added_to_a_multi_line_dict_goes_on_its_own_line(write: Callable[..., Path], tmp_path: Path) -> None:
    child = (
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    roi_head=dict(\n"
        "        bbox_head=dict(\n"
        "            num_classes=3,\n"
        "            reg_class_agnostic=True)))\n"
    )
    text = _edit(write, tmp_path, child, "loss_bbox.loss_weight=2.0")
    assert text == (
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    roi_head=dict(\n"
        "        bbox_head=dict(\n"
        "            num_classes=3,\n"
        "            reg_class_agnostic=True,\n"
        "            loss_bbox=dict(loss_weight=2.0))))\n"
    )


def test_unset_in_a_multi_line_dict_removes_only_that_item(write: Callable[..., Path], tmp_path: Path) -> None:
    write("base.py", "model = dict(type='RetinaNet')\n")
    cfg = write(
        "cfg.py",
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    bbox_head=dict(\n"
        "        type='RetinaHead',\n"
        "        loss_cls=dict(\n"
        "            type='FocalLoss',\n"
        "            use_sigmoid=True,\n"
        "            gamma=2.0,\n"
        "            alpha=0.25,\n"
        "            loss_weight=1.0),\n"
        "        loss_bbox=dict(type='L1Loss', loss_weight=1.0)))\n",
    )
    before = _mmengine(cfg)
    code, out = _set("--unset", "loss_cls.alpha", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert cfg.read_text(encoding="utf-8") == (
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    bbox_head=dict(\n"
        "        type='RetinaHead',\n"
        "        loss_cls=dict(\n"
        "            type='FocalLoss',\n"
        "            use_sigmoid=True,\n"
        "            gamma=2.0,\n"
        "            loss_weight=1.0),\n"
        "        loss_bbox=dict(type='L1Loss', loss_weight=1.0)))\n"
    )
    del before["model"]["bbox_head"]["loss_cls"]["alpha"]
    assert _mmengine(cfg) == before == losstune.load(cfg).to_dict()


COMPREHENSION = """\
model = dict(
    type='CascadeRCNN',
    roi_head=dict(
        type='CascadeRoIHead',
        bbox_head=[
            dict(
                type='Shared2FCBBoxHead',
                loss_cls=dict(type='CrossEntropyLoss', loss_weight=w))
            for w in (1.0, 0.5, 0.25)
        ]))
"""


def test_a_list_built_by_a_comprehension_is_written_out_and_the_note_says_so(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    cfg = write("cfg.py", COMPREHENSION)
    before = _mmengine(cfg)
    code, out = _set("bbox_head.1.loss_cls.loss_weight=0.7", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert "through an override" not in out
    assert (
        "`model.roi_head.bbox_head` is computed at cfg.py:5 and mmengine replaces a list whole, "
        "so it is written out as literal values, with only the requested change" in " ".join(out.split())
    )
    assert cfg.read_text(encoding="utf-8") == (
        "model = dict(\n"
        "    type='CascadeRCNN',\n"
        "    roi_head=dict(\n"
        "        type='CascadeRoIHead',\n"
        "        bbox_head=[\n"
        "            dict(\n"
        "                type='Shared2FCBBoxHead',\n"
        "                loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0)),\n"
        "            dict(\n"
        "                type='Shared2FCBBoxHead',\n"
        "                loss_cls=dict(type='CrossEntropyLoss', loss_weight=0.7)),\n"
        "            dict(\n"
        "                type='Shared2FCBBoxHead',\n"
        "                loss_cls=dict(type='CrossEntropyLoss', loss_weight=0.25))\n"
        "        ]))\n"
    )
    before["model"]["roi_head"]["bbox_head"][1]["loss_cls"]["loss_weight"] = 0.7
    assert _mmengine(cfg) == before == losstune.load(cfg).to_dict()


def test_unset_in_a_dict_written_in_the_config_touches_only_that_item(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    write("base.py", "model = dict(type='RetinaNet')\n")
    cfg = write(
        "cfg.py",
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    bbox_head=dict(\n"
        "        type='RetinaHead',\n"
        "        loss_cls=dict(\n"
        "            type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,\n"
        "            loss_weight=1.0),  # the classification loss\n"
        "        loss_bbox=dict(type='L1Loss',\n"
        "                       loss_weight=1.0)))\n",
    )
    before = _mmengine(cfg)
    code, out = _set("--unset", "loss_cls.alpha", "--unset", "loss_bbox.loss_weight", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert cfg.read_text(encoding="utf-8") == (
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    bbox_head=dict(\n"
        "        type='RetinaHead',\n"
        "        loss_cls=dict(\n"
        "            type='FocalLoss', use_sigmoid=True, gamma=2.0,\n"
        "            loss_weight=1.0),  # the classification loss\n"
        "        loss_bbox=dict(type='L1Loss')))\n"
    )
    del before["model"]["bbox_head"]["loss_cls"]["alpha"]
    del before["model"]["bbox_head"]["loss_bbox"]["loss_weight"]
    assert _mmengine(cfg) == before == losstune.load(cfg).to_dict()


def test_a_type_swap_in_a_dict_written_in_the_config_keeps_the_lines_it_does_not_change(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    write("base.py", "model = dict(type='RetinaNet')\n")
    cfg = write(
        "cfg.py",
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    bbox_head=dict(\n"
        "        type='RetinaHead',\n"
        "        loss_cls=dict(\n"
        "            type='FocalLoss',\n"
        "            use_sigmoid=True,\n"
        "            gamma=2.0,\n"
        "            alpha=0.25,\n"
        "            loss_weight=1.0)))\n",
    )
    code, out = _set("loss_cls.type='QualityFocalLoss'", "loss_cls.beta=1.5", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert cfg.read_text(encoding="utf-8") == (
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    bbox_head=dict(\n"
        "        type='RetinaHead',\n"
        "        loss_cls=dict(\n"
        "            type='QualityFocalLoss',\n"
        "            use_sigmoid=True,\n"
        "            loss_weight=1.0,\n"
        "            beta=1.5)))\n"
    )


def test_items_cut_next_to_each_other_leave_a_dict_that_parses(write: Callable[..., Path], tmp_path: Path) -> None:
    write("base.py", "model = dict(type='RetinaNet')\n")
    cfg = write(
        "cfg.py",
        "_base_ = './base.py'\n"
        "model = dict(bbox_head=dict(type='RetinaHead', loss_cls=dict(\n"
        "    gamma=2.0, alpha=0.25, type='FocalLoss', use_sigmoid=True, reduction='mean',\n"
        "    loss_weight=1.0)))\n",
    )
    before = _mmengine(cfg)
    args = ("--unset", "loss_cls.gamma", "--unset", "loss_cls.alpha", "--unset", "loss_cls.reduction")
    code, out = _set(*args, "--unset", "loss_cls.loss_weight", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert cfg.read_text(encoding="utf-8") == (
        "_base_ = './base.py'\n"
        "model = dict(bbox_head=dict(type='RetinaHead', loss_cls=dict(\n"
        "    type='FocalLoss', use_sigmoid=True)))\n"
    )
    for key in ("gamma", "alpha", "reduction", "loss_weight"):
        del before["model"]["bbox_head"]["loss_cls"][key]
    assert _mmengine(cfg) == before == losstune.load(cfg).to_dict()


def test_unset_of_a_key_the_base_sets_too_keeps_the_base_value_out(write: Callable[..., Path], tmp_path: Path) -> None:
    child = (
        "_base_ = './base.py'\n"
        "model = dict(\n"
        "    roi_head=dict(\n"
        "        bbox_head=dict(\n"
        "            reg_decoded_bbox=True,\n"
        "            loss_bbox=dict(type='IoULoss', loss_weight=10.0))))\n"
    )
    write("base.py", BASE)
    cfg = write("cfg.py", child)
    before = _mmengine(cfg)
    code, out = _set("--unset", "loss_bbox.loss_weight", cfg.name, cwd=tmp_path)
    assert code == 0, out
    assert cfg.read_text(encoding="utf-8") == child.replace(
        "dict(type='IoULoss', loss_weight=10.0)", "dict(_delete_=True, type='IoULoss')"
    )
    del before["model"]["roi_head"]["bbox_head"]["loss_bbox"]["loss_weight"]
    assert _mmengine(cfg) == before == losstune.load(cfg).to_dict()
