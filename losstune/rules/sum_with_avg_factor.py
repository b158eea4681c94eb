"""LT110 sum-with-avg-factor."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule
from losstune.schema.heads import AVG_FACTOR_HEADS, AVG_FACTOR_LOSS_KEYS


class SumWithAvgFactor(Rule):
    """``reduction='sum'`` on a loss whose head passes ``avg_factor``.

    Most dense heads (RetinaHead, RPNHead, ATSSHead, FCOSHead, GFLHead, RTMDetHead, the DETR family,
    ...) and the RoI bbox heads normalise ``loss_cls`` and ``loss_bbox`` by an ``avg_factor`` (the
    number of positives or of sampled boxes). ``weight_reduce_loss`` only accepts that with
    ``'mean'`` or ``'none'``, so the first iteration fails with ``avg_factor can not be used with
    reduction="sum"``. Heads that normalise by themselves (YOLOV3Head, YOLOXHead) use ``'sum'`` on
    purpose and are not reported.
    """

    code = "LT110"
    name = "sum-with-avg-factor"
    valid = (
        Example(
            "model = dict(bbox_head=dict(type='YOLOXHead', loss_cls=dict(type='CrossEntropyLoss', reduction='sum')))\n"
        ),
    )
    invalid = (
        Example(
            "model = dict(bbox_head=dict(type='RetinaHead',\n    loss_bbox=dict(type='L1Loss', reduction='sum')))\n",
            ((2, 45),),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.kind != "loss" or node.value.get("reduction") != "sum":
                continue
            head_type = node.head_type()
            if head_type not in AVG_FACTOR_HEADS:
                continue
            if node.path[-1] not in AVG_FACTOR_LOSS_KEYS:
                continue
            yield self.finding(
                f"`{head_type}` passes avg_factor to `{node.path[-1]}`, which MMDetection only "
                "accepts with reduction='mean' or 'none'; 'sum' fails at the first iteration",
                node.origin("reduction"),
                key=f"{node.key}.reduction",
                fix="reduction='mean' (the head already normalises by avg_factor)",
            )
