"""Output of ``losstune rule``: every rule and loader code on one line each, or one explained."""

from __future__ import annotations

from collections.abc import Sequence

from losstune.loader.codes import Code
from losstune.rules.base import Rule


def render_list(codes: Sequence[Code], rules: Sequence[Rule]) -> str:
    """One line each: code, name, severity, and the first line of what it finds."""
    out = [f"{c.code}  {c.name:<28} {c.severity.value:<8} {c.summary}\n" for c in codes]
    out += [f"{r.code}  {r.name:<28} {r.severity.value:<8} {r.summary}\n" for r in rules]
    return "".join(out)


def render_one(code: str, name: str, severity: str, text: str) -> str:
    """One rule or loader code: its heading, then its documentation."""
    return f"{code} {name} ({severity})\n\n{text}\n"
