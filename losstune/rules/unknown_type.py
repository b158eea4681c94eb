"""LT101 unknown-type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from losstune.model import Diagnostic, Severity
from losstune.rules.base import Context, Example, Node, Rule
from losstune.schema.scopes import DEFAULT_SCOPE, TypeRef, project_name

if TYPE_CHECKING:
    from losstune.loader.customimports import UnreadModule


class UnknownType(Rule):
    """A loss or sampler ``type`` that the registry it is looked up in does not have.

    MMDetection only notices when it builds the model (``KeyError: 'FocalLos is not in the
    mmdet::model registry'``), after setting up the whole run, and suggests nothing. The registry
    is the one mmengine uses: that of the config's ``default_scope``, or of a ``_scope_`` in the
    dict or an enclosing one, or the one a prefix names (``mmdet.FocalLoss``); MMDetection's when
    the config names none. A name close to a known one of that registry is reported as an error
    with the name that was probably meant. A name unlike any known one is a warning: it may be a
    loss of your own, registered through ``custom_imports`` (whose modules losstune reads, never
    imports, to know their losses); describe it in a schema file (``--schema``) to have its
    parameters checked too. Where a module of ``custom_imports`` could not be read, every unknown
    type is a warning that names the module and why. A type that exists only in MMDetection 3.x
    is an error in a 2.x config, and one that exists only in 2.x (MMRotate 0.x's RRandomSampler,
    which MMRotate 0.x registers into MMDetection 2.x's registry) is an error in a 3.x config; its
    parameters are not reported on top. In another project's scope (``default_scope='mmyolo'``) a bare
    name of MMDetection's (``FocalLoss``) is an error: that project's registry does not have it,
    and ``mmdet.FocalLoss`` is what builds it. Types of a registry losstune has no schema for
    (``mmpretrain.LabelSmoothLoss``, or any type under ``default_scope='mmpose'``) are not
    checked; LT116 says so where it is selected.
    """

    code = "LT101"
    name = "unknown-type"
    valid = (
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n"),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='mmdet.FocalLoss')))\n"),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='mmpretrain.LabelSmoothLoss')))\n"),
        Example("default_scope = 'mmpose'\nmodel = dict(head=dict(loss=dict(type='VariFocalLoss')))\n"),
        Example(
            "default_scope = 'mmyolo'\n"
            "model = dict(bbox_head=dict(_scope_='mmdet', loss_cls=dict(type='FocalLoss', gamma=2.0)))\n"
        ),
    )
    invalid = (
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLos', gamma=2.0)))\n", ((1, 48),)),
        Example(
            "model = dict(train_cfg=dict(sampler=dict(type='RandomSampeler', num=256, pos_fraction=0.5)))\n",
            ((1, 47),),
        ),
        Example(
            "data = dict()\nmodel = dict(bbox_head=dict(loss_bbox=dict(type='EIoULoss')))\n", ((2, 49),), version=2
        ),
        Example(
            "default_scope = 'mmyolo'\nmodel = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss')))\n", ((2, 48),)
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for node in ctx.nodes():
            origin = node.origin("type")
            key = f"{node.key}.type"
            if node.entry is not None:
                if ctx.version not in node.entry.versions:
                    known = ", ".join(f"{v}.x" for v in node.entry.versions)
                    newer = all(v > ctx.version for v in node.entry.versions)
                    yield self.finding(
                        f"`{node.type}` does not exist in MMDetection {ctx.version}.x "
                        f"({'it is new in' if newer else 'it exists only in'} {known})",
                        origin,
                        key=key,
                        fix=f"use a {node.kind} that MMDetection {ctx.version}.x has, or pass --mmdet-version",
                    )
                continue
            ref = node.ref
            if ctx.schema.unchecked(ref):
                continue  # nothing is known of that registry (LT116)
            assert ref.registry is not None  # a registry the schema describes has a name
            if ctx.unread_imports:
                yield self.finding(
                    _unread_message(node.type, f"{project_name(ref.registry)} {node.kind}", ctx.unread_imports),
                    origin,
                    key=key,
                    fix="run losstune with the Python path training uses, so that the module is found and read "
                    "(it is never imported), or describe the type in a schema file (--schema)",
                    severity=Severity.WARNING,
                )
                continue
            yield self._missing(ctx, node, ref)

    def _missing(self, ctx: Context, node: Node, ref: TypeRef) -> Diagnostic:
        """The finding for a type that a registry losstune knows does not have."""
        assert ref.registry is not None
        origin, key = node.origin("type"), f"{node.key}.type"
        owner = project_name(ref.registry)
        mmdet = ctx.schema.lookup(TypeRef(DEFAULT_SCOPE, ref.name, ref.scope, True))
        if not ref.explicit and ref.registry != DEFAULT_SCOPE and mmdet is not None and mmdet.kind == node.kind:
            return self.finding(
                f"`{node.type}` is not in {ref.where}, so building the model fails with a KeyError; "
                f"MMDetection's {ref.name} is `mmdet.{ref.name}`",
                origin,
                key=key,
                fix=f"type='mmdet.{ref.name}'",
            )
        guess = ctx.schema.suggest(ref.name, node.kind, ref.registry)
        if guess is not None:
            written = f"{ref.registry}.{guess}" if ref.explicit else guess
            return self.finding(
                f"`{node.type}` is not a known {owner} {node.kind}; did you mean `{written}`?",
                origin,
                key=key,
                fix=f"type='{written}'",
            )
        return self.finding(
            f"`{node.type}` is not a known {owner} {node.kind}, so its parameters are not checked",
            origin,
            key=key,
            fix="if it is registered by custom_imports, describe it in a schema file (--schema)",
            severity=Severity.WARNING,
        )


def _unread_message(type_name: str, what: str, unread: tuple[UnreadModule, ...]) -> str:
    """An unknown type that a module of ``custom_imports`` losstune could not read may register."""
    first = unread[0]
    reason = f"`{first.module}` could not be read ({first.reason})" if first.module else first.reason
    more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
    return (
        f"`{type_name}` is not a known {what}; it may be registered by custom_imports, but "
        f"{reason}{more}, so its parameters are not checked"
    )
