"""JSON output (``--format json``): versioned, exact values, positions 1-based.

Schema version 1. Every report is an object with ``"version": 1`` and ``"kind"``
(``explain``, ``diff`` or ``error``). Values are JSON values; a tuple is a JSON array, a value that
could not be evaluated is ``{"opaque": "<source text>"}``, one read from environment variables
``{"env": ["NAME", ...]}`` (never their values), a non-finite float is
``{"float": "nan" | "inf" | "-inf"}``. An origin is ``{"file", "line", "column", "end_line",
"end_column", "kind"}`` (``end_column`` exclusive) or ``null`` for a default.
"""

from __future__ import annotations

import json
import math
from typing import Any

from losstune.loader.envmask import EnvValue
from losstune.loader.values import Opaque
from losstune.model import Diagnostic, Origin
from losstune.render.safe import json_text
from losstune.report import DiffReport, ExplainReport, Param, SamplerView, Side
from losstune.schema.registry import Entry, Schema

SCHEMA_VERSION = 1


def value(v: Any) -> Any:
    """A config value as JSON data."""
    if isinstance(v, Opaque):
        return {"opaque": v.text}
    if isinstance(v, EnvValue):
        return {"env": list(v.names)}
    if isinstance(v, float) and not math.isfinite(v):
        return {"float": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
    if isinstance(v, dict):
        return {str(k): value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [value(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return {"opaque": repr(v)}


def origin(o: Origin | None) -> dict[str, Any] | None:
    """An origin as JSON data."""
    if o is None:
        return None
    s = o.span
    out: dict[str, Any] = {
        "file": s.file,
        "line": s.line,
        "column": s.column,
        "end_line": s.end_line,
        "end_column": s.end_column,
        "kind": o.kind,
    }
    if o.kind == "variable":
        out["variable"] = o.text
        out["defined_at"] = origin(o.via)
    return out


def diagnostic(d: Diagnostic) -> dict[str, Any]:
    """A diagnostic as JSON data."""
    s = d.span
    return {
        "file": s.file if s else None,
        "line": s.line if s else None,
        "column": s.column if s else None,
        "end_line": s.end_line if s else None,
        "end_column": s.end_column if s else None,
        "code": d.code,
        "name": d.name,
        "severity": d.severity.value,
        "message": d.message,
        "key": d.key,
        "fix": d.fix,
    }


def _params(params: list[Param]) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "value": value(p.value),
            "origin": origin(p.origin),
            "default": p.default,
            "description": p.description,
        }
        for p in params
    ]


def _sampler(s: SamplerView | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "key": s.key,
        "type": s.type,
        "default": s.default,
        "origin": origin(s.origin),
        "params": _params(s.params),
    }


def dump(data: dict[str, Any]) -> str:
    """Indented JSON text; non-finite floats must already be encoded by ``value``."""
    return json_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)) + "\n"


def render_explain(report: ExplainReport) -> str:
    """The explain report as JSON text."""
    return dump(
        {
            "version": SCHEMA_VERSION,
            "kind": "explain",
            "config": report.config,
            "files": report.files,
            "losses": [
                {
                    "key": loss.key,
                    "type": loss.type,
                    "head": loss.head,
                    "origin": origin(loss.origin),
                    "params": _params(loss.params),
                    "sampler": _sampler(loss.sampler),
                    "steps": None
                    if loss.steps is None
                    else [
                        {"name": s.name, "description": s.description, "plain": s.plain, **value(s.summary)}
                        for s in loss.steps
                    ],
                    "steps_note": loss.steps_note,
                }
                for loss in report.losses
            ],
            "diagnostics": [diagnostic(d) for d in report.diagnostics],
        }
    )


def _side(s: Side) -> dict[str, Any] | None:
    if not s.present:
        return None
    return {"value": value(s.value), "origin": origin(s.origin)}


def render_diff(report: DiffReport) -> str:
    """The diff report as JSON text."""
    return dump(
        {
            "version": SCHEMA_VERSION,
            "kind": "diff",
            "a": report.a,
            "b": report.b,
            "differences": [{"key": d.key, "a": _side(d.a), "b": _side(d.b)} for d in report.diffs],
            "diagnostics": [diagnostic(d) for d in report.diagnostics],
        }
    )


def render_errors(diagnostics: list[Diagnostic], message: str | None = None, details: list[str] | None = None) -> str:
    """Diagnostics that stopped a command, as JSON text; or the ``message`` (and ``details``, one
    reason each) of an error that is not about a position in a file."""
    data: dict[str, Any] = {"version": SCHEMA_VERSION, "kind": "error"}
    if message is not None:
        data |= {"message": message, "details": details or []}
    return dump(data | {"diagnostics": [diagnostic(d) for d in diagnostics]})


def render_lint(diagnostics: list[Diagnostic], files: int) -> str:
    """Lint findings as JSON: ``{"version": 1, "files": N, "diagnostics": [...]}``."""
    return dump({"version": SCHEMA_VERSION, "files": files, "diagnostics": [diagnostic(d) for d in diagnostics]})


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


def render_schema_list(schema: Schema) -> str:
    """Every known loss and sampler, as JSON."""
    return dump(
        {
            "version": SCHEMA_VERSION,
            "kind": "schema",
            "entries": [_entry_data(e) for e in schema.entries.values()],
        }
    )


def render_entry(entry: Entry) -> str:
    """One loss or sampler, as JSON."""
    return dump({"version": SCHEMA_VERSION, "kind": "schema-entry", **_entry_data(entry)})
