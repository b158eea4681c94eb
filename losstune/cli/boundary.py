"""The one place where a losstune error becomes what the command prints and its exit code."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import typer

from losstune.cli.options import Format
from losstune.errors import CommandError, EditFailure, LosstuneError
from losstune.model import ConfigError, Diagnostic, Severity

if TYPE_CHECKING:
    from losstune.loader.source import SourceText


def source_lines(diagnostics: list[Diagnostic], sources: Mapping[str, SourceText]) -> dict[tuple[str, int], str]:
    """The source line each diagnostic points at, from the text the loader read (``sources``, by
    absolute path); none for a file it could not read."""
    lines: dict[tuple[str, int], str] = {}
    for d in diagnostics:
        if d.span is None:
            continue
        src = sources.get(os.path.abspath(d.span.file))
        if src is not None and 0 < d.span.line <= src.line_count:
            lines[(d.span.file, d.span.line)] = src.line_text(d.span.line)
    return lines


def warn(diagnostics: list[Diagnostic], fmt: Format, sources: Mapping[str, SourceText]) -> None:
    """Warnings go to stderr in text mode; in JSON they are part of the report."""
    from losstune.render.errors import render_diagnostics

    shown = [d for d in dict.fromkeys(diagnostics) if d.severity is not Severity.ERROR]
    if shown and fmt is Format.text:
        sys.stderr.write(render_diagnostics(shown, source_lines(shown, sources)))


def _report(error: LosstuneError, fmt: Format) -> None:
    from losstune.render import errors as render_errors

    if fmt is Format.json:
        sys.stdout.write(render_errors.render_json(error))
        return
    sources = error.sources if isinstance(error, ConfigError) else {}
    lines = source_lines(render_errors.stopping_diagnostics(error), sources)
    sys.stderr.write(render_errors.render_text(error, lines))


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


@contextlib.contextmanager
def editing(config: str) -> Iterator[None]:
    """An edit's refusals as set and sweep report them: about ``config``, saying what state the
    files are in."""
    try:
        yield
    except EditFailure as e:
        raise CommandError(f"{config}: {e}; {e.after}", e.details, e.findings) from None
    except OSError as e:
        raise CommandError(f"{config}: cannot write ({e.strerror}); nothing was changed") from None
