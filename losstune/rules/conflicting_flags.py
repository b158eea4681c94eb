"""LT108 conflicting-flags."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.loader.values import Opaque
from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule


class ConflictingFlags(Rule):
    """Flags that cannot be combined, such as CrossEntropyLoss with both ``use_sigmoid`` and
    ``use_mask``, or DiceLoss with ``activate=True`` but ``use_sigmoid=False``.

    CrossEntropyLoss asserts that at most one of the two is set when it is built; DiceLoss raises
    ``NotImplementedError`` at the first iteration. The pairs come from the schema
    (``exclusive`` and ``requires``).
    """

    code = "LT108"
    name = "conflicting-flags"
    valid = (Example("model = dict(rpn_head=dict(loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True)))\n"),)
    invalid = (
        Example(
            "model = dict(rpn_head=dict(loss_cls=dict(\n    type='CrossEntropyLoss', use_sigmoid=True, use_mask=True)))\n",
            ((2, 57),),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.entry is None:
                continue
            v = node.value
            for group in node.entry.exclusive:
                on = [k for k in group if k in v and not isinstance(v[k], Opaque) and v[k]]
                if len(on) > 1:
                    yield self.finding(
                        f"`{node.type}` cannot have {' and '.join(f'`{k}`' for k in on)} both set",
                        node.origin(on[-1]),
                        key=f"{node.key}.{on[-1]}",
                        fix=f"keep only one of {', '.join(on)}",
                    )
            for cond, needed in node.entry.requires:
                spec = node.entry.params.get(needed)
                cond_value = v.get(cond, node.entry.params[cond].default if cond in node.entry.params else None)
                need_value = v.get(needed, spec.default if spec else None)
                if isinstance(cond_value, Opaque) or isinstance(need_value, Opaque):
                    continue
                if cond_value and not need_value:
                    where = needed if needed in v else cond
                    yield self.finding(
                        f"`{node.type}` with `{cond}` set needs `{needed}` too",
                        node.origin(where),
                        key=f"{node.key}.{where}",
                        fix=f"set {needed}=True, or {cond}=False",
                    )
