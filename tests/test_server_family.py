"""The server's index of the configs that inherit a base: searched once, kept while the edits
leave the inheritance as it was, searched again when they change it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from losstune.server.family import Families
from tests.conftest import PROJECTS

CONFIGS = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
pytestmark = pytest.mark.skipif(not CONFIGS.is_dir(), reason="MMDetection 3.3.0 configs not downloaded")
DEPTH = ("model", "backbone", "depth")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for part in ("retinanet", "_base_"):
        shutil.copytree(CONFIGS / part, tmp_path / part)
    return tmp_path


def _writers(families: Families, base: Path, overlay: dict[str, str] | None = None) -> list[str]:
    found, notes = families.overrides(str(base), DEPTH, overlay or {})
    assert notes == []
    return sorted(Path(o.span.file).name for o in found)


def test_the_search_runs_once_and_an_edit_that_keeps_the_inheritance_keeps_it(tree: Path) -> None:
    families = Families(lambda: [str(tree)])
    base = tree / "_base_" / "models" / "retinanet_r50_fpn.py"
    everyone = _writers(families, base)
    assert len(everyone) == 14 and "retinanet_r18_fpn_1x_coco.py" in everyone
    assert _writers(families, base) == everyone and families.searches == 1
    # A config that overrides the key stops writing it, unsaved: it is no longer listed.
    r18 = tree / "retinanet" / "retinanet_r18_fpn_1x_coco.py"
    overlay = {str(r18): r18.read_text().replace("depth=18,", "")}
    families.changed(str(r18))
    assert _writers(families, base, overlay) == [n for n in everyone if n != r18.name]
    # The base itself edited: what overrides it is the same.
    overlay[str(base)] = "\n" + base.read_text()
    families.changed(str(base))
    assert _writers(families, base, overlay) == [n for n in everyone if n != r18.name]
    assert families.searches == 1


def test_an_edit_that_changes_what_inherits_the_base_searches_again(tree: Path) -> None:
    (tree / "retinanet" / "plain.py").write_text("x = 1\n")
    families = Families(lambda: [str(tree)])
    base = tree / "_base_" / "models" / "retinanet_r50_fpn.py"
    assert len(_writers(families, base)) == 14
    # A config of the workspace that did not inherit the base now does (an unsaved buffer).
    new = tree / "retinanet" / "deep.py"
    new.write_text("x = 1\n")
    overlay = {str(new): "_base_ = './retinanet_r50_fpn_1x_coco.py'\nmodel = dict(backbone=dict(depth=152))\n"}
    families.changed(str(new))
    assert "deep.py" in _writers(families, base, overlay) and families.searches == 2
    # A config the search had read, which inherited nothing, now does.
    plain = tree / "retinanet" / "plain.py"
    overlay[str(plain)] = overlay[str(new)]
    families.changed(str(plain))
    assert "plain.py" in _writers(families, base, overlay) and families.searches == 3
    # A config that inherited it inherits something else.
    r18 = tree / "retinanet" / "retinanet_r18_fpn_1x_coco.py"
    overlay[str(r18)] = "_base_ = '../_base_/default_runtime.py'\nmodel = dict(backbone=dict(depth=18))\n"
    families.changed(str(r18))
    found = _writers(families, base, overlay)
    assert "retinanet_r18_fpn_1x_coco.py" not in found and len(found) == 15 and families.searches == 4
    # An edit of a config that has nothing to do with it searches nothing.
    other = tree / "_base_" / "schedules" / "schedule_1x.py"
    families.changed(str(other))
    assert len(_writers(families, base, overlay)) == 15 and families.searches == 4


def test_the_writes_found_are_those_of_every_config_resolved_on_its_own(tree: Path) -> None:
    # The oracle: each config of the tree resolved whole, where the value each inheritor gets at
    # a path the base writes was set, when not by the base.
    from losstune.config import origin_at
    from losstune.loader.resolve import Resolver
    from losstune.server.family import written_paths

    base = str(tree / "_base_" / "models" / "retinanet_r50_fpn.py")
    resolver = Resolver()
    tree_of_base = resolver.resolve(base).cfg
    assert tree_of_base is not None
    paths = sorted(written_paths(tree_of_base, base), key=str)
    configs = [str(p) for p in sorted((tree / "retinanet").glob("*.py"))]
    results = [r for r in map(resolver.resolve, configs) if r.cfg is not None and base in r.files]
    assert len(results) >= 20
    families = Families(lambda: [str(tree)])
    checked = 0
    for path in paths:
        expected = set()
        for r in results:
            origin = origin_at(r.cfg, path)
            if origin is not None and origin.span.file != base:
                expected.add(origin.span)
        found, _ = families.overrides(base, path, {})
        assert {o.span for o in found} == expected, path
        checked += bool(expected)
    assert checked >= 5 and families.searches == 1
