"""The one place where a losstune error becomes what the command prints and its exit code."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

from losstune.cli.options import Format
from losstune.errors import LosstuneError
from losstune.model import ConfigError, Diagnostic, Severity


def source_lines(diagnostics: list[Diagnostic]) -> dict[tuple[str, int], str]:
    """The source line each diagnostic points at; each file is read once."""
    from losstune.loader.fileread import ReadError, read_text

    lines: dict[tuple[str, int], str] = {}
    files: dict[str, list[str]] = {}
    for d in diagnostics:
        if d.span is None:
            continue
        if d.span.file not in files:
            try:
                files[d.span.file] = read_text(d.span.file).split("\n")
            except ReadError:
                files[d.span.file] = []
        text = files[d.span.file]
        if 0 < d.span.line <= len(text):
            lines[(d.span.file, d.span.line)] = text[d.span.line - 1]
    return lines


def warn(diagnostics: list[Diagnostic], fmt: Format) -> None:
    """Warnings go to stderr in text mode; in JSON they are part of the report."""
    from losstune.render import lint_text as render_lint_text

    shown = [d for d in dict.fromkeys(diagnostics) if d.severity is not Severity.ERROR]
    if shown and fmt is Format.text:
        sys.stderr.write(render_lint_text.render_diagnostics(shown, source_lines(shown)))


def _report(error: LosstuneError, fmt: Format) -> None:
    from losstune.render import json as render_json
    from losstune.render import lint_text as render_lint_text
    from losstune.render.safe import printable

    if isinstance(error, ConfigError):
        diagnostics = sorted(
            dict.fromkeys(error.diagnostics), key=lambda d: (d.severity is not Severity.ERROR, d.sort_key())
        )
        if fmt is Format.json:
            sys.stdout.write(render_json.render_errors(diagnostics))
        else:
            errors = [d for d in diagnostics if d.severity is Severity.ERROR] or diagnostics
            sys.stderr.write(render_lint_text.render_diagnostics(errors, source_lines(errors)))
    elif fmt is Format.json:
        sys.stdout.write(render_json.render_errors([], error.message, error.details))
    else:
        sys.stderr.write(
            f"losstune: error: {printable(error.message)}\n" + "".join(f"  {printable(d)}\n" for d in error.details)
        )


@contextlib.contextmanager
def reported(fmt: Format) -> Iterator[None]:
    """Run a command's body: a losstune error it raises is printed (``losstune: error: MESSAGE``
    on stderr, then each detail indented, escaped like every text from a config; with ``--format
    json``, an error report on stdout; the diagnostics of a config that cannot be resolved) and
    the command ends with the error's exit code."""
    try:
        yield
    except LosstuneError as e:
        _report(e, fmt)
        raise typer.Exit(e.exit_code) from None
