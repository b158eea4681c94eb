"""LT119 replaced-without-type."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from losstune.config import origin_at
from losstune.keypath import Path, format_path, get
from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule

# A new-style config file that binds `model` at its top level (what `import *` brings in).
_BINDS_MODEL = re.compile(r"^model\s*=", re.MULTILINE)


class ReplacedWithoutType(Rule):
    """A config replaces its base's model, or a head of it, with a dict that has no ``type``.

    ``_delete_=True`` replaces the base's dict whole: what is left is only what the child writes, so
    ``model = dict(_delete_=True, backbone=dict(...))`` or a head with ``_delete_=True`` and no
    ``type`` cannot be built (``KeyError: 'type'``, mmdetection#10330). In a new-style config
    (``with read_base():``), ``model = dict(backbone=...)`` after ``from .._base_.models... import *``
    is a Python assignment: it replaces the imported ``model`` whole, its type and heads included
    (MMDetection 3.3.0's own ``mmdet/configs/mask_rcnn/mask_rcnn_r101_fpn_ms_poly_3x_coco.py`` does
    this); ``model.merge(dict(backbone=...))`` changes the imported one, as inheritance does.

    The required parameters a replaced loss or sampler lacks are LT106's.
    """

    code = "LT119"
    name = "replaced-without-type"
    valid = (
        Example(
            "_base_ = './base.py'\n"
            "model = dict(roi_head=dict(bbox_head=dict(_delete_=True, type='Shared2FCBBoxHead', num_classes=3)))\n",
            bases=(("base.py", "model = dict(type='FasterRCNN', roi_head=dict(bbox_head=dict(type='BBoxHead')))\n"),),
        ),
        Example(
            "_base_ = './base.py'\nmodel = dict(backbone=dict(depth=101))\n",
            bases=(("base.py", "model = dict(type='FasterRCNN', backbone=dict(type='ResNet', depth=50))\n"),),
        ),
    )
    invalid = (
        Example(
            "_base_ = './base.py'\nmodel = dict(roi_head=dict(bbox_head=dict(_delete_=True, num_classes=3)))\n",
            ((2, 38),),
            bases=(("base.py", "model = dict(type='FasterRCNN', roi_head=dict(bbox_head=dict(type='BBoxHead')))\n"),),
        ),
        Example(
            "_base_ = './base.py'\nmodel = dict(_delete_=True, backbone=dict(type='ResNet', depth=101))\n",
            ((2, 9),),
            bases=(("base.py", "model = dict(type='FasterRCNN', backbone=dict(type='ResNet', depth=50))\n"),),
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        tree = ctx.config.tree
        model = tree.get("model")
        if not isinstance(model, dict):
            return
        base = ctx.config.base
        for path, d in [(("model",), model), *((p, v) for p, v in ctx.config.dict_nodes() if _is_head(p))]:
            if "type" in d:
                continue
            before = _get(base, path)
            origin = origin_at(tree, path)
            if isinstance(before, dict) and isinstance(before.get("type"), str):
                where = format_path(path)
                how = (
                    "a list written here replaces the base's whole" if isinstance(path[-1], int) else "`_delete_=True`"
                )
                yield self.finding(
                    f"`{where}` replaces the base's (`type={before['type']!r}`, by {how}) and has no `type`: "
                    "mmengine keeps only what is written here, and building it fails (KeyError: 'type')",
                    origin,
                    key=where,
                    fix=f"give `{where}` its `type`, or remove `_delete_=True` to merge into the base's",
                )
            elif (
                path == ("model",)
                and ctx.config.new_style
                and origin is not None
                and origin.span.file == ctx.config.path
                and _imports_model(ctx)
            ):
                yield self.finding(
                    "`model = dict(...)` replaces the `model` the bases import whole (a Python assignment): "
                    "what is left has no `type` and none of the base's heads",
                    origin,
                    key="model",
                    fix="write `model.merge(dict(...))` to change the imported model as inheritance does",
                )


def _is_head(path: Path) -> bool:
    if path[0] != "model":
        return False
    last = path[-1] if isinstance(path[-1], str) else path[-2] if len(path) > 1 else ""
    return isinstance(last, str) and last.endswith("_head")


def _get(tree: Any, path: Path) -> Any:
    if tree is None:
        return None
    try:
        return get(tree, path)
    except (KeyError, IndexError, TypeError):
        return None


def _imports_model(ctx: Context) -> bool:
    """Whether a base file of this new-style config binds `model` at its top level."""
    return any(
        _BINDS_MODEL.search(src.text) is not None for file, src in ctx.config.sources.items() if file != ctx.config.path
    )
