"""New-style configs (``with read_base():``): what ``update()`` and a plain assignment really do to
the imported model, as mmengine's lazy config does it, and what lint says about it."""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from losstune.config import LoadedConfig
from losstune.model import Diagnostic
from tests.conftest import lint_with

mmengine_config = pytest.importorskip("mmengine.config")

BASE = """
model = dict(type='MaskRCNN', backbone=dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)),
    roi_head=dict(type='StandardRoIHead', bbox_head=dict(type='Shared2FCBBoxHead', num_classes=80,
        loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0))))
"""
HEAD = "from mmengine.config import read_base\n\nwith read_base():\n    from .._base_.models.mrcnn import *\n\n"


@pytest.fixture
def tree(write: Callable[..., Path]) -> Callable[[str], Path]:
    for name in ("__init__.py", "_base_/__init__.py", "_base_/models/__init__.py", "mask/__init__.py"):
        write(name, "")
    write("_base_/models/mrcnn.py", BASE)
    return lambda body: write("mask/child.py", HEAD + body)


def lint(path: Path, code: str) -> tuple[LoadedConfig, list[Diagnostic]]:
    return lint_with(path, code)


def mmengine_model(path: Path) -> dict[str, object]:
    with redirect_stdout(io.StringIO()):
        model: dict[str, object] = mmengine_config.Config.fromfile(str(path)).to_dict()["model"]
    return model


def test_update_keeps_the_imported_keys_beside_the_new_ones_and_lint_says_so(tree: Callable[[str], Path]) -> None:
    child = tree("model.update(dict(backbone=dict(_delete_=True, type='SwinTransformer', embed_dims=96)))\n")
    loaded, [d] = lint(child, "LT114")
    assert loaded.to_dict()["model"] == mmengine_model(child)
    assert mmengine_model(child)["backbone"] == {
        "type": "SwinTransformer",
        "depth": 50,
        "out_indices": (0, 1, 2, 3),
        "_delete_": True,
        "embed_dims": 96,
    }
    assert d.span is not None and (Path(d.span.file).name, d.span.line) == ("child.py", 6)
    assert "only `.merge()` applies it" in d.message and "`depth`, `out_indices`" in d.message
    assert "no `backbone` to replace" not in d.message and d.fix is not None and ".merge(" in d.fix


def test_merge_applies_delete_and_nothing_is_reported(tree: Callable[[str], Path]) -> None:
    child = tree("model.merge(dict(backbone=dict(_delete_=True, type='SwinTransformer', embed_dims=96)))\n")
    loaded, found = lint(child, "LT114")
    assert loaded.to_dict()["model"] == mmengine_model(child) and found == []
    assert mmengine_model(child)["backbone"] == {"type": "SwinTransformer", "embed_dims": 96}


def test_an_assignment_replaces_the_imported_model_whole_and_lint_says_so(tree: Callable[[str], Path]) -> None:
    child = tree("model = dict(backbone=dict(depth=101))\n")
    loaded, [d] = lint(child, "LT119")
    assert loaded.to_dict()["model"] == mmengine_model(child) == {"backbone": {"depth": 101}}
    assert d.span is not None and (Path(d.span.file).name, d.span.line) == ("child.py", 6)
    assert "replaces the `model` the bases import whole" in d.message and d.fix is not None and "merge" in d.fix
    merged = tree("model.merge(dict(backbone=dict(depth=101)))\n")
    assert lint(merged, "LT119")[1] == []
