"""The shipped examples resolve exactly as mmengine resolves them, and their losses are found."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import losstune
from tests.conftest import EXAMPLES, shape

mmengine_config = pytest.importorskip("mmengine.config")

CONFIGS = sorted(p for ext in ("*.py", "yaml/*.yaml", "json/*.json") for p in EXAMPLES.glob(ext))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_equals_mmengine(path: Path) -> None:
    with redirect_stdout(io.StringIO()):
        expected = mmengine_config.Config.fromfile(str(path)).to_dict()
    cfg = losstune.load(path)
    assert cfg.to_dict() == expected
    assert shape(cfg.to_dict()) == shape(expected), "same values, but key order or value types differ"
    assert not [d for d in cfg.diagnostics if d.severity is losstune.Severity.ERROR]


def test_every_example_has_losses() -> None:
    assert len(CONFIGS) >= 10
    for path in CONFIGS:
        assert losstune.load(path).losses(), path


def test_twins_resolve_to_the_same_losses() -> None:
    py = losstune.load(EXAMPLES / "retinanet_r50_fpn_1x_coco.py")
    yml = losstune.load(EXAMPLES / "yaml" / "retinanet_r50_fpn_1x_coco.yaml")
    assert [(n.key, n.type, n.params) for n in py.losses()] == [(n.key, n.type, n.params) for n in yml.losses()]
    py = losstune.load(EXAMPLES / "faster_rcnn_r50_fpn_1x_coco.py")
    js = losstune.load(EXAMPLES / "json" / "faster_rcnn_r50_fpn_1x_coco.json")
    assert [(n.key, n.type, n.params) for n in py.losses()] == [(n.key, n.type, n.params) for n in js.losses()]
