"""Output of ``losstune set`` and ``losstune sweep``: what changed, where, and the diff."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from typing import Any

from losstune.edit.plan import DELETE, MISSING
from losstune.edit.session import SetOutcome
from losstune.edit.write import FileChange
from losstune.keypath import format_path
from losstune.render.json import document, value
from losstune.render.palette import paint
from losstune.render.paths import shown
from losstune.render.safe import DIFF_WIDTH, clip, clip_line, printable

_MAX_NOTES = 10  # notes on the search for inheritors shown as text; JSON has them all


def _show(v: Any) -> str:
    if v is MISSING:
        return "(unset)"
    if v is DELETE:
        return "(removed: default applies)"
    return clip(repr(v))


def _removed(line: str) -> bool:
    return line.startswith("-") and not line.startswith("---")


def _added(line: str) -> bool:
    return line.startswith("+") and not line.startswith("+++")


def _common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _for_terminal(lines: list[str]) -> list[str]:
    """The diff's lines escaped, each longer than ``DIFF_WIDTH`` clipped around where it differs
    from the line it replaces (or is replaced by): the removed and added lines of a change are
    paired in order."""
    lines = [line.rstrip("\r\n") for line in lines]
    starts = [0] * len(lines)
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and _removed(lines[j]):
            j += 1
        k = j
        while k < len(lines) and _added(lines[k]):
            k += 1
        for a, b in zip(range(i, j), range(j, k), strict=False):
            starts[a] = starts[b] = _common_prefix(lines[a][1:], lines[b][1:])
        i = max(k, i + 1)
    return [
        printable(line) if len(line) <= 1 + DIFF_WIDTH else line[0] + clip_line(line[1:], start)
        for line, start in zip(lines, starts, strict=True)
    ]


def diff_text(files: Iterable[FileChange], color: bool = False, escape: bool = False) -> str:
    """A unified diff of every file an edit changes; with ``escape``, as a terminal shows it:
    each line's control characters escaped, and a long line clipped around its change."""
    out: list[str] = []
    for fc in files:
        name = shown(fc.path)
        lines = list(
            difflib.unified_diff(
                fc.old.splitlines(keepends=True),
                fc.new.splitlines(keepends=True),
                fromfile=f"a/{name}" if not fc.created else "/dev/null",
                tofile=f"b/{name}",
            )
        )
        if escape:
            lines = [line + "\n" for line in _for_terminal(lines)]
        for line in lines:
            if not line.endswith("\n"):
                line += "\n"
            if _added(line) and not line.startswith("+++"):
                line = paint(line[:-1], "green", color) + "\n"
            elif _removed(line):
                line = paint(line[:-1], "red", color) + "\n"
            elif line.startswith("@@"):
                line = paint(line[:-1], "cyan", color) + "\n"
            out.append(line)
    return "".join(out)


def render_text(outcome: SetOutcome, dry_run: bool, color: bool = False) -> str:
    """The changes, the notes, the files written (or the diff of a dry run)."""
    if not outcome.changes:
        return f"nothing to change: {printable('; '.join(outcome.notes) or 'nothing to change')}\n"
    out = []
    for c in outcome.changes:
        out.append(f"  {printable(format_path(c.path))}: {_show(c.old)} -> {_show(c.new)}\n")
    for warning in outcome.warnings:
        out.append(f"  warning: {printable(warning)}\n")
    for note in outcome.notes:
        out.append(f"  note: {printable(note)}\n")
    if outcome.scanned is not None:
        scanned = shown(outcome.scanned)
        where = "the current folder" if scanned == os.curdir else printable(scanned)
        if outcome.affected:
            out.append(f"  the edit changes {len(outcome.affected)} config(s) under {where}:\n")
            out += [f"    {printable(shown(a))}\n" for a in outcome.affected]
        else:
            out.append(f"  the edit changes no config under {where}\n")
        if outcome.unaffected:
            out.append(
                f"  {len(outcome.unaffected)} other config(s) there inherit the edited base but resolve as before "
                "(they override what it changes; --format json lists them)\n"
            )
        listed = outcome.unchecked if len(outcome.unchecked) <= _MAX_NOTES else outcome.unchecked[: _MAX_NOTES - 1]
        out += [f"  note: {printable(u)}\n" for u in listed]
        if len(listed) < len(outcome.unchecked):
            more = len(outcome.unchecked) - len(listed)
            out.append(f"  note: and {more} more file(s) could not be checked (--format json lists them all)\n")
    if dry_run:
        out.append(diff_text(outcome.files, color, escape=True))
        out.append("(dry run: nothing was written)\n")
    else:
        for fc in outcome.files:
            verb = "created" if fc.created else "updated"
            path = printable(shown(fc.path))
            out.append(paint(f"{verb} {path}", "bold", color) + "\n")
    return "".join(out)


def render_json(outcome: SetOutcome, dry_run: bool) -> str:
    """The same as JSON (``"kind": "set"``)."""
    data = {
        "config": shown(outcome.config),
        "dry_run": dry_run,
        "written": outcome.written,
        "changes": [
            {
                "key": format_path(c.path),
                "old": None if c.old is MISSING else value(c.old),
                "new": None if c.new is DELETE else value(c.new),
                "removed": c.new is DELETE,
                "added": c.old is MISSING,
            }
            for c in outcome.changes
        ],
        "files": [{"file": shown(fc.path), "created": fc.created} for fc in outcome.files],
        "diff": diff_text(outcome.files),
        "notes": outcome.notes,
        "warnings": outcome.warnings,
        "affected": [shown(a) for a in outcome.affected],
        "unaffected": [shown(a) for a in outcome.unaffected],
        "scanned": None if outcome.scanned is None else shown(outcome.scanned),
        "unchecked": outcome.unchecked,
    }
    return document("set", data)
