"""`losstune set` on YAML configs: only the lines an edit needs change; anchors and aliases change
only the requested keys."""

from __future__ import annotations

import difflib
import io
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import losstune
from losstune.edit.values import yaml_literal
from tests.conftest import invoke

TREE: dict[str, Any] = {
    "model": {
        "type": "RetinaNet",
        "bbox_head": {
            "type": "RetinaHead",
            "num_classes": 80,
            "anchor_generator": {"type": "AnchorGenerator", "ratios": [0.5, 1.0, 2.0], "strides": [8, 16, 32]},
            "loss_cls": {"type": "FocalLoss", "use_sigmoid": True, "gamma": 2.0, "alpha": 0.25, "loss_weight": 1.0},
            "loss_bbox": {"type": "L1Loss", "loss_weight": 1.0},
        },
        "train_cfg": {"assigner": {"type": "MaxIoUAssigner", "pos_iou_thr": 0.5}, "debug": False},
    },
    "load_from": None,
    "resume": False,
    "flag": "yes",
    "time": "1:20",
    "img_scale": (1333, 800),
    "work_dir": "./work_dirs/" + "/".join(["a_rather_long_folder_name"] * 6),
}


def _dumped(tmp_path: Path, flow: bool) -> Path:
    """The config as mmengine's ``Config.dump`` writes it (``flow``: leaf lists in flow style)."""
    from mmengine.config import Config
    from mmengine.fileio import dump

    path = tmp_path / "cfg.yaml"
    with redirect_stdout(io.StringIO()):
        if flow:
            dump(Config(TREE).to_dict(), str(path), file_format="yaml", default_flow_style=None)
        else:
            Config(TREE).dump(str(path))
    return path


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True)):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def _mmengine(path: Path) -> dict[str, Any]:
    from mmengine.config import Config

    with redirect_stdout(io.StringIO()):
        out: dict[str, Any] = Config.fromfile(str(path)).to_dict()
    return out


@pytest.mark.parametrize("flow", [False, True], ids=["block-lists", "flow-lists"])
def test_an_edit_of_a_dumped_config_changes_only_the_lines_it_needs(tmp_path: Path, flow: bool) -> None:
    path = _dumped(tmp_path, flow)
    before = path.read_text()
    assert "load_from: null" in before and "'1:20'" in before  # what the edit must not rewrite
    code, out = invoke(
        "set",
        "loss_cls.gamma=1.5",
        "loss_bbox.reduction=none",
        "train_cfg.assigner.min_pos_iou=0.3",
        "model.data_preprocessor={'mean': [1, 2], 'note': 'a, b'}",
        path.name,
        cwd=tmp_path,
    )
    assert code == 0 and "warning" not in out.lower(), out
    removed, added = _changed_lines(before, path.read_text())
    if flow:  # a flow mapping is one line: the line of each edited mapping changes, no other
        assert removed == [
            "    loss_bbox: {loss_weight: 1.0, type: L1Loss}\n",
            "    loss_cls: {alpha: 0.25, gamma: 2.0, loss_weight: 1.0, type: FocalLoss, use_sigmoid: true}\n",
            "    assigner: {pos_iou_thr: 0.5, type: MaxIoUAssigner}\n",
        ]
        assert added == [
            "    loss_bbox: {loss_weight: 1.0, type: L1Loss, reduction: none}\n",
            "    loss_cls: {alpha: 0.25, gamma: 1.5, loss_weight: 1.0, type: FocalLoss, use_sigmoid: true}\n",
            "    assigner: {pos_iou_thr: 0.5, type: MaxIoUAssigner, min_pos_iou: 0.3}\n",
            "  data_preprocessor: {mean: [1, 2], note: 'a, b'}\n",
        ]
    else:
        assert removed == ["      gamma: 2.0\n"]
        assert added == [
            "      reduction: none\n",
            "      gamma: 1.5\n",
            "      min_pos_iou: 0.3\n",
            "  data_preprocessor: {mean: [1, 2], note: 'a, b'}\n",
        ]
    expected = losstune.load(path).to_dict()
    assert _mmengine(path) == expected
    assert expected["model"]["bbox_head"]["loss_bbox"] == {"type": "L1Loss", "loss_weight": 1.0, "reduction": "none"}
    assert expected["img_scale"] == (1333, 800) and expected["load_from"] is None and expected["time"] == "1:20"


ANCHORED = """\
focal: &focal
  type: FocalLoss
  use_sigmoid: true
  gamma: 2.0   # shared
  alpha: 0.25
model:
  type: RetinaNet
  bbox_head:
    type: RetinaHead
    num_classes: 80
    loss_cls: *focal
  neck_loss: *focal
weight: &w 1.0
other_weight: *w
"""


def _edit(write: Callable[..., Path], tmp_path: Path, *args: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    path = write("anchored.yaml", ANCHORED)
    before = losstune.load(path).to_dict()
    code, dry = invoke("set", *args, path.name, "--dry-run", cwd=tmp_path)
    assert code == 0, dry
    code, out = invoke("set", *args, path.name, cwd=tmp_path)
    assert code == 0, out
    removed, added = _changed_lines(ANCHORED, path.read_text())
    for line in [*removed, *added]:  # the dry run showed exactly what was written
        assert line.rstrip("\n") in dry
    after = losstune.load(path).to_dict()
    assert _mmengine(path) == after
    return path.read_text(), before, after


def _differ(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return {k for key in a.keys() | b.keys() for k in _differ(a.get(key), b.get(key), f"{prefix}{key}.")}
    return set() if a == b else {prefix.rstrip(".")}


def test_a_value_reached_through_an_alias_is_edited_there_only(write: Callable[..., Path], tmp_path: Path) -> None:
    text, before, after = _edit(write, tmp_path, "model.bbox_head.loss_cls.gamma=1.0")
    assert _differ(before, after) == {"model.bbox_head.loss_cls.gamma"}
    assert "    loss_cls: {type: FocalLoss, use_sigmoid: true, gamma: 1.0, alpha: 0.25}\n" in text
    assert "  gamma: 2.0   # shared\n" in text and "  neck_loss: *focal\n" in text


def test_an_anchored_value_is_edited_and_its_aliases_keep_theirs(write: Callable[..., Path], tmp_path: Path) -> None:
    text, before, after = _edit(write, tmp_path, "focal.gamma=3.0", "weight=2.0")
    assert _differ(before, after) == {"focal.gamma", "weight"}
    assert "  gamma: 3.0   # shared\n" in text and "weight: &w 2.0\n" in text
    assert "other_weight: 1.0\n" in text


def test_an_alias_and_its_anchor_changed_together_stay_shared(write: Callable[..., Path], tmp_path: Path) -> None:
    text, before, after = _edit(write, tmp_path, "weight=2.0", "other_weight=2.0")
    assert _differ(before, after) == {"weight", "other_weight"}
    assert "weight: &w 2.0\nother_weight: *w\n" in text


def test_a_new_key_through_an_alias_and_a_scalar_alias(write: Callable[..., Path], tmp_path: Path) -> None:
    text, before, after = _edit(write, tmp_path, "model.neck_loss.reduction=sum", "other_weight=0.5")
    assert _differ(before, after) == {"model.neck_loss.reduction", "other_weight"}
    assert "other_weight: 0.5\n" in text and "    loss_cls: *focal\n" in text


def test_a_new_key_in_a_block_mapping_goes_after_its_comments_and_before_the_next_key(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    path = write(
        "c.yaml",
        "model:\n"
        "  type: RetinaNet\n"
        "  bbox_head:\n"
        "    type: RetinaHead\n"
        "    num_classes: 80\n"
        "    loss_cls:\n"
        "      type: FocalLoss\n"
        "      use_sigmoid: yes   # YAML 1.1 true\n"
        "      gamma: 2.0\n"
        "    # the box loss is inherited\n"
        "note: |\n"
        "  two\n"
        "  lines\n"
        "empty:\n",
    )
    code, out = invoke("set", "loss_cls.alpha=0.5", "model.extra=1", "empty=3", path.name, cwd=tmp_path)
    assert code == 0, out
    assert path.read_text() == (
        "model:\n"
        "  type: RetinaNet\n"
        "  bbox_head:\n"
        "    type: RetinaHead\n"
        "    num_classes: 80\n"
        "    loss_cls:\n"
        "      type: FocalLoss\n"
        "      use_sigmoid: yes   # YAML 1.1 true\n"
        "      gamma: 2.0\n"
        "      alpha: 0.5\n"
        "  extra: 1\n"
        "    # the box loss is inherited\n"
        "note: |\n"
        "  two\n"
        "  lines\n"
        "empty: 3\n"
    )


@pytest.mark.parametrize(
    "value",
    [
        {"a b": (1, 2), "c": "x, y", "d": None, "yes": "yes", "t": "1:20", "n": [1.0e20, float("inf")]},
        "two\nlines",
        "\u2028 separated \x85",
        "",
        "it's: here",
        [],
        {},
    ],
)
def test_yaml_literals_read_back_as_the_value_on_one_line(value: Any) -> None:
    import yaml

    text = yaml_literal(value)
    assert "\n" not in text
    assert yaml.load(f"k: {text}\n", Loader=yaml.FullLoader)["k"] == value


def test_a_dict_shared_through_an_alias_is_written_whole_only_where_asked(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    text, before, after = _edit(write, tmp_path, "--unset", "model.bbox_head.loss_cls.alpha")
    assert _differ(before, after) == {"model.bbox_head.loss_cls.alpha"}
    assert "    loss_cls: {type: FocalLoss, use_sigmoid: true, gamma: 2.0}\n" in text
    text, before, after = _edit(write, tmp_path, "--unset", "focal.alpha")
    assert _differ(before, after) == {"focal.alpha"}
    assert "  neck_loss: {type: FocalLoss, use_sigmoid: true, gamma: 2.0, alpha: 0.25}\n" in text


_KEYS = st.sampled_from(["a", "b", "loss", "gamma", "type", "x_1", "yes", "null", "1:20", "a b"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["yes", "no", "1:20", "a, b", "x: y", "", "# not a comment", "two\nlines", "é", "'q'"]),
)
_TREES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, min_size=1, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(
    tree=st.dictionaries(_KEYS, _TREES, min_size=1, max_size=5),
    flow=st.sampled_from([False, None, True]),
    data=st.data(),
)
def test_a_yaml_override_gives_the_merged_data_and_keeps_every_other_line(
    tree: dict[str, Any], flow: bool | None, data: st.DataObject
) -> None:
    import yaml

    from losstune.edit.datawrite import yaml_override
    from losstune.edit.pywrite import apply_edits

    text = yaml.safe_dump(tree, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    # An override at a random mapping of the tree: a new key, or a new value for an existing one.
    path: list[str] = []
    node: Any = tree
    while True:
        children = [k for k, v in node.items() if isinstance(v, dict)]
        if not children or not data.draw(st.booleans()):
            break
        path.append(data.draw(st.sampled_from(children)))
        node = node[path[-1]]
    key = data.draw(st.one_of(_KEYS, st.sampled_from(["new_key", "other new"])))
    value = data.draw(_SCALARS)
    override: dict[Any, Any] = {key: value}
    for step in reversed(path):
        override = {step: override}
    new = apply_edits(text, yaml_override(text, override))
    is_new = key not in node
    node[key] = value
    assert yaml.load(new, Loader=yaml.FullLoader) == tree
    if is_new and flow is False:  # a new key in block style: lines are only added
        assert _changed_lines(text, new)[0] == []


def test_a_block_value_replaced_by_a_one_line_value_moves_up_to_its_key(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    path = write(
        "s.yaml",
        "model:\n"
        "  anchor_generator:\n"
        "    ratios:\n"
        "    - 0.5\n"
        "    - 1.0\n"
        "    strides:  # per level:\n"
        "    - 8\n"
        "    - 16\n"
        "    scales:\n"
        "      small: 1\n"
        "  type: X\n",
    )
    code, out = invoke("set", "ratios=[1.0]", "strides=[4]", "scales={'big': 2}", path.name, cwd=tmp_path)
    assert code == 0, out
    assert path.read_text() == (
        "model:\n"
        "  anchor_generator:\n"
        "    ratios: [1.0]\n"
        "    strides:  # per level:\n"
        "      [4]\n"
        "    scales: {big: 2}\n"
        "  type: X\n"
    )
