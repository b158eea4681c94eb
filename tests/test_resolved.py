"""``explain --resolved``: the resolved losses and samplers written as a config that can be pasted
as a child config, each value with the place that sets it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from losstune.config import LoadedConfig
from losstune.loader.resolve import Resolver
from losstune.loader.values import to_plain
from losstune.render.resolved import render_resolved
from losstune.resolved import resolved
from losstune.schema.registry import load_schema
from tests.conftest import EXAMPLES, invoke

CONFIGS = sorted(
    str(p.relative_to(EXAMPLES))
    for p in EXAMPLES.rglob("*")
    if p.suffix in (".py", ".yaml", ".json") and "_base_" not in p.parts and p.is_file()
)


def _text(path: Path) -> str:
    return render_resolved(resolved(LoadedConfig(Resolver().resolve(path)), load_schema()))


@pytest.mark.parametrize("name", CONFIGS)
def test_the_resolved_text_pasted_as_a_child_config_changes_nothing(name: str, tmp_path: Path) -> None:
    work = tmp_path / "examples"
    shutil.copytree(EXAMPLES, work)
    original = work / name
    text = _text(original)
    if original.suffix == ".py":
        child = original.with_name("child.py")
        child.write_text(f"_base_ = ['{original.name}']\n" + text, encoding="utf-8")
    else:
        child = original.with_name("child.yaml")
        child.write_text(f"_base_: [{original.name}]\n" + text, encoding="utf-8")
    before = to_plain(Resolver().resolve(original).cfg)
    after = Resolver().resolve(child)
    assert after.cfg is not None, after.diagnostics
    assert to_plain(after.cfg) == before
    try:
        from mmengine.config import Config
    except ImportError:
        return
    assert Config.fromfile(str(child)).to_dict() == Config.fromfile(str(original)).to_dict()


def test_each_value_says_where_it_is_set_and_defaults_are_comments() -> None:
    code, out = invoke("explain", "--resolved", "retinanet_r50_fpn_1x_coco.py", cwd=EXAMPLES)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("# The losses and samplers of retinanet_r50_fpn_1x_coco.py as")
    assert "            gamma=2.0,  # _base_/models/retinanet_r50_fpn.py:46" in lines
    assert "            # reduction='mean',  default" in lines
    assert lines[2] == "model = dict("
    code, out = invoke("explain", "--resolved", "--format", "json", "retinanet_r50_fpn_1x_coco.py", cwd=EXAMPLES)
    assert code == 2 and "--resolved" in out


def test_a_value_that_cannot_be_written_back_is_a_comment(tmp_path: Path) -> None:
    (tmp_path / "cfg.py").write_text(
        "_base_ = []\nimport numpy as np\n"
        "model = dict(head=dict(loss_cls=dict(type='FocalLoss', alpha=np.sqrt(0.5), gamma=1.0)))\n",
        encoding="utf-8",
    )
    code, out = invoke("explain", "--resolved", "cfg.py", cwd=tmp_path)
    assert code == 0
    assert "            # alpha: unknown without running code (np.sqrt(0.5)), not written  # cfg.py:3" in out
    assert "            gamma=1.0,  # cfg.py:3" in out
