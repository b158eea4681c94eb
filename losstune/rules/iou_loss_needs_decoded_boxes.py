"""LT112 iou-loss-needs-decoded-boxes."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule
from losstune.schema.heads import DELTA_REGRESSION_HEADS, IOU_LOSSES


class IoULossNeedsDecodedBoxes(Rule):
    """An IoU-family loss (IoULoss, GIoULoss, DIoULoss, CIoULoss, EIoULoss, SIoULoss,
    BoundedIoULoss) in an anchor or RoI head without ``reg_decoded_bbox=True``.

    These heads regress encoded deltas by default; the IoU loss then computes overlaps of deltas as
    if they were boxes. Nothing fails: the loss trains the wrong thing. Heads that decode boxes
    before their loss themselves (ATSS, FCOS, GFL, ...) are not reported.
    """

    code = "LT112"
    name = "iou-loss-needs-decoded-boxes"
    valid = (
        Example(
            "model = dict(bbox_head=dict(type='RetinaHead', reg_decoded_bbox=True,\n"
            "                            loss_bbox=dict(type='GIoULoss', loss_weight=2.0)))\n"
        ),
        Example("model = dict(bbox_head=dict(type='ATSSHead', loss_bbox=dict(type='GIoULoss')))\n"),
    )
    invalid = (
        Example(
            "model = dict(bbox_head=dict(type='RetinaHead',\n"
            "                            loss_bbox=dict(type='GIoULoss', loss_weight=2.0)))\n",
            ((2, 49),),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.kind != "loss" or not node.is_mmdet(*IOU_LOSSES):
                continue
            head_type = node.head_type()
            if head_type not in DELTA_REGRESSION_HEADS:
                continue
            head = node.head()
            if head is not None and head.get("reg_decoded_bbox") is True:
                continue
            yield self.finding(
                f"`{node.type}` compares boxes, but `{head_type}` regresses encoded deltas unless "
                "reg_decoded_bbox=True",
                node.origin("type"),
                key=f"{node.key}.type",
                fix="set reg_decoded_bbox=True in the head",
            )
