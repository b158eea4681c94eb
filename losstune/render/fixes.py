"""Output of ``lint --fix``, ``--diff`` and ``--show-fixes``: what was fixed, where, and what was not."""

from __future__ import annotations

from losstune.edit.fixes import FixOutcome
from losstune.edit.write import FileChange
from losstune.model import Diagnostic
from losstune.render.edit import diff_text
from losstune.render.palette import paint
from losstune.render.paths import order, position, shown
from losstune.render.safe import printable, sentence
from losstune.words import count


def _where(d: Diagnostic) -> str:
    return position(d.span) if d.span else "(no file)"


def render_fixes(outcome: FixOutcome, *, listed: bool, dry_run: bool, color: bool = False) -> str:
    """The fixes as a summary line; with ``listed`` (``--show-fixes``), each fix on a line: where the
    finding was, its code, what the fix did, and the file it edited where that is another file (a
    base, or the config that overrides a base's value). Refused fixes are always listed, with why."""
    out: list[str] = []
    verb = "Would fix" if dry_run else "Fixed"
    if outcome.fixed:
        out.append(paint(f"{verb} {count(len(outcome.fixed), 'finding')}" + (":" if listed else "."), "bold", color))
    if listed:
        for f in sorted(outcome.fixed, key=lambda f: order(f.finding)):
            d = f.finding
            title = d.edit.title if d.edit else ""
            edited = [shown(p) for p in f.files if not d.span or shown(p) != shown(d.span.file)]
            also = f" (in {', '.join(edited)})" if edited else ""
            out.append(f"  {printable(_where(d))}  {d.code}  {printable(title)}{printable(also)}")
    if outcome.skipped:
        out.append(paint(f"Not fixed: {count(len(outcome.skipped), 'finding')}:", "bold", color))
        for s in sorted(outcome.skipped, key=lambda s: order(s.finding)):
            out.append(f"  {printable(_where(s.finding))}  {s.finding.code}  {printable(sentence(s.reason))}")
    return "".join(line + "\n" for line in out)


def render_diff(outcome: FixOutcome, color: bool = False) -> str:
    """A unified diff of every file the fixes change (paths as ``a/`` and ``b/``)."""
    files = [FileChange(path, old, new) for path, (old, new) in sorted(outcome.files.items())]
    return diff_text(files, color)
