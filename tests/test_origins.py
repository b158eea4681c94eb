"""Every resolved value knows the file, line and column that set it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import losstune
from losstune.model import Span
from tests.conftest import EXAMPLES


def _at(origin: losstune.Origin | None) -> tuple[str, int, int, int, int]:
    assert origin is not None
    s: Span = origin.span
    return Path(s.file).name, s.line, s.column, s.end_line, s.end_column


def _text(origin: losstune.Origin | None) -> str:
    """The source text the span covers (end column exclusive)."""
    assert origin is not None
    s = origin.span
    lines = Path(s.file).read_text().split("\n")[s.line - 1 : s.end_line]
    if len(lines) == 1:
        return lines[0][s.column - 1 : s.end_column - 1]
    return "\n".join([lines[0][s.column - 1 :], *lines[1:-1], lines[-1][: s.end_column - 1]])


def test_python_literal_positions(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.py",
        """
        # a comment
        model = dict(
            bbox_head=dict(
                loss_cls=dict(type='FocalLoss', gamma=2.0, alpha=0.25)))
        """,
    )
    c = losstune.load(cfg)
    assert _at(c.origin("loss_cls.gamma")) == ("cfg.py", 4, 47, 4, 50)
    assert _text(c.origin("loss_cls.gamma")) == "2.0"
    assert c.origin("loss_cls.gamma").kind == "literal"  # type: ignore[union-attr]
    assert _text(c.origin("model.bbox_head.loss_cls")) == "dict(type='FocalLoss', gamma=2.0, alpha=0.25)"


def test_inherited_value_points_into_the_base(write: Callable[..., Path]) -> None:
    write("_base_/model.py", "model = dict(loss=dict(type='L1Loss', loss_weight=1.0))\n")
    child = write(
        "child.py",
        """
        _base_ = './_base_/model.py'
        model = dict(loss=dict(loss_weight=2.0))
        """,
    )
    c = losstune.load(child)
    assert c.get("model.loss.loss_weight") == 2.0
    assert _at(c.origin("model.loss.loss_weight"))[:2] == ("child.py", 2)
    assert _text(c.origin("model.loss.loss_weight")) == "2.0"
    assert _at(c.origin("model.loss.type")) == ("model.py", 1, 29, 1, 37)
    assert _text(c.origin("model.loss.type")) == "'L1Loss'"


def test_variable_and_expression_origins(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.py",
        """
        num_classes = 3
        beta = 1.0 / 9.0
        loss = dict(type='SmoothL1Loss', beta=beta, class_weight=[1.0] * num_classes + [0.1])
        """,
    )
    c = losstune.load(cfg)
    beta = c.origin("loss.beta")
    assert beta is not None and beta.kind == "variable" and beta.text == "beta"
    assert beta.via is not None and beta.via.kind == "expression" and beta.via.span.line == 2
    weights = c.origin("loss.class_weight")
    assert weights is not None and weights.kind == "expression"
    assert weights.text == "[1.0] * num_classes + [0.1]"
    assert c.get("loss.class_weight") == [1.0, 1.0, 1.0, 0.1]


def test_attribute_assignment_on_base_value(write: Callable[..., Path]) -> None:
    write("base.py", "model = dict(head=dict(loss=dict(type='FocalLoss', gamma=2.0)))\n")
    child = write(
        "child.py",
        """
        _base_ = ['./base.py']
        model = _base_.model
        model.head.loss.gamma = 0.5
        """,
    )
    c = losstune.load(child)
    assert c.get("loss.gamma") == 0.5
    assert _at(c.origin("loss.gamma"))[:2] == ("child.py", 3)
    assert _text(c.origin("loss.gamma")) == "0.5"


def test_template_substitution_keeps_columns(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "root = '{{$LT_ROOT:/data/coco}}'; loss = dict(type='L1Loss', loss_weight=2.0)\n")
    c = losstune.load(cfg, env={"LT_ROOT": "/x"})
    assert c.get("root") == "/x"
    # The column is the one in the file as written, before the template was replaced.
    assert _text(c.origin("loss.loss_weight")) == "2.0"
    assert _at(c.origin("loss.loss_weight")) == ("cfg.py", 1, 74, 1, 77)


def test_yaml_positions(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.yaml",
        """
        model:
          loss_cls:
            type: FocalLoss
            gamma: 2.0
            size: !!python/tuple [1, 2]
        """,
    )
    c = losstune.load(cfg)
    assert _at(c.origin("loss_cls.gamma")) == ("cfg.yaml", 4, 12, 4, 15)
    assert _text(c.origin("loss_cls.gamma")) == "2.0"
    assert c.get("loss_cls.size") == (1, 2)


def test_json_positions(write: Callable[..., Path]) -> None:
    cfg = write("cfg.json", '{"model": {"loss_cls": {"type": "FocalLoss",\n  "gamma": 2.0}}}\n')
    c = losstune.load(cfg)
    assert _at(c.origin("loss_cls.gamma")) == ("cfg.json", 2, 12, 2, 15)
    assert _text(c.origin("loss_cls.gamma")) == "2.0"


def test_example_origin_in_base_file() -> None:
    c = losstune.load(EXAMPLES / "retinanet_r50_fpn_gamma1.5_1x_coco.py")
    gamma = c.origin("loss_cls.gamma")
    loss_weight = c.origin("loss_cls.loss_weight")
    assert gamma is not None and Path(gamma.span.file).name == "retinanet_r50_fpn_gamma1.5_1x_coco.py"
    assert loss_weight is not None and Path(loss_weight.span.file).name == "retinanet_r50_fpn.py"


def test_columns_count_characters_not_bytes(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "name = 'détecteur'; loss = dict(type='L1Loss', loss_weight=2.0)  # 损失\n")
    c = losstune.load(cfg)
    assert _text(c.origin("loss.loss_weight")) == "2.0"
    assert _at(c.origin("loss.loss_weight")) == ("cfg.py", 1, 60, 1, 63)


def test_package_base(write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # `pkg::path` is found inside the installed package without importing it, and the outer
    # dicts with a `type` get the package's `_scope_`, as mmengine does. (A package of its own
    # name: an installed distribution of a real one, mmdet say, is found before a path entry.)
    write("site/mmlosstunetest/__init__.py", "raise RuntimeError('must not be imported')\n")
    write(
        "site/mmlosstunetest/.mim/configs/_base_/models/retina.py",
        "model = dict(type='RetinaNet', head=dict(type='H'))\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    child = write("child.py", "_base_ = 'mmlosstunetest::_base_/models/retina.py'\nmodel = dict(head=dict(x=1))\n")
    c = losstune.load(child)
    assert c.to_dict() == {"model": {"type": "RetinaNet", "head": {"type": "H", "x": 1}, "_scope_": "mmlosstunetest"}}


def test_missing_package_base(write: Callable[..., Path]) -> None:
    child = write("child.py", "_base_ = 'nopkg_losstune_test::models/retina.py'\n")
    with pytest.raises(losstune.ConfigError) as err:
        losstune.load(child)
    assert [d.code for d in err.value.diagnostics] == ["LT006"]
    assert "not installed" in err.value.diagnostics[0].message


def test_shared_resolver_keeps_bases_pristine(write: Callable[..., Path]) -> None:
    # One child edits the base's values through `_base_`; the others, resolved with the same
    # (caching) resolver before and after, must still see the base as written.
    write("base.py", "model = dict(head=dict(loss=dict(type='FocalLoss', gamma=2.0)))\n")
    plain = write("plain.py", "_base_ = './base.py'\nmodel = dict(head=dict(extra=1))\n")
    editing = write(
        "editing.py",
        "_base_ = './base.py'\nmodel = _base_.model\nmodel.head.loss.gamma = 0.5\ndel model.head.loss.type\n",
    )
    resolver = losstune.Resolver()
    before = losstune.load(plain, resolver=resolver).to_dict()
    edited = losstune.load(editing, resolver=resolver).to_dict()
    after = losstune.load(plain, resolver=resolver).to_dict()
    again = losstune.load(write("again.py", "_base_ = './base.py'\n"), resolver=resolver).to_dict()
    assert edited == {"model": {"head": {"loss": {"gamma": 0.5}}}}
    assert before == after == {"model": {"head": {"loss": {"type": "FocalLoss", "gamma": 2.0}, "extra": 1}}}
    assert again == {"model": {"head": {"loss": {"type": "FocalLoss", "gamma": 2.0}}}}


def test_a_key_merged_in_with_or_equals_keeps_where_it_was_set(write: Callable[..., Path]) -> None:
    cfg = write("cfg.py", "a = dict(x=1)\nb = dict(y=2)\nc = a | b\na |= b\n")
    loaded = losstune.load(str(cfg))
    assert _at(loaded.origin("c.y")) == _at(loaded.origin("a.y")) == ("cfg.py", 2, 12, 2, 13)
    assert _at(loaded.origin("a.x")) == ("cfg.py", 1, 12, 1, 13)


def test_a_value_read_from_the_bases_with_getattr_keeps_its_origins(write: Callable[..., Path]) -> None:
    write("base.py", "model = dict(type='RetinaNet', head=dict(num_classes=80))\n")
    child = write(
        "child.py",
        """
        _base_ = './base.py'
        architecture = getattr(_base_, 'model')
        hooks = getattr(_base_, 'custom_hooks', []) + [dict(type='EMAHook')]
        """,
    )
    c = losstune.load(child)
    assert _at(c.origin("architecture.head.num_classes"))[:2] == ("base.py", 1)
    got = c.origin("architecture")
    assert got is not None and got.kind == "base-reference" and got.text == "getattr(_base_, 'model')"
    assert _at(c.origin("hooks.0.type"))[:2] == ("child.py", 3)


def test_a_value_a_block_not_run_may_set_points_at_that_place(write: Callable[..., Path]) -> None:
    cfg = write(
        "cfg.py",
        """
        def use_focal():
            return True
        loss = dict(type='FocalLoss', gamma=2.0)
        if use_focal():
            loss['gamma'] = 1.5
            extra = 1
        """,
    )
    c = losstune.load(cfg)
    assert _at(c.origin("loss.gamma")) == ("cfg.py", 5, 5, 5, 18)
    assert _at(c.origin("extra"))[:2] == ("cfg.py", 6)
    assert _text(c.origin("extra")) == "extra"


def test_an_expression_remembers_the_top_level_names_it_reads_and_where_each_was_set(
    write: Callable[..., Path],
) -> None:
    cfg = write(
        "cfg.py",
        """
        num_classes = 80
        layers = 3
        model = dict(loss=dict(loss_weight=0.5 * (num_classes / 80 * 3 / layers),
            weights=[w * num_classes for w in range(2)], k=dict(num_classes=1).get('layers', 2)))
        """,
    )
    loaded = losstune.load(cfg)
    reads = loaded.origin("model.loss.loss_weight").reads  # type: ignore[union-attr]
    assert sorted((n, _at(o)[1:3]) for n, o in reads) == [("layers", (2, 10)), ("num_classes", (1, 15))]
    # a comprehension's own name is not a top-level one; a keyword argument or attribute is no read
    assert [n for n, _ in loaded.origin("model.loss.weights").reads] == ["num_classes"]  # type: ignore[union-attr]
    assert [n for n, _ in loaded.origin("model.loss.k").reads] == ["layers"]  # type: ignore[union-attr]
