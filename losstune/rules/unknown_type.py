"""LT101 unknown-type."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic, Severity
from losstune.rules.base import Context, Example, Rule
from losstune.schema.registry import is_foreign_scope


class UnknownType(Rule):
    """A loss or sampler ``type`` that MMDetection does not register.

    MMDetection only notices when it builds the model (``KeyError: 'FocalLos is not in the
    mmdet::model registry'``), after setting up the whole run, and suggests nothing. A name close to
    a known one is reported as an error with the name that was probably meant. A name unlike any
    known one is a warning: it may be a loss of your own, registered through ``custom_imports``;
    describe it in a schema file (``--schema``) to have its parameters checked too. A type that
    exists only in MMDetection 3.x is an error in a 2.x config. Types of another registry scope
    (``mmpretrain.LabelSmoothLoss``) are left alone.
    """

    code = "LT101"
    name = "unknown-type"
    valid = (
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n"),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='mmdet.FocalLoss')))\n"),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='mmpretrain.LabelSmoothLoss')))\n"),
    )
    invalid = (
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLos', gamma=2.0)))\n", ((1, 48),)),
        Example(
            "model = dict(train_cfg=dict(sampler=dict(type='RandomSampeler', num=256, pos_fraction=0.5)))\n",
            ((1, 47),),
        ),
        Example(
            "data = dict()\nmodel = dict(bbox_head=dict(loss_bbox=dict(type='EIoULoss')))\n", ((2, 49),), version=2
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            origin = node.origin("type")
            if node.entry is not None:
                if ctx.version not in node.entry.versions:
                    yield self.finding(
                        f"`{node.type}` does not exist in MMDetection {ctx.version}.x "
                        f"(it is new in {'.x, '.join(str(v) for v in node.entry.versions)}.x)",
                        origin,
                        key=f"{node.key}.type",
                        fix=f"use a {node.kind} that MMDetection {ctx.version}.x has, or pass --mmdet-version",
                    )
                continue
            if is_foreign_scope(node.type):
                continue
            guess = ctx.schema.suggest(node.type, node.kind)
            if guess is not None:
                yield self.finding(
                    f"`{node.type}` is not a known MMDetection {node.kind}; did you mean `{guess}`?",
                    origin,
                    key=f"{node.key}.type",
                    fix=f"type='{guess}'",
                )
            else:
                yield self.finding(
                    f"`{node.type}` is not a known MMDetection {node.kind}, so its parameters are not checked",
                    origin,
                    key=f"{node.key}.type",
                    fix="if it is registered by custom_imports, describe it in a schema file (--schema)",
                    severity=Severity.WARNING,
                )
