"""The resolved loss and sampler sections of a config, as a config of their own (``explain
--resolved``): every value with the place that sets it, ready to be written as a child config."""

from __future__ import annotations

from typing import Any

from msgspec import Struct, field

from losstune.config import LoadedConfig
from losstune.keypath import Path, get
from losstune.loader.envmask import EnvMask
from losstune.loader.values import LDict, to_plain
from losstune.model import Origin
from losstune.schema.mmdet_version import detect_version
from losstune.schema.registry import Schema
from losstune.schema.scopes import type_at


class Leaf(Struct, frozen=True):
    """One value to write, with the place that sets it (``None``: a default, written as a comment
    because the config does not set it)."""

    value: Any
    origin: Origin | None
    default: bool = False


class Section(Struct):
    """A dict of the config holding what leads to a loss or a sampler, in the config's order; or,
    with ``kind`` ``list`` or ``tuple``, a whole list of the config (a child config replaces a list
    whole), its items keyed by position."""

    items: dict[str, Section | Leaf] = field(default_factory=dict)
    origin: Origin | None = None
    kind: str = "dict"


class ResolvedReport(Struct, frozen=True):
    """What ``explain --resolved`` writes: the sections and the format of the config (``yaml`` for
    a YAML or JSON config, else ``python``)."""

    config: str
    format: str
    root: Section


def _origin(node: Any, key: Any) -> Origin | None:
    return node.origins.get(key) if isinstance(node, LDict) else None


def _add(root: Section, cfg: LoadedConfig, path: Path, mask: EnvMask) -> Section | None:
    """The section for the dict at ``path``, made on the way; ``None`` when the path goes through a
    list: a child config replaces a list whole, so the whole list is written instead."""
    section, node = root, cfg.tree
    for step in path:
        value = node[step]
        if isinstance(value, list | tuple):
            if not isinstance(section.items.get(str(step)), Section):
                section.items[str(step)] = _whole(value, _origin(node, step), mask)
            return None
        child = section.items.get(str(step))
        if not isinstance(child, Section):
            child = Section(origin=_origin(node, step))
            section.items[str(step)] = child
        section, node = child, value
    return section


def _whole(value: Any, origin: Origin | None, mask: EnvMask) -> Section | Leaf:
    """A value written out whole, each dict key with its own origin (list items share the list's)."""
    if isinstance(value, dict):
        items = {str(k): _whole(v, _origin(value, k) or origin, mask) for k, v in value.items()}
        return Section(items, origin)
    if isinstance(value, list | tuple) and any(isinstance(v, dict | list | tuple) for v in value):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return Section({str(i): _whole(v, origin, mask) for i, v in enumerate(value)}, origin, kind)
    return Leaf(mask.value(to_plain(value), origin), origin)


def resolved(cfg: LoadedConfig, schema: Schema, version: int | None = None) -> ResolvedReport:
    """The loss and sampler dicts of ``cfg`` as they resolve, each value with its origin and each
    parameter left to its default (by the schema of the registry its type is looked up in) as a
    default leaf."""
    version = version or detect_version(cfg.tree)
    mask = EnvMask.of(cfg)
    root = Section()
    paths = [loss.path for loss in cfg.losses()] + [s.path for s in cfg.samplers() if s.path is not None]
    for path in paths:
        section = _add(root, cfg, path, mask)
        node = get(cfg.tree, path)
        if section is None or not isinstance(node, dict):
            continue
        for k, v in node.items():
            origin = _origin(node, k)
            section.items[str(k)] = Leaf(mask.value(to_plain(v), origin), origin)
        type_name = node.get("type")
        entry = schema.lookup(type_at(cfg.tree, path, type_name, version)) if isinstance(type_name, str) else None
        for name, spec in (entry.params_for(version) if entry else {}).items():
            if name not in node and spec.has_default and not spec.internal:
                section.items[name] = Leaf(spec.default, None, default=True)
    suffix = cfg.path.rsplit(".", 1)[-1].lower()
    return ResolvedReport(cfg.path, "yaml" if suffix in ("yaml", "yml", "json") else "python", root)
