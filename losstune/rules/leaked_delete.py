"""LT114 leaked-delete."""

from __future__ import annotations

from collections.abc import Iterator

from losstune.config import origin_at
from losstune.keypath import format_path
from losstune.model import Diagnostic
from losstune.rules.base import Context, Example, Rule


class LeakedDelete(Rule):
    """``_delete_=True`` in a dict whose key the base configs do not have.

    mmengine only removes ``_delete_`` when it replaces a base dict; where the base has no such key,
    ``_delete_`` stays in the dict and reaches the constructor: ``TypeError: __init__() got an
    unexpected keyword argument '_delete_'`` (mmdetection#3285). Usually the key is misspelt or
    sits at the wrong level of the child config.
    """

    code = "LT114"
    name = "leaked-delete"
    valid = (Example("model = dict(bbox_head=dict(loss_bbox=dict(type='GIoULoss')))\n"),)
    invalid = (Example("model = dict(bbox_head=dict(loss_iou=dict(_delete_=True, type='GIoULoss')))\n", ((1, 52),)),)

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        tree = ctx.config.tree
        for path, value in ctx.config.dict_nodes():
            # Only dicts with a `type` reach a constructor; others may be read key by key.
            if "_delete_" in value and "type" in value:
                where = format_path(path)
                yield self.finding(
                    f"`_delete_` stays in `{where}`: the base configs have no `{path[-1]}` to replace, "
                    "so mmengine passes `_delete_` on to the constructor",
                    origin_at(tree, (*path, "_delete_")),
                    key=f"{where}._delete_",
                    fix=f"check the spelling and level of `{path[-1]}`, or remove `_delete_=True`",
                )
