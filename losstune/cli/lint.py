"""``losstune lint``: the checks of configs, as text, JSON, SARIF or GitHub annotations."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from losstune.cli import context, terminal
from losstune.cli.boundary import reported
from losstune.cli.options import CfgOptionsOption, Format, LintFormat, SchemaOption, VersionOption, complete_codes
from losstune.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from losstune.lint.dependents import Dependents


def lint(
    paths: Annotated[list[Path], typer.Argument(help="Config files or folders to check.", show_default=False)],
    fmt: Annotated[
        LintFormat,
        typer.Option(
            "--output-format",
            "--format",
            "-f",
            help="text (grouped by file, with the source lines), concise (one finding a line, "
            "path:line:col: CODE [name] message), json, sarif, github, gitlab (a code quality report), "
            "rdjson (reviewdog), or auto: github under GitHub Actions, else text; json, sarif and rdjson "
            "carry each fix's text changes.",
        ),
    ] = LintFormat.auto,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            metavar="CODES",
            help="Only these codes, comma-separated: codes (LT103), prefixes (LT1 = every LT1xx) or ALL.",
            autocompletion=complete_codes,
            show_default=False,
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            metavar="CODES",
            help="Skip these codes or prefixes.",
            autocompletion=complete_codes,
            show_default=False,
        ),
    ] = None,
    strict: Annotated[
        bool | None, typer.Option("--strict/--no-strict", help="Fail on warnings too.", show_default=False)
    ] = None,
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help="Apply the safe fixes (those that keep what the config means), each checked and verified as "
            "`losstune set` does; then report what is left.",
            rich_help_panel="Fixes",
        ),
    ] = False,
    unsafe_fixes: Annotated[
        bool,
        typer.Option(
            "--unsafe-fixes",
            help="With --fix or --diff: the fixes that change how the model trains too (see `losstune rule CODE`).",
            rich_help_panel="Fixes",
        ),
    ] = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Print the fixes as a unified diff and write nothing; exit 1 if there are fixes to make.",
            rich_help_panel="Fixes",
        ),
    ] = False,
    show_fixes: Annotated[
        bool,
        typer.Option("--show-fixes", help="List each fix made: where, its code, what it did.", rich_help_panel="Fixes"),
    ] = False,
    add_noqa: Annotated[
        bool,
        typer.Option(
            "--add-noqa",
            help="Add a `# noqa: LTxxx` comment to the line of each finding (Python and YAML; JSON has no "
            "comments), merged into a noqa comment the line has.",
            rich_help_panel="Adopting lint on a tree",
        ),
    ] = False,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="FILE",
            help="Report only the findings that FILE (written by --write-baseline) does not hold; also "
            'baseline = "FILE" in [tool.losstune].',
            rich_help_panel="Adopting lint on a tree",
            show_default=False,
        ),
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option(
            "--write-baseline",
            metavar="FILE",
            help="Write the findings to FILE as the baseline (file, code, key and message of each, no line "
            "numbers), and exit 0.",
            rich_help_panel="Adopting lint on a tree",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Only the findings: no summary line, nothing at all when none is found."),
    ] = False,
    statistics: Annotated[
        bool,
        typer.Option("--statistics", help="How many findings of each code, most frequent first, not the findings."),
    ] = False,
    exit_zero: Annotated[
        bool, typer.Option("--exit-zero", help="Exit 0 even with findings (2 still says lint could not run).")
    ] = False,
    dependents: Annotated[
        bool,
        typer.Option(
            "--dependents/--no-dependents",
            help="Also check the configs of the project that inherit each file named (as pre-commit names "
            "the changed files), and say how many.",
        ),
    ] = True,
    scan: Annotated[
        Path | None,
        typer.Option(
            "--scan",
            metavar="DIR",
            file_okay=False,
            exists=True,
            help="The folder searched for those configs (default: the file's project, the nearest folder above "
            "it with a pyproject.toml or .git, else the top of its _base_ tree).",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            metavar="N",
            help="Processes that check the configs of a large tree: 0 (the default), one per CPU this process may "
            "run on; N, at most N and never more than those CPUs; 1, all in this one. On Linux; elsewhere always "
            "one. Each gets at least 32 configs. The findings are the same.",
        ),
    ] = 0,
    mmdet_version: VersionOption = None,
    schema: SchemaOption = None,
    cfg_options: CfgOptionsOption = None,
) -> None:
    """Check the losses and samplers of configs, before training does.

    Folders are walked for .py, .yaml, .yml and .json configs; base files under _base_ are checked
    through the configs that use them (and on their own where nothing uses them), and a finding in a
    base file is reported once, where it is written. Settings come from [tool.losstune] in the nearest
    pyproject.toml; a `# noqa: LT103` (or `# losstune: noqa: LT103`) comment silences a line, and
    one that silences nothing is a finding itself (LT100). On a large tree, write the findings as
    they are once (--write-baseline FILE), then lint with --baseline FILE to see only new ones.
    A file named is checked with the configs of its project that inherit it (what a change to it
    can break), unless --no-dependents.
    Exit codes: 0 no errors (no warnings either with --strict), 1 findings, 2 could not run.
    With --fix, the exit code is that of the findings left after the fixes.

    Example: losstune lint configs/ --output-format concise; losstune lint configs/ --fix --show-fixes
    """
    with reported(Format.json if fmt is LintFormat.json else Format.text):
        if statistics and fmt not in (LintFormat.text, LintFormat.concise, LintFormat.json, LintFormat.auto):
            raise UsageError(
                f"--statistics prints counts as text or JSON, not as {fmt.value}: "
                "use it with --output-format text, concise or json"
            )
        from losstune.lint.run import lint as run_lint
        from losstune.lint.settings import option_codes
        from losstune.render import lint as render_lint

        settings = context.settings(str(paths[0]) if paths else ".").merged(
            select=option_codes(select, "--select"),
            ignore=option_codes(ignore, "--ignore"),
            strict=strict,
            mmdet_version=mmdet_version,
        )
        loaded = context.schema(schema, settings)
        if unsafe_fixes and not (fix or diff):
            raise UsageError("--unsafe-fixes adds to --fix or --diff: add one of them")
        chosen = fmt
        if chosen is LintFormat.auto:
            chosen = LintFormat.github if os.environ.get("GITHUB_ACTIONS") == "true" else LintFormat.text
        if cfg_options and (fix or diff or add_noqa or write_baseline is not None):
            raise UsageError(
                "--cfg-options checks the configs as the options change them, and --fix, --diff, --add-noqa "
                "and --write-baseline are about the files as written: use one or the other"
            )
        given = [str(p) for p in paths]
        also = Dependents()
        if dependents:
            from losstune.lint.dependents import find_dependents

            also = find_dependents(given, str(scan) if scan else None)
        if fix or diff:
            from losstune.cli.lintfix import run_fixes

            text = chosen is LintFormat.text
            targets = [*paths, *map(Path, also.configs)]
            result = run_fixes(targets, loaded, settings, unsafe=unsafe_fixes, diff=diff, listed=show_fixes, text=text)
        else:
            result = run_lint([*given, *also.configs], loaded, settings, context.resolver(cfg_options), jobs)
        if add_noqa or write_baseline is not None:
            from losstune.cli.lintfix import adopt

            adopt(result, add_noqa=add_noqa, write_baseline=write_baseline)
            return
        chosen_baseline = str(baseline) if baseline is not None else settings.baseline
        if chosen_baseline is not None:
            from losstune.lint.baseline import without_baseline

            result = without_baseline(result, chosen_baseline)
        if chosen in (LintFormat.json, LintFormat.sarif, LintFormat.rdjson):
            from losstune.edit.fixes import with_replacements

            result = with_replacements(result, loaded, settings)  # each fix's text changes, planned
        found, checked = result.diagnostics, render_lint.Checked(len(result.configs), len(also.configs))
        if statistics and chosen is LintFormat.json:
            out = render_lint.render_statistics_json(found, checked.configs)
        elif statistics:
            out = render_lint.render_statistics(found, checked, color=terminal.color(), quiet=quiet)
        elif chosen is LintFormat.json:
            out = render_lint.render_json(found, checked.configs, also.configs)
        elif chosen is LintFormat.sarif:
            out = render_lint.render_sarif(found)
        elif chosen is LintFormat.rdjson:
            out = render_lint.render_rdjson(found, result.lines)
        elif chosen is LintFormat.github:
            out = render_lint.render_github(found)
        elif chosen is LintFormat.gitlab:
            out = render_lint.render_gitlab(found)
        elif chosen is LintFormat.concise:
            out = render_lint.render_concise(found, checked, color=terminal.color(), quiet=quiet)
        else:
            width = terminal.layout()[0]
            out = render_lint.render_text(
                found, result.lines, checked, color=terminal.color(), quiet=quiet, width=width
            )
        sys.stdout.write(out)
        if not quiet:
            sys.stderr.write(render_lint.render_notes(also.notes))
        raise typer.Exit(EXIT_FINDINGS if result.failed(settings.strict) and not exit_zero else EXIT_OK)
