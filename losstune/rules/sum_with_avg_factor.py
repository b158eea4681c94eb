"""LT110 sum-with-avg-factor."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule
from losstune.schema.heads import IGNORES_AVG_FACTOR, avg_factor_keys, listed


class SumWithAvgFactor(Rule):
    """``reduction='sum'`` on a loss whose head passes ``avg_factor``.

    Most of MMDetection's heads normalise their losses by an ``avg_factor`` (the number of
    positives or of sampled boxes): RetinaHead, RPNHead and the RoI bbox heads their ``loss_cls``
    and ``loss_bbox``, ATSSHead and FCOSHead their ``loss_centerness`` too, the DETR family its
    ``loss_iou``, GFLHead its ``loss_dfl``, Mask2Former its ``loss_mask`` and ``loss_dice``, and so
    on, key by key as the code of MMDetection 2.28.2 and 3.3.0 passes it. ``weight_reduce_loss``
    only accepts that with ``'mean'`` or ``'none'``, so the first iteration fails with
    ``avg_factor can not be used with
    reduction="sum"``. Heads that normalise by themselves (YOLOV3Head, YOLOXHead) use ``'sum'`` on
    purpose and are not reported. The heads of MMYOLO and MMRotate are checked by what their own
    code passes, loss by loss: MMYOLO's YOLOv6Head gives avg_factor to ``loss_bbox`` only,
    YOLOv8Head to ``loss_dfl`` only (its ``loss_bbox`` is ``'sum'`` by design), PPYOLOEHead to both;
    MMRotate's rotated heads to their ``loss_angle`` and ``loss_centerness`` too. MMRotate's convex
    GIoU losses and GDLoss_v1 ignore avg_factor, so ``'sum'`` is allowed there.
    """

    code = "LT110"
    fix_safety = "unsafe"
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
            fixed="model = dict(bbox_head=dict(type='RetinaHead',\n    loss_bbox=dict(type='L1Loss', reduction='mean')))\n",
        ),
        Example(
            "model = dict(bbox_head=dict(type='FCOSHead',\n"
            "    loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='sum')))\n",
            ((2, 79),),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.kind != "loss" or node.value.get("reduction") != "sum":
                continue
            head = node.head_ref()
            if head is None or node.path[-1] not in avg_factor_keys(head):
                continue
            if node.entry is not None and listed(IGNORES_AVG_FACTOR, node.entry_ref()):
                continue
            yield self.finding(
                f"`{head.name}` passes avg_factor to `{node.path[-1]}`, which MMDetection's weight_reduce_loss "
                "only accepts with reduction='mean' or 'none'; 'sum' fails at the first iteration",
                node.origin("reduction"),
                key=f"{node.key}.reduction",
                fix="reduction='mean' (the head already normalises by avg_factor)",
                edit=self.fixed("reduction='mean'", sets=((f"{node.key}.reduction", "mean"),)),
            )
