"""`losstune eval` and `losstune rule` as text fit the terminal: every line wrapped at its width (a
word, a number or a path is never cut), no raw dict or tensor printed; pinned whole by golden files
at 80 and 120 columns (LOSSTUNE_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import losstune  # noqa: E402
from losstune.engine.session import EvalResult, evaluate_config  # noqa: E402
from losstune.lint.examples import run_example  # noqa: E402
from losstune.render.eval import render_text  # noqa: E402
from losstune.render.rule import render_rule  # noqa: E402
from losstune.rules import ALL_RULES  # noqa: E402
from losstune.schema.registry import load_schema  # noqa: E402
from tests.conftest import EXAMPLES, invoke  # noqa: E402
from tests.golden import assert_golden  # noqa: E402
from tests.test_headmodel import HEADS  # noqa: E402

WIDTHS = [80, 120]
CASES = [
    ("retinanet_r50_fpn_1x_coco.py", "loss_cls"),
    ("retinanet_r50_fpn_1x_coco.py", "loss_bbox"),
    ("retinanet_r50_fpn_giou_1x_coco.py", "loss_bbox"),
    ("faster_rcnn_r50_fpn_1x_coco.py", "roi_head.bbox_head.loss_cls"),
    ("faster_rcnn_r50_fpn_classweight_1x_cityscapes.py", "roi_head.bbox_head.loss_cls"),
    ("gfl_r50_fpn_1x_coco.py", "loss_dfl"),
]
SEESAW = f"""
    _base_ = {str(EXAMPLES / "faster_rcnn_r50_fpn_1x_coco.py")!r}
    model = dict(roi_head=dict(bbox_head=dict(num_classes=1203, loss_cls=dict(
        _delete_=True, type='SeesawLoss', p=0.8, q=2.0, num_classes=1203, loss_weight=1.0))))
"""
NONE = f"""
    _base_ = {str(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")!r}
    model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', reduction='none')))
"""


def _eval(path: Path, key: str) -> EvalResult:
    return evaluate_config(losstune.load(str(path)), key, check=False)


def _fits(out: str, width: int) -> None:
    assert max(len(line) for line in out.splitlines()) <= width
    assert "{" not in out and "tensor(" not in out, out


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("config", "key"), CASES)
def test_eval_text_is_the_golden_file(config: str, key: str, width: int) -> None:
    out = render_text(_eval(EXAMPLES / config, key), width=width)
    _fits(out, width)
    assert_golden(f"eval/{config}.{key}.{width}.txt", out)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("name", "text", "key"),
    [
        ("seesaw", SEESAW, "roi_head.bbox_head.loss_cls"),
        ("none", NONE, "loss_bbox"),
        # SparseRoIHead: the matched proposals, the boxes normalised, the stage's weight; the masks
        ("sparse", HEADS["sparse"], "roi_head.bbox_head.1.loss_bbox"),
        ("sparse", HEADS["sparse"], "roi_head.mask_head.0.loss_mask"),
    ],
)
def test_eval_text_of_named_terms_and_reduction_none(
    write: Callable[..., Path], name: str, text: str, key: str, width: int
) -> None:
    out = render_text(_eval(write(f"{name}.py", text), key), width=width)
    _fits(out, width)
    assert_golden(f"eval/{name}.{key}.{width}.txt", out)


def test_eval_text_of_reduction_none_gives_the_loss_statistics(write: Callable[..., Path]) -> None:
    out = render_text(_eval(write("none.py", NONE), "loss_bbox"), width=80)
    lines = out.splitlines()
    assert lines[-3].startswith("loss_bbox = 20000×4  min 0, mean ")
    assert lines[-2].startswith("numbers: losstune's head model of AnchorHead (")  # which path made them


def test_eval_cli_wraps_at_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, output = invoke("eval", "retinanet_r50_fpn_1x_coco.py", "--loss", "loss_cls", "--no-check", cwd=EXAMPLES)
    assert code == 0, output
    _fits(output, 80)


@pytest.mark.parametrize("width", WIDTHS)
def test_rule_text_is_the_golden_file(width: int) -> None:
    rule = next(r for r in ALL_RULES if r.code == "LT111")
    found = [run_example(rule, example, load_schema()) for example in rule.invalid]
    out = render_rule(rule, found, width=width)
    too_wide = [line for line in out.splitlines() if len(line) > width]
    assert all(re.match(r"    \d+ \| ", line) for line in too_wide), too_wide  # only source lines, never cut
    assert_golden(f"rule/LT111.{width}.txt", out)
