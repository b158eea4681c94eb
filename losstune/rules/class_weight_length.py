"""LT109 class-weight-length."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule


class ClassWeightLength(Rule):
    """``class_weight`` does not have one weight per classifier output.

    The classifier of a head has ``num_classes`` outputs with ``use_sigmoid=True`` and
    ``num_classes + 1`` (the last one for background) with a softmax. A ``class_weight`` of any
    other length fails in the first iteration with a shape error, far from the config.
    """

    code = "LT109"
    name = "class-weight-length"
    valid = (
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(num_classes=2,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0, 2.0, 0.5]))))\n"
        ),
    )
    invalid = (
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(num_classes=2,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0, 2.0]))))\n",
            ((2, 57),),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.kind != "loss" or not node.is_mmdet("CrossEntropyLoss"):
                continue
            weights = node.value.get("class_weight")
            head = node.head()
            if not isinstance(weights, (list, tuple)) or head is None:
                continue
            num_classes = head.get("num_classes")
            if not isinstance(num_classes, int) or isinstance(num_classes, bool):
                continue
            sigmoid = bool(node.value.get("use_sigmoid", False))
            expected = num_classes if sigmoid else num_classes + 1
            if len(weights) != expected:
                why = (
                    f"num_classes={num_classes} with use_sigmoid=True"
                    if sigmoid
                    else f"num_classes={num_classes} + 1 background with a softmax"
                )
                yield self.finding(
                    f"`class_weight` has {len(weights)} weights but the classifier has {expected} outputs ({why})",
                    node.origin("class_weight"),
                    key=f"{node.key}.class_weight",
                    fix=f"give {expected} weights"
                    + ("" if sigmoid else " (the last one weights the background class)"),
                )
