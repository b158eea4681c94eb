"""The errors of the files an open config inherits, shown on the open config itself.

An editor shows the findings of the documents it has open; an error in a base that is not open
would go unseen although the config fails with it. Each such error is shown on the open config's
own ``_base_`` entry that leads to its file (directly or through the bases' bases), naming the
file and line, with the real place as related information. Warnings and infos of other files are
not: they are those files' own findings, published on each when it is opened."""

from __future__ import annotations

import os

from losstune.loader.frontend import ParsedFile
from losstune.loader.resolve import Resolver
from losstune.model import Diagnostic, Related, Severity, Span


def entry_files(path: str, text: str, resolver: Resolver) -> list[tuple[Span, frozenset[str]]]:
    """Each ``_base_`` entry of the config ``path`` (its text ``text``) with the span that names
    it and the files resolving that base read (by ``resolver``, which keeps what it resolved)."""
    parsed = ParsedFile(path, text)
    templated = parsed.templated(resolver.env)
    if templated.src is None or (parsed.is_python and templated.parsed is None):
        return []
    front, _ = parsed.front(templated)
    if front is None:
        return []
    out = []
    for entry, span in front.bases:
        if not isinstance(entry, str) or span is None:
            continue
        base = resolver.base_path(entry, path)
        if isinstance(base, tuple):
            continue  # a package's config not found: the entry's own finding says so
        sub = resolver.resolve_base(base, span)
        out.append((span, frozenset((sub.path, *sub.files))))
    return out


def on_entries(path: str, text: str, diagnostics: list[Diagnostic], resolver: Resolver) -> list[Diagnostic]:
    """The errors among ``diagnostics`` found in files other than ``path``, each on every entry
    of ``path`` that leads to its file (on the first line where none does: a new-style config's
    imports)."""
    errors = [d for d in diagnostics if d.severity is Severity.ERROR and d.span is not None and d.span.file != path]
    if not errors:
        return []
    entries = entry_files(path, text, resolver)
    out = []
    for d in errors:
        assert d.span is not None
        where = [span for span, files in entries if d.span.file in files] or [Span(path, 1, 1, 1, 1)]
        shown = os.path.relpath(d.span.file, os.path.dirname(path))
        message = f"in `{shown}` line {d.span.line}: {d.message}"
        related = (Related(d.span, d.message), *d.related)
        for span in dict.fromkeys(where):
            out.append(Diagnostic(d.code, d.name, d.severity, message, span, fix=d.fix, related=related))
    return out
