"""`lint --fix`, `--unsafe-fixes`, `--diff`, `--show-fixes`: each rule's fix on its own examples and
on real MMDetection configs with a fault put in, checked with mmengine."""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losstune.edit.fixes import fix
from losstune.lint.examples import run_example
from losstune.lint.settings import Settings
from losstune.rules import ALL_RULES
from losstune.rules.base import Example, Rule
from losstune.schema.registry import load_schema
from tests.conftest import PROJECTS, invoke

runner = CliRunner()
SCHEMA = load_schema()
MMDET3 = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"


def _mmengine(path: Path) -> dict[str, object] | None:
    try:
        from mmengine.config import Config
    except ImportError:  # pragma: no cover - mmengine is in the dev environment
        return None
    data: dict[str, object] = Config.fromfile(str(path)).to_dict()
    return data


def _fixed_examples() -> list[tuple[Rule, Example]]:
    return [(r, e) for r in ALL_RULES for e in r.invalid if e.fixed is not None]


def test_each_fixable_rule_shows_its_fix_on_an_example() -> None:
    fixable = {r.code for r in ALL_RULES if r.fix_safety is not None}
    assert fixable == {"LT100", "LT102", "LT103", "LT105", "LT107", "LT110", "LT111", "LT112", "LT115", "LT117"}
    assert {r.code for r, _ in _fixed_examples()} == fixable


@pytest.mark.parametrize(("rule", "example"), _fixed_examples(), ids=lambda x: getattr(x, "code", ""))
def test_fix_of_each_example_gives_its_fixed_text(rule: Rule, example: Example, tmp_path: Path) -> None:
    found = run_example(rule, example, SCHEMA)
    assert found and all(d.edit is not None and d.edit.safety == rule.fix_safety for d in found)
    for name, text in example.bases:
        (tmp_path / name).write_text(text, encoding="utf-8")
    path = tmp_path / "cfg.py"
    path.write_text(example.source, encoding="utf-8")
    settings = Settings(select=("LT", rule.code), mmdet_version=example.version)
    if rule.fix_safety == "unsafe":  # not made without --unsafe-fixes
        assert not fix([str(path)], SCHEMA, settings).fixed
        assert path.read_text(encoding="utf-8") == example.source
    outcome = fix([str(path)], SCHEMA, settings, unsafe=True)
    assert {f.finding.code for f in outcome.fixed} == {rule.code} and not outcome.skipped
    assert path.read_text(encoding="utf-8") == example.fixed
    assert outcome.left is not None and not [d for d in outcome.left.diagnostics if d.code == rule.code]
    want = tmp_path / "want.py"
    want.write_text(example.fixed or "", encoding="utf-8")
    assert _mmengine(path) == _mmengine(want)


def test_every_finding_of_a_fixable_rule_declares_the_rules_safety() -> None:
    for rule in ALL_RULES:
        for example in rule.invalid:
            for d in run_example(rule, example, SCHEMA):
                if d.edit is not None:
                    assert d.edit.safety == rule.fix_safety, (rule.code, example.source)
                    assert d.fix is not None and d.edit.title in d.fix


def test_no_fix_where_the_suggestion_is_a_guess(write: Callable[..., Path]) -> None:
    # `reduction=None` reads as 'none' or 'mean'; `gamma` set already leaves `gama` to remove or keep.
    cfg = write(
        "cfg.py",
        "model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', reduction=None),\n"
        "    loss_cls=dict(type='FocalLoss', gamma=2.0, gama=2.0)))\n",
    )
    before = cfg.read_text()
    outcome = fix([str(cfg)], SCHEMA, Settings(), unsafe=True)
    assert not outcome.fixed and cfg.read_text() == before
    assert outcome.left is not None and {d.code for d in outcome.left.diagnostics} == {"LT102", "LT105"}


# Real MMDetection 3.3.0 configs, a fault put into one line: the fix puts the line back (or an
# equivalent override) and mmengine loads the config as it was.
_FAULTS: list[tuple[str, str, str, str, bool, str]] = [
    # (config, file with the fault, original text, faulty text, unsafe); a fix that adds a key
    # also changes the line after which it goes (the closing brackets move after the new key).
    (
        "retinanet/retinanet_r50_fpn_1x_coco.py",
        "_base_/models/retinanet_r50_fpn.py",
        "gamma=2.0",
        "gama=2.0",
        False,
        "",
    ),
    (
        "retinanet/retinanet_r50_fpn_1x_coco.py",
        "_base_/models/retinanet_r50_fpn.py",
        "alpha=0.25,\n            loss_weight=1.0)",
        "alpha=0.25,\n            loss_weight='1.0')",
        False,
        "",
    ),
    (
        "retinanet/retinanet_r50_fpn_1x_coco.py",
        "_base_/models/retinanet_r50_fpn.py",
        "use_sigmoid=True",
        "use_sigmoid=1",
        False,
        "",
    ),
    (
        "fsaf/fsaf_r50_fpn_1x_coco.py",
        "fsaf/fsaf_r50_fpn_1x_coco.py",
        "eps=1e-6,\n            loss_weight=1.0,\n            reduction='none'",
        "eps=1e-6,\n            loss_weight=1.0,\n            reduction='non'",
        False,
        "",
    ),
    (
        "retinanet/retinanet_r50_fpn_1x_coco.py",
        "_base_/models/retinanet_r50_fpn.py",
        "type='PseudoSampler'),",
        "type='RandomSampler', num=256, pos_fraction=0.5),",
        True,
        "",
    ),
    (
        "faster_rcnn/faster-rcnn_r50_fpn_giou_1x_coco.py",
        "faster_rcnn/faster-rcnn_r50_fpn_giou_1x_coco.py",
        "            reg_decoded_bbox=True,\n",
        "",
        True,
        "loss_bbox=dict(type='GIoULoss', loss_weight=10.0))))",
    ),
]


@pytest.mark.skipif(
    not MMDET3.is_dir(), reason="needs MMDetection 3.3.0's configs: python benchmarks/fetch_projects.py"
)
@pytest.mark.parametrize("fault", _FAULTS, ids=lambda f: f"{f[0]}:{f[3]!r}")
def test_fix_of_a_fault_in_a_real_config(fault: tuple[str, str, str, str, bool, str], tmp_path: Path) -> None:
    config, faulty, good, bad, unsafe, moved = fault
    tree = tmp_path / "configs"
    for folder in {"_base_", config.split("/")[0], "retinanet", "faster_rcnn"}:
        shutil.copytree(MMDET3 / folder, tree / folder, dirs_exist_ok=True)
    target = tree / config
    original = _mmengine(target)
    path = tree / faulty
    text = path.read_text(encoding="utf-8")
    assert text.count(good) == 1
    broken = text.replace(good, bad)
    path.write_text(broken, encoding="utf-8")
    code, _ = invoke("lint", str(target), "--format", "text", cwd=tmp_path)
    assert code == 1
    args = ["lint", str(target), "--fix", *(["--unsafe-fixes"] if unsafe else [])]
    code, out = invoke(*args, cwd=tmp_path)
    assert "Fixed 1 finding" in out, out
    assert _mmengine(target) == original
    fixed = path.read_text(encoding="utf-8")
    # Every line the fault did not touch is as it was.
    fault_lines = {
        i for i, line in enumerate(broken.splitlines()) if line not in text.splitlines() or (moved and moved in line)
    }
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, broken.splitlines(), fixed.splitlines()).get_opcodes():
        if tag in ("replace", "delete"):
            assert set(range(i1, i2)) <= fault_lines, (tag, broken.splitlines()[i1:i2])
    overridden = unsafe and target != path  # an unsafe fix of a base's value: made in the config
    for other in tree.rglob("*.py"):
        if other != path and not (overridden and other == target):
            assert other.read_bytes() == (MMDET3 / other.relative_to(tree)).read_bytes(), other
    if overridden:
        assert fixed == broken
        before = (MMDET3 / config).read_text(encoding="utf-8")
        assert target.read_text(encoding="utf-8").startswith(before)


def test_show_fixes_and_diff_whole_output(write: Callable[..., Path], tmp_path: Path) -> None:
    write(
        "configs/_base_/retina.py",
        """
        model = dict(
            bbox_head=dict(
                type='RetinaHead',
                loss_cls=dict(type='FocalLoss', use_sigmoid=True, gama=2.0, alpha=0.25),
                loss_bbox=dict(type='L1Loss', reduction='avg')))
        """,
    )
    write("configs/a.py", "_base_ = './_base_/retina.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(alpha='0.5')))\n")
    base_before = (tmp_path / "configs/_base_/retina.py").read_text()
    code, out = invoke("lint", "configs", "--diff", cwd=tmp_path)
    assert code == 1
    assert out == (
        "--- a/configs/_base_/retina.py\n"
        "+++ b/configs/_base_/retina.py\n"
        "@@ -1,5 +1,5 @@\n"
        " model = dict(\n"
        "     bbox_head=dict(\n"
        "         type='RetinaHead',\n"
        "-        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gama=2.0, alpha=0.25),\n"
        "-        loss_bbox=dict(type='L1Loss', reduction='avg')))\n"
        "+        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25),\n"
        "+        loss_bbox=dict(type='L1Loss', reduction='mean')))\n"
        "--- a/configs/a.py\n"
        "+++ b/configs/a.py\n"
        "@@ -1,2 +1,2 @@\n"
        " _base_ = './_base_/retina.py'\n"
        "-model = dict(bbox_head=dict(loss_cls=dict(alpha='0.5')))\n"
        "+model = dict(bbox_head=dict(loss_cls=dict(alpha=0.5)))\n"
        "Would fix 3 findings.\n"
    )
    assert (tmp_path / "configs/_base_/retina.py").read_text() == base_before
    code, out = invoke("lint", "configs", "--fix", "--show-fixes", cwd=tmp_path)
    assert code == 0
    assert out == (
        "Fixed 3 findings:\n"
        "  configs/_base_/retina.py:4:59  LT102  rename it to `gamma`\n"
        "  configs/_base_/retina.py:5:49  LT105  reduction='mean'\n"
        "  configs/a.py:2:49  LT103  remove the quotes: alpha=0.5\n"
        "All checks passed (1 config checked).\n"
    )
    code, out = invoke("lint", "configs", "--diff", cwd=tmp_path)
    assert (code, out) == (0, "")


def test_a_key_written_in_a_base_too_is_renamed_through_the_whole_dict(write: Callable[..., Path]) -> None:
    # Renaming `gama` in the child alone would leave the base's: the dict is written whole.
    write("_base_/b.py", "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gama=2.0)))\n")
    cfg = write("a.py", "_base_ = './_base_/b.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gama=3.0)))\n")
    outcome = fix([str(cfg)], SCHEMA, Settings())
    assert [f.finding.code for f in outcome.fixed] == ["LT102"] and not outcome.skipped
    assert _mmengine(cfg) == {"model": {"bbox_head": {"loss_cls": {"type": "FocalLoss", "gamma": 3.0}}}}


def test_yaml_and_json_keys_are_renamed_where_they_stand(write: Callable[..., Path], tmp_path: Path) -> None:
    yaml_cfg = write("c.yaml", "model:\n  bbox_head:\n    loss_cls:\n      type: FocalLoss\n      gama: 2.0  # typo\n")
    json_cfg = write("d.json", '{"model": {"bbox_head": {"loss_cls": {"type": "FocalLoss", "gama": 2.0}}}}\n')
    outcome = fix([str(yaml_cfg), str(json_cfg)], SCHEMA, Settings())
    assert len(outcome.fixed) == 2 and not outcome.skipped
    assert (
        yaml_cfg.read_text() == "model:\n  bbox_head:\n    loss_cls:\n      type: FocalLoss\n      gamma: 2.0  # typo\n"
    )
    assert json_cfg.read_text() == '{"model": {"bbox_head": {"loss_cls": {"type": "FocalLoss", "gamma": 2.0}}}}\n'


def test_a_refused_fix_is_listed_with_why_and_nothing_is_written(write: Callable[..., Path], tmp_path: Path) -> None:
    write("n/base.py", "model = dict(bbox_head=dict(type='RetinaHead'))\n")
    cfg = write(
        "n/cfg.py",
        "from mmengine.config import read_base\nwith read_base():\n    from .base import *\n"
        "model.update(dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gama=2.0))))\n",
    )
    before = cfg.read_text()
    code, out = invoke("lint", "n/cfg.py", "--fix", cwd=tmp_path)
    assert code == 1 and cfg.read_text() == before
    assert out.startswith(
        "Not fixed: 1 finding:\n"
        "  n/cfg.py:4:66  LT102  new-style (read_base) configs cannot be edited by losstune yet; edit the file by hand\n"
        "n/cfg.py\n"
        "  4:66  error  LT102 unknown-parameter"
    ), out


def test_unsafe_fixes_need_fix_or_diff(tmp_path: Path) -> None:
    code, out = invoke("lint", ".", "--unsafe-fixes", cwd=tmp_path)
    assert code == 2 and "--unsafe-fixes adds to --fix or --diff" in out


def test_one_place_that_two_keys_reach_is_fixed_once_for_both(write: Callable[..., Path]) -> None:
    cfg = write(
        "c.py",
        "loss = dict(type='FocalLoss', gama=2.0)\n"
        "model = dict(rpn_head=dict(type='RetinaHead', loss_cls=loss), bbox_head=dict(type='RetinaHead', loss_cls=loss))\n",
    )
    outcome = fix([str(cfg)], SCHEMA, Settings())
    assert len(outcome.fixed) == 1 and not outcome.skipped
    assert cfg.read_text().startswith("loss = dict(type='FocalLoss', gamma=2.0)\n")


def test_a_typo_over_a_key_another_file_sets_is_renamed_where_it_is_written(write: Callable[..., Path]) -> None:
    # The child meant to change the base's gamma; the base's typo under a child's gamma is fixed
    # in the base, and the child's gamma still wins.
    write("_base_/b.py", "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0, alpha=0.25)))\n")
    child = write("a.py", "_base_ = './_base_/b.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gama=1.5)))\n")
    outcome = fix([str(child)], SCHEMA, Settings())
    assert len(outcome.fixed) == 1 and not outcome.skipped
    assert child.read_text() == "_base_ = './_base_/b.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma=1.5)))\n"
    base = write("_base_/c.py", "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gama=2.0)))\n")
    other = write("o.py", "_base_ = './_base_/c.py'\nmodel = dict(bbox_head=dict(loss_cls=dict(gamma=1.5)))\n")
    outcome = fix([str(other)], SCHEMA, Settings())
    assert len(outcome.fixed) == 1 and not outcome.skipped
    assert base.read_text() == "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n"
    assert _mmengine(other) == {"model": {"bbox_head": {"loss_cls": {"type": "FocalLoss", "gamma": 1.5}}}}
