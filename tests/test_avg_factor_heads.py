"""The heads and loss keys that lint's sum-with-avg-factor rule knows to receive an avg_factor,
read again from MMDetection's own code: 3.3.0 as installed (the dev extra) and 2.28.2 as its
wheel ships it (``python benchmarks/fetch_projects.py``).

For each class that MMDetection registers, the methods its ``loss``, ``loss_by_feat`` or
``loss_and_target`` reaches (through ``self.NAME`` and ``super().NAME``, over its bases as Python's
method resolution finds them) are read for calls ``self.loss_X(..., avg_factor=...)`` (or of a local
name bound to ``self.loss_X``) whose avg_factor is not the literal None. The union over both
versions must be the table ``losstune.schema.heads`` ships, head for head."""

from __future__ import annotations

import ast
import importlib.util
import warnings
from pathlib import Path

import pytest

from losstune.schema.heads import AVG_FACTOR_LOSSES
from tests.conftest import PROJECTS

_ENTRIES = ("loss", "loss_by_feat", "loss_and_target")


def _self_attr(node: ast.AST, of: str = "self") -> str | None:
    if isinstance(node, ast.Attribute):
        base = node.value
        if of == "self" and isinstance(base, ast.Name) and base.id == "self":
            return node.attr
        if of == "super" and isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super":
            return node.attr
    return None


class _Method:
    """What one method does that matters here: the loss attributes it calls with an avg_factor, the
    ``self.`` and ``super().`` attributes it refers to."""

    def __init__(self, fn: ast.FunctionDef) -> None:
        bound: dict[str, set[str]] = {}  # local name -> the self.loss_* attributes assigned to it
        for n in ast.walk(fn):
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
                losses = {a for x in ast.walk(n.value) if (a := _self_attr(x)) and "loss" in a}
                if losses:
                    bound[n.targets[0].id] = losses
        self.calls: set[str] = set()
        for n in ast.walk(fn):
            if isinstance(n, ast.Call) and any(
                k.arg == "avg_factor" and not (isinstance(k.value, ast.Constant) and k.value.value is None)
                for k in n.keywords
            ):
                if attr := _self_attr(n.func):
                    self.calls.add(attr)
                elif isinstance(n.func, ast.Name):
                    self.calls |= bound.get(n.func.id, set())
        self.refs = {a for x in ast.walk(fn) if (a := _self_attr(x))}
        self.supers = {a for x in ast.walk(fn) if (a := _self_attr(x, "super"))}


def _avg_factor_keys(models: Path) -> dict[str, frozenset[str]]:
    classes: dict[str, tuple[list[str], dict[str, _Method]]] = {}
    registered: set[str] = set()
    for path in sorted(models.rglob("*.py")):
        with warnings.catch_warnings():  # MMDetection's docstrings hold invalid escapes
            warnings.simplefilter("ignore")
            module = ast.parse(path.read_text(encoding="utf-8"))
        for c in module.body:
            if isinstance(c, ast.ClassDef) and c.name not in classes:
                bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in c.bases]
                methods = {f.name: _Method(f) for f in c.body if isinstance(f, ast.FunctionDef)}
                classes[c.name] = (bases, methods)
                if any("register_module" in ast.unparse(d) for d in c.decorator_list):
                    registered.add(c.name)

    def mro(name: str, seen: tuple[str, ...] = ()) -> list[str]:
        order = [name]
        for base in classes[name][0] if name in classes and name not in seen else []:
            order += [c for c in mro(base, (*seen, name)) if c not in order]
        return [c for c in order if c in classes]

    table: dict[str, frozenset[str]] = {}
    for name in registered:
        order = mro(name)
        methods = {m for c in order for m in classes[c][1]}

        def find(method: str, start: int = 0, order: list[str] = order) -> int | None:
            return next((i for i in range(start, len(order)) if method in classes[order[i]][1]), None)

        todo = [(i, e) for e in _ENTRIES if (i := find(e)) is not None]
        seen: set[tuple[int, str]] = set()
        keys: set[str] = set()
        while todo:
            i, method = todo.pop()
            if (i, method) in seen:
                continue
            seen.add((i, method))
            facts = classes[order[i]][1][method]
            keys |= facts.calls - methods
            todo += [(j, r) for r in facts.refs if (j := find(r)) is not None]
            todo += [(j, s) for s in facts.supers if (j := find(s, i + 1)) is not None]
        if keys:
            table[name] = frozenset(keys)
    return table


def _mmdet_models(version: str) -> Path:
    if version == "3":
        spec = importlib.util.find_spec("mmdet")
        if spec is None or spec.origin is None:
            pytest.skip("needs mmdet 3.x (the dev extra)")
        return Path(spec.origin).parent / "models"
    models = PROJECTS / "site2" / "mmdet" / "models"
    if not models.is_dir():
        pytest.skip(f"needs the released package: run `python benchmarks/fetch_projects.py` ({models} is missing)")
    return models


def test_the_shipped_table_is_what_both_versions_code_passes() -> None:
    v3, v2 = _avg_factor_keys(_mmdet_models("3")), _avg_factor_keys(_mmdet_models("2"))
    assert {h: v3[h] for h in v3.keys() & v2.keys() if v3[h] != v2[h]} == {}  # the versions agree
    assert dict(AVG_FACTOR_LOSSES["mmdet"]) == v2 | v3


def test_the_reading_sees_super_calls_and_bound_names() -> None:
    v3 = _avg_factor_keys(_mmdet_models("3"))
    assert v3["RPNHead"] == {"loss_cls", "loss_bbox"}  # RPNHead.loss_by_feat calls super().loss_by_feat
    assert "initial_loss_cls" in v3["TOODHead"]  # cls_loss_func = self.initial_loss_cls if ... else self.loss_cls
    assert "FreeAnchorRetinaHead" not in v3  # its loss_by_feat never reaches AnchorHead's loss_by_feat_single
    assert "YOLOXHead" not in v3 and "YOLOV3Head" not in v3
