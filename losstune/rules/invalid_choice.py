"""LT105 invalid-choice."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.loader.values import Opaque
from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule, unambiguous_match


class InvalidChoice(Rule):
    """A value that is not one of the parameter's allowed values, such as ``reduction='avg'``.

    ``reduction`` must be ``'mean'``, ``'sum'`` or ``'none'`` (``'none'`` and ``'mean'`` only for
    GHMC, GHMR, L2Loss and MarginL2Loss). MMDetection does not check it when it builds the loss:
    the first iteration fails, and with a head that passes ``avg_factor`` the message is the
    misleading ``avg_factor can not be used with reduction="sum"``, for ``'avg'`` and ``None`` too.
    Where the value is a known synonym (``'avg'``, ``'average'``, ``'total'``) or close to exactly one
    allowed value, ``lint --fix`` writes that value (a safe fix); ``None`` has two readings and is
    left to you.
    """

    code = "LT105"
    name = "invalid-choice"
    fix_safety = "safe"
    valid = (Example("model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', reduction='none')))\n"),)
    invalid = (
        Example(
            "model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', reduction='avg')))\n",
            ((1, 69),),
            fixed="model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', reduction='mean')))\n",
        ),
        Example("model = dict(bbox_head=dict(loss_bbox=dict(type='L1Loss', reduction=None)))\n", ((1, 69),)),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='GHMC', reduction='sum')))\n", ((1, 66),)),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.entry is None:
                continue
            for name, spec in node.params().items():
                if spec.choices is None or name not in node.value:
                    continue
                value = node.value[name]
                if isinstance(value, Opaque) or any(value == c and type(value) is type(c) for c in spec.choices):
                    continue
                allowed = ", ".join(repr(c) for c in spec.choices)
                meant = _meant(value, spec.choices)
                fixable = meant is not None and not node.env_names(name)
                fix = f"{name}={meant!r}" if meant is not None else _fix(name, value, spec.choices, allowed)
                yield self.finding(
                    f"`{node.type}.{name}` = {node.show(name)} is not one of {allowed}",
                    node.origin(name),
                    key=f"{node.key}.{name}",
                    fix=fix,
                    edit=self.fixed(fix, sets=((f"{node.key}.{name}", meant),)) if fixable else None,
                )


# What people write when they mean one of the reductions.
_MEANT = {"avg": "mean", "average": "mean", "elementwise_mean": "mean", "total": "sum", "None": "none"}


def _meant(value: object, choices: tuple[object, ...]) -> object | None:
    """The one allowed value that a string stands for: a synonym, the same word in other case, or
    the only allowed value close to it; ``None`` where there is no such one."""
    if not isinstance(value, str):
        return None
    by_text = {str(c): c for c in choices if isinstance(c, str)}
    meant = _MEANT.get(value)
    if meant is None:
        meant = unambiguous_match(value.lower(), list(by_text), 0.5)
    return by_text.get(meant) if meant is not None else None


def _fix(name: str, value: object, choices: tuple[object, ...], allowed: str) -> str:
    if value is None and "none" in choices:
        return f"{name}='none' to keep element-wise losses, or {name}='mean'"
    return f"use one of {allowed}"
