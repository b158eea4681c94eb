"""Terminal output of ``losstune lint``: findings grouped by file, each with its source line, a
marker under the offending span, and the fix; and the same paragraphs for the errors and warnings
of the other commands (on stderr).

Plain text with optional ANSI colour, without rich: linting one file in a pre-commit hook should
start fast.
"""

from __future__ import annotations

from losstune.model import Diagnostic, Severity
from losstune.render.safe import excerpt, printable

_RESET = "\033[0m"
_STYLES = {
    "bold": "\033[1m",
    "dim": "\033[2m",
    "red": "\033[1;31m",
    "yellow": "\033[33m",
    "blue": "\033[34m",
    "green": "\033[1;32m",
    "underline": "\033[1;4m",
}
_SEVERITY = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def _paint(text: str, style: str, color: bool) -> str:
    return f"{_STYLES[style]}{text}{_RESET}" if color and text else text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _source(d: Diagnostic, lines: dict[tuple[str, int], str], indent: str, color: bool) -> list[str]:
    """The source line of ``d`` (clipped around the span) and a marker under the span."""
    source = lines.get((d.span.file, d.span.line)) if d.span is not None else None
    if source is None or d.span is None:
        return []
    gutter = f"{indent}{d.span.line:>4} | "
    end = d.span.end_column - 1 if d.span.end_line == d.span.line else None
    shown = excerpt(source, d.span.column - 1, end)
    return [
        _paint(gutter, "dim", color) + shown.text,
        " " * (len(gutter) + shown.marker_at) + _paint("^" * shown.marker_width, "red", color),
    ]


def render_diagnostics(diagnostics: list[Diagnostic], lines: dict[tuple[str, int], str], *, color: bool = False) -> str:
    """Diagnostics one paragraph each, as a command that stops (or warns) prints them: position,
    severity and code, name, message, the source line with a marker under the span, and the fix.
    ``lines`` maps (file, line) to the text of that line."""
    out: list[str] = []
    for d in diagnostics:
        where = _paint(f"{printable(str(d.span))}: ", "bold", color) if d.span is not None else ""
        kind = _paint(f"{d.severity.value}[{d.code}]", _SEVERITY[d.severity], color)
        out.append(f"{where}{kind} {_paint(f'{d.name}:', 'bold', color)} {printable(d.message)}")
        out += _source(d, lines, " ", color)
        if d.fix:
            out.append(f"  {_paint('fix:', 'green', color)} {printable(d.fix)}")
    return "".join(f"{line}\n" for line in out)


def render_lint(
    diagnostics: list[Diagnostic], lines: dict[tuple[str, int], str], checked: int, *, color: bool = False
) -> str:
    """Findings grouped by file, then a one-line summary."""
    out: list[str] = []
    by_file: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        by_file.setdefault(d.span.file if d.span else "", []).append(d)
    for file, found in by_file.items():
        out.append(_paint(printable(file) or "(no file)", "underline", color))
        for d in found:
            where = f"{d.span.line}:{d.span.column}  " if d.span else ""
            sev = _paint(d.severity.value, _SEVERITY[d.severity], color)
            message = printable(d.message)
            out.append(
                f"  {_paint(where, 'bold', color)}{sev}  {_paint(f'{d.code} {d.name}', 'bold', color)}  {message}"
            )
            out += _source(d, lines, "    ", color)
            if d.fix:
                out.append(f"    {_paint('fix:', 'green', color)} {printable(d.fix)}")
        out.append("")
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    configs = _plural(checked, "config")
    if not diagnostics:
        out.append(f"{_paint('All checks passed', 'green', color)} ({configs} checked).")
    else:
        summary = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {_plural(len(by_file), 'file')}"
        out.append(f"{_paint(summary, 'bold', color)} ({configs} checked).")
    return "\n".join(out) + "\n"
