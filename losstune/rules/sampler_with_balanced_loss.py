"""LT111 sampler-with-balanced-loss."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.config import origin_at
from losstune.keypath import get
from losstune.model import Diagnostic, Severity
from losstune.rules.base import Context, Example, Rule
from losstune.schema.catalogue import bare_type
from losstune.schema.heads import SAMPLING_HEADS, V2_PSEUDO_FORCING_TYPES, listed

_PSEUDO = frozenset(("PseudoSampler", "MaskPseudoSampler"))


class SamplerWithBalancedLoss(Rule):
    """A real sampler (RandomSampler, OHEMSampler...) in front of a loss that balances positives
    and negatives itself (FocalLoss, GHMC, QualityFocalLoss, VarifocalLoss).

    Such a loss is meant to see every prior, normalised by the number of positives. A sampler drops
    most negatives, and in MMDetection 3.x it also changes ``avg_factor`` to positives plus sampled
    negatives, silently: the loss shrinks by orders of magnitude (mmdetection#3650: from 3 to 0.0019).
    MMDetection 2.x replaces the sampler by a PseudoSampler for the literal names FocalLoss, GHMC and
    QualityFocalLoss (reported as a warning: the sampler is ignored), but keeps it for any other
    name, ``mmdet.FocalLoss`` included. Only the ``loss_cls`` of heads that sample (anchor-based and
    RoI heads, MMRotate's among them) is checked; anchor-free heads and MMYOLO's heads never see
    the sampler.
    """

    code = "LT111"
    fix_safety = "unsafe"
    name = "sampler-with-balanced-loss"
    valid = (
        Example(
            "model = dict(bbox_head=dict(type='RetinaHead', loss_cls=dict(type='FocalLoss')),\n"
            "             train_cfg=dict(sampler=dict(type='PseudoSampler')))\n"
        ),
    )
    invalid = (
        Example(
            "model = dict(bbox_head=dict(type='RetinaHead', loss_cls=dict(type='FocalLoss')),\n"
            "             train_cfg=dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5)))\n",
            ((2, 47),),
            fixed="model = dict(bbox_head=dict(type='RetinaHead', loss_cls=dict(type='FocalLoss')),\n"
            "             train_cfg=dict(sampler=dict(type='PseudoSampler')))\n",
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            if node.kind != "loss" or node.entry is None or not node.entry.balances_itself:
                continue
            if node.path[-1] != "loss_cls" or not listed(SAMPLING_HEADS, node.head_ref()):
                continue
            sampler = node.sampler()
            if sampler is None or sampler.default or bare_type(sampler.type) in _PSEUDO:
                continue
            forced = ctx.version == 2 and node.type in V2_PSEUDO_FORCING_TYPES
            if forced:
                message = (
                    f"MMDetection 2.x ignores this {sampler.type} for `{node.type}` and uses a PseudoSampler; "
                    "the sampler setting has no effect"
                )
            else:
                message = (
                    f"`{node.type}` balances positives and negatives itself, but `{sampler.key}` is a "
                    f"{sampler.type}: it drops negatives and changes the normalisation silently"
                )
            type_origin = origin_at(ctx.config.tree, (*sampler.path, "type")) if sampler.path else None
            edit = None
            if sampler.path is not None:
                written = get(ctx.config.tree, sampler.path)
                others = (
                    tuple(f"{sampler.key}.{k}" for k in written if k != "type") if isinstance(written, dict) else ()
                )
                edit = self.fixed(
                    "sampler=dict(type='PseudoSampler')",
                    unsets=others,
                    sets=((f"{sampler.key}.type", "PseudoSampler"),),
                )
            yield self.finding(
                message,
                type_origin or sampler.origin,
                key=sampler.key,
                fix="sampler=dict(type='PseudoSampler')",
                severity=Severity.WARNING if forced else None,
                edit=edit,
            )
