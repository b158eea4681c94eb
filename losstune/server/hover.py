"""Hover text for a loss or sampler key of an open config: what ``explain`` reports of it (the
value the config gets, where it was set, the schema's default and meaning), the places that set
it before (what it overrides), and those of the configs of the workspace that inherit the file and
write it over it; on ``type``, the loss's summary, formula and parameters."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from losstune.config import LoadedConfig
from losstune.keypath import format_path
from losstune.loader.resolve import FileResult, Resolver
from losstune.loader.source import SourceText
from losstune.model import Origin
from losstune.report import Param, explain
from losstune.schema.mmdet_version import detect_version
from losstune.schema.registry import Entry, Schema
from losstune.schema.scopes import type_at
from losstune.server.family import Override
from losstune.server.lookup import KeyHit, chain

MAX_OVERRIDERS = 5
"""How many of the places that override a value a hover lists."""

MAX_VALUE_CHARS = 40


def _place(origin: Origin | None, config: str) -> str:
    if origin is None:
        return "not set: the default"
    span = origin.span
    return f"`{os.path.relpath(span.file, os.path.dirname(config))}:{span.line}`"


def _param(cfg: LoadedConfig, schema: Schema, hit: KeyHit) -> tuple[Param | None, Entry | None]:
    """The parameter ``explain`` reports for the hit, and the schema entry of its dict."""
    key = format_path(hit.path)
    for view in explain(cfg, schema).losses:
        params = (
            view.params
            if view.key == key
            else view.sampler.params
            if view.sampler and view.sampler.key == key
            else None
        )
        if params is None:
            continue
        found = next((p for p in params if p.name == hit.key), None)
        node = cfg.get(key)
        name = node.get("type") if isinstance(node, dict) else None
        version = detect_version(cfg.tree)
        return found, schema.lookup(type_at(cfg.tree, hit.path, name, version)) if isinstance(name, str) else None
    return None, None


def hover_text(
    cfg: LoadedConfig,
    result: FileResult,
    schema: Schema,
    hit: KeyHit,
    resolver: Resolver,
    overridden: Sequence[Override] = (),
    text_of: Callable[[str], SourceText] | None = None,
) -> str:
    """The Markdown a hover on ``hit`` shows; with the places of the workspace's configs that
    write it over this file (``overridden``, their values read by ``text_of``), those too."""
    param, entry = _param(cfg, schema, hit)
    full = format_path((*hit.path, hit.key))
    below = ["", *_overridden(overridden, cfg.path, text_of)] if overridden and text_of is not None else []
    if hit.key == "type" and entry is not None:
        return "\n".join([_type_text(entry), *below])
    value: Any = param.value if param is not None else cfg.get(full)
    lines = [f"**{full}** = `{value!r}`", "", f"set at {_place(hit.origin, cfg.path)}"]
    before = [(o, v) for o, v in chain(result, (*hit.path, hit.key), resolver) if o.span != hit.origin.span]
    if before:
        lines.append("")
        lines.append("overrides: " + ", ".join(f"{_place(o, cfg.path)} (`{v!r}`)" for o, v in before))
    lines += below
    spec = entry.params.get(hit.key) if entry is not None else None
    if spec is not None:
        lines.append("")
        default = f"default `{spec.default!r}`" if spec.has_default else "no default: required"
        lines.append(f"{default}; {spec.description}" if spec.description else default)
    elif param is not None and param.unknown:
        lines += ["", f"`{hit.key}` is not a parameter of this type"]
    return "\n".join(lines)


def _overridden(found: Sequence[Override], config: str, text_of: Callable[[str], SourceText]) -> list[str]:
    """The places that write the key over ``config``, the first :data:`MAX_OVERRIDERS` of them."""
    configs = len({c for o in found for c in o.configs})
    where = "place" if len(found) == 1 else "places"
    lines = [f"overridden by {configs} config(s) of the workspace, in {len(found)} {where}:"]
    for o in found[:MAX_OVERRIDERS]:
        value = " ".join(text_of(o.span.file).segment(o.span).split())
        value = value if len(value) <= MAX_VALUE_CHARS else value[: MAX_VALUE_CHARS - 1] + "…"
        lines.append(f"- {_place(Origin(o.span), config)} `{value}`")
    if len(found) > MAX_OVERRIDERS:
        lines.append(f"- and {len(found) - MAX_OVERRIDERS} more (Find References lists them all)")
    return lines


def _type_text(entry: Entry) -> str:
    lines = [f"**{entry.name}** ({entry.source})", "", entry.summary]
    if entry.formula:
        lines += ["", f"`{entry.formula}`"]
    lines.append("")
    for name, spec in entry.params.items():
        if spec.internal:
            continue
        default = f" = `{spec.default!r}`" if spec.has_default else " (required)"
        lines.append(f"- `{name}`{default}: {spec.description}")
    return "\n".join(lines)
