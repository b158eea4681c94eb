"""The questions asked of a config's syntax tree, answered by one walk (losstune.loader.pyast)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from losstune.loader import pyast
from losstune.loader.resolve import Resolver


def facts(text: str) -> pyast.ModuleFacts:
    return pyast.examine(ast.parse(textwrap.dedent(text)))


@pytest.mark.parametrize(
    ("text", "lazy"),
    [
        ("x = 1\n", False),
        ("_base_ = ['a.py']\nimport not_a_module_anywhere_q\n", False),
        ("import sys\nx = 1\n", False),
        ("import not_a_module_anywhere_q\n", True),
        ("_base_ = 'a.py'\nimport not_a_module_anywhere_q\n", False),
        ("x = 1\nimport not_a_module_anywhere_q\n", True),
        ("from . import x\n", True),
        ("from mmengine import Config\n", False),
        ("from mmengine.config import read_base\nwith read_base():\n    from .a import *\n", True),
        ("with open('x') as f:\n    pass\n", True),
        # Breadth first, as ast.walk and mmengine: the top-level `_base_` decides before the nested import.
        ("if True:\n    import not_a_module_anywhere_q\n_base_ = ['a.py']\n", False),
        ("if True:\n    _base_ = ['a.py']\nimport not_a_module_anywhere_q\n", True),
    ],
)
def test_new_style_config_as_mmengine_decides(text: str, lazy: bool) -> None:
    assert facts(text).is_lazy() is lazy


@pytest.mark.parametrize(
    ("text", "uses"),
    [
        ("_base_ = ['a.py']\nx = 1\n", False),
        ("_base_ = ['a.py']\nx = _base_.model\n", True),
        ("_base_ = ['a.py']\nx = dict(y=[f(_base_)])\n", True),
    ],
)
def test_reads_base(text: str, uses: bool) -> None:
    assert facts(text).uses_base is uses


def test_statements() -> None:
    base, with_, other_with, other = ast.parse(
        "_base_ = 'a.py'\nwith read_base():\n    pass\nwith open('x'):\n    pass\n_base = 1\n"
    ).body
    assert pyast.is_base_assignment(base) and not pyast.is_base_assignment(other)
    assert pyast.opens_read_base(with_) and not pyast.opens_read_base(other_with)


def test_each_file_is_walked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "base.py").write_text("model = dict(type='RetinaNet', loss=dict(type='FocalLoss', gamma=2.0))\n")
    child = tmp_path / "child.py"
    child.write_text("_base_ = './base.py'\nmodel = dict(loss=dict(gamma=_base_.model.loss.gamma + 1))\n")
    walks: list[object] = []
    examined: list[object] = []
    real_walk, real_examine = ast.walk, pyast.examine
    monkeypatch.setattr(ast, "walk", lambda node: walks.append(node) or real_walk(node))
    monkeypatch.setattr(pyast, "examine", lambda module: examined.append(module) or real_examine(module))
    result = Resolver().resolve(child)
    assert result.ok and result.cfg is not None
    assert result.cfg["model"]["loss"]["gamma"] == 3.0
    assert (len(examined), walks) == (2, [])


def walked(module: ast.Module) -> tuple[bool, tuple[str, ...], bool]:
    """What examine answers, found by ``ast.walk`` node by node, as mmengine walks."""
    uses = any(
        isinstance(n, ast.Name) and n.id == pyast.BASE_KEY and isinstance(n.ctx, ast.Load) for n in ast.walk(module)
    )
    imports: list[str] = []
    decided = None
    for node in ast.walk(module):
        decided = pyast._lazy_step(node, imports)
        if decided is not None:
            break
    return uses, tuple(imports), bool(decided)


NESTED = [
    "x = [dict(a=lambda: _base_, b={**_base_.m})]\nimport not_a_module_anywhere_q\n",
    "x = f(*_base_.a, **{'k': [(_base_,)]})\n",
    "try:\n    import a\nexcept E:\n    _base_ = 'x'\nimport b\n",
    "for i in [dict(k=1)]:\n    with read_base():\n        pass\nif x:\n    from . import y\n",
    "match x:\n    case {'a': 1}:\n        _base_ = 'a.py'\n    case _:\n        import c\n",
    "def f(a=_base_.x):\n    import d\nclass C(dict(k=[1])):\n    from e import f\n",
    "x = {k: v for k, v in _base_.items()}\ny = _base_ .z if _base_ else {None: 1}\n",
    "_base_ = ['a.py']\nx = dict(_base_=1)\nglobal g\n",
]


def corpus() -> list[Path]:
    from tests.conftest import PROJECTS, REPO

    files = sorted((REPO / "examples").rglob("*.py"))
    tree = PROJECTS / "site3" / "mmdet" / ".mim" / "configs"
    return files + (sorted(tree.rglob("*.py")) if tree.is_dir() else [])


def test_examine_answers_as_the_walk_of_every_node() -> None:
    modules = [ast.parse(text) for text in NESTED] + [ast.parse(p.read_text()) for p in corpus()]
    assert len(modules) > len(NESTED)
    for module in modules:
        found = pyast.examine(module)
        assert (found.uses_base, found.lazy_imports, found.lazy_otherwise) == walked(module), ast.unparse(module)[:200]


def test_examine_finds_the_statements_compiling_cannot_fail() -> None:
    from losstune.loader import pycompile

    modules = [ast.parse(text) for text in NESTED] + [ast.parse(p.read_text()) for p in corpus()]
    for module in modules:
        want = {i for i, stmt in enumerate(module.body) if pycompile.cannot_fail(stmt)}
        assert pyast.examine(module).cannot_fail == want, ast.unparse(module)[:200]
