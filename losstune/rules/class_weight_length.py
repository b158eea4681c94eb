"""LT109 class-weight-length."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic, Related
from losstune.rules.base import Context, Example, Rule
from losstune.schema.heads import CLASSIFIER_WIDTHS, HEAD_LOSS_PARAMS

# The losses whose class_weight weights the classifier's outputs (same forward in both).
CROSS_ENTROPY_LOSSES: frozenset[str] = frozenset(("CrossEntropyLoss", "CrossEntropyCustomLoss"))


class ClassWeightLength(Rule):
    """``class_weight`` does not have one weight per classifier output.

    With a softmax, ``CrossEntropyLoss`` weights each output of the classifier, so ``class_weight``
    needs exactly one weight per output; with ``use_sigmoid=True`` it weights the positive term of
    each output (PyTorch's ``pos_weight``): one weight per output, or one number for all. How many
    outputs the classifier has depends on the head: in the dense heads (AnchorHead, RetinaHead,
    RetinaSepBNHead, ATSSHead, FCOSHead, FoveaHead, GuidedAnchorHead, GARetinaHead, RepPointsHead)
    and DIIHead, ``num_classes`` with ``use_sigmoid=True`` and ``num_classes + 1`` (the last one for
    background) with a softmax; in
    the RoI bbox heads (BBoxHead, ConvFCBBoxHead, Shared2FCBBoxHead, Shared4Conv1FCBBoxHead,
    SCNetBBoxHead, DoubleConvFCBBoxHead, SABLHead) ``num_classes + 1`` whatever the loss, unless a
    ``CrossEntropyCustomLoss`` sizes it (``num_classes`` with a sigmoid); in MaskFormerHead and
    Mask2FormerHead ``num_things_classes + num_stuff_classes + 1``. A ``class_weight`` of another
    length fails in the first iteration with a shape error, far from the config.

    Under other heads the number of outputs is not known (an objectness branch has 2 whatever
    ``num_classes`` says), and only one mistake is reported there: a single number with a softmax,
    which fails in the first iteration under any head (``weight tensor should be defined either for
    all N classes or no classes``).

    The finding is where the mismatch was written last: a child config that changes the head's
    ``num_classes`` under a base's ``class_weight`` gets it at the child's line, with the line of
    ``class_weight`` as related location.
    """

    code = "LT109"
    name = "class-weight-length"
    valid = (
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=2,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0, 2.0, 0.5]))))\n"
        ),
        # BBoxHead's fc_cls has num_classes + 1 outputs with a sigmoid too
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=2,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=[1.0, 2.0, 0.5]))))\n"
        ),
        # a loss that sizes the classifier itself: num_classes outputs with a sigmoid
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=2,\n"
            "    loss_cls=dict(type='CrossEntropyCustomLoss', num_classes=2, use_sigmoid=True,\n"
            "        class_weight=[1.0, 2.0]))))\n"
        ),
        Example(
            "model = dict(bbox_head=dict(type='RetinaHead', num_classes=3,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=[1.0, 2.0, 0.5])))\n"
        ),
        # a sigmoid takes one number for every class (PyTorch's pos_weight)
        Example(
            "model = dict(bbox_head=dict(type='RetinaHead', num_classes=3,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=0.5)))\n"
        ),
        Example(
            "model = dict(panoptic_head=dict(type='Mask2FormerHead', num_things_classes=2, num_stuff_classes=1,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0, 1.0, 1.0, 0.1])))\n"
        ),
        # heads whose classifier is not known: an objectness branch has 2 outputs whatever num_classes
        Example(
            "model = dict(bbox_head=dict(type='VoteHead', num_classes=18,\n"
            "    objectness_loss=dict(type='mmdet.CrossEntropyLoss', class_weight=[0.2, 0.8])))\n"
        ),
        Example(
            "model = dict(decode_head=dict(type='PointNet2Head', num_classes=3,\n"
            "    loss_decode=dict(type='mmdet.CrossEntropyLoss', class_weight=[1.0, 2.0, 0.5])))\n"
        ),
    )
    invalid = (
        Example(
            "model = dict(roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=2,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0, 2.0]))))\n",
            ((2, 57),),
        ),
        Example(
            "model = dict(bbox_head=dict(type='RetinaHead', num_classes=3,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=[1.0, 2.0, 0.5, 1.0])))\n",
            ((2, 75),),
        ),
        Example(
            "model = dict(panoptic_head=dict(type='Mask2FormerHead', num_things_classes=2, num_stuff_classes=1,\n"
            "    loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0, 1.0, 0.1])))\n",
            ((2, 57),),
        ),
        # one number with a softmax fails under any head
        Example(
            "model = dict(bbox_head=dict(type='VoteHead', num_classes=18,\n"
            "    objectness_loss=dict(type='mmdet.CrossEntropyLoss', class_weight=0.5)))\n",
            ((2, 70),),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.kind != "loss" or node.entry is None or not node.is_mmdet(*CROSS_ENTROPY_LOSSES):
                continue
            weights = node.value.get("class_weight")
            sigmoid = node.value.get("use_sigmoid", False)
            if node.value.get("use_mask", False) is not False or not isinstance(sigmoid, bool):
                continue
            head_type = node.head_type()
            loss_key = str(node.path[-1])
            if head_type is not None and "class_weight" in HEAD_LOSS_PARAMS.get((head_type, loss_key), {}):
                continue  # the head turns class_weight into the loss's weights itself
            width = CLASSIFIER_WIDTHS.get((head_type, loss_key)) if head_type is not None else None
            head = node.head()
            outputs = width.outputs(head, sigmoid, node.entry.name) if width and head is not None else None
            if isinstance(weights, (int, float)) and not isinstance(weights, bool) and not sigmoid:
                if outputs is None:
                    count = "one weight per classifier output"
                else:
                    count = f"{outputs.size} weights" + (
                        " (the last one weights the background class)" if outputs.background else ""
                    )
                yield self.finding(
                    f"`class_weight` is one number ({node.show('class_weight')}) but a softmax "
                    "`CrossEntropyLoss` needs one weight per classifier output: the first iteration fails in "
                    "F.cross_entropy (weight tensor should be defined either for all N classes or no classes)",
                    node.origin("class_weight"),
                    key=f"{node.key}.class_weight",
                    fix=f"give a list of {count}, or set "
                    "use_sigmoid=True if the number is meant to weight the positive term of every class",
                )
                continue
            if not isinstance(weights, (list, tuple)) or outputs is None:
                continue
            if len(weights) == outputs.size or (sigmoid and len(weights) == 1):
                continue
            weights_at = node.origin("class_weight")
            counts_at = [(name, node.head_origin(name)) for name in width.classes] if width else []
            cause = ctx.nearest(weights_at, *(o for _, o in counts_at))
            size_fix = f"{outputs.size} weights" + (
                " (the last one weights the background class)" if outputs.background else ""
            )
            if cause is not weights_at and cause is not None and weights_at is not None:
                name = next(n for n, o in counts_at if o is cause)
                yield self.finding(
                    f"the head's `{name}={head[name] if head else '?'}` gives the classifier of {head_type} "
                    f"{outputs.size} outputs ({outputs.how}), but `class_weight` (set in "
                    f"{ctx.place(weights_at)}) has {len(weights)} weights",
                    cause,
                    key=f"{node.head_key()}.{name}",
                    fix=f"give `{node.key}.class_weight` {size_fix}",
                    files=(weights_at.span.file,),
                    related=(Related(weights_at.span, f"`class_weight` with {len(weights)} weights"),),
                )
                continue
            yield self.finding(
                f"`class_weight` has {len(weights)} weights but the classifier of {head_type} has "
                f"{outputs.size} outputs ({outputs.how})",
                weights_at,
                key=f"{node.key}.class_weight",
                fix=f"give {size_fix}",
            )
