"""Registry scopes: which registry a config's ``type`` is looked up in, the way mmengine does it.

Every OpenMMLab project has its own registries (``mmdet``, ``mmyolo``, ``mmpose``...), each a
child of mmengine's root registry, not of MMDetection's. mmengine builds a dict in the scope in
force: the config's ``default_scope``, replaced by a ``_scope_`` key in the dict or in an
enclosing dict that is being built. A bare ``type='IoULoss'`` is looked up in that scope's
registry (then its parent, mmengine's root, which registers no losses), and ``mmdet.IoULoss``
in MMDetection's whatever the scope. A config with no ``default_scope`` is read as
MMDetection's, and so is every MMDetection 2.x config (2.x has no scopes).
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from losstune.keypath import Path, format_path

DEFAULT_SCOPE = "mmdet"

# The projects' names as people write them, for messages.
PROJECTS: dict[str, str] = {
    "mmengine": "MMEngine",
    "mmdet": "MMDetection",
    "mmyolo": "MMYOLO",
    "mmrotate": "MMRotate",
    "mmdet3d": "MMDetection3D",
    "mmpose": "MMPose",
    "mmpretrain": "MMPretrain",
    "mmcls": "MMClassification",
    "mmrazor": "MMRazor",
    "mmocr": "MMOCR",
    "mmseg": "MMSegmentation",
    "mmaction": "MMAction2",
    "mmselfsup": "MMSelfSup",
    "mmtrack": "MMTracking",
    "mmagic": "MMagic",
    "mmedit": "MMEditing",
    "mmflow": "MMFlow",
    "mmfewshot": "MMFewShot",
    "mmhuman3d": "MMHuman3D",
}


def project_name(scope: str) -> str:
    """``mmyolo`` -> ``MMYOLO``; a scope losstune does not know is shown as it is written."""
    return PROJECTS.get(scope, scope)


class TypeRef(Struct, frozen=True):
    """Where a config ``type`` is looked up: the ``registry`` scope and the ``name`` in it.

    ``registry`` is ``None`` when the scope in force cannot be known (a ``default_scope`` that is
    not a string). ``explicit`` says the type names its registry (``mmdet.FocalLoss``);
    ``scope`` is the scope in force at the dict, and ``scope_key`` what set it
    (``default_scope``, ``model._scope_``...), or ``None`` for the default."""

    registry: str | None
    name: str
    scope: str | None
    explicit: bool = False
    scope_key: str | None = None

    @property
    def owner(self) -> str:
        """The project whose registry it is, as people name it (``MMYOLO``)."""
        return project_name(self.registry) if self.registry is not None else "unknown project's"

    @property
    def where(self) -> str:
        """The registry as a message names it: ``MMYOLO's registry (default_scope='mmyolo')``."""
        if self.registry is None:
            return "an unknown registry (default_scope is not a string)"
        text = f"{project_name(self.registry)}'s registry"
        if not self.explicit and self.scope_key is not None:
            text += f" ({self.scope_key}={self.registry!r})"
        return text


def resolve_type(type_name: str, scope: str | None, scope_key: str | None = None) -> TypeRef:
    """Where ``type_name`` is looked up when the scope in force is ``scope``.

    ``mmdet.FocalLoss`` names MMDetection's registry; ``mmdet.models.losses.FocalLoss`` (a module
    path, which mmengine imports) names the class ``FocalLoss`` of the package ``mmdet``."""
    prefix, dot, rest = type_name.partition(".")
    if dot and prefix:
        return TypeRef(prefix, rest.rpartition(".")[2], scope, True, scope_key)
    return TypeRef(scope, type_name, scope, False, scope_key)


def default_scope(cfg: Any, version: int) -> tuple[str | None, str | None]:
    """The scope a config builds in, and the key that sets it (``None`` for the default)."""
    if version == 2 or not isinstance(cfg, dict) or "default_scope" not in cfg:
        return DEFAULT_SCOPE, None
    value = cfg["default_scope"]
    if value is None:
        return DEFAULT_SCOPE, None
    return (value if isinstance(value, str) else None), "default_scope"


def scope_at(cfg: Any, path: Path, version: int) -> tuple[str | None, str | None]:
    """The scope in force at the dict at ``path``, and the key that sets it: a ``_scope_`` in the
    dict or the nearest enclosing dict, else the config's ``default_scope``."""
    scope, key = default_scope(cfg, version)
    if version == 2:
        return scope, key
    node: Any = cfg
    for i, step in enumerate(path):
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "_scope_" in node:
            value = node["_scope_"]
            scope = value if isinstance(value, str) else None
            key = format_path((*path[: i + 1], "_scope_"))
    return scope, key


def type_at(cfg: Any, path: Path, type_name: str, version: int) -> TypeRef:
    """Where the ``type`` of the dict at ``path`` of ``cfg`` is looked up."""
    scope, key = scope_at(cfg, path, version)
    return resolve_type(type_name, scope, key)
