"""LT107 must-be-literal."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.loader.values import Opaque
from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule


class MustBeLiteral(Rule):
    """A flag that MMDetection tests by identity is not literally that value.

    FocalLoss (and the rest of the focal family) only exists in sigmoid form and asserts
    ``use_sigmoid is True``: ``use_sigmoid=False`` fails, and so does ``use_sigmoid=1``, which a
    YAML file or a ``--cfg-options use_sigmoid=1`` easily produces, because ``1 is True`` is false.
    ``lint --unsafe-fixes`` writes the value MMDetection requires (unsafe: where the config says
    ``False`` it asks for another loss than the one it gets).
    """

    code = "LT107"
    name = "must-be-literal"
    fix_safety = "unsafe"
    valid = (Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', use_sigmoid=True)))\n"),)
    invalid = (
        Example(
            "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', use_sigmoid=False)))\n",
            ((1, 73),),
            fixed="model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', use_sigmoid=True)))\n",
        ),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', use_sigmoid=1)))\n", ((1, 73),)),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.entry is None:
                continue
            for name, spec in node.params().items():
                if not spec.literal or name not in node.value:
                    continue
                value = node.value[name]
                if isinstance(value, Opaque) or value is spec.default:
                    continue
                yield self.finding(
                    f"`{node.type}.{name}` must be exactly {spec.default!r} (MMDetection checks "
                    f"`{name} is {spec.default!r}`), not {node.show(name)}",
                    node.origin(name),
                    key=f"{node.key}.{name}",
                    fix=f"{name}={spec.default!r}",
                    edit=self.fixed(f"{name}={spec.default!r}", sets=((f"{node.key}.{name}", spec.default),)),
                )
