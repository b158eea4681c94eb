"""LT104 out-of-range."""

from __future__ import annotations

import math
from collections.abc import Iterator

from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule


class OutOfRange(Rule):
    """A number outside the range that makes sense for the parameter.

    ``gamma < 0`` turns focal down-weighting into up-weighting of easy examples, an ``alpha``
    outside [0, 1] gives one class a negative weight, a negative ``loss_weight`` trains the model
    to increase the loss, ``pos_fraction`` outside [0, 1] and ``num < 0`` break the sampler, and
    ``beta <= 0`` divides by zero in SmoothL1Loss. No parameter takes an infinite or NaN number
    (``gamma=1e400`` is infinite): the loss becomes NaN. MMDetection accepts all of these silently.
    """

    code = "LT104"
    name = "out-of-range"
    valid = (Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=0.0, alpha=1.0)))\n"),)
    invalid = (
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=-1.0)))\n", ((1, 67),)),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', alpha=1.5)))\n", ((1, 67),)),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=1e400)))\n", ((1, 67),)),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=float('nan'))))\n", ((1, 67),)),
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(\n"
            "    loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0, float('inf')]))))\n",
            ((2, 57),),
        ),
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
            for name, spec in node.params().items():
                if name not in node.value:
                    continue
                value = node.value[name]
                if _has_non_finite(value):
                    limits = spec.range_text()
                    must = "finite" + (f" and {limits}" if limits else "")
                    if isinstance(value, (list, tuple, dict)):
                        must = "finite numbers only"
                    fix = f"use a finite value {limits}".rstrip()
                elif isinstance(value, bool) or not isinstance(value, (int, float)) or spec.in_range(value):
                    continue
                else:
                    limits = spec.range_text()
                    must, fix = limits, f"use a value {limits}"
                yield self.finding(
                    f"`{node.type}.{name}` = {node.show(name)} is out of range: it must be {must}",
                    node.origin(name),
                    key=f"{node.key}.{name}",
                    fix=fix + (f" (default {spec.default!r})" if spec.has_default else ""),
                )


def _has_non_finite(value: object) -> bool:
    """Whether ``value`` is, or holds, an infinite or NaN number: no parameter takes one."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(v) for v in value)
    return False
