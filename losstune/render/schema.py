"""Output of ``losstune schema``: every known loss and sampler, or one with its parameters; as
terminal text (rich) or JSON."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from losstune.render.json import document, value
from losstune.render.rich_text import capture, fmt_value, t
from losstune.render.safe import printable
from losstune.schema.registry import Entry, Schema
from losstune.schema.scopes import DEFAULT_SCOPE, project_name


def render_list_text(schema: Schema, *, width: int = 100) -> str:
    """A table of every known loss and sampler."""
    parts: list[RenderableType] = []
    for kind, title in (("loss", "Losses"), ("sampler", "Bbox samplers")):
        table = Table(title=title, title_justify="left", box=None, header_style="bold", padding=(0, 2, 0, 0))
        table.add_column("type", no_wrap=True)
        table.add_column("mmdet", no_wrap=True)
        table.add_column("what it computes")
        for e in schema.all_entries():
            if e.kind == kind:
                table.add_row(t(_qualified(e)), Text(", ".join(f"{v}.x" for v in e.versions)), t(e.summary))
        parts += [table, Text("")]
    parts.append(Text("losstune schema NAME shows one with its parameters, defaults and formula."))
    return capture(parts, False, width)


def _qualified(entry: Entry) -> str:
    """The type as a config names it from any scope: ``FocalLoss``, ``mmyolo.IoULoss``."""
    return entry.name if entry.registry == DEFAULT_SCOPE else f"{entry.registry}.{entry.name}"


def render_entry_text(entry: Entry, *, color: bool = False, width: int = 100) -> str:
    """One loss or sampler: summary, formula, and a table of its parameters."""
    head = Text()
    head.append(printable(_qualified(entry)), style="bold magenta")
    if entry.registry == DEFAULT_SCOPE:
        versions = ", ".join(
            f"{v}.x" + (f" (registered by {entry.project_in(v)})" if entry.project_in(v) != entry.source else "")
            for v in entry.versions
        )
        head.append(f"  ({entry.kind}, MMDetection {printable(versions)})", style="dim")
    else:
        head.append(f"  ({entry.kind}, {printable(entry.source)}, registry scope {entry.registry})", style="dim")
    parts: list[RenderableType] = [head]
    if entry.summary:
        parts.append(t(entry.summary))
    if entry.formula:
        parts.append(Text(f"\n  {printable(entry.formula)}", style="bold"))
    if entry.balances_itself:
        parts.append(Text("\nBalances positives and negatives itself: use it with a PseudoSampler.", style="dim"))
    if entry.accepts_unknown_keys:
        owner = project_name(entry.registry)
        parts.append(Text(f"\n{owner} silently ignores keys it does not know here.", style="dim"))
    table = Table(box=None, header_style="bold", padding=(0, 2, 0, 0))
    table.add_column("parameter", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("default", no_wrap=True)
    table.add_column("allowed")
    table.add_column("description")
    for p in entry.params.values():
        if p.internal:
            continue
        allowed = []
        if p.choices is not None:
            allowed.append(" | ".join(fmt_value(c) for c in p.choices))
        if p.range_text():
            allowed.append(p.range_text())
        if p.literal:
            allowed.append(f"exactly {fmt_value(p.default)}")
        if p.versions != entry.versions:
            allowed.append(f"only {', '.join(f'{v}.x' for v in p.versions)}")
        default = "required" if p.required else (fmt_value(p.default) if p.has_default else "")
        table.add_row(t(p.name), t(p.type.text), Text(default), t("; ".join(allowed)), t(p.description))
    parts += [Text(""), table]
    return capture(parts, color, width)


def _entry_data(entry: Entry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "kind": entry.kind,
        "versions": list(entry.versions),
        "category": entry.category,
        "summary": entry.summary,
        "formula": entry.formula,
        "balances_itself": entry.balances_itself,
        "accepts_unknown_keys": entry.accepts_unknown_keys,
        "source": entry.source,
        "registry": entry.registry,
        "registered_by": {str(v): project for v, project in entry.registered_by},
        "params": [
            {
                "name": p.name,
                "type": p.type.text,
                "required": p.required,
                "default": value(p.default) if p.has_default else None,
                "choices": [value(c) for c in p.choices] if p.choices is not None else None,
                "min": p.min,
                "max": p.max,
                "exclusive_min": p.exclusive_min,
                "literal": p.literal,
                "versions": list(p.versions),
                "description": p.description,
            }
            for p in entry.params.values()
            if not p.internal
        ],
    }


def render_list_json(schema: Schema) -> str:
    """Every known loss and sampler, as JSON."""
    return document("schema", {"entries": [_entry_data(e) for e in schema.all_entries()]})


def render_entry_json(entry: Entry) -> str:
    """One loss or sampler, as JSON; whether it is a loss or a sampler is its ``entry_kind``
    (``kind`` is the report's)."""
    data = _entry_data(entry)
    data["entry_kind"] = data.pop("kind")
    return document("schema-entry", data)
