"""LT113 zero-loss-weight."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic, Severity
from losstune.rules.base import Context, Example, Rule


class ZeroLossWeight(Rule):
    """``loss_weight=0``: the loss is computed at every iteration and contributes nothing.

    Sometimes intended (an ablation), often a leftover. If the loss should be off, removing the
    head or the loss says so more clearly; if it should count, give it a weight.
    """

    code = "LT113"
    name = "zero-loss-weight"
    severity = Severity.WARNING
    valid = (Example("model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', loss_weight=1.0)))\n"),)
    invalid = (Example("model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', loss_weight=0.0)))\n", ((1, 71),)),)

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            w = node.value.get("loss_weight")
            if node.kind == "loss" and not isinstance(w, bool) and isinstance(w, (int, float)) and w == 0:
                yield self.finding(
                    f"`{node.key}` has loss_weight=0: it is computed but adds nothing to training",
                    node.origin("loss_weight"),
                    key=f"{node.key}.loss_weight",
                    fix="give it a positive weight, or remove the loss if it is meant to be off",
                )
