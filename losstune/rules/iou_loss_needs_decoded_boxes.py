"""LT112 iou-loss-needs-decoded-boxes."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.keypath import format_path
from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule
from losstune.schema.heads import BOX_LOSSES, DELTA_REGRESSION_HEADS, listed


class IoULossNeedsDecodedBoxes(Rule):
    """An IoU-family loss (IoULoss, GIoULoss, DIoULoss, CIoULoss, EIoULoss, SIoULoss,
    BoundedIoULoss) in an anchor or RoI head without ``reg_decoded_bbox=True``.

    These heads regress encoded deltas by default; the IoU loss then computes overlaps of deltas as
    if they were boxes. Nothing fails: the loss trains the wrong thing. Heads that decode boxes
    before their loss themselves (ATSS, FCOS, GFL, all of MMYOLO's...) are not reported. MMRotate's
    anchor and RoI heads (RotatedRetinaHead, R3Head, S2AHead, OrientedRPNHead,
    RotatedShared2FCBBoxHead...) regress deltas the same way, and MMRotate's RotatedIoULoss, GDLoss
    and GDLoss_v1 compare boxes too; KFLoss is meant for deltas (its head passes it the decoded
    boxes as well).
    """

    code = "LT112"
    fix_safety = "unsafe"
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
            fixed="model = dict(bbox_head=dict(type='RetinaHead',\n"
            "                            loss_bbox=dict(type='GIoULoss', loss_weight=2.0),\n"
            "                            reg_decoded_bbox=True))\n",
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.kind != "loss" or not listed(BOX_LOSSES, node.entry_ref()):
                continue
            ref = node.head_ref()
            if ref is None or not listed(DELTA_REGRESSION_HEADS, ref):
                continue
            head = node.head()
            if head is not None and head.get("reg_decoded_bbox") is True:
                continue
            yield self.finding(
                f"`{node.type}` compares boxes, but `{ref.name}` regresses encoded deltas unless reg_decoded_bbox=True",
                node.origin("type"),
                key=f"{node.key}.type",
                fix="set reg_decoded_bbox=True in the head",
                edit=self.fixed(
                    "set reg_decoded_bbox=True in the head",
                    sets=((f"{format_path(node.loss.head)}.reg_decoded_bbox", True),),
                )
                if node.loss is not None and node.loss.head is not None
                else None,
            )
