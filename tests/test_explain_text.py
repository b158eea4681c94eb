"""`losstune explain` as text tells the whole truth at any width: every value and every `file:line`
whole (pinned by golden files at 80 and 120 columns, and checked against the JSON output at 80,
100 and 120), only a meaning shortened and only on a terminal; its header says the MMDetection
version, how it was found, the registry scope in force and what the paths are relative to.

Set LOSSTUNE_UPDATE_GOLDEN=1 to rewrite the golden files from the current output (then read the
difference before committing it)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import losstune
from benchmarks.explain_check import missing
from losstune.cli import terminal
from losstune.render.explain import render_json, render_text
from losstune.report import ExplainReport, explain
from losstune.schema.registry import load_schema
from tests.conftest import EXAMPLES, PROJECTS, REPO
from tests.golden import assert_golden
from tests.test_cli import invoke

CONFIGS = sorted(
    str(p.relative_to(REPO)) for p in [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("json/*"), *EXAMPLES.glob("yaml/*")]
)


def _report(path: str | Path, **kw: object) -> ExplainReport:
    return explain(losstune.load(str(path)), load_schema(), **kw)  # type: ignore[arg-type]


@pytest.fixture
def at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.mark.usefixtures("at_repo")
@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("config", CONFIGS)
def test_explain_text_is_the_golden_file(config: str, width: int) -> None:
    out = render_text(_report(config), width=width, shorten=True)
    assert_golden(f"explain/{config.replace('/', '__')}.{width}.txt", out)
    assert max(len(line) for line in out.splitlines()) <= width


@pytest.mark.parametrize("width", [80, 120])
def test_explain_text_of_sparse_rcnn_is_the_golden_file(
    write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    """SparseRoIHead's terms: each stage's s{i}. terms from the head model of DIIHead and
    DynamicMaskHead, weighted by the stage's weight."""
    from tests.test_headmodel import HEADS

    path = write("sparse.py", HEADS["sparse"])
    monkeypatch.chdir(path.parent)
    out = render_text(_report("sparse.py", steps=True), width=width, shorten=True)
    assert_golden(f"explain/sparse.py.steps.{width}.txt", out)
    assert max(len(line) for line in out.splitlines()) <= width


@pytest.mark.usefixtures("at_repo")
@pytest.mark.parametrize("config", CONFIGS)
def test_every_value_and_origin_of_the_json_is_whole_in_the_text(config: str) -> None:
    report = _report(config)
    data = json.loads(render_json(report))
    for width in (80, 100, 120):
        assert missing(render_text(report, width=width, shorten=True), data, str(REPO)) == [], width
    assert missing(render_text(report, width=None), data, str(REPO)) == []


@pytest.mark.usefixtures("at_repo")
def test_the_check_finds_a_cut_line_number_and_a_dropped_value() -> None:
    report = _report("examples/retinanet_r50_fpn_gamma1.5_1x_coco.py")
    data = json.loads(render_json(report))
    text = render_text(report, width=None)
    assert missing(text, data, str(REPO)) == []
    cut = text.replace("retinanet_r50_fpn.py:48", "retinanet_r50_fpn.py:4")
    assert missing(cut, data, str(REPO)) == ["examples/_base_/models/retinanet_r50_fpn.py:48"]
    dropped = text.replace("  1.5  ", "  1.  ")
    assert missing(dropped, data, str(REPO)) == ["gamma = 1.5"]


REAL = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
REAL_CONFIGS = [
    "retinanet/retinanet_r50_fpn_1x_coco.py",
    "mask2former/mask2former_r50_8xb2-lsj-50e_coco.py",
    "cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py",
    "detr/detr_r50_8xb2-150e_coco.py",
    "dino/dino-4scale_r50_8xb2-12e_coco.py",
    "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py",
]


@pytest.mark.skipif(
    not REAL.is_dir(),
    reason="needs MMDetection 3.3.0's configs: run `python benchmarks/fetch_projects.py --only mmdet`",
)
@pytest.mark.parametrize("config", REAL_CONFIGS)
def test_real_configs_are_whole_at_every_width(config: str) -> None:
    report = _report(REAL / config)
    data = json.loads(render_json(report))
    for width in (80, 100, 120):
        assert missing(render_text(report, width=width, shorten=True), data, os.getcwd()) == [], width


def test_a_narrow_terminal_keeps_every_column_and_a_long_path_is_shown_from_the_config_folder(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = "a_folder_with_a_long_name/"
    write(
        f"{deep}base_with_a_long_name_like_mmdetection_configs.py",
        "model = dict(head=dict(loss=dict(type='FocalLoss', gamma=2.0, alpha=0.25, loss_weight=1.0)))\n",
    )
    cfg = write(f"{deep}child.py", "_base_ = './base_with_a_long_name_like_mmdetection_configs.py'\n")
    monkeypatch.chdir(tmp_path)
    out = render_text(_report(cfg), width=80, shorten=True)
    assert f"paths: relative to the config's folder, {deep}\n" in out
    assert "  gamma        2.0     base_with_a_long_name_like_mmdetection_configs.py:1" in out
    # the working directory's paths where they fit
    wide = render_text(_report(cfg), width=200, shorten=True)
    assert "paths: relative to the working directory" in wide
    assert f"{deep}base_with_a_long_name_like_mmdetection_configs.py:1" in wide


def test_values_and_paths_go_on_their_own_lines_when_side_by_side_they_do_not_fit(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "x" * 60
    cfg = write(f"{name}.py", "model = dict(head=dict(loss=dict(type='FocalLoss', gamma=2.0)))\n")
    monkeypatch.chdir(tmp_path)
    lines = render_text(_report(cfg), width=80, shorten=True).splitlines()
    at = lines.index("  gamma        2.0")
    assert lines[at + 1] == f"               {name}.py:1"
    assert lines[at + 2].startswith("               Focusing exponent") and lines[at + 2].endswith("…")


@pytest.mark.usefixtures("at_repo")
def test_meanings_are_whole_unless_a_terminal_has_no_room() -> None:
    report = _report("examples/retinanet_r50_fpn_gamma1.5_1x_coco.py")
    meaning = "Must be True: only the sigmoid form exists (MMDetection asserts use_sigmoid is True)."
    assert meaning in render_text(report, width=None)
    assert meaning in render_text(report, width=220, shorten=True)
    short = render_text(report, width=80, shorten=True)
    assert meaning not in short and "Must be True: only the sigmoid form exists (MMDetection asserts …" in short
    folded = render_text(report, width=80)  # not a terminal, at COLUMNS=80: wrapped, not cut
    assert "…" not in folded and "use_sigmoid is True)." in folded


def test_an_unknown_parameter_says_what_it_may_be(write: Callable[..., Path], tmp_path: Path) -> None:
    write(
        "cfg.py",
        "model = dict(bbox_head=dict(loss=dict(type='FocalLoss', gama=2.0, wibble=1)),\n"
        "    train_cfg=dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, pos_fractoin=0.1)))\n",
    )
    code, out = invoke("explain", "cfg.py", "--no-steps", cwd=tmp_path)
    assert code == 0, out
    assert "  gama         2.0     cfg.py:1  unknown parameter: did you mean `gamma`?" in out
    assert "  wibble       1       cfg.py:1  unknown parameter\n" in out
    assert "unknown parameter: did you mean `pos_fraction`?" in out
    code, out = invoke("explain", "cfg.py", "--no-steps", "--format", "json", cwd=tmp_path)
    [loss] = json.loads(out)["losses"]
    gama = next(p for p in loss["params"] if p["name"] == "gama")
    gamma = next(p for p in loss["params"] if p["name"] == "gamma")
    assert (gama["unknown"], gama["did_you_mean"], gama["description"]) == (True, "gamma", "")
    assert (gamma["unknown"], gamma["did_you_mean"]) == (False, None)


def test_the_header_says_the_version_the_scope_and_counts_in_the_singular(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    loss = "model = dict(head=dict(loss=dict(type='FocalLoss')))\n"
    write("v3.py", "train_dataloader = dict()\n" + loss)
    write("v2.py", "data = dict()\n" + loss)
    write("yolo.py", "default_scope = 'mmyolo'\n" + loss)
    write("odd.py", "default_scope = 3\n" + loss)

    def head(name: str, *args: str) -> list[str]:
        code, out = invoke("explain", name, "--no-steps", *args, cwd=tmp_path)
        assert code == 0, out
        return out.splitlines()[:4]

    assert head("v3.py") == [
        "v3.py  (1 file, 1 loss)",
        "  MMDetection 3.x (detected: train_dataloader is set)",
        "  registry: MMDetection's (by default: no default_scope)",
        "  paths: relative to the working directory",
    ]
    assert head("v2.py")[1:3] == [
        "  MMDetection 2.x (detected: data=dict(...) is set)",
        "  registry: MMDetection's (2.x has no scopes)",
    ]
    assert head("v2.py", "--mmdet-version", "3")[1] == "  MMDetection 3.x (--mmdet-version 3)"
    assert head("yolo.py")[1:3] == [
        "  MMDetection 3.x (the default: neither train_dataloader nor data=dict(...) is set)",
        "  registry: MMYOLO's (default_scope='mmyolo')",
    ]
    assert head("odd.py")[2] == "  registry: unknown (default_scope is not a string)"
    code, out = invoke("explain", "yolo.py", "--no-steps", "--format", "json", cwd=tmp_path)
    assert code == 0, out
    data = json.loads(out)
    assert data["mmdet_version"] == {"major": 3, "from": "default"}
    assert data["scope"] == {"registry": "mmyolo", "set_by": "default_scope"}


@pytest.mark.usefixtures("at_repo")
def test_plurals_agree() -> None:
    assert render_text(_report("examples/gfl_r50_fpn_1x_coco.py")).startswith(
        "examples/gfl_r50_fpn_1x_coco.py  (5 files, 3 losses)"
    )


class _Out:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "columns", "wide", "expected"),
    [
        (True, "80", False, (80, True)),
        (True, "220", False, (220, True)),
        (False, None, False, (None, False)),  # piped: never shortened, each row on one line
        (False, "100", False, (100, False)),  # piped with COLUMNS: wrapped at it, never shortened
        (True, "80", True, (None, False)),  # --wide
        (True, "10", False, (terminal.MIN_WIDTH, True)),
    ],
)
def test_the_layout_follows_the_terminal(
    monkeypatch: pytest.MonkeyPatch, tty: bool, columns: str | None, wide: bool, expected: tuple[int | None, bool]
) -> None:
    monkeypatch.setattr(sys, "stdout", _Out(tty))
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal.layout(wide) == expected


def test_piped_output_is_never_shortened() -> None:
    code, out = invoke("explain", "retinanet_r50_fpn_gamma1.5_1x_coco.py", "--no-steps", cwd=EXAMPLES)
    assert code == 0 and "…" not in out
    assert "Weight α of the positive class; negatives get 1 - α." in out


@pytest.mark.usefixtures("at_repo")
def test_the_readme_example_is_true() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```")[0] for b in readme.split("```text\n$ losstune explain ")[1:]]
    [block] = [b for b in blocks if "# 100 columns\n" in b]  # the other is an error's
    command, _, expected = block.partition("\n")
    config, *rest = command.split()
    assert rest[:2] == ["--no-steps", "#"] and rest[2:] == ["100", "columns"]
    assert render_text(_report(config), width=100, shorten=True) == expected


def test_a_parameter_the_head_takes_says_so(write: Callable[..., Path], tmp_path: Path) -> None:
    write(
        "cfg.py",
        "model = dict(bbox_head=dict(type='DETRHead', loss_cls=dict(type='CrossEntropyLoss', bg_cls_weight=0.1,\n"
        "    use_sigmoid=False, class_weight=1.0)))\n",
    )
    code, out = invoke("explain", "cfg.py", "--no-steps", cwd=tmp_path)
    assert code == 0, out
    assert "  bg_cls_weight   0.1     cfg.py:1  Read by DETRHead, which builds the loss without it.\n" in out
    assert "unknown parameter" not in out


def test_a_path_too_long_beside_the_names_goes_under_them(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "y" * 66
    cfg = write(f"{name}.py", "model = dict(head=dict(loss=dict(type='FocalLoss', use_sigmoid=True)))\n")
    monkeypatch.chdir(tmp_path)
    lines = render_text(_report(cfg), width=80, shorten=True).splitlines()
    at = lines.index("  use_sigmoid")
    assert lines[at + 1 : at + 3] == ["      True", f"      {name}.py:1"]


def test_paths_too_long_for_any_line_are_shown_as_short_as_they_can_be(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = "d" * 30 + "/"
    write(f"{deep}{'b' * 75}.py", "model = dict(head=dict(loss=dict(type='FocalLoss', gamma=2.0)))\n")
    cfg = write(f"{deep}child.py", f"_base_ = './{'b' * 75}.py'\n")
    monkeypatch.chdir(tmp_path)
    out = render_text(_report(cfg), width=80, shorten=True)
    assert f"paths: relative to the config's folder, {deep}\n" in out
    assert f"      {'b' * 74}\n      b.py:1\n" in out  # wrapped, whole


def test_the_place_of_a_loss_without_parameters_counts_too(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = "e" * 30 + "/"
    cfg = write(f"{deep}{'c' * 40}.py", "model = dict(head=dict(loss=dict(type='SomeLoss')))\n")
    monkeypatch.chdir(tmp_path)
    out = render_text(_report(cfg), width=80, shorten=True)
    assert f"paths: relative to the config's folder, {deep}\n" in out
    assert f"\n  set at {'c' * 40}.py:1\n" in out


@pytest.mark.parametrize(
    ("head", "sampler", "said"),
    [
        ("CenterNetHead", "", "sampler: none  (CenterNetHead uses no sampler)"),  # whole heatmaps
        ("CornerHead", "", "sampler: none  (CornerHead uses no sampler)"),
        ("FCOSHead", "", "sampler: none  (FCOSHead uses no sampler)"),  # points it assigns itself
        ("DETRHead", "", "sampler: none  (DETRHead uses no sampler)"),  # queries its assigner matches
        (
            "FreeAnchorRetinaHead",  # AnchorHead builds the sampler; FreeAnchor's loss never calls it
            ", train_cfg=dict(sampler=dict(type='PseudoSampler'))",
            "sampler: none  (FreeAnchorRetinaHead uses no sampler: the one at model.train_cfg.sampler is never used)",
        ),
        ("YOLOV3Head", "", "sampler: PseudoSampler  (default: no sampler in this head's train_cfg)"),
        ("RetinaHead", "", "sampler: PseudoSampler  (default: no sampler in this head's train_cfg)"),
        ("MyOwnHead", "", "sampler: none configured"),  # a head whose code losstune does not know
    ],
)
def test_the_sampler_shown_is_the_one_the_heads_code_builds(
    head: str, sampler: str, said: str, write: Callable[..., Path], tmp_path: Path
) -> None:
    write(
        "cfg.py",
        f"model = dict(bbox_head=dict(type={head!r}, loss_cls=dict(type='FocalLoss')){sampler})\n",
    )
    code, out = invoke("explain", "cfg.py", "--no-steps", cwd=tmp_path)
    assert code in (0, 1), out
    assert [line.strip() for line in out.splitlines() if "sampler:" in line] == [said]
    code, out = invoke("explain", "cfg.py", "--no-steps", "--format", "json", cwd=tmp_path)
    (loss,) = json.loads(out)["losses"]
    assert loss["sampler"] is None if "none" in said else loss["sampler"]["is_default"]
    assert loss.get("sampler_note") == (said.split("(", 1)[1].rstrip(")") if "uses no sampler" in said else None)
