"""LT106 missing-required."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule


class MissingRequired(Rule):
    """A required parameter is not set: a ``RandomSampler`` without ``num`` or ``pos_fraction``.

    MMDetection fails when it builds the sampler (``__init__() missing 1 required positional
    argument``), after the whole run has been set up.
    """

    code = "LT106"
    name = "missing-required"
    valid = (Example("model = dict(train_cfg=dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5)))\n"),)
    invalid = (Example("model = dict(train_cfg=dict(sampler=dict(type='RandomSampler', num=256)))\n", ((1, 37),)),)

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.entry is None:
                continue
            missing = [n for n, p in node.params().items() if p.required and not p.internal and n not in node.value]
            if missing:
                names = ", ".join(f"`{m}`" for m in missing)
                yield self.finding(
                    f"`{node.type}` needs {names}, which {'is' if len(missing) == 1 else 'are'} not set",
                    node.origin(),
                    key=node.key,
                    fix="add " + ", ".join(f"{m}=..." for m in missing),
                )
