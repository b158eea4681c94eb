"""LT104 out-of-range."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule


class OutOfRange(Rule):
    """A number outside the range that makes sense for the parameter.

    ``gamma < 0`` turns focal down-weighting into up-weighting of easy examples, an ``alpha``
    outside [0, 1] gives one class a negative weight, a negative ``loss_weight`` trains the model
    to increase the loss, ``pos_fraction`` outside [0, 1] and ``num < 0`` break the sampler, and
    ``beta <= 0`` divides by zero in SmoothL1Loss. MMDetection accepts all of these silently.
    """

    code = "LT104"
    name = "out-of-range"
    valid = (Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=0.0, alpha=1.0)))\n"),)
    invalid = (
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=-1.0)))\n", ((1, 67),)),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', alpha=1.5)))\n", ((1, 67),)),
        Example("model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', loss_weight=-2.0)))\n", ((1, 71),)),
        Example(
            "model = dict(train_cfg=dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=1.5)))\n",
            ((1, 86),),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.entry is None:
                continue
            for name, spec in node.entry.params_for(ctx.version).items():
                value = node.value.get(name)
                if name not in node.value or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                if spec.in_range(value):
                    continue
                yield self.finding(
                    f"`{node.type}.{name}` = {value!r} is out of range: it must be {spec.range_text()}",
                    node.origin(name),
                    key=f"{node.key}.{name}",
                    fix=f"use a value {spec.range_text()}"
                    + (f" (default {spec.default!r})" if spec.has_default else ""),
                )
