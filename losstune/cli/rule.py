"""``losstune rule``: a lint rule explained, or all of them listed."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from losstune.cli.boundary import reported
from losstune.cli.options import Format
from losstune.errors import UsageError


def rule_command(
    code: Annotated[
        str | None, typer.Argument(help="A rule code (LT103) or name (wrong-type); omit to list all.")
    ] = None,
) -> None:
    """Explain a lint rule, or list them all.

    What the rule finds, and how MMDetection would fail or silently misbehave without it.

    Example: losstune rule LT111
    """
    with reported(Format.text):
        from losstune.loader import codes
        from losstune.render import rule as render_rule
        from losstune.rules import ALL_RULES

        if code is None:
            sys.stdout.write(render_rule.render_list(codes.ALL_CODES, ALL_RULES))
            return
        wanted = code.strip()
        for r in ALL_RULES:
            if wanted.upper() == r.code or wanted.lower() == r.name:
                sys.stdout.write(render_rule.render_one(r.code, r.name, r.severity.value, r.doc()))
                return
        for c in codes.ALL_CODES:
            if wanted.upper() == c.code or wanted.lower() == c.name:
                sys.stdout.write(render_rule.render_one(c.code, c.name, c.severity.value, c.summary))
                return
        raise UsageError(f"no rule `{wanted}`; `losstune rule` lists them all")
