"""LT103 wrong-type."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from losstune.loader.values import Opaque
from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule
from losstune.schema.registry import TypeSpec


class WrongType(Rule):
    """A parameter value of the wrong type.

    MMDetection does not check types when it builds a loss; the mistake surfaces at the first
    iteration as an unrelated error: ``gamma='1.5'`` (a string) fails in ``pow()``, ``alpha=None``
    in an arithmetic ``TypeError``, and a list ``loss_weight`` (a common attempt at per-class
    weights) in ``mul()``; per-class weights are ``class_weight``. An ``int`` is fine where a
    ``float`` is expected; ``True``/``False`` are not numbers here. ``lint --fix`` removes the quotes
    from a number written as a string, and writes ``1``/``0`` given for a ``bool`` as ``True``/``False``
    (safe fixes: the value is the one that was meant).
    """

    code = "LT103"
    name = "wrong-type"
    fix_safety = "safe"
    valid = (
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2, alpha=0.25)))\n"),
        # one number weights the positive term of every class (PyTorch's pos_weight)
        Example(
            "model = dict(bbox_head=dict(\n"
            "    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=0.5)))\n"
        ),
    )
    invalid = (
        Example(
            "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma='1.5')))\n",
            ((1, 67),),
            fixed="model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=1.5)))\n",
        ),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', alpha=None)))\n", ((1, 67),)),
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(\n"
            "    loss_cls=dict(type='CrossEntropyLoss', loss_weight=[1.0, 2.0]))))\n",
            ((2, 56),),
        ),
        Example(
            "model = dict(bbox_head=dict(\n"
            "    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight='0.5')))\n",
            ((2, 75),),
            fixed="model = dict(bbox_head=dict(\n"
            "    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=0.5)))\n",
        ),
        Example(
            "model = dict(bbox_head=dict(loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=1)))\n",
            ((1, 80),),
            fixed="model = dict(bbox_head=dict(loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True)))\n",
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.entry is None:
                continue
            for name, spec in node.param_specs().items():
                if name not in node.value or spec.choices is not None:
                    continue
                value = node.value[name]
                if isinstance(value, Opaque) or spec.type.accepts(value):
                    continue
                fix = f"write a {spec.type.text} value"
                names = node.env_names(name)
                unquoted = isinstance(value, str) and spec.type.accepts(_unquoted(value))
                meant = _meant(value, spec.type)
                edit = None
                if meant is not _NOTHING and not names:
                    fix = f"{name}={meant!r}" if not unquoted else f"remove the quotes: {name}={value.strip()}"
                    edit = self.fixed(fix, sets=((f"{node.key}.{name}", meant),))
                elif name == "loss_weight" and isinstance(value, (list, tuple)):
                    fix = "loss_weight is one number; per-class weights go in class_weight=[...]"
                elif names and unquoted:
                    fix = f"write the template unquoted, {{{{'${names[0]}:...'}}}}, so that it gives a {spec.type.text}"
                elif names:
                    fix = f"give {', '.join(f'`${n}`' for n in names)} a {spec.type.text} value"
                yield self.finding(
                    f"`{node.type}.{name}` must be {spec.type.text}, not {type(value).__name__} ({node.show(name)})",
                    node.origin(name),
                    key=f"{node.key}.{name}",
                    fix=fix,
                    edit=edit,
                )


_NOTHING = object()


def _meant(value: Any, expected: TypeSpec) -> Any:
    """The value of the expected type that ``value`` stands for, where there is exactly one: a
    number (or other short literal) written in quotes, ``1``/``0`` for a ``bool``; else ``_NOTHING``."""
    if isinstance(value, str):
        unquoted = _unquoted(value)
        return unquoted if unquoted is not value and expected.accepts(unquoted) else _NOTHING
    if type(value) is int and value in (0, 1) and expected.accepts(bool(value)):
        return bool(value)
    return _NOTHING


def _unquoted(text: str) -> Any:
    """What ``text`` means written without its quotes, where that is a short Python literal
    (``'1.5'`` is ``1.5``); otherwise the text itself."""
    if len(text) > 40:
        return text
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
