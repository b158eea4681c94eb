"""``lint --fix`` and ``lint --diff``: the fixes made (or shown), then the findings left."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from losstune.cli import terminal
from losstune.errors import EXIT_FINDINGS, EXIT_OK
from losstune.lint.run import LintResult
from losstune.lint.settings import Settings
from losstune.schema.registry import Schema


def run_fixes(
    paths: list[Path], schema: Schema, settings: Settings, *, unsafe: bool, diff: bool, listed: bool, text: bool
) -> LintResult:
    """Make the fixes (with ``diff``, only print them, and end the command: exit 1 if there are
    any); the findings left, for lint to report as usual. What was fixed goes to standard output
    before the ``text`` report, or to standard error where standard output is JSON, SARIF or GitHub's."""
    from losstune.cli.boundary import editing
    from losstune.edit.fixes import fix
    from losstune.render.fixes import render_diff, render_fixes

    with editing("lint --fix"):
        outcome = fix([str(p) for p in paths], schema, settings, unsafe=unsafe, write=not diff)
    color = terminal.color()
    if diff:
        sys.stdout.write(render_diff(outcome, color))
        sys.stderr.write(render_fixes(outcome, listed=listed, dry_run=True))
        raise typer.Exit(EXIT_FINDINGS if outcome.files else EXIT_OK)
    summary = render_fixes(outcome, listed=listed, dry_run=False, color=color and text)
    (sys.stdout if text else sys.stderr).write(summary)
    assert outcome.left is not None
    return outcome.left
