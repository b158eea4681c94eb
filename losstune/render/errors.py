"""What a command prints when it stops (or warns): the diagnostics of a config that cannot be
resolved, one paragraph each, or the message of any other losstune error; as text (stderr) or
as a JSON error report (stdout)."""

from __future__ import annotations

from typing import Any

from losstune.errors import LosstuneError
from losstune.model import ConfigError, Diagnostic, Severity
from losstune.render.excerpt import source_excerpt
from losstune.render.json import diagnostic, document
from losstune.render.palette import Style, paint
from losstune.render.paths import message, order, position
from losstune.render.safe import printable, sentence

_SEVERITY: dict[Severity, Style] = {Severity.ERROR: "bold-red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def severity_style(severity: Severity) -> Style:
    """The colour a severity is shown in."""
    return _SEVERITY[severity]


def render_diagnostics(diagnostics: list[Diagnostic], lines: dict[tuple[str, int], str], *, color: bool = False) -> str:
    """Diagnostics one paragraph each, as a command that stops (or warns) prints them: position,
    severity and code, name, message, the source line with a marker under the span, and the fix.
    ``lines`` maps (file, line) to the text of that line."""
    out: list[str] = []
    for d in diagnostics:
        where = paint(f"{printable(position(d.span))}: ", "bold", color) if d.span is not None else ""
        kind = paint(f"{d.severity.value}[{d.code}]", _SEVERITY[d.severity], color)
        out.append(f"{where}{kind} {paint(f'{d.name}:', 'bold', color)} {sentence(message(d))}")
        out += source_excerpt(d, lines, " ", color)
        if d.fix:
            out.append(f"  {paint('fix:', 'bold-green', color)} {sentence(d.fix)}")
    return "".join(f"{line}\n" for line in out)


def _stopping(error: ConfigError) -> list[Diagnostic]:
    """The diagnostics of ``error``, errors first, each once."""
    return sorted(dict.fromkeys(error.diagnostics), key=lambda d: (d.severity is not Severity.ERROR, order(d)))


def stopping_diagnostics(error: LosstuneError) -> list[Diagnostic]:
    """The diagnostics the text of ``error`` shows (its errors; its warnings when it has no
    error): the findings whose source lines its excerpts need."""
    if not isinstance(error, ConfigError):
        return []
    found = _stopping(error)
    return [d for d in found if d.severity is Severity.ERROR] or found


def render_text(error: LosstuneError, lines: dict[tuple[str, int], str]) -> str:
    """``losstune: error: MESSAGE`` then each detail indented, escaped like every text from a
    config; for a config that cannot be resolved, its diagnostics (``lines``: their source)."""
    if isinstance(error, ConfigError):
        return render_diagnostics(stopping_diagnostics(error), lines)
    return f"losstune: error: {sentence(error.message)}\n" + "".join(f"  {sentence(d)}\n" for d in error.details)


def render_json(error: LosstuneError) -> str:
    """The error report: ``{"version": 1, "kind": "error", "diagnostics": [...]}``, with the
    ``message`` and ``details`` of an error that is not about a position in a file (and the
    findings behind it, such as those that refuse an edit, as its diagnostics)."""
    data: dict[str, Any] = {}
    if not isinstance(error, ConfigError):
        data |= {"message": error.message, "details": error.details}
    diagnostics = _stopping(error) if isinstance(error, ConfigError) else error.findings
    return document("error", data | {"diagnostics": [diagnostic(d) for d in diagnostics]})
