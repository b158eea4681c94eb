"""LT117 stale-derived-value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from msgspec import Struct

from losstune.keypath import Path, format_path
from losstune.loader.recompute import FAILED, evaluate
from losstune.loader.values import LDict, same_value
from losstune.model import Diagnostic, Origin, Related, Severity
from losstune.rules.base import Context, Example, Rule

# The head parameters that count classes: those the schema's head tables read (the classifier's
# width), checked in the head and in the dicts under it (MMYOLO's `head_module`).
CLASS_COUNTS: frozenset[str] = frozenset(("num_classes", "num_things_classes", "num_stuff_classes"))

# A value is computed from values computed from names... at most this deep.
_MAX_DEPTH = 8


class Stale(Struct, frozen=True):
    """A value that mmengine keeps as a base computed it: what it would be with the definitions
    the config has now, and the name whose definition changed (where it changed)."""

    value: Any
    name: str
    redefined: Origin


class StaleDerivedValue(Rule):
    """A value computed in a base from a top-level name keeps the base's value when a child redefines
    the name.

    mmengine evaluates each file once: ``loss_weight=loss_cls_weight * (num_classes / 80 * 3 /
    num_det_layers)`` in MMYOLO's YOLOv5 base is computed there with its ``num_classes = 80``, and a
    child that sets ``num_classes = 1`` trains with the weight of 80 classes (mmyolo#921); so does
    ``class_weight=[1.0] * num_classes + [0.1]``, or ``num_classes=num_classes`` in a head the child
    does not write again. The finding is at the child's line that redefines the name, and says what
    the value would be with the child's definition (the base's expression evaluated again, statically).

    Only the parameters of losses and samplers the schema knows, and the class counts of their heads,
    are checked. The fix writes the value in the child (unsafe: it changes training); to keep the
    base's value on purpose, ignore the finding on that line.
    """

    code = "LT117"
    name = "stale-derived-value"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    valid = (
        Example(
            "num_classes = 3\n"
            "model = dict(bbox_head=dict(type='RetinaHead', num_classes=num_classes,\n"
            "    loss_cls=dict(type='FocalLoss', loss_weight=num_classes / 80)))\n"
        ),
        # the child writes the value again with its own name
        Example(
            "_base_ = './base.py'\nnum_classes = 3\nmodel = dict(bbox_head=dict(num_classes=num_classes))\n",
            bases=(
                (
                    "base.py",
                    "num_classes = 80\nmodel = dict(bbox_head=dict(type='RetinaHead', num_classes=num_classes))\n",
                ),
            ),
        ),
    )
    invalid = (
        Example(
            "_base_ = './base.py'\nnum_classes = 1\n",
            ((2, 15),),
            fixed="_base_ = './base.py'\nnum_classes = 1\nmodel = dict(bbox_head=dict(loss_cls=dict(loss_weight=0.00625)))\n",
            bases=(
                (
                    "base.py",
                    "num_classes = 80\nnum_det_layers = 3\n"
                    "model = dict(bbox_head=dict(type='RetinaHead', num_classes=5,\n"
                    "    loss_cls=dict(type='FocalLoss', loss_weight=0.5 * (num_classes / 80 * 3 / num_det_layers))))\n",
                ),
            ),
        ),
        Example(
            "_base_ = './base.py'\nnum_classes = 5\n",
            ((2, 15),),  # the line makes two keys stale: one finding, whose fix sets both
            fixed="_base_ = './base.py'\nnum_classes = 5\nmodel = dict(\n    roi_head=dict(\n        bbox_head=dict(\n"
            "            loss_cls=dict(class_weight=[1.0, 1.0, 1.0, 1.0, 1.0, 0.1]),\n            num_classes=5)))\n",
            bases=(
                (
                    "base.py",
                    "num_classes = 8\nweights = [1.0] * num_classes + [0.1]\n"
                    "model = dict(roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=num_classes,\n"
                    "    loss_cls=dict(type='CrossEntropyLoss', class_weight=weights))))\n",
                ),
            ),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        tree = ctx.config.tree
        seen: set[Path] = set()
        for path, d, keys in _checked(ctx):
            for key in keys:
                origin = d.origins.get(key)
                full = (*path, key)
                if origin is None or origin.kind not in ("expression", "variable") or full in seen:
                    continue
                seen.add(full)
                actual = d[key]
                if isinstance(actual, dict):
                    continue  # a dict may have been merged into since it was computed
                stale = _now(ctx, tree, origin, 0)
                if stale is None or stale.value is FAILED or same_value(stale.value, actual):
                    continue
                where = format_path(full)
                now, kept = _shown(stale.value), _shown(actual)
                yield self.finding(
                    f"`{stale.name}` is redefined here, but `{where}` keeps {kept!r}, computed with the base's "
                    f"`{stale.name}` at {ctx.place(origin)} (`{_clip(origin.text)}`); mmengine never computes it "
                    f"again: with this `{stale.name}` it would be {now!r}",
                    stale.redefined,
                    key=where,
                    fix=f"set `{where}={now!r}` in this file (it changes training), or ignore this finding to "
                    f"keep {kept!r}",
                    files=(origin.span.file,),
                    related=(Related(origin.span, f"`{where}` computed from `{stale.name}`"),),
                    edit=self.fixed(f"set `{where}={now!r}` in this file", sets=((where, now),)),
                )


def _checked(ctx: Context) -> Iterator[tuple[Path, LDict, list[Any]]]:
    """The dicts to check with the keys to check in each: the parameters the schema knows of each
    loss and sampler, and the class counts of their heads (and of the dicts under them)."""
    heads: set[Path] = set()
    for node in ctx.nodes():
        d = node.value
        if node.entry is not None and isinstance(d, LDict):
            specs = node.param_specs()
            yield node.path, d, [k for k in d.origins if k in specs]
        if node.loss is not None and node.loss.head is not None:
            heads.add(node.loss.head)
    if not heads:
        return
    tops = {h[0] for h in heads}  # the top-level keys the heads are under: most dicts are under none
    for path, d in ctx.config.dict_nodes():
        if path[0] in tops and isinstance(d, LDict) and any(path[: len(h)] == h for h in heads):
            keys = [k for k in d.origins if k in CLASS_COUNTS]
            if keys:
                yield path, d, keys


def _now(ctx: Context, tree: LDict, origin: Origin, depth: int) -> Stale | None:
    """What the value set at ``origin`` would be if it were computed with the top-level names the
    config has now, where one of the names it was computed from was redefined in a nearer file;
    ``None`` where none was, or where that cannot be told."""
    if depth > _MAX_DEPTH:
        return None
    if origin.kind == "variable":
        return _name_now(ctx, tree, origin.text, origin.via, depth)
    if origin.kind != "expression" or not origin.reads:
        return None
    names: dict[str, Any] = {}
    changed: Stale | None = None
    for name, via in origin.reads:
        stale = _name_now(ctx, tree, name, via, depth)
        if stale is not None:
            if stale.value is FAILED:
                return None
            names[name] = stale.value
            changed = changed or stale
        elif name in tree and via is not None and tree.origins.get(name) == via:
            names[name] = tree[name]
        else:
            return None  # a name bound again in the same file, or gone: its value then is unknown
    if changed is None:
        return None
    return Stale(evaluate(origin.text, names), changed.name, changed.redefined)


def _name_now(ctx: Context, tree: LDict, name: str, via: Origin | None, depth: int) -> Stale | None:
    """The value the top-level ``name``, bound at ``via`` when it was read, would give now: its
    definition in a nearer file, or the value of ``via`` computed again."""
    if via is None or name not in tree:
        return None
    top = tree.origins.get(name)
    if top is None:
        return None
    if top != via:
        if top.span.file == via.span.file or ctx.nearest(via, top) is not top:
            return None  # bound again in the same file (or an unrelated one): not a child's doing
        return Stale(tree[name], name, top)
    return _now(ctx, tree, via, depth + 1)


def _shown(value: Any) -> Any:
    """``value`` with its floats at 12 significant digits (``0.00625``, not ``0.006250000000000001``),
    as plain lists and tuples."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, (list, tuple)):
        return type(value)(_shown(v) for v in value)
    return value


def _clip(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
