"""LT114 leaked-delete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from losstune.config import origin_at
from losstune.keypath import Path, format_path
from losstune.loader import codes
from losstune.loader.values import LDict
from losstune.model import Diagnostic, Origin
from losstune.rules.base import Context, Example, Rule

# The top-level keys whose dicts are built into objects: those mmengine's Runner.from_cfg builds
# (MMDetection 3.x and the projects on mmengine), and those MMDetection 2.x's train script and mmcv's
# runner build. Any other top-level name is a variable of the config files (`train_dataset = dict(...)`
# used as `train_dataloader.dataset`) that nothing builds.
BUILT_KEYS: frozenset[str] = frozenset(
    """model data_preprocessor train_dataloader val_dataloader test_dataloader train_cfg val_cfg test_cfg
    optim_wrapper param_scheduler val_evaluator test_evaluator default_hooks custom_hooks log_processor
    visualizer data optimizer optimizer_config lr_config momentum_config checkpoint_config log_config
    evaluation runner""".split()
)


# Loader findings that, in a config that did load, mean one of its bases could not be read.
_UNREAD_BASE_CODES: frozenset[str] = frozenset(
    c.code
    for c in (
        codes.SYNTAX_ERROR,
        codes.ENCODING_ERROR,
        codes.EMPTY_CONFIG,
        codes.UNREADABLE,
        codes.UNSUPPORTED_TYPE,
        codes.MISSING_BASE,
        codes.INHERITANCE_CYCLE,
    )
)


class LeakedDelete(Rule):
    """``_delete_=True`` in a dict whose key the base configs do not have.

    mmengine only removes ``_delete_`` when it replaces a base dict; where the base has no such key,
    ``_delete_`` stays in the dict and reaches the constructor: ``TypeError: __init__() got an
    unexpected keyword argument '_delete_'`` (mmdetection#3285). Usually the key is misspelt or
    sits at the wrong level of the child config.

    Only dicts that are built are reported: those with a ``type`` under the top-level keys that
    mmengine's runner (or MMDetection 2.x's train script) builds, such as ``model``,
    ``train_dataloader``, ``optim_wrapper``, ``param_scheduler``, ``default_hooks`` or 2.x's
    ``data``. A variable of the config file (``train_dataset = dict(_delete_=True, ...)`` used as
    ``train_dataloader.dataset``) keeps its ``_delete_`` but nothing builds it; where it is used,
    the merge removes ``_delete_``, or the copy there is reported. A class that takes and ignores
    keyword arguments it does not name (MMDetection's samplers) is not reported either. Nothing is
    reported when a base file cannot be read (missing, unreadable, not valid Python): it may have
    the key.

    In a new-style config (``with read_base():``) nothing but ``.merge()`` applies ``_delete_``:
    ``model.update(dict(backbone=dict(_delete_=True, type='SwinTransformer', ...)))`` merges into
    the imported backbone, whose keys (``depth``) stay beside the new ones, and the build fails
    (``SwinTransformer ... unexpected keyword argument 'depth'``). The finding says so and points at
    ``model.merge(...)``.
    """

    code = "LT114"
    name = "leaked-delete"
    valid = (
        Example("model = dict(bbox_head=dict(loss_bbox=dict(type='GIoULoss')))\n"),
        # a helper variable: nothing builds it (the dataloader's copy loses `_delete_` in the merge)
        Example(
            "k710_trainset = dict(type='ConcatDataset', datasets=[], _delete_=True)\n"
            "train_dataloader = dict(batch_size=8, dataset=dict(type='ConcatDataset', datasets=[]))\n"
        ),
        # a base that cannot be read may have the key
        Example("_base_ = './no_such_base.py'\nmodel = dict(bbox_head=dict(_delete_=True, type='CenterHead'))\n"),
        Example("_base_ = ''\nmodel = dict(_delete_=True, type='GroupFisherAlgorithm')\n"),
        # a sampler takes **kwargs and ignores `_delete_`
        Example(
            "model = dict(train_cfg=dict(rcnn=dict(\n"
            "    sampler=dict(_delete_=True, type='OHEMSampler', num=512, pos_fraction=0.25))))\n"
        ),
    )
    invalid = (
        Example("model = dict(bbox_head=dict(loss_iou=dict(_delete_=True, type='GIoULoss')))\n", ((1, 52),)),
        Example("model = dict(_delete_=True, type='GroupFisherAlgorithm')\n", ((1, 23),)),
        # built through a helper variable: reported once, where the dict is built
        Example(
            "pruned = dict(_delete_=True, type='GroupFisherSubModel')\n"
            "model = dict(type='SingleTeacherDistill', architecture=pruned)\n",
            ((1, 24),),
        ),
        Example("data = dict(train=dict(_delete_=True, type='CocoDataset'))\n", ((1, 33),), version=2),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        if any(d.code in _UNREAD_BASE_CODES for d in ctx.config.diagnostics):
            return
        tree = ctx.config.tree
        for path, value in ctx.config.dict_nodes():
            # Only dicts with a `type` reach a constructor; others may be read key by key.
            if (
                "_delete_" in value
                and "type" in value
                and path[0] in BUILT_KEYS
                and not _takes_any_key(ctx, path, value)
            ):
                where = format_path(path)
                at = origin_at(tree, (*path, "_delete_"))
                kept = _kept_keys(value, at) if ctx.config.new_style else []
                if kept:
                    names = ", ".join(f"`{k}`" for k in kept)
                    yield self.finding(
                        f"`_delete_` stays in `{where}`: in a new-style config only `.merge()` applies it; "
                        f"`update()` merges into the `{path[-1]}` the bases import, so their {names} stay beside "
                        "the new keys and `_delete_` reaches the constructor",
                        at,
                        key=f"{where}._delete_",
                        fix=f"change the imported config with `.merge(...)` in place of `.update(...)` "
                        f"(`{path[0]}.merge(dict(...))`), which replaces `{path[-1]}` as `_delete_=True` says",
                    )
                    continue
                yield self.finding(
                    f"`_delete_` stays in `{where}`: the base configs have no `{path[-1]}` to replace, "
                    "so mmengine passes `_delete_` on to the constructor",
                    at,
                    key=f"{where}._delete_",
                    fix=f"check the spelling and level of `{path[-1]}`, or remove `_delete_=True`",
                )


def _kept_keys(value: dict[Any, Any], at: Origin | None) -> list[Any]:
    """The keys of ``value`` written in another file than its ``_delete_``: those of the dict a
    new-style config's ``update()`` merged into, which ``_delete_`` was meant to remove."""
    origins = value.origins if isinstance(value, LDict) else {}
    if at is None:
        return []
    return [k for k, o in origins.items() if k != "_delete_" and o.span.file != at.span.file]


def _takes_any_key(ctx: Context, path: Path, value: dict[str, Any]) -> bool:
    """Whether the class the dict builds takes keyword arguments it does not name (``**kwargs``)
    and ignores them, as MMDetection's samplers do: ``_delete_`` is then harmless."""
    type_name = value.get("type")
    if not isinstance(type_name, str):
        return False
    entry = ctx.schema.lookup(ctx.resolve(type_name, path))
    return entry is not None and entry.accepts_unknown_keys
