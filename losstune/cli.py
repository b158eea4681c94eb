"""The ``losstune`` command line: argument parsing only; the work is done by the library."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from losstune import render_json, render_text
from losstune.config import LoadedConfig, load
from losstune.model import ConfigError, Diagnostic, Severity
from losstune.report import diff as build_diff
from losstune.report import explain as build_explain
from losstune.resolve import Resolver

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

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


class Format(str, Enum):
    """Output formats of the reporting commands."""

    text = "text"
    json = "json"


FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="text for people, json for programs (versioned schema).")
]


def _color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _width() -> int:
    if not sys.stdout.isatty():
        return 120
    try:
        return max(80, min(os.get_terminal_size().columns, 160))
    except OSError:
        return 120


def _source_lines(diagnostics: list[Diagnostic]) -> dict[tuple[str, int], str]:
    lines: dict[tuple[str, int], str] = {}
    for d in diagnostics:
        if d.span is None:
            continue
        try:
            with open(d.span.file, encoding="utf-8") as f:
                text = f.read().split("\n")
        except (OSError, UnicodeDecodeError):
            continue
        if 0 < d.span.line <= len(text):
            lines[(d.span.file, d.span.line)] = text[d.span.line - 1]
    return lines


def _warn(diagnostics: list[Diagnostic], fmt: Format) -> None:
    """Warnings go to stderr in text mode; in JSON they are part of the report."""
    shown = [d for d in dict.fromkeys(diagnostics) if d.severity is not Severity.ERROR]
    if shown and fmt is Format.text:
        sys.stderr.write(render_text.render_diagnostics(shown, _source_lines(shown), color=False, width=_width()))


def _fail(diagnostics: list[Diagnostic], fmt: Format) -> typer.Exit:
    diagnostics = sorted(dict.fromkeys(diagnostics), key=lambda d: (d.severity is not Severity.ERROR, d.sort_key()))
    if fmt is Format.json:
        sys.stdout.write(render_json.render_errors(diagnostics))
    else:
        errors = [d for d in diagnostics if d.severity is Severity.ERROR] or diagnostics
        sys.stderr.write(render_text.render_diagnostics(errors, _source_lines(errors), color=False, width=_width()))
    return typer.Exit(EXIT_ERROR)


def _load(path: Path, fmt: Format, resolver: Resolver) -> LoadedConfig:
    try:
        return load(path, resolver=resolver)
    except ConfigError as e:
        raise _fail(e.diagnostics, fmt) from None


ConfigArg = Annotated[Path, typer.Argument(help="A config file: .py, .yaml, .yml or .json.", show_default=False)]


@app.command()
def explain(config: ConfigArg, fmt: FormatOption = Format.text) -> None:
    """Show every loss of a config and where each value comes from.

    The config is resolved with its whole _base_ chain; each loss is listed with its key path,
    type and parameters, each parameter with the file:line that sets it, and the bbox sampler
    that feeds the loss (PseudoSampler when the head's train_cfg has none).

    Example: losstune explain configs/retinanet/retinanet_r50_fpn_1x_coco.py --format json
    """
    cfg = _load(config, fmt, Resolver())
    report = build_explain(cfg)
    if fmt is Format.json:
        sys.stdout.write(render_json.render_explain(report))
    else:
        _warn(report.diagnostics, fmt)
        sys.stdout.write(render_text.render_explain(report, color=_color(), width=_width()))


@app.command()
def diff(
    a: Annotated[Path, typer.Argument(help="The first config.", show_default=False)],
    b: Annotated[Path, typer.Argument(help="The second config.", show_default=False)],
    fmt: FormatOption = Format.text,
) -> None:
    """Compare the losses and samplers of two configs.

    Lists every loss and sampler field whose resolved value differs between A and B, each side
    with the file:line that sets it. Exits 1 when they differ, 0 when they do not.

    Example: losstune diff retinanet_r50_fpn_1x_coco.py retinanet_r50_fpn_gamma1.5_1x_coco.py
    """
    resolver = Resolver()
    cfg_a = _load(a, fmt, resolver)
    cfg_b = _load(b, fmt, resolver)
    report = build_diff(cfg_a, cfg_b)
    if fmt is Format.json:
        sys.stdout.write(render_json.render_diff(report))
    else:
        _warn(report.diagnostics, fmt)
        sys.stdout.write(render_text.render_diff(report, color=_color(), width=_width()))
    raise typer.Exit(EXIT_FINDINGS if report.diffs else EXIT_OK)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
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
        sys.stderr.write(
            f"losstune: internal error: {type(e).__name__}: {e}. This is a bug in losstune, not in your "
            "config; rerun with LOSSTUNE_DEBUG=1 for the traceback and report it.\n"
        )
        sys.exit(EXIT_ERROR)
