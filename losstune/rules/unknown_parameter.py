"""LT102 unknown-parameter."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.model import Diagnostic, Origin
from losstune.rules.base import Context, Example, Node, Rule, unambiguous_match
from losstune.schema.scopes import project_name

IGNORED_KEYS = frozenset(("type", "_scope_", "_delete_"))


class UnknownParameter(Rule):
    """A parameter that the loss or sampler does not take.

    Loss constructors take no extra keyword arguments: MMDetection fails when it builds the model,
    with ``TypeError: __init__() got an unexpected keyword argument 'gama'`` and no word of which
    config key is at fault. Samplers take ``**kwargs`` and silently ignore what they do not know,
    so a typo there (``pos_fractoin``) is simply lost. A parameter that only MMDetection 3.x has
    (GaussianFocalLoss ``pos_weight``) is unknown to 2.x. The closest known parameter is suggested;
    where it is the only one that close, and the dict does not set it already, ``lint --fix``
    renames the key to it (a safe fix: the value is the one that was meant).
    """

    code = "LT102"
    name = "unknown-parameter"
    fix_safety = "safe"
    valid = (Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0, alpha=0.25)))\n"),)
    invalid = (
        Example(
            "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gama=2.0)))\n",
            ((1, 61),),
            fixed="model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n",
        ),
        Example(
            "model = dict(train_cfg=dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5,\n"
            "                                         pos_fractoin=0.25)))\n",
            ((2, 42),),
        ),
        Example(
            "model = dict(train_cfg=dict(sampler=dict(type='RandomSampler', num=256, pos_fractoin=0.25)))\n",
            ((1, 73),),
            fixed="model = dict(train_cfg=dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=0.25)))\n",
        ),
        Example(
            "data = dict()\nmodel = dict(bbox_head=dict(loss_cls=dict(type='GaussianFocalLoss', pos_weight=2.0)))\n",
            ((2, 69),),
            version=2,
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            for key, close in unknown_keys(node):
                hint = f"; did you mean `{close}`?" if close else ""
                assert node.entry is not None  # unknown_keys yields nothing without one
                what = (
                    f"{project_name(node.entry.registry)} silently ignores it"
                    if node.entry.accepts_unknown_keys
                    else "building the model fails with an unexpected keyword argument"
                )
                other = key in node.entry.params
                version_note = f" in MMDetection {ctx.version}.x" if other else ""
                known = node.param_specs()
                fix = f"rename it to `{close}`" if close else f"remove `{key}`; known: {', '.join(known)}"
                meant = unambiguous_match(key, list(known), 0.6)
                # Where the meant key is set too, only by another file: the rename overrides it or is
                # overridden by it, as the files' order says, like any value written twice.
                twice = meant in node.value and _same_file(node.origin(meant), node.origin(key))
                renamable = meant == close and not twice and not node.env_names(key)
                edit = self.fixed(fix, renames=((f"{node.key}.{key}", meant),)) if renamable and meant else None
                yield self.finding(
                    f"`{node.type}` has no parameter `{key}`{version_note} ({what}){hint}",
                    node.key_span(key),
                    key=f"{node.key}.{key}",
                    fix=fix,
                    edit=edit,
                )


def unknown_keys(node: Node) -> Iterator[tuple[str, str | None]]:
    """Each key of a loss or sampler dict that its class does not take, with the closest known
    parameter (``None`` when none is close); nothing for a type the schema does not know, one taking
    any key, or one missing from the config's version (that is LT101's)."""
    if node.entry is None or node.entry.uses_unknown_keys or node.ctx.version not in node.entry.versions:
        return
    known = node.param_specs()
    for key in node.value:
        if key in IGNORED_KEYS or key in known or not isinstance(key, str):
            continue
        import difflib  # only where a key is unknown

        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
        yield key, close[0] if close else None


def _same_file(a: Origin | None, b: Origin | None) -> bool:
    return a is None or b is None or a.span.file == b.span.file
