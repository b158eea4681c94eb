"""SARIF 2.1.0 output, for code-scanning services: every rule and loader code in the tool's
``driver.rules``, every finding a ``result`` with its region (columns 1-based, end exclusive)."""

from __future__ import annotations

from typing import Any

from losstune import __version__
from losstune.loader import codes
from losstune.model import Diagnostic, Severity
from losstune.render.json import dump
from losstune.rules import ALL_RULES

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _rules() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in codes.ALL_CODES:
        out.append(
            {
                "id": c.code,
                "name": c.name,
                "shortDescription": {"text": c.summary},
                "defaultConfiguration": {"level": _LEVEL[c.severity]},
            }
        )
    for r in ALL_RULES:
        doc = r.doc()
        out.append(
            {
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": doc},
                "defaultConfiguration": {"level": _LEVEL[r.severity]},
            }
        )
    return out


def render_lint(diagnostics: list[Diagnostic]) -> str:
    """A SARIF 2.1.0 log of ``diagnostics``."""
    rules = _rules()
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for d in diagnostics:
        result: dict[str, Any] = {
            "ruleId": d.code,
            "level": _LEVEL[d.severity],
            "message": {"text": d.message + (f" Fix: {d.fix}" if d.fix else "")},
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.span is not None:
            s = d.span
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": s.file.replace("\\", "/")},
                        "region": {
                            "startLine": s.line,
                            "startColumn": s.column,
                            "endLine": s.end_line,
                            "endColumn": max(s.end_column, s.column),
                        },
                    }
                }
            ]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "losstune",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/losstune/",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return dump(log)
