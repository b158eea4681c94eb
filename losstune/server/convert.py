"""losstune's findings as Language Server Protocol diagnostics."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types

from losstune.loader.source import SourceText
from losstune.model import Diagnostic, Severity, Span
from losstune.server.positions import to_range

RULE_DOCS = "https://github.com/losstune/losstune/blob/main/README.md#rules"
"""Where a finding's code links to (``codeDescription``): the README's table of rules and loader
codes, the same for every code (``losstune rule CODE`` explains one in the terminal)."""

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def uri(path: str) -> str:
    """The ``file:`` URI of an absolute path."""
    return Path(path).as_uri()


def path_of(document_uri: str) -> str | None:
    """The absolute path a ``file:`` URI names, or ``None`` for another scheme."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(document_uri)
    if parsed.scheme != "file":
        return None
    return os.path.abspath(unquote(parsed.path))


def lsp_range(text_of: Callable[[str], SourceText], span: Span) -> types.Range:
    """The LSP range of ``span``, in the text its file has for the server."""
    (l0, c0), (l1, c1) = to_range(text_of(span.file), span)
    return types.Range(types.Position(l0, c0), types.Position(l1, c1))


def to_lsp(d: Diagnostic, text_of: Callable[[str], SourceText], docs: str = RULE_DOCS) -> types.Diagnostic:
    """One finding as an LSP diagnostic: its range, severity, code linked to the rules' page, the
    fix in the message, and its related places in other files."""
    span = d.span or Span("", 1, 1, 1, 1)
    message = d.message if not d.fix else f"{d.message}\nfix: {d.fix}"
    related = [
        types.DiagnosticRelatedInformation(types.Location(uri(r.span.file), lsp_range(text_of, r.span)), r.message)
        for r in d.related
    ]
    return types.Diagnostic(
        range=lsp_range(text_of, span),
        message=message,
        severity=_SEVERITY[d.severity],
        code=d.code,
        code_description=types.CodeDescription(href=docs),
        source=f"losstune {d.name}",
        related_information=related or None,
        data={"key": d.key} if d.key else None,
    )
