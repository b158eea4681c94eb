"""GitHub Actions workflow commands: one ``::error``/``::warning`` line per finding, which GitHub
shows as an annotation on the line of the pull request."""

from __future__ import annotations

from losstune.model import Diagnostic, Severity
from losstune.render.safe import printable

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    # printable() leaves no line break to end the command and start another (`::` injection) and
    # no escape sequence for the log viewer to render.
    return printable(text).replace("%", "%25")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render_lint(diagnostics: list[Diagnostic]) -> str:
    """Workflow commands for ``diagnostics``."""
    out = []
    for d in diagnostics:
        props = []
        if d.span is not None:
            s = d.span
            props += [
                f"file={_prop(s.file)}",
                f"line={s.line}",
                f"col={s.column}",
                f"endLine={s.end_line}",
                f"endColumn={s.end_column}",
            ]
        props.append(f"title={_prop(f'{d.code} {d.name}')}")
        message = d.message + (f" (fix: {d.fix})" if d.fix else "")
        out.append(f"::{_LEVEL[d.severity]} {','.join(props)}::{_data(message)}\n")
    return "".join(out)
