"""LT105 invalid-choice."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from losstune.loader.values import Opaque
from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule


class InvalidChoice(Rule):
    """A value that is not one of the parameter's allowed values, such as ``reduction='avg'``.

    ``reduction`` must be ``'mean'``, ``'sum'`` or ``'none'`` (``'none'`` and ``'mean'`` only for
    GHMC, GHMR, L2Loss and MarginL2Loss). MMDetection does not check it when it builds the loss:
    the first iteration fails, and with a head that passes ``avg_factor`` the message is the
    misleading ``avg_factor can not be used with reduction="sum"``, for ``'avg'`` and ``None`` too.
    """

    code = "LT105"
    name = "invalid-choice"
    valid = (Example("model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', reduction='none')))\n"),)
    invalid = (
        Example("model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', reduction='avg')))\n", ((1, 69),)),
        Example("model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', reduction=None)))\n", ((1, 69),)),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='GHMC', reduction='sum')))\n", ((1, 66),)),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.entry is None:
                continue
            for name, spec in node.entry.params_for(ctx.version).items():
                if spec.choices is None or name not in node.value:
                    continue
                value = node.value[name]
                if isinstance(value, Opaque) or any(value == c and type(value) is type(c) for c in spec.choices):
                    continue
                allowed = ", ".join(repr(c) for c in spec.choices)
                yield self.finding(
                    f"`{node.type}.{name}` = {node.show(name)} is not one of {allowed}",
                    node.origin(name),
                    key=f"{node.key}.{name}",
                    fix=_fix(name, value, spec.choices, allowed),
                )


# What people write when they mean one of the reductions.
_MEANT = {"avg": "mean", "average": "mean", "elementwise_mean": "mean", "total": "sum", "None": "none"}


def _fix(name: str, value: object, choices: tuple[object, ...], allowed: str) -> str:
    if value is None and "none" in choices:
        return f"{name}='none' to keep element-wise losses, or {name}='mean'"
    if isinstance(value, str):
        meant = _MEANT.get(value)
        if meant is None:
            close = difflib.get_close_matches(value.lower(), [str(c) for c in choices], n=1, cutoff=0.5)
            meant = close[0] if close else None
        if meant in choices:
            return f"{name}={meant!r}"
    return f"use one of {allowed}"
