"""``losstune rule``: a lint rule explained, or all of them listed."""

import sys
from typing import Annotated

import typer

from losstune.cli import terminal
from losstune.cli.boundary import reported
from losstune.cli.options import Format, FormatOption
from losstune.errors import UsageError


def rule_command(
    code: Annotated[
        str | None, typer.Argument(help="A rule code (LT103) or name (wrong-type); omit to list all.")
    ] = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Explain a lint rule, or list them all.

    What the rule finds, how MMDetection would fail or silently misbehave without it, and the
    examples its tests run: configs it reports (with where) and configs it leaves alone.

    Example: losstune rule LT111
    """
    with reported(fmt):
        from losstune.loader import codes
        from losstune.render import rule as render_rule
        from losstune.rules import ALL_RULES

        color = terminal.color() and fmt is Format.text
        if code is None:
            if fmt is Format.json:
                sys.stdout.write(render_rule.render_json(codes.ALL_CODES, ALL_RULES))
            else:
                sys.stdout.write(render_rule.render_list(codes.ALL_CODES, ALL_RULES, color))
            return
        wanted = code.strip()
        for r in ALL_RULES:
            if wanted.upper() == r.code or wanted.lower() == r.name:
                if fmt is Format.json:
                    sys.stdout.write(render_rule.render_json([], [r]))
                    return
                from losstune.lint.examples import run_example
                from losstune.schema.registry import load_schema

                schema = load_schema()
                found = [run_example(r, example, schema) for example in r.invalid]
                sys.stdout.write(render_rule.render_rule(r, found, color, terminal.layout()[0]))
                return
        for c in codes.ALL_CODES:
            if wanted.upper() == c.code or wanted.lower() == c.name:
                out = render_rule.render_json([c], []) if fmt is Format.json else render_rule.render_code(c, color)
                sys.stdout.write(out)
                return
        raise UsageError(f"no rule `{wanted}`; `losstune rule` lists them all")
