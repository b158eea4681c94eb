"""LT115 seesaw-num-classes."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic, Related
from losstune.rules.base import Context, Example, Rule

SEESAW_DEFAULT_NUM_CLASSES = 1203  # LVIS v1, SeesawLoss's default


class SeesawNumClasses(Rule):
    """``SeesawLoss``'s ``num_classes`` is not its head's.

    SeesawLoss sizes the classifier itself (``num_classes + 2`` outputs: the classes, then object
    and background), and the bbox head asserts that the loss's ``num_classes`` equals its own when
    it is built. The loss's default is 1203 (LVIS v1), so a config for another dataset that leaves it
    out, or changes the head's ``num_classes`` without the loss's, fails before training starts.

    The finding is where the mismatch was written last: a child config that changes the head's
    ``num_classes`` under a base's loss gets it at the child's line, with the loss's line as related
    location.
    """

    code = "LT115"
    fix_safety = "unsafe"
    name = "seesaw-num-classes"
    valid = (
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(num_classes=80,\n"
            "    loss_cls=dict(type='SeesawLoss', num_classes=80))))\n"
        ),
    )
    invalid = (
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(num_classes=80,\n"
            "    loss_cls=dict(type='SeesawLoss', num_classes=81))))\n",
            ((2, 50),),
            fixed="model = dict(roi_head=dict(bbox_head=dict(num_classes=80,\n"
            "    loss_cls=dict(type='SeesawLoss', num_classes=80))))\n",
        ),
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(num_classes=80,\n"
            "    loss_cls=dict(type='SeesawLoss', p=0.8))))\n",
            ((2, 14),),
            fixed="model = dict(roi_head=dict(bbox_head=dict(num_classes=80,\n"
            "    loss_cls=dict(type='SeesawLoss', p=0.8, num_classes=80))))\n",
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.kind != "loss" or not node.is_mmdet("SeesawLoss"):
                continue
            head = node.head()
            head_classes = head.get("num_classes") if head is not None else None
            if not isinstance(head_classes, int) or isinstance(head_classes, bool):
                continue
            given = "num_classes" in node.value
            loss_classes = node.value.get("num_classes", SEESAW_DEFAULT_NUM_CLASSES)
            if not isinstance(loss_classes, int) or isinstance(loss_classes, bool) or loss_classes == head_classes:
                continue
            what = f"`num_classes={loss_classes}`" if given else f"the default `num_classes={loss_classes}` (LVIS v1)"
            loss_at = node.origin("num_classes") if given else node.origin()
            head_at = node.head_origin("num_classes")
            if head_at is not None and ctx.nearest(loss_at, head_at) is head_at and loss_at is not None:
                yield self.finding(
                    f"the head's `num_classes={head_classes}` does not match its SeesawLoss's {what} "
                    f"(set in {ctx.place(loss_at)}); the head asserts they are equal when it is built",
                    head_at,
                    key=f"{node.head_key()}.num_classes",
                    fix=f"set `num_classes={head_classes}` in `{node.key}` too",
                    files=(loss_at.span.file,),
                    related=(Related(loss_at.span, f"SeesawLoss's {what}"),),
                    edit=self.fixed(
                        f"set `num_classes={head_classes}` in `{node.key}` too",
                        sets=((f"{node.key}.num_classes", head_classes),),
                    ),
                )
                continue
            yield self.finding(
                f"SeesawLoss has {what} but its head has `num_classes={head_classes}`; "
                "the head asserts they are equal when it is built",
                loss_at,
                key=f"{node.key}.num_classes",
                fix=f"set `num_classes={head_classes}` in the loss",
                related=(Related(head_at.span, f"the head's `num_classes={head_classes}`"),)
                if head_at is not None and loss_at is not None and head_at.span.file != loss_at.span.file
                else (),
                edit=self.fixed(
                    f"set `num_classes={head_classes}` in the loss", sets=((f"{node.key}.num_classes", head_classes),)
                ),
            )
