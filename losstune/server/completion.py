"""Completion inside a loss or sampler dict of an open config: its parameters (with their defaults,
meanings and the values the config gives them), the choices of a parameter that has some
(``reduction``), and the loss or sampler types of the registry the dict's ``type`` is looked up in."""

from __future__ import annotations

import re
from typing import Any

from msgspec import Struct

from losstune.config import LoadedConfig, origin_at
from losstune.keypath import Path, get
from losstune.loader.source import SourceText
from losstune.model import ComponentKind, Span
from losstune.schema.mmdet_version import detect_version
from losstune.schema.registry import Schema
from losstune.schema.scopes import DEFAULT_SCOPE, type_at

_VALUE = re.compile(r"""([A-Za-z_]\w*)\s*[=:]\s*['"]?([\w.]*)$""")


class Item(Struct, frozen=True):
    """One completion: the text inserted, what it is, and its meaning."""

    label: str
    detail: str
    documentation: str = ""
    kind: str = "parameter"


def _inside(span: Span, line: int, column: int) -> bool:
    return (span.line, span.column) < (line, column) <= (span.end_line, span.end_column)


def _dict_at(cfg: LoadedConfig, src: SourceText, line: int, column: int) -> tuple[Path, ComponentKind] | None:
    """The innermost loss or sampler dict written in ``src`` around the position."""
    found: list[tuple[int, Path, ComponentKind]] = []
    dicts: list[tuple[Path, ComponentKind]] = [(loss.path, "loss") for loss in cfg.losses()]
    dicts += [(s.path, "sampler") for s in cfg.samplers() if s.path is not None]
    for path, kind in dicts:
        origin = origin_at(cfg.tree, path)
        if origin is not None and origin.span.file == src.path and _inside(origin.span, line, column):
            found.append((len(path), path, kind))
    if not found:
        return None
    _, path, kind = max(found, key=lambda f: f[0])
    return path, kind


def completions(cfg: LoadedConfig, schema: Schema, src: SourceText, line: int, column: int) -> list[Item]:
    """What may be written at the 1-based ``line`` and ``column`` of ``src``."""
    at = _dict_at(cfg, src, line, column)
    if at is None:
        return []
    path, kind = at
    node: Any = get(cfg.tree, path)
    version = detect_version(cfg.tree)
    name = node.get("type") if isinstance(node, dict) else None
    ref = type_at(cfg.tree, path, name if isinstance(name, str) else "", version)
    typed = _VALUE.search(src.line_text(line)[: column - 1])
    if typed is not None and typed.group(1) == "type":
        registry = ref.registry or DEFAULT_SCOPE
        names = schema.names(kind, registry)
        return [Item(n, f"{kind} type", _summary(schema, n, registry), "value") for n in names]
    entry = schema.lookup(ref) if isinstance(name, str) else None
    if entry is None:
        return []
    specs = entry.params_for(version)
    if typed is not None:
        spec = specs.get(typed.group(1))
        choices = spec.choices if spec is not None else None
        return [Item(repr(c), f"{entry.name}.{typed.group(1)}", "", "value") for c in choices or ()]
    out = []
    for param, spec in specs.items():
        if spec.internal:
            continue
        if isinstance(node, dict) and param in node:
            detail = f"= {node[param]!r} (set)"
        else:
            detail = f"= {spec.default!r} (default)" if spec.has_default else "required"
        out.append(Item(param, detail, spec.description))
    return out


def _summary(schema: Schema, name: str, registry: str) -> str:
    entry = schema.get(name, registry)
    return entry.summary if entry is not None else ""
