"""Output of ``losstune set`` and ``losstune sweep``: what changed, where, and the diff."""

from __future__ import annotations

import difflib
import os
from typing import Any

from losstune.edit.plan import DELETE, MISSING
from losstune.edit.session import SetOutcome
from losstune.keypath import format_path
from losstune.loader.resolve import display_path
from losstune.render.json import document, value
from losstune.render.palette import paint
from losstune.render.safe import printable

_MAX_NOTES = 10  # notes on the search for inheritors shown as text; JSON has them all


def _show(v: Any) -> str:
    if v is MISSING:
        return "(unset)"
    if v is DELETE:
        return "(removed: default applies)"
    return printable(repr(v))


def diff_text(outcome: SetOutcome, color: bool = False, escape: bool = False) -> str:
    """A unified diff of every file the edit changes; with ``escape``, each line's control
    characters are escaped for a terminal."""
    out: list[str] = []
    for fc in outcome.files:
        shown = display_path(fc.path)
        lines = difflib.unified_diff(
            fc.old.splitlines(keepends=True),
            fc.new.splitlines(keepends=True),
            fromfile=f"a/{shown}" if not fc.created else "/dev/null",
            tofile=f"b/{shown}",
        )
        for line in lines:
            if escape:
                line = printable(line.rstrip("\r\n")) + "\n"
            if not line.endswith("\n"):
                line += "\n"
            if line.startswith("+") and not line.startswith("+++"):
                line = paint(line[:-1], "green", color) + "\n"
            elif line.startswith("-") and not line.startswith("---"):
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
        where = "the current folder" if outcome.scanned == os.curdir else printable(outcome.scanned)
        if outcome.affected:
            out.append(f"  the edited base is used by {len(outcome.affected)} config(s) under {where}:\n")
            out += [f"    {printable(a)}\n" for a in outcome.affected]
        else:
            out.append(f"  no config under {where} uses the edited base\n")
        shown = outcome.unchecked if len(outcome.unchecked) <= _MAX_NOTES else outcome.unchecked[: _MAX_NOTES - 1]
        out += [f"  note: {printable(u)}\n" for u in shown]
        if len(shown) < len(outcome.unchecked):
            more = len(outcome.unchecked) - len(shown)
            out.append(f"  note: and {more} more file(s) could not be checked (--format json lists them all)\n")
    if dry_run:
        out.append(diff_text(outcome, color, escape=True))
        out.append("(dry run: nothing was written)\n")
    else:
        for fc in outcome.files:
            verb = "created" if fc.created else "updated"
            path = printable(display_path(fc.path))
            out.append(paint(f"{verb} {path}", "bold", color) + "\n")
    return "".join(out)


def render_json(outcome: SetOutcome, dry_run: bool) -> str:
    """The same as JSON (``"kind": "set"``)."""
    data = {
        "config": outcome.config,
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
        "files": [{"file": display_path(fc.path), "created": fc.created} for fc in outcome.files],
        "diff": diff_text(outcome),
        "notes": outcome.notes,
        "warnings": outcome.warnings,
        "affected": outcome.affected,
        "scanned": outcome.scanned,
        "unchecked": outcome.unchecked,
    }
    return document("set", data)
