"""The one JSON writer of ``--format json``: versioned, exact values, positions 1-based; never
``NaN`` or ``Infinity``, so the output is always valid JSON.

Schema version 1. Every report is an object with ``"version": 1`` and ``"kind"`` (``explain``,
``diff``, ``lint``, ``lint-statistics``, ``set``, ``sweep``, ``eval``, ``schema``, ``schema-entry``, ``rule`` or ``error``), written
by :func:`document`; each report's module builds its data. Values are JSON values; a tuple is a JSON array, a value that
could not be evaluated is ``{"opaque": "<source text>"}``, one read from environment variables
``{"env": ["NAME", ...]}`` (never their values), a non-finite float is
``{"float": "nan" | "inf" | "-inf"}``. An origin is ``{"file", "line", "column", "end_line",
"end_column", "kind"}`` (``end_column`` exclusive) or ``null`` for a default.
"""

from __future__ import annotations

import math
from typing import Any

from losstune.loader.envmask import EnvValue
from losstune.loader.values import Opaque
from losstune.model import Diagnostic, Origin
from losstune.render.paths import message, shown
from losstune.render.safe import json_text

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
        "file": shown(s.file),
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
        "file": shown(s.file) if s else None,
        "line": s.line if s else None,
        "column": s.column if s else None,
        "end_line": s.end_line if s else None,
        "end_column": s.end_column if s else None,
        "code": d.code,
        "name": d.name,
        "severity": d.severity.value,
        "message": message(d),
        "key": d.key,
        "fix": d.fix,
        "related": [
            {"file": shown(r.span.file), "line": r.span.line, "column": r.span.column, "message": r.message}
            for r in d.related
        ],
        "suggested_fix": _suggested_fix(d),
    }


def _suggested_fix(d: Diagnostic) -> dict[str, Any] | None:
    """The fix losstune can make of ``d`` (``lint --fix``, ``--unsafe-fixes`` for an unsafe one):
    its safety, what it does, and the text changes it makes where they were planned."""
    if d.edit is None:
        return None
    return {
        "safety": d.edit.safety,
        "title": d.edit.title,
        "replacements": [
            {
                "file": shown(r.span.file),
                "line": r.span.line,
                "column": r.span.column,
                "end_line": r.span.end_line,
                "end_column": r.span.end_column,
                "text": r.text,
            }
            for r in d.edit.replacements
        ],
    }


def dump(data: dict[str, Any] | list[Any]) -> str:
    """Indented JSON text; non-finite floats must already be encoded by ``value``."""
    import json  # imported here: the text reports of lint and explain do without it

    return json_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)) + "\n"


def document(kind: str, data: dict[str, Any]) -> str:
    """A report as JSON text: ``{"version": 1, "kind": kind, ...data}``; ``data`` has neither key."""
    if "version" in data or "kind" in data:
        raise ValueError(f"the data of a `{kind}` report cannot hold its own `version` or `kind`")
    return dump({"version": SCHEMA_VERSION, "kind": kind, **data})


def compact(v: Any) -> str:
    """One config value as compact JSON text (a cell of a CSV file), encoded like :func:`value`."""
    import json

    return json_text(json.dumps(value(v), ensure_ascii=False, allow_nan=False))
