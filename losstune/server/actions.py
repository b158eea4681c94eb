"""Code actions: each finding's fix as ``lint --fix`` plans it (safe ones as quick fixes, unsafe
ones marked), and a ``noqa`` comment for it as ``lint --add-noqa`` writes it, sent as workspace
edits: the server writes nothing."""

from __future__ import annotations

import os
from collections.abc import Callable

from lsprotocol import types

from losstune.edit.addnoqa import with_noqa
from losstune.edit.fixes import fix, planned, replacement
from losstune.edit.write import FileChange
from losstune.lint.settings import Settings
from losstune.loader.source import SourceText
from losstune.model import Diagnostic, Replacement
from losstune.schema.registry import Schema
from losstune.server.convert import lsp_range, to_lsp, uri
from losstune.server.positions import to_point

UNSAFE = "quickfix.unsafe"
"""The kind of a fix that changes how the model trains (``lint --fix --unsafe-fixes``)."""


def _edit(text_of: Callable[[str], SourceText], replacements: tuple[Replacement, ...]) -> types.WorkspaceEdit:
    changes: dict[str, list[types.TextEdit]] = {}
    for r in replacements:
        changes.setdefault(uri(r.span.file), []).append(types.TextEdit(lsp_range(text_of, r.span), r.text))
    return types.WorkspaceEdit(changes=changes)


def code_actions(
    findings: list[Diagnostic],
    schema: Schema,
    settings: Settings,
    overlay: dict[str, str],
    text_of: Callable[[str], SourceText],
    docs: str,
) -> list[types.CodeAction]:
    """The fix and the ``noqa`` comment of each of ``findings``, planned on the open texts."""
    out: list[types.CodeAction] = []
    for d in planned(findings, schema, settings, overlay):
        shown = [to_lsp(d, text_of, docs)]
        if d.edit is not None and d.edit.replacements:
            safe = d.edit.safety == "safe"
            out.append(
                types.CodeAction(
                    title=f"{d.code}: {d.edit.title}" + ("" if safe else " (unsafe: changes how the model trains)"),
                    kind=types.CodeActionKind.QuickFix if safe else UNSAFE,
                    diagnostics=shown,
                    edit=_edit(text_of, d.edit.replacements),
                    is_preferred=safe,
                )
            )
        noqa = _noqa(d, text_of)
        if noqa is not None:
            out.append(
                types.CodeAction(
                    title=f"{d.code}: add `# noqa: {d.code}` to the line",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=shown,
                    edit=_edit(text_of, (noqa,)),
                )
            )
    return out


FIX_ALL = "source.fixAll.losstune"


def fix_all(
    config: str,
    schema: Schema,
    settings: Settings,
    texts: dict[str, str],
    text_of: Callable[[str], SourceText],
) -> types.CodeAction | None:
    """Every safe fix of the open config at once, as ``lint --fix`` makes them (one on top of
    another, checked again after each round), planned on the open texts; ``None`` if there is none."""
    outcome = fix([config], schema, settings, write=False, texts=texts)
    if not outcome.files:
        return None
    changes: dict[str, list[types.TextEdit]] = {}
    for path, (old, new) in outcome.files.items():
        src = SourceText.plain(path, old)
        end = to_point(src, src.line_count, len(src.line_text(src.line_count)) + 1)
        whole = types.Range(types.Position(0, 0), types.Position(*end))
        changes[uri(path)] = [types.TextEdit(whole, new)]
    count = len(outcome.fixed)
    return types.CodeAction(
        title=f"losstune: fix {count} finding{'s' if count != 1 else ''} (the safe fixes, as lint --fix)",
        kind=FIX_ALL,
        edit=types.WorkspaceEdit(changes=changes),
    )


def _noqa(d: Diagnostic, text_of: Callable[[str], SourceText]) -> Replacement | None:
    """The change that adds the finding's code to its line's ``noqa`` comment, where a comment can go."""
    if d.span is None or not d.span.file.endswith((".py", ".yaml", ".yml")):
        return None
    path = os.path.abspath(d.span.file)
    old = text_of(path).original
    new, problem = with_noqa(path, old, {d.span.line: [d.code]})
    if problem or new == old:
        return None
    return replacement(FileChange(path, old, new))
