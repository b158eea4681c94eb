"""Losses registered by a config's `custom_imports` are checked like built-in ones: `lint`, `explain`
and `set` read the modules it names (never importing them) and know their classes' parameters."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import invoke

LOSSES = """
import torch.nn as nn
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.models.task_modules.samplers import BaseSampler
open({marker!r}, 'w').write('imported')


@MODELS.register_module()
class SmoothFocalLoss(nn.Module):
    def __init__(self, gamma=2.0, eps=0.1, loss_weight=1.0):
        super().__init__()


@MODELS.register_module()
class PassesKwargs(nn.Module):
    def __init__(self, scale=1.0, **kwargs):
        super().__init__()
        self.options = kwargs


@MODELS.register_module()
class DropsKwargs(nn.Module):
    def __init__(self, scale=1.0, **kwargs):
        super().__init__()


@MODELS.register_module(force=True)
class FocalLoss(nn.Module):
    def __init__(self, my_gamma=2.0):
        super().__init__()


@MODELS.register_module()
class L1Loss(nn.Module):
    def __init__(self, mine=1):
        super().__init__()


@TASK_UTILS.register_module()
class HalfSampler(BaseSampler):
    def __init__(self, num, pos_fraction=0.5, **kwargs):
        pass
"""

CONFIG = """
custom_imports = dict(imports=['projects.smooth'], allow_failed_imports=False)
model = dict(
    type='RetinaNet',
    bbox_head=dict(
        type='RetinaHead',
        num_classes=80,
        loss_cls=dict(type='SmoothFocalLoss', gama=2.0, eps=0.05),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(sampler=dict(type='HalfSampler', pos_fraction=0.25)))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    pkg = tmp_path / "projects" / "smooth"
    pkg.mkdir(parents=True)
    (tmp_path / "projects" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from .losses import *\n")
    (pkg / "losses.py").write_text(LOSSES.format(marker=str(tmp_path / "marker")))
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "cfg.py").write_text(textwrap.dedent(CONFIG).lstrip())
    return tmp_path


def _config(project: Path, loss_cls: str, imports: str = "'projects.smooth'") -> Path:
    text = CONFIG.replace("dict(type='SmoothFocalLoss', gama=2.0, eps=0.05)", loss_cls)
    text = text.replace("'projects.smooth'", imports)
    path = project / "configs" / "cfg.py"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def _lint(project: Path, *args: str) -> list[dict[str, Any]]:
    code, out = invoke("lint", "configs/cfg.py", "--format", "json", *args, cwd=project)
    assert code in (0, 1), out
    found = json.loads(out)["diagnostics"]
    assert isinstance(found, list)
    return found


def _codes(found: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    return [(d["code"], d["severity"], d["line"], d["column"]) for d in found]


def test_a_typo_in_a_custom_loss_is_caught_at_its_place(project: Path) -> None:
    found = _lint(project)
    # The custom L1Loss is registered without force=True: MMDetection's stays, with its loss_weight.
    assert _codes(found) == [("LT102", "error", 7, 47), ("LT106", "error", 9, 28)]
    typo, missing = found
    assert typo["message"].startswith("`SmoothFocalLoss` has no parameter `gama`")
    assert "did you mean `gamma`?" in typo["message"]
    assert missing["message"] == "`HalfSampler` needs `num`, which is not set"
    assert not (project / "marker").exists()


def test_the_built_in_l1_loss_stays_without_force(project: Path) -> None:
    _config(project, "dict(type='SmoothFocalLoss')")
    path = project / "configs" / "cfg.py"
    path.write_text(path.read_text().replace("loss_weight=1.0", "mine=1"))
    found = _lint(project)
    assert [(d["code"], d["key"]) for d in found] == [
        ("LT102", "model.bbox_head.loss_bbox.mine"),
        ("LT106", "model.train_cfg.sampler"),
    ]


def test_force_replaces_a_built_in_loss_of_the_same_name(project: Path) -> None:
    _config(project, "dict(type='FocalLoss', my_gamma=1.0, gamma=2.0)")
    found = [d for d in _lint(project) if d["code"] != "LT106"]
    assert [(d["code"], d["key"]) for d in found] == [("LT102", "model.bbox_head.loss_cls.gamma")]
    assert "did you mean `my_gamma`?" in found[0]["message"]


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        ("dict(type='PassesKwargs', scale=2.0, anything=1)", []),
        ("dict(type='DropsKwargs', scale=2.0, anything=1)", ["LT102"]),
    ],
)
def test_keyword_arguments(project: Path, loss: str, expected: list[str]) -> None:
    _config(project, loss)
    found = [d for d in _lint(project) if d["key"].startswith("model.bbox_head.loss_cls")]
    assert [d["code"] for d in found] == expected
    if expected:
        assert "(MMDetection silently ignores it)" in found[0]["message"]


def test_a_module_that_cannot_be_found_is_named_in_a_warning(project: Path) -> None:
    _config(project, "dict(type='FocalLos', gamma=2.0)", imports="'projects.smooth', 'nowhere.losses'")
    found = [d for d in _lint(project) if d["code"] == "LT101"]
    assert len(found) == 1
    assert found[0]["severity"] == "warning"
    assert found[0]["message"] == (
        "`FocalLos` is not a known MMDetection loss; it may be registered by custom_imports, but "
        "`nowhere.losses` could not be read (`nowhere` is not installed or on the Python path), "
        "so its parameters are not checked"
    )
    assert "did you mean" not in json.dumps(found)


def test_a_module_that_is_not_python_is_named_in_a_warning(project: Path) -> None:
    (project / "projects" / "smooth" / "__init__.py").write_text("from .losses import *\nfrom . import broken\n")
    (project / "projects" / "smooth" / "broken.py").write_text("def f(:\n")
    _config(project, "dict(type='Mystery')")
    found = [d for d in _lint(project) if d["code"] == "LT101"]
    assert [d["severity"] for d in found] == ["warning"]
    assert "`projects.smooth.broken` could not be read (it is not valid Python: line 1: " in found[0]["message"]


def test_without_custom_imports_nothing_changes(project: Path) -> None:
    path = _config(project, "dict(type='SmoothFocalLoss', gama=2.0)")
    path.write_text(path.read_text().replace("custom_imports", "not_custom_imports"))
    found = [d for d in _lint(project) if d["key"] == "model.bbox_head.loss_cls.type"]
    assert [(d["code"], d["severity"]) for d in found] == [("LT101", "warning")]


def test_explain_shows_the_defaults_of_a_custom_loss(project: Path) -> None:
    _config(project, "dict(type='SmoothFocalLoss', eps=0.05)")
    code, out = invoke("explain", "configs/cfg.py", "--format", "json", "--no-steps", cwd=project)
    assert code == 0, out
    loss = next(x for x in json.loads(out)["losses"] if x["key"] == "model.bbox_head.loss_cls")
    assert [(p["name"], p["value"], p["is_default"]) for p in loss["params"]] == [
        ("eps", 0.05, False),
        ("gamma", 2.0, True),
        ("loss_weight", 1.0, True),
    ]
    assert not (project / "marker").exists()


def test_set_checks_and_swaps_custom_losses(project: Path) -> None:
    path = _config(project, "dict(type='SmoothFocalLoss', eps=0.05)")
    path.write_text(path.read_text().replace("pos_fraction=0.25", "num=256, pos_fraction=0.25"))
    before = path.read_bytes()
    code, out = invoke("set", "loss_cls.gama=1.5", "configs/cfg.py", cwd=project)
    assert code == 2 and "LT102" in out and "SmoothFocalLoss" in out
    assert path.read_bytes() == before
    code, out = invoke("set", "loss_cls.gamma=1.5", "configs/cfg.py", cwd=project)
    assert code == 0, out
    assert "loss_cls=dict(type='SmoothFocalLoss', eps=0.05, gamma=1.5)" in path.read_text()
    code, out = invoke("set", "loss_cls.type=FocalLoss", "configs/cfg.py", cwd=project)
    assert code == 0, out
    assert "`eps`, `gamma`" in out  # the custom FocalLoss takes only my_gamma
    assert not (project / "marker").exists()


def test_a_loss_of_another_scope_is_found_in_that_scope_only(project: Path) -> None:
    (project / "projects" / "smooth" / "yolo.py").write_text(
        "from mmyolo.registry import MODELS\n\n\n"
        "@MODELS.register_module()\n"
        "class YoloLoss:\n"
        "    def __init__(self, beta=1.0):\n"
        "        pass\n"
    )
    (project / "projects" / "smooth" / "__init__.py").write_text("from .losses import *\nfrom .yolo import *\n")
    path = project / "configs" / "cfg.py"
    path.write_text(
        "custom_imports = dict(imports=['projects.smooth'])\n"
        "default_scope = 'mmyolo'\n"
        "model = dict(bbox_head=dict(\n"
        "    loss_cls=dict(type='YoloLoss', betta=2.0),\n"
        "    loss_obj=dict(type='mmdet.SmoothFocalLoss', gamma=2.0),\n"
        "    loss_bbox=dict(type='IoULoss', iou_mode='ciou')))\n"
    )
    found = _lint(project)
    # YoloLoss is read from source; mmyolo's own IoULoss is not known to be missing.
    assert [(d["code"], d["key"]) for d in found] == [("LT102", "model.bbox_head.loss_cls.betta")]
    path.write_text(path.read_text().replace("default_scope = 'mmyolo'", "default_scope = 'mmdet'"))
    found = _lint(project)
    assert ("LT101", "model.bbox_head.loss_cls.type") in [(d["code"], d["key"]) for d in found]


MINE = """
import torch.nn as nn
from mmdet.registry import MODELS


@MODELS.register_module()
class {name}(nn.Module):
    def __init__(self, {param}=1.0):
        super().__init__()
"""


def test_the_modules_are_read_once_for_the_folders_that_find_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from losstune.lint.run import lint
    from losstune.lint.settings import Settings
    from losstune.loader import customimports
    from losstune.schema.registry import load_schema

    configs = tmp_path / "configs"
    (configs / "mylosses.py").parent.mkdir(parents=True)
    (configs / "mylosses.py").write_text(MINE.format(name="SharedLoss", param="alpha"))
    for folder in ("a", "b", "c"):
        (configs / folder).mkdir()
        (configs / folder / "cfg.py").write_text(
            "custom_imports = dict(imports=['mylosses'])\n"
            "model = dict(bbox_head=dict(loss_cls=dict(type='SharedLoss', alpha=2.0), "
            "loss_bbox=dict(type='OwnLoss', beta=1.0)))\n"
        )
    # c holds a module of that name of its own: its configs find that one, not the shared one.
    (configs / "c" / "mylosses.py").write_text(MINE.format(name="OwnLoss", param="beta"))
    reads: list[str] = []
    read = customimports.read_custom_imports

    def counted(value: object, config_path: str) -> customimports.CustomModules:
        reads.append(Path(config_path).parent.name)
        return read(value, config_path)

    monkeypatch.setattr(customimports, "read_custom_imports", counted)
    monkeypatch.chdir(tmp_path)
    result = lint(["configs"], load_schema(), Settings(), jobs=1)
    assert reads == ["a", "c"]  # b finds what a found
    found = [d for d in result.diagnostics if d.span is not None and d.span.file.endswith("cfg.py")]
    # a and b know SharedLoss and not OwnLoss; c knows OwnLoss and not SharedLoss
    assert sorted((Path(d.span.file).parent.name, d.code) for d in found) == [
        ("a", "LT101"),
        ("b", "LT101"),
        ("c", "LT101"),
    ]
    messages = {Path(d.span.file).parent.name: d.message for d in found}
    assert "OwnLoss" in messages["a"] and "OwnLoss" in messages["b"] and "SharedLoss" in messages["c"]
