"""``lint --fix`` and ``lint --diff``: the fixes made (or shown), then the findings left; and
``--add-noqa`` and ``--write-baseline``, which take a tree's findings as they are."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from losstune.cli import terminal
from losstune.errors import EXIT_FINDINGS, EXIT_OK
from losstune.lint.run import LintResult
from losstune.lint.settings import Settings
from losstune.schema.registry import Schema
from losstune.words import count


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


def adopt(result: LintResult, *, add_noqa: bool, write_baseline: Path | None) -> None:
    """Take the findings as they are: a ``noqa`` comment on each line (``add_noqa``), or the
    baseline file written; say what was done, and end the command (exit 0)."""
    out: list[str] = []
    if add_noqa:
        from losstune.edit.addnoqa import add_noqa as add
        from losstune.render.paths import shown

        outcome = add([d for d in result.diagnostics if d.code != "LT100"])
        total = sum(outcome.added.values())
        out.append(f"Added {count(total, 'noqa comment')} to {count(len(outcome.added), 'file')}.")
        if outcome.json_left:
            out.append(f"{count(outcome.json_left, 'finding')} in JSON files left as they are: JSON has no comments.")
        out += [f"{shown(path)} left as it is: {why}." for path, why in outcome.refused]
    if write_baseline is not None:
        from losstune.lint.baseline import write_baseline as write

        entries = write(str(write_baseline), result.diagnostics)
        out.append(f"Wrote {count(entries, 'finding')} to the baseline {write_baseline}.")
    sys.stdout.write("".join(line + "\n" for line in out))
    raise typer.Exit(EXIT_OK)
