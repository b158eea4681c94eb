"""``lint --fix``: each finding's fix made through the ``set`` machinery, verified, then written.

Every fix is an edit request (:class:`~losstune.model.FixEdit`) planned like ``losstune set``
plans one: checked against the schema, written as the smallest text edit, and verified by
resolving the edited texts again, in memory. Fixes are planned one on top of another (each sees
the texts the earlier ones made); the files are written only at the end, each atomically, and the
configs are resolved once more from the disk: if one does not resolve as planned, every file is
put back. A safe fix of a finding reported in a base is made in the base (``set --in-base``),
where that base is not part of an installed package: it changes nothing for the base's other
users. Otherwise, and always for an unsafe fix (it changes training, and only the linted config
asks for that), the fix is made in the config: an override where the value comes from a base. A fix that the
machinery refuses is skipped, with its reason, and nothing of it is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from msgspec import Struct, field
from msgspec.structs import replace

from losstune.edit.apply import FileChanged, atomic_write, check_writable, restore
from losstune.edit.lock import locked_all
from losstune.edit.pywrite import TextEdit, apply_edits
from losstune.edit.session import plan_in_memory
from losstune.edit.values import Assignment
from losstune.edit.write import FileChange
from losstune.errors import EditFailure
from losstune.lint.run import LintResult, lint
from losstune.lint.settings import Settings
from losstune.loader.resolve import Resolver
from losstune.loader.source import SourceText
from losstune.loader.values import same_value, to_plain
from losstune.model import Diagnostic, FixEdit, Replacement
from losstune.render.paths import shown
from losstune.schema.registry import Schema

MAX_ROUNDS = 10
"""Fixing, then linting again (a fix may let another finding be fixed), at most this often."""

_PACKAGE_FOLDERS = frozenset(("site-packages", "dist-packages"))


class Fixed(Struct, frozen=True):
    """A finding that was fixed, and the files its fix edited (absolute paths)."""

    finding: Diagnostic
    files: tuple[str, ...]


class Skipped(Struct, frozen=True):
    """A finding whose fix was refused, and why."""

    finding: Diagnostic
    reason: str


class FixOutcome(Struct):
    """The fixes made (or, with ``write=False``, that would be made), those refused, the old and
    new text of every file they change (by absolute path), and the findings left after them."""

    fixed: list[Fixed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    left: LintResult | None = None
    written: bool = False


def applies(d: Diagnostic, unsafe: bool) -> bool:
    """Whether ``lint --fix`` (with ``unsafe``: ``--unsafe-fixes`` too) makes the fix of ``d``."""
    return d.edit is not None and (d.edit.safety == "safe" or unsafe)


def fix(
    paths: Iterable[str],
    schema: Schema,
    settings: Settings,
    *,
    unsafe: bool = False,
    write: bool = True,
    texts: Mapping[str, str] | None = None,
) -> FixOutcome:
    """Fix the findings of ``lint`` on ``paths`` that have a fix (the unsafe ones too with
    ``unsafe``), and lint again; with ``write=False`` the files are left as they are and the
    outcome says what the fixes would change (``files``) and what would be left. ``texts`` are
    files' texts (an editor's unsaved buffers) to fix in place of the disk's, with ``write=False``."""
    paths = list(paths)
    assert not (texts and write), "unsaved texts are fixed in memory only"
    overlay: dict[str, str] = {os.path.realpath(p): t for p, t in (texts or {}).items()}
    originals: dict[str, str] = {}
    outcome = FixOutcome()
    tried: set[tuple[str, str, str, str]] = set()
    for _ in range(MAX_ROUNDS):
        result = lint(paths, schema, settings, Resolver(overlay=overlay))
        todo = [d for d in result.diagnostics if applies(d, unsafe) and d.fingerprint() not in tried]
        if not todo:
            break
        edited: set[tuple[str | None, str]] = set()
        made = 0
        for d in todo:
            assert d.edit is not None
            keys = _keys(d.edit)
            if keys & edited:
                continue  # another fix changed this value in this round: lint again first
            tried.add(d.fingerprint())
            try:
                changes = _plan(d, schema, settings, overlay)
            except (EditFailure, OSError) as e:
                outcome.skipped.append(Skipped(d, _reason(e)))
                continue
            for fc in changes:
                real = os.path.realpath(fc.path)
                originals.setdefault(real, fc.old)
                overlay[real] = fc.new
            edited |= keys
            made += 1
            outcome.fixed.append(Fixed(d, tuple(os.path.abspath(fc.path) for fc in changes)))
        if not made:
            break
    outcome.files = {p: (old, overlay[p]) for p, old in originals.items() if overlay[p] != old}
    if write and outcome.files:
        _write(outcome.files, {d.finding.edit.config for d in outcome.fixed if d.finding.edit}, overlay)
        outcome.written = True
        overlay = {}
    outcome.left = lint(paths, schema, settings, Resolver(overlay=overlay))
    return outcome


def with_replacements(result: LintResult, schema: Schema, settings: Settings) -> LintResult:
    """``result`` with the fix of each finding that has one planned on the files as they are, each
    on its own (nothing is written): its ``edit`` then carries the text changes it makes. A fix
    that the machinery refuses keeps none."""
    return replace(result, diagnostics=planned(result.diagnostics, schema, settings, {}))


def planned(
    findings: list[Diagnostic], schema: Schema, settings: Settings, overlay: dict[str, str]
) -> list[Diagnostic]:
    """``findings`` with the fix of each that has one planned on the texts of ``overlay`` (by real
    path; the disk for other files), each on its own, nothing written: its ``edit`` carries the text
    changes it makes (none where the machinery refuses it)."""
    out = []
    for d in findings:
        if d.edit is not None and d.edit.is_request:
            try:
                changes = _plan(d, schema, settings, overlay)
            except (EditFailure, OSError):
                changes = []
            found = tuple(r for fc in changes if (r := replacement(fc)) is not None)
            d = replace(d, edit=replace(d.edit, replacements=found))
        out.append(d)
    return out


def replacement(fc: FileChange) -> Replacement | None:
    """The one region of ``fc.old`` that ``fc.new`` changes, as a replacement."""
    old, new = fc.old, fc.new
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[len(old) - 1 - end] == new[len(new) - 1 - end]:
        end += 1
    if start == len(old) == len(new):
        return None
    # Whole words: `gama` replaced by `gamma`, not an `m` inserted.
    while start > 0 and _word(old[start - 1]):
        start -= 1
    while end > 0 and _word(old[len(old) - end]):
        end -= 1
    span = SourceText.plain(fc.path, old).span_original(start, len(old) - end)
    return Replacement(span, new[start : len(new) - end])


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _keys(edit: FixEdit) -> set[tuple[str | None, str]]:
    """The values a fix changes: key paths of its config."""
    keys = {k for k, _ in edit.sets} | set(edit.unsets) | {k for k, _ in edit.renames}
    return {(edit.config, k) for k in keys}


def _plan(d: Diagnostic, schema: Schema, settings: Settings, overlay: dict[str, str]) -> list[FileChange]:
    """The files the fix of ``d`` changes, planned on the texts of ``overlay`` and verified."""
    edit = d.edit
    assert edit is not None
    if not edit.is_request:
        return _text_fix(edit.replacements, overlay)
    if edit.config is None:
        raise EditFailure("the fix does not say which config it belongs to")
    assignments = [Assignment(k, unset=True) for k in edit.unsets]
    assignments += [Assignment(k, rename=new) for k, new in edit.renames]
    assignments += [Assignment(k, v) for k, v in edit.sets]
    # A safe fix of a finding reported in a base is made in the base: it changes nothing its other
    # users get. An unsafe one changes training, so it is made for the config that was linted only
    # (an override), and so is one reported in the config itself.
    written = d.span.file if d.span is not None else edit.config
    if edit.safety == "safe" and os.path.realpath(written) != os.path.realpath(edit.config):
        try:
            _, files = plan_in_memory(edit.config, assignments, schema, settings, in_base=True, overlay=overlay)
            if all(_editable(fc.path) for fc in files):
                return files
        except EditFailure:
            pass
    _, files = plan_in_memory(edit.config, assignments, schema, settings, overlay=overlay)
    for fc in files:
        problem = check_writable(fc.path)
        if problem:
            raise EditFailure(problem)
    return files


def _editable(path: str) -> bool:
    """Whether a fix may edit the file ``path`` names in place: writable, and not a config of an
    installed package (an ``mmdet::`` base), which is overridden in the config instead."""
    parts = set(os.path.realpath(path).split(os.sep))
    return not parts & _PACKAGE_FOLDERS and check_writable(path) is None


def _text_fix(replacements: tuple[Replacement, ...], overlay: dict[str, str]) -> list[FileChange]:
    """A fix of the text itself (a comment): its replacements, made on the texts of ``overlay``."""
    by_file: dict[str, list[Replacement]] = {}
    for r in replacements:
        by_file.setdefault(os.path.abspath(r.span.file), []).append(r)
    out = []
    for path, found in by_file.items():
        real = os.path.realpath(path)
        if real in overlay:
            old = overlay[real]
        else:
            with open(real, encoding="utf-8", newline="") as f:
                old = f.read()
        problem = check_writable(path)
        if problem:
            raise EditFailure(problem)
        src = SourceText.plain(path, old)
        out.append(FileChange(path, old, apply_edits(old, [TextEdit(*src.offsets(r.span), r.text) for r in found])))
    return out


def _reason(e: BaseException) -> str:
    lines = getattr(e, "lines", None) or []
    return "; ".join([str(e), *lines])


def _write(files: dict[str, tuple[str, str]], configs: set[str | None], overlay: dict[str, str]) -> None:
    """Write every file's new text (each only over the text it was planned from), then resolve the
    fixed configs from the disk: if one does not resolve as in memory, put every file back."""
    wanted = {c: Resolver(overlay=overlay).resolve(c).cfg for c in configs if c is not None}
    with locked_all(files):
        done: list[str] = []
        try:
            for path, (old, new) in files.items():
                atomic_write(path, new, expected=old)
                done.append(path)
        except (FileChanged, OSError) as e:
            _put_back(files, done)
            changed = shown(e.path) if isinstance(e, FileChanged) else str(e)
            raise EditFailure(
                f"`{changed}` was changed by another program while the fixes were written",
                after="every file was put back as it was; run lint --fix again",
            ) from None
        for config, tree in wanted.items():
            got = Resolver().resolve(config).cfg
            if got is None or tree is None or not same_value(to_plain(got), to_plain(tree)):
                _put_back(files, done)
                raise EditFailure(
                    f"after writing the fixes, `{shown(config)}` did not resolve as planned; please report "
                    "this with the config",
                    after="every file was put back as it was",
                )


def _put_back(files: dict[str, tuple[str, str]], done: list[str]) -> None:
    for path in reversed(done):
        old, new = files[path]
        restore(path, old, new, created=False)
