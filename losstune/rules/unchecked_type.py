"""LT116 unchecked-type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from losstune.model import Diagnostic, Severity
from losstune.rules.base import Context, Example, Rule
from losstune.schema.scopes import project_name


class UncheckedType(Rule):
    """A loss or sampler of a registry losstune has no schema for, so nothing about it is checked.

    Another project's losses (``default_scope='mmpose'``, ``_scope_='mmseg'``, or a prefix such as
    ``mmpretrain.LabelSmoothLoss``) are built from that project's registry, and their parameters
    are that project's: checking them against MMDetection's loss of the same name would report
    false alarms, so losstune does not check them at all. This note says where that happens. It
    is off by default; select it by its code (``--select LT116``) to see which losses go
    unchecked. A schema file with ``registry: mmpose`` (``--schema``) describes such losses, and
    then they are checked like MMDetection's.
    """

    code = "LT116"
    name = "unchecked-type"
    severity = Severity.INFO
    default_enabled: ClassVar[bool] = False
    valid = (
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n"),
        Example("default_scope = 'mmyolo'\nmodel = dict(bbox_head=dict(loss_cls=dict(type='mmdet.FocalLoss')))\n"),
    )
    invalid = (
        Example("default_scope = 'mmpose'\nmodel = dict(head=dict(loss=dict(type='KeypointMSELoss')))\n", ((2, 39),)),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='mmpretrain.LabelSmoothLoss')))\n", ((1, 48),)),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            ref = node.ref
            if not ctx.schema.unchecked(ref):
                continue
            what = "no schema" if ref.registry is not None else "no way to tell which registry"
            yield self.finding(
                f"`{node.type}` is looked up in {ref.where}, which losstune has {what} for: "
                "its parameters are not checked",
                node.origin("type"),
                key=f"{node.key}.type",
                fix=(
                    f"describe {project_name(ref.registry)}'s {node.kind} in a schema file with "
                    f"`registry: {ref.registry}` (--schema)"
                    if ref.registry is not None
                    else "write default_scope as a string"
                ),
            )
