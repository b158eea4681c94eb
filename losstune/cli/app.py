"""The ``losstune`` command line: the commands wired into one application, and its entry point.

Each command is its own module; the options they share are in :mod:`losstune.cli.options`, and
:mod:`losstune.cli.boundary` turns a losstune error into its message and exit code.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from losstune.cli import context
from losstune.cli.diff import diff
from losstune.cli.eval import eval_command
from losstune.cli.explain import explain
from losstune.cli.lint import lint
from losstune.cli.rule import rule_command
from losstune.cli.schema import schema_command
from losstune.cli.set import set_command
from losstune.cli.sweep import sweep_command
from losstune.errors import EXIT_ERROR, EXIT_OK

app = typer.Typer(
    name="losstune",
    help=(
        "See, edit and check the losses of MMDetection configs, without running them.\n\n"
        "Configs are read statically (never executed) and resolved exactly like mmengine's "
        "Config.fromfile: _base_ inheritance, _delete_, {{_base_.x}}, environment templates.\n\n"
        "Exit codes: 0 clean, 1 findings (diff: the configs differ), 2 could not run."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.command()(explain)
app.command()(diff)
app.command()(lint)
app.command("schema")(schema_command)
app.command("set")(set_command)
app.command("sweep")(sweep_command)
app.command("eval")(eval_command)
app.command("rule")(rule_command)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    ctx.call_on_close(context.begin().close)
    if version:
        from losstune import __version__

        sys.stdout.write(f"losstune {__version__}\n")
        raise typer.Exit(EXIT_OK)


def main() -> None:
    """Entry point of the ``losstune`` console script."""
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_ERROR)
    except Exception as e:  # never a traceback: report, and let the user rerun with LOSSTUNE_DEBUG=1
        if os.environ.get("LOSSTUNE_DEBUG"):
            raise
        from losstune.render.safe import printable

        where = f" while processing {' and '.join(context.subject)}" if context.subject else ""
        what = str(e) if len(str(e)) <= 300 else str(e)[:300] + "..."
        sys.stderr.write(
            f"losstune: internal error{printable(where)}: {type(e).__name__}: {printable(what)}. This is a bug in "
            "losstune, not in your config; rerun with LOSSTUNE_DEBUG=1 for the traceback and report it.\n"
        )
        sys.exit(EXIT_ERROR)
