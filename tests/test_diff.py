"""``losstune diff``: what takes effect (defaults filled in, the implicit sampler made explicit),
the written comparison with ``--written``, and many configs as one table; whole outputs pinned."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from losstune.config import load
from losstune.loader.resolve import Resolver
from losstune.render.diff import render_text
from losstune.report import diff
from losstune.schema.registry import load_schema
from tests.conftest import REPO, invoke

BASE = """
model = dict(
    type='RetinaNet',
    bbox_head=dict(
        type='RetinaHead',
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4),
        sampler=dict(type='PseudoSampler')))
"""
# Writes only FocalLoss's defaults.
DEFAULTS = """
_base_ = './base.py'
model = dict(bbox_head=dict(loss_cls=dict(reduction='mean', activated=False)))
"""
# No sampler: the head uses its implicit PseudoSampler.
NO_SAMPLER = """
_base_ = './base.py'
model = dict(train_cfg=dict(_delete_=True, assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4)))
"""
SUM = """
_base_ = './base.py'
model = dict(bbox_head=dict(loss_cls=dict(gamma=1.5, reduction='sum')))
"""


@pytest.fixture
def tree(write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in (("base.py", BASE), ("defaults.py", DEFAULTS), ("no_sampler.py", NO_SAMPLER), ("sum.py", SUM)):
        write(name, text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _text(*names: str, width: int, written: bool = False) -> str:
    resolver = Resolver()
    report = diff([load(n, resolver=resolver) for n in names], load_schema([]), written=written)
    return render_text(report, width=width)


def _json(tree: Path, *args: str) -> tuple[int, dict[str, object]]:
    code, out = invoke("diff", *args, "--format", "json", cwd=tree)
    return code, json.loads(out)


@pytest.mark.parametrize("width", [80, 120])
def test_written_defaults_are_equal_in_effect(tree: Path, width: int) -> None:
    assert _text("base.py", "defaults.py", width=width) == (
        "a: base.py\n"
        "b: defaults.py\n"
        "\n"
        "No loss or sampler field differs in effect; 2 written differences are only defaults (--written lists them).\n"
        if width == 120
        else "a: base.py\n"
        "b: defaults.py\n"
        "\n"
        "No loss or sampler field differs in effect; 2 written differences are only\n"
        "defaults (--written lists them).\n"
    )
    assert invoke("diff", "base.py", "defaults.py", cwd=tree)[0] == 0


@pytest.mark.parametrize("width", [80, 120])
def test_written_compares_what_is_written_with_aligned_origins(tree: Path, width: int) -> None:
    assert _text("base.py", "defaults.py", width=width, written=True) == (
        "a: base.py\n"
        "b: defaults.py\n"
        "\n"
        "model.bbox_head.loss_cls.reduction\n"
        "  a: (absent)\n"
        "  b: 'mean'    defaults.py:2\n"
        "model.bbox_head.loss_cls.activated\n"
        "  a: (absent)\n"
        "  b: False     defaults.py:2\n"
        "\n"
        "2 fields differ as written.\n"
    )
    assert invoke("diff", "--written", "base.py", "defaults.py", cwd=tree)[0] == 1


def test_the_implicit_sampler_is_the_written_pseudo_sampler(tree: Path) -> None:
    assert _text("base.py", "no_sampler.py", width=120).splitlines()[-1] == (
        "No loss or sampler field differs in effect; 1 written difference is only a default (--written lists it)."
    )
    code, data = _json(tree, "base.py", "no_sampler.py")
    assert (code, data["differences"], data["default_only"]) == (0, [], ["model.train_cfg.sampler.type"])


@pytest.mark.parametrize("width", [80, 120])
def test_a_default_on_one_side_is_marked(tree: Path, width: int) -> None:
    assert _text("sum.py", "defaults.py", width=width) == (
        "a: sum.py\n"
        "b: defaults.py\n"
        "\n"
        "model.bbox_head.loss_cls.gamma\n"
        "  a: 1.5       sum.py:2\n"
        "  b: 2.0       base.py:5\n"
        "model.bbox_head.loss_cls.reduction\n"
        "  a: 'sum'     sum.py:2\n"
        "  b: 'mean'    defaults.py:2\n"
        "\n"
        "2 fields differ in effect; 1 more written difference is only a default.\n"
    )
    assert _text("sum.py", "base.py", width=width).splitlines()[-3:] == [
        "  b: 'mean'    default",
        "",
        "2 fields differ in effect.",
    ]


def test_json_marks_defaults_and_lists_every_config(tree: Path) -> None:
    code, data = _json(tree, "sum.py", "base.py")
    assert code == 1 and data["kind"] == "diff" and data["mode"] == "effective"
    assert data["configs"] == ["sum.py", "base.py"] and (data["a"], data["b"]) == ("sum.py", "base.py")
    reduction = data["differences"][1]
    assert reduction["key"] == "model.bbox_head.loss_cls.reduction"
    assert reduction["node"] == "model.bbox_head.loss_cls" and reduction["field"] == "reduction"
    assert reduction["a"] == {"value": "sum", "origin": reduction["a"]["origin"], "is_default": False}
    assert reduction["a"]["origin"]["file"] == "sum.py" and reduction["a"]["origin"]["line"] == 2
    assert reduction["b"] == {"value": "mean", "origin": None, "is_default": True}
    assert reduction["values"] == [reduction["a"], reduction["b"]]
    assert data["default_only"] == []
    code, data = _json(tree, "--written", "sum.py", "base.py")
    assert code == 1 and data["mode"] == "written"
    assert data["differences"][1]["b"] is None and data["differences"][1]["values"][1] is None


def test_a_loss_of_a_registry_without_schema_has_no_defaults(write: Callable[..., Path], tmp_path: Path) -> None:
    loss = "model = dict(bbox_head=dict(type='RetinaHead', loss_cls=dict(type='FocalLoss'{})))\n"
    write("a.py", "default_scope = 'mmfoo'\n" + loss.format(", reduction='mean'"))
    write("b.py", "default_scope = 'mmfoo'\n" + loss.format(""))
    code, data = _json(tmp_path, "a.py", "b.py")
    assert code == 1 and [d["key"] for d in data["differences"]] == ["model.bbox_head.loss_cls.reduction"]
    write("a.py", loss.format(", reduction='mean'"))
    write("b.py", loss.format(""))
    assert _json(tmp_path, "a.py", "b.py")[0] == 0
    explicit = loss.replace("'FocalLoss'", "'mmdet.FocalLoss'")  # MMDetection's, whatever the scope
    write("a.py", "default_scope = 'mmfoo'\n" + explicit.format(", reduction='mean'"))
    write("b.py", "default_scope = 'mmfoo'\n" + explicit.format(""))
    assert _json(tmp_path, "a.py", "b.py")[0] == 0


def test_the_implicit_sampler_of_a_head_in_a_list(write: Callable[..., Path], tmp_path: Path) -> None:
    head = "dict(type='RetinaHead', loss_cls=dict(type='FocalLoss'))"
    write("a.py", f"model = dict(bbox_head=[{head}], train_cfg=dict(sampler=dict(type='PseudoSampler')))\n")
    write("b.py", f"model = dict(bbox_head=[{head}])\n")
    code, data = _json(tmp_path, "a.py", "b.py")
    assert (code, data["default_only"]) == (0, ["model.train_cfg.sampler.type"])


@pytest.mark.parametrize("width", [80, 120])
def test_many_configs_make_one_table(tree: Path, width: int) -> None:
    assert _text("base.py", "sum.py", "no_sampler.py", "defaults.py", width=width) == (
        "1: base.py\n"
        "2: sum.py\n"
        "3: no_sampler.py\n"
        "4: defaults.py\n"
        "\n"
        "                          1        2      3        4\n"
        "model.bbox_head.loss_cls\n"
        "  gamma                   2.0      1.5    2.0      2.0\n"
        "  reduction               'mean'*  'sum'  'mean'*  'mean'\n"
        "\n"
        "2 fields differ in effect; 2 more written differences are only defaults.\n"
        "* the default: not written in that config.\n"
    )


def test_a_folder_is_its_configs_sorted(tree: Path, write: Callable[..., Path]) -> None:
    for name, gamma in (("c.py", "3.0"), ("b.py", "3"), ("a.py", "3")):
        write(f"sweep/{name}", f"_base_ = '../base.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma={gamma})))\n")
    write("sweep/manifest.json", '{"kind": "manifest"}')
    code, data = _json(tree, "sweep")
    assert code == 1 and data["configs"] == ["sweep/a.py", "sweep/b.py", "sweep/c.py"] and "a" not in data
    [gamma] = data["differences"]
    assert [v["value"] for v in gamma["values"]] == [3, 3, 3.0]  # an int is not the float 3.0
    code, out = invoke("diff", "sweep", cwd=tree)
    assert code == 1 and out.startswith("1: sweep/a.py\n2: sweep/b.py\n3: sweep/c.py\n")


def test_fewer_than_two_configs_cannot_be_compared(tree: Path, write: Callable[..., Path]) -> None:
    write("one/a.py", BASE)
    code, out = invoke("diff", "one", cwd=tree)
    assert code == 2 and "two configs" in out and "Traceback" not in out


def test_help_teaches_both_modes() -> None:
    code, out = invoke("diff", "--help", cwd=Path.cwd())
    assert code == 0
    for words in ("--written", "A B C", "sweeps/focal", "Exit codes", "in effect"):
        assert words in " ".join(out.split()), words


def test_a_two_line_origin_keeps_its_second_line_under_its_first(tree: Path, write: Callable[..., Path]) -> None:
    write("var.py", "g = 1.25\n_base_ = './base.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma=g)))\n")
    assert _text("var.py", "sum.py", width=80).splitlines()[3:7] == [
        "model.bbox_head.loss_cls.gamma",
        "  a: 1.25      var.py:3",
        "               via `g` (var.py:1)",
        "  b: 1.5       sum.py:2",
    ]


def _twelve(write: Callable[..., Path]) -> list[str]:
    names = [f"many/c{i:02}.py" for i in range(1, 13)]
    for i, name in enumerate(names):
        gamma = "1.5" if i < 5 or i == 6 else "2.0"
        write(name, f"_base_ = '../base.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma={gamma})))\n")
    return names


LEGEND = "".join(f"{i:2}: many/c{i:02}.py\n" for i in range(1, 13))


def test_a_table_wider_than_the_terminal_lists_the_configs_of_each_value(
    tree: Path, write: Callable[..., Path]
) -> None:
    assert _text(*_twelve(write), width=80) == (
        f"{LEGEND}\nmodel.bbox_head.loss_cls.gamma\n  1-5, 7   1.5\n  6, 8-12  2.0\n\n1 field differs in effect.\n"
    )


def test_a_table_that_fits_is_a_table(tree: Path, write: Callable[..., Path]) -> None:
    assert _text(*_twelve(write), width=120) == (
        f"{LEGEND}\n"
        "                          1    2    3    4    5    6    7    8    9    10   11   12\n"
        "model.bbox_head.loss_cls\n"
        "  gamma                   1.5  1.5  1.5  1.5  1.5  2.0  1.5  2.0  2.0  2.0  2.0  2.0\n"
        "\n"
        "1 field differs in effect.\n"
    )


def test_the_readme_examples_are_true() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```")[0] for b in readme.split("```text\n$ losstune diff ")[1:]]
    assert len(blocks) == 2
    for block in blocks:
        command, _, expected = block.partition("\n")
        assert invoke("diff", *command.split(), cwd=REPO)[1] == expected, command
