"""Output of ``losstune lint``: findings grouped by file with their source lines (text), as JSON,
as a SARIF 2.1.0 log for code-scanning services, or as GitHub Actions workflow commands.

Plain text with optional ANSI colour, without rich: linting one file in a pre-commit hook should
start fast.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from losstune import __version__
from losstune.loader import codes
from losstune.model import Diagnostic, FixEdit, Replacement, Severity, Span
from losstune.render.errors import severity_style
from losstune.render.excerpt import source_excerpt
from losstune.render.json import diagnostic, document, dump
from losstune.render.palette import paint
from losstune.render.paths import message, order, position, shown
from losstune.render.rule import inline
from losstune.render.safe import printable, sentence
from losstune.render.wrap import hang
from losstune.rules import ALL_RULES
from losstune.words import count


class Checked(Struct, frozen=True):
    """How many configs a lint run checked, and how many of them because they inherit a file it
    was given (``--dependents``)."""

    configs: int
    dependents: int = 0


def render_text(
    diagnostics: list[Diagnostic],
    lines: dict[tuple[str, int], str],
    checked: Checked,
    *,
    color: bool = False,
    quiet: bool = False,
    width: int | None = None,
) -> str:
    """Findings grouped by file, then a one-line summary (none with ``quiet``). With ``width``,
    each message, fix and related location wraps at it, its lines after the first indented as
    the source excerpt is, and the excerpt is clipped to fit; a message that would have fewer than
    :data:`_MESSAGE_ROOM` columns beside its position and code starts on the line below them."""
    out: list[str] = []
    by_file: dict[str, list[Diagnostic]] = {}
    for d in sorted(diagnostics, key=order):
        by_file.setdefault(shown(d.span.file) if d.span else "", []).append(d)
    for file, found in by_file.items():
        out.append(paint(printable(file) or "(no file)", "bold-underline", color))
        for d in found:
            where = f"{d.span.line}:{d.span.column}  " if d.span else ""
            named = f"{d.code} {d.name}"
            plain = f"  {where}{d.severity.value}  {named}  "
            painted = (
                f"  {paint(where, 'bold', color)}{paint(d.severity.value, severity_style(d.severity), color)}"
                f"  {paint(named, 'bold', color)}  "
            )
            said = sentence(message(d))
            if width is not None and width - len(plain) < _MESSAGE_ROOM:
                out.append(painted.rstrip())
                out += hang(said, width, _INDENT)
            else:
                out += _lead(painted, plain, said, width)
            out += source_excerpt(d, lines, _INDENT, color, width)
            for r in d.related:
                text = f"{printable(position(r.span, column=False))}: {sentence(r.message)}"
                out += _lead(f"{_INDENT}{paint('see:', 'bold', color)} ", f"{_INDENT}see: ", text, width)
            if d.fix:
                out += _lead(
                    f"{_INDENT}{paint('fix:', 'bold-green', color)} ", f"{_INDENT}fix: ", sentence(d.fix), width
                )
        out.append("")
    if quiet:
        return "\n".join(out[:-1]) + "\n" if out else ""
    out.append(summary(diagnostics, checked, color=color))
    return "\n".join(out) + "\n"


_INDENT = "    "
_MESSAGE_ROOM = 30


def _lead(painted: str, plain: str, text: str, width: int | None) -> list[str]:
    """``text`` after ``plain`` (written as ``painted``, its coloured form), wrapped at ``width``,
    the lines after the first indented by :data:`_INDENT`."""
    wrapped = hang(text, width, plain, _INDENT)
    return [painted + wrapped[0][len(plain) :], *wrapped[1:]]


def summary(diagnostics: list[Diagnostic], checked: Checked, *, color: bool = False) -> str:
    """The last line of the text reports: how many errors and warnings in how many files, or that
    all checks passed, and how many configs were checked (and why, for those that inherit a file
    given)."""
    configs = f"{count(checked.configs, 'config')} checked"
    if checked.dependents:
        configs += f", {checked.dependents} of them as they inherit a file given"
    if not diagnostics:
        return f"{paint('All checks passed', 'bold-green', color)} ({configs})."
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    files = len({shown(d.span.file) if d.span else "" for d in diagnostics})
    said = f"{count(errors, 'error')}, {count(warnings, 'warning')} in {count(files, 'file')}"
    return f"{paint(said, 'bold', color)} ({configs})."


def render_concise(diagnostics: list[Diagnostic], checked: Checked, *, color: bool = False, quiet: bool = False) -> str:
    """One finding a line, ``path:line:column: CODE [name] message`` (the form terminals and editors
    open at the position), then the summary (none with ``quiet``)."""
    out = []
    for d in sorted(diagnostics, key=order):
        where = f"{printable(position(d.span))}: " if d.span else ""
        code = paint(d.code, severity_style(d.severity), color)
        out.append(f"{paint(where, 'bold', color)}{code} [{d.name}] {sentence(message(d))}")
    if not quiet:
        out.append(summary(diagnostics, checked, color=color))
    return "".join(f"{line}\n" for line in out)


def statistics(diagnostics: list[Diagnostic]) -> list[tuple[Diagnostic, int]]:
    """One finding of each code with how many there are, the most frequent first (then by code)."""
    counts: dict[str, int] = {}
    first: dict[str, Diagnostic] = {}
    for d in diagnostics:
        counts[d.code] = counts.get(d.code, 0) + 1
        first.setdefault(d.code, d)
    return [(first[c], n) for c, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def render_statistics(
    diagnostics: list[Diagnostic], checked: Checked, *, color: bool = False, quiet: bool = False
) -> str:
    """A count of findings per code with the code's name, the most frequent first, then the
    summary (none with ``quiet``)."""
    rows = statistics(diagnostics)
    width = max((len(str(n)) for _d, n in rows), default=1)
    out = [f"{n:>{width}}  {paint(d.code, severity_style(d.severity), color)}  {d.name}" for d, n in rows]
    if not quiet:
        out += [""] if out else []
        out.append(summary(diagnostics, checked, color=color))
    return "".join(f"{line}\n" for line in out)


def render_statistics_json(diagnostics: list[Diagnostic], files: int) -> str:
    """The counts of :func:`render_statistics` as JSON: ``{"version": 1, "kind": "lint-statistics",
    "files": N, "statistics": [{"code", "name", "severity", "count"}]}``."""
    rows = [
        {"code": d.code, "name": d.name, "severity": d.severity.value, "count": n} for d, n in statistics(diagnostics)
    ]
    return document("lint-statistics", {"files": files, "statistics": rows})


def render_json(diagnostics: list[Diagnostic], files: int, dependents: list[str] | None = None) -> str:
    """Lint findings as JSON: ``{"version": 1, "kind": "lint", "files": N, "dependents": [...],
    "diagnostics": [...]}``, ``dependents`` the configs checked as they inherit a file given."""
    data = {"files": files, "dependents": [shown(p) for p in dependents or ()]}
    return document("lint", {**data, "diagnostics": [diagnostic(d) for d in sorted(diagnostics, key=order)]})


def render_notes(notes: list[str]) -> str:
    """What the search for the configs that inherit the files given could not check, one
    ``losstune: note:`` line each."""
    return "".join(f"losstune: note: {printable(n)}\n" for n in notes)


# SARIF: every rule and loader code in the tool's ``driver.rules``, every finding a ``result``
# with its region (columns 1-based, end exclusive). Its ``version`` is SARIF's own.
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _sarif_rules() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in codes.ALL_CODES:
        out.append(
            {
                "id": c.code,
                "name": c.name,
                "shortDescription": {"text": inline(c.summary)},
                "defaultConfiguration": {"level": _SARIF_LEVEL[c.severity]},
            }
        )
    for r in ALL_RULES:
        doc = r.doc()
        out.append(
            {
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": inline(r.summary)},
                "fullDescription": {"text": inline(doc), "markdown": inline(doc)},
                "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
            }
        )
    return out


def _sarif_place(s: Span) -> dict[str, Any]:
    return {
        "artifactLocation": {"uri": shown(s.file).replace("\\", "/")},
        "region": {
            "startLine": s.line,
            "startColumn": s.column,
            "endLine": s.end_line,
            "endColumn": max(s.end_column, s.column),
        },
    }


def _sarif_fix(edit: FixEdit) -> dict[str, Any]:
    """A fix as SARIF's ``fix``: its description, and the replacements in each file it changes."""
    by_file: dict[str, list[Replacement]] = {}
    for r in edit.replacements:
        by_file.setdefault(r.span.file, []).append(r)
    unsafe = " (unsafe: it changes training; lint --fix --unsafe-fixes makes it)" if edit.safety == "unsafe" else ""
    return {
        "description": {"text": edit.title + unsafe},
        "artifactChanges": [
            {
                "artifactLocation": {"uri": shown(file).replace("\\", "/")},
                "replacements": [
                    {"deletedRegion": _sarif_place(r.span)["region"], "insertedContent": {"text": r.text}}
                    for r in found
                ],
            }
            for file, found in by_file.items()
        ],
    }


def render_sarif(diagnostics: list[Diagnostic]) -> str:
    """A SARIF 2.1.0 log of ``diagnostics``."""
    rules = _sarif_rules()
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for d in sorted(diagnostics, key=order):
        result: dict[str, Any] = {
            "ruleId": d.code,
            "level": _SARIF_LEVEL[d.severity],
            "message": {"text": message(d) + (f" Fix: {d.fix}" if d.fix else "")},
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.span is not None:
            result["locations"] = [{"physicalLocation": _sarif_place(d.span)}]
        if d.related:
            result["relatedLocations"] = [
                {"id": i, "physicalLocation": _sarif_place(r.span), "message": {"text": r.message}}
                for i, r in enumerate(d.related)
            ]
        if d.edit is not None and d.edit.replacements:
            result["fixes"] = [_sarif_fix(d.edit)]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "losstune",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/losstune/",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return dump(log)


# GitHub Actions: one ``::error``/``::warning`` line per finding, which GitHub shows as an
# annotation on the line of the pull request.
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    # printable() leaves no line break to end the command and start another (`::` injection) and
    # no escape sequence for the log viewer to render.
    return printable(text).replace("%", "%25")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: list[Diagnostic]) -> str:
    """Workflow commands for ``diagnostics``."""
    out = []
    for d in sorted(diagnostics, key=order):
        props = []
        if d.span is not None:
            s = d.span
            props += [
                f"file={_prop(shown(s.file))}",
                f"line={s.line}",
                f"col={s.column}",
                f"endLine={s.end_line}",
                f"endColumn={s.end_column}",
            ]
        props.append(f"title={_prop(f'{d.code} {d.name}')}")
        text = message(d) + (f" (fix: {d.fix})" if d.fix else "")
        out.append(f"::{_GITHUB_LEVEL[d.severity]} {','.join(props)}::{_data(text)}\n")
    return "".join(out)


# reviewdog's rdjson: one diagnostic per finding, its fix's changes in the finding's own file as
# suggestions (reviewdog suggests changes to the file it comments on). Columns count UTF-8 bytes.
_RDJSON_SEVERITY = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}


def _rd_position(line: int, column: int, text: str | None) -> dict[str, int]:
    if text is not None:
        column = len(text[: column - 1].encode("utf-8", "surrogateescape")) + 1
    return {"line": line, "column": column}


def _rd_range(s: Span, lines: dict[tuple[str, int], str], file: str) -> dict[str, Any]:
    """``s`` as rdjson's range; ``file`` names the file as ``lines`` does."""
    return {
        "start": _rd_position(s.line, s.column, lines.get((file, s.line))),
        "end": _rd_position(s.end_line, max(s.end_column, s.column), lines.get((file, s.end_line))),
    }


def render_rdjson(diagnostics: list[Diagnostic], lines: dict[tuple[str, int], str]) -> str:
    """The findings in reviewdog's Diagnostic Format (rdjson); ``lines`` are the source lines the
    findings point at (for the byte columns)."""
    out = []
    for d in sorted(diagnostics, key=order):
        item: dict[str, Any] = {
            "message": message(d) + (f" (fix: {d.fix})" if d.fix else ""),
            "severity": _RDJSON_SEVERITY[d.severity],
            "code": {"value": d.code},
        }
        if d.span is not None:
            file = d.span.file
            item["location"] = {"path": shown(file), "range": _rd_range(d.span, lines, file)}
            same = [r for r in d.edit.replacements if shown(r.span.file) == shown(file)] if d.edit else []
            if same:
                item["suggestions"] = [{"range": _rd_range(r.span, lines, file), "text": r.text} for r in same]
        out.append(item)
    return dump({"source": {"name": "losstune", "url": "https://pypi.org/project/losstune/"}, "diagnostics": out})


# GitLab code quality: the JSON array a job's ``artifacts:reports:codequality`` file holds. Each
# fingerprint identifies a finding across commits, so it hashes what the finding is about (code,
# file, key path, message), not its line: a finding that only moves is the same finding.
_GITLAB_SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def render_gitlab(diagnostics: list[Diagnostic]) -> str:
    """A GitLab code quality report of ``diagnostics``."""
    import hashlib

    issues = []
    seen: dict[str, int] = {}
    for d in sorted(diagnostics, key=order):
        path = shown(d.span.file).replace("\\", "/") if d.span else ""
        said = message(d)
        identity = "\0".join((d.code, path, d.key or "", said))
        # Equal findings in one file (the same message twice) get one fingerprint each, in order.
        seen[identity] = seen.get(identity, -1) + 1
        fingerprint = hashlib.sha256(f"{identity}\0{seen[identity]}".encode("utf-8", "surrogatepass")).hexdigest()
        description = f"{d.code} {d.name}: {said}" + (f" (fix: {d.fix})" if d.fix else "")
        issue: dict[str, Any] = {
            "description": description,
            "check_name": d.code,
            "fingerprint": fingerprint,
            "severity": _GITLAB_SEVERITY[d.severity],
            "location": {
                "path": path,
                "lines": {"begin": d.span.line if d.span else 1, "end": d.span.end_line if d.span else 1},
            },
        }
        issues.append(issue)
    return dump(issues)
