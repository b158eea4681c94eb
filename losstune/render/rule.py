"""Output of ``losstune rule``: every rule and loader code on one line each, or one explained with
its examples; as terminal text or JSON."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from losstune.loader.codes import Code
from losstune.model import Diagnostic
from losstune.render.json import document
from losstune.render.palette import paint
from losstune.render.paths import message
from losstune.render.wrap import hang
from losstune.rules.base import Example, Rule

_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)


def inline(text: str, color: bool = False) -> str:
    """A docstring's inline literals (````x````) as people read them: ```x``` in plain text, or
    coloured without the backticks."""
    return _LITERAL.sub(lambda m: paint(m.group(1), "cyan", True) if color else f"`{m.group(1)}`", text)


def render_list(codes: Sequence[Code], rules: Sequence[Rule], color: bool = False) -> str:
    """One line each: code, name, severity, and the first sentence of what it finds."""
    rows = [(c.code, c.name, c.severity.value, c.summary) for c in codes]
    rows += [(r.code, r.name, r.severity.value, r.summary + _off(r)) for r in rules]
    return "".join(f"{code}  {name:<28} {sev:<8} {inline(summary, color)}\n" for code, name, sev, summary in rows)


def _off(rule: Rule) -> str:
    return "" if rule.default_enabled else " (off unless selected)"


def _example(example: Example, found: Sequence[Diagnostic], color: bool, width: int | None) -> list[str]:
    """An example's source, numbered, with each finding (``found``: what the rule reports on it)
    under the line and column it is reported at, its message wrapped at ``width`` under the caret
    (or, where too little is left beside it, under the source). Source lines are never cut."""
    out: list[str] = []
    for name, text in example.bases:
        out.append(f"    {paint(name + ':', 'dim', color)}\n")
        out += [f"      {line}\n" for line in text.rstrip("\n").split("\n")]
    if example.bases:
        out.append(f"    {paint('cfg.py:', 'dim', color)}\n")
    lines = example.source.rstrip("\n").split("\n")
    digits = len(str(len(lines)))
    gutter = f"    {' ' * digits} | "
    for number, line in enumerate(lines, start=1):
        out.append(f"    {paint(str(number).rjust(digits), 'dim', color)} | {line}\n")
        for d in found:
            if d.span is not None and d.span.line == number:
                caret = " " * (d.span.column - 1) + "^ "
                if width is not None and width - len(gutter + caret) < _MESSAGE_ROOM:
                    out.append(f"{gutter}{paint(caret.rstrip(), 'red', color)}\n")
                    caret = ""
                marked = hang(message(d), width, gutter + caret, gutter + " " * len(caret))
                out += [line[: len(gutter)] + paint(line[len(gutter) :], "red", color) + "\n" for line in marked]
    if example.version != 3:
        out.append(f"    {paint(f'(an MMDetection {example.version}.x config)', 'dim', color)}\n")
    if example.fixed is not None:
        out.append(f"    {paint('after the fix:', 'dim', color)}\n")
        for number, line in enumerate(example.fixed.rstrip("\n").split("\n"), start=1):
            out.append(f"    {paint(str(number).rjust(digits), 'dim', color)} | {line}\n")
    return out


_MESSAGE_ROOM = 30
"""The fewest columns a finding's message gets beside its caret; with fewer it goes under it."""


def _paragraphs(text: str, width: int | None) -> str:
    """Prose paragraphs (separated by blank lines) re-flowed at ``width``."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join("\n".join(hang(p, width)) for p in paragraphs)


def render_rule(
    rule: Rule, found: Sequence[Sequence[Diagnostic]], color: bool = False, width: int | None = None
) -> str:
    """One rule: its heading, its documentation (wrapped at ``width``; ``None``: as written), and the
    examples its tests run, each invalid one with what the rule reports on it (``found``, one list
    per invalid example)."""
    out = [
        paint(f"{rule.code} {rule.name}", "bold", color),
        f" ({rule.severity.value}{'' if rule.default_enabled else ', off unless selected'})\n",
        f"Fix: {fix_text(rule)}\n\n",
    ]
    doc = rule.doc() if width is None else _paragraphs(rule.doc(), width)
    out.append(inline(doc, color) + "\n")
    sections = (("Reported", rule.invalid, found), ("Not reported", rule.valid, [()] * len(rule.valid)))
    for title, examples, findings in sections:
        if examples:
            out.append(f"\n{paint(title + ':', 'bold', color)}\n")
            blocks = ["".join(_example(e, d, color, width)) for e, d in zip(examples, findings, strict=True)]
            out.append("\n".join(blocks))
    return "".join(out)


def fix_text(rule: Rule) -> str:
    """Whether and how ``lint`` fixes the rule's findings, in a few words."""
    if rule.fix_safety is None:
        return "none (by hand, as each finding's fix says)"
    if rule.fix_safety == "safe":
        return "safe (lint --fix)"
    return "unsafe: it changes training (lint --fix --unsafe-fixes)"


def render_code(code: Code, color: bool = False) -> str:
    """One loader code: its heading and what it means."""
    return (
        f"{paint(f'{code.code} {code.name}', 'bold', color)} ({code.severity.value})\n\n{inline(code.summary, color)}\n"
    )


def _code_data(code: Code) -> dict[str, Any]:
    return {"code": code.code, "name": code.name, "severity": code.severity.value, "summary": code.summary}


def _rule_data(rule: Rule) -> dict[str, Any]:
    def examples(found: Sequence[Example]) -> list[dict[str, Any]]:
        return [
            {
                "source": e.source,
                "mmdet_version": e.version,
                "at": [{"line": ln, "column": c} for ln, c in e.at],
                **({"fixed": e.fixed} if e.fixed is not None else {}),
                "bases": [{"name": n, "source": t} for n, t in e.bases],
            }
            for e in found
        ]

    return {
        "code": rule.code,
        "name": rule.name,
        "severity": rule.severity.value,
        "summary": rule.summary,
        "enabled_by_default": rule.default_enabled,
        "fix": rule.fix_safety,
        "doc": rule.doc(),
        "reported": examples(rule.invalid),
        "not_reported": examples(rule.valid),
    }


def render_json(codes: Sequence[Code], rules: Sequence[Rule]) -> str:
    """Rules and loader codes as JSON: ``{"version", "kind": "rule", "codes", "rules"}``; each rule
    with its documentation and examples (``reported``, with the expected positions, and
    ``not_reported``)."""
    return document("rule", {"codes": [_code_data(c) for c in codes], "rules": [_rule_data(r) for r in rules]})
