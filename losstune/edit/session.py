"""``losstune set`` as a library call: plan, check, write, verify."""

from __future__ import annotations

import ast
import os
from collections import Counter
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from losstune import keypath
from losstune.config import LoadedConfig, origin_at
from losstune.edit.apply import (
    FileChanged,
    atomic_write,
    check_writable,
    holds,
    remove_stale_temps,
    restore,
    write_notes,
)
from losstune.edit.inheritors import find_inheritors
from losstune.edit.lock import locked_all
from losstune.edit.plan import MISSING, Change, EditError, Plan, plan_edits
from losstune.edit.pywrite import TextEdit, apply_edits
from losstune.edit.values import Assignment, json_literal, python_literal, yaml_literal
from losstune.edit.write import FileChange, Written, plan_files
from losstune.keypath import format_path
from losstune.lint.settings import Settings
from losstune.loader import pyast, pysource
from losstune.loader.envmask import EnvMask
from losstune.loader.resolve import Resolver
from losstune.loader.source import SourceText
from losstune.loader.values import LDict, same_value, to_plain
from losstune.model import ConfigError, Severity
from losstune.render import paths
from losstune.schema.registry import Schema


class SetOutcome(Struct):
    """What an edit changed (or would change, with ``dry_run``); no ``changes`` when every
    requested value is already what the config resolves to (``notes`` say so). Paths are
    absolute; renderers show them relative."""

    config: str
    changes: list[Change]
    files: list[FileChange]
    notes: list[str] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)
    # With --in-base: the configs that inherit an edited file but resolve as before, the folder
    # searched for the configs that inherit the edited files, and a sentence for each file that
    # could not be checked.
    unaffected: list[str] = field(default_factory=list)
    scanned: str | None = None
    unchecked: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: bool = False


def _load(path: str, overlay: dict[str, str] | None = None) -> LoadedConfig:
    result = Resolver(overlay=overlay).resolve(path)
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if result.cfg is None or errors:
        raise ConfigError(errors or result.diagnostics, result.sources)
    if result.imported is not None:
        raise EditError("new-style (read_base) configs cannot be edited by losstune yet; edit the file by hand")
    return LoadedConfig(result)


_ATTEMPTS = 10


def set_values(
    path: str,
    assignments: list[Assignment],
    schema: Schema,
    settings: Settings,
    *,
    dry_run: bool = False,
    out: str | None = None,
    in_base: bool = False,
    scan: str | None = None,
) -> SetOutcome:
    """Apply ``assignments`` to the config at ``path``; see ``losstune set --help``. With
    ``in_base``, ``scan`` is the folder searched for the configs that inherit the edited files.

    Everything from reading the files to writing them happens under the locks of every file the
    edit writes (taken in one order); a file another program changes meanwhile makes the edit be
    planned again from its new text."""
    if out is not None and in_base:
        raise EditError("--in-base and -o cannot be combined: -o writes a new config")
    if scan is not None and not in_base:
        raise EditError("--scan names the folder that --in-base searches; add --in-base, or leave --scan out")
    if scan is not None and not os.path.isdir(scan):
        raise EditError(f"--scan {scan}: not a folder; name the folder to search for configs that use the edited base")
    needed = {os.path.realpath(p) for p in (path, out) if p is not None}
    for attempt in range(_ATTEMPTS):
        with locked_all(needed):
            if not dry_run:
                remove_stale_temps(path)
            plan = plan_edits(_load(path), assignments, schema, settings)
            if not plan.changes:
                return SetOutcome(os.path.abspath(path), [], [], plan.notes, warnings=plan.warnings)
            written = plan_files(plan, path, in_base)
            more = {os.path.realpath(f) for f in written.files} - needed
            if more:  # lock those too, in order with the rest, and plan again
                needed |= more
                continue
            files = list(written.files.values())
            if out is not None:
                files = [_as_new_file(plan.config, path, out, written)]
            for fc in files:
                problem = check_writable(fc.path)
                if problem:
                    raise EditError(problem)
            notes = plan.notes + written.notes
            notes += [n for fc in files if not fc.created for n in write_notes(fc.path, paths.shown(fc.path))]
            outcome = SetOutcome(os.path.abspath(path), _shown(plan), files, notes, warnings=plan.warnings)
            verify_in_memory(plan, files, out or path)
            if in_base:
                users = find_inheritors(path, {f.path: f.new for f in files}, scan)
                outcome.affected, outcome.unaffected = list(users.configs), list(users.unaffected)
                outcome.scanned, outcome.unchecked = users.root, users.unchecked
            if dry_run:
                return outcome
            try:
                _write_and_verify(files, out or path, plan)
            except FileExistsError:
                raise EditError(f"`{out}` exists already; choose a new file name") from None
            except FileChanged as e:
                changed = paths.shown(e.path)
                if attempt == _ATTEMPTS - 1:
                    raise EditError(f"`{changed}` kept being changed by another program while it was edited") from None
                continue
            outcome.written = True
            return outcome
    raise EditError(f"`{paths.shown(path)}` kept being changed by another program while it was edited")


def plan_in_memory(
    path: str,
    assignments: list[Assignment],
    schema: Schema,
    settings: Settings,
    *,
    in_base: bool = False,
    overlay: dict[str, str] | None = None,
) -> tuple[Plan, list[FileChange]]:
    """What :func:`set_values` would write, planned and verified in memory, nothing written nor
    locked: the plan and the new text of each file (no file when nothing changes). ``overlay``
    gives the text of files (by path) to edit instead of what is on disk, so that edits can be
    planned one on top of another."""
    plan = plan_edits(_load(path, overlay), assignments, schema, settings)
    if not plan.changes:
        return plan, []
    files = list(plan_files(plan, path, in_base).files.values())
    verify_in_memory(plan, files, path, overlay)
    return plan, files


def verify_in_memory(
    plan: Plan, files: list[FileChange], check_path: str, overlay: dict[str, str] | None = None
) -> None:
    """Refuse new texts that do not load, or do not resolve to exactly the planned config, before
    anything reaches the disk (``overlay``: the text of other files, as in :func:`plan_in_memory`)."""
    result = Resolver(overlay={**(overlay or {}), **{fc.path: fc.new for fc in files}}).resolve(check_path)
    before = Counter(d.code for d in plan.config.diagnostics)
    after = Counter(d.code for d in result.diagnostics)
    new = [d for d in result.diagnostics if after[d.code] > before[d.code]]
    if result.cfg is None or new:
        raise EditError(
            "the edited text would not load as the config it should be",
            [
                f"{paths.position(d.span, column=False) if d.span else paths.shown(check_path)}: {d.code} {paths.message(d)}"
                for d in new
            ],
        )
    want, got = to_plain(plan.tree), to_plain(result.cfg)
    if not same_value(want, got):
        raise EditError(
            "the edit cannot be written without changing other values as well",
            differences(want, got),
        )


def differences(want: Any, got: Any, limit: int = 5) -> list[str]:
    """The keys whose values differ between two plain config trees (``want`` is what was asked)."""
    a, b = dict(keypath.walk(want)), dict(keypath.walk(got))
    out = []
    for path in [*a, *(p for p in b if p not in a)]:
        if isinstance(a.get(path), (dict, list, tuple)) and isinstance(b.get(path), (dict, list, tuple)):
            continue
        if path in a and path in b and same_value(a[path], b[path]):
            continue
        shown_a = repr(a[path]) if path in a else "(unset)"
        shown_b = repr(b[path]) if path in b else "(unset)"
        out.append(f"`{format_path(path)}` would be {shown_b} instead of {shown_a}")
        if len(out) == limit:
            break
    return out


def _shown(plan: Plan) -> list[Change]:
    """The changes as the outcome shows them: an old value from an environment variable named,
    never shown."""
    mask = EnvMask.of(plan.config)
    return [
        replace(c, old=mask.value(c.old, origin_at(plan.config.tree, c.path))) if c.old is not MISSING else c
        for c in plan.changes
    ]


def _write_and_verify(files: list[FileChange], check_path: str, plan: Plan) -> None:
    done: list[FileChange] = []
    try:
        for fc in files:
            atomic_write(fc.path, fc.new, expected=None if fc.created else fc.old, new_file=fc.created)
            done.append(fc)
    except BaseException:
        _put_back(done)
        raise
    # A file another program changed after it was written is checked as losstune wrote it.
    changed_since = {fc.path: fc.new for fc in done if not holds(fc.path, fc.new)}
    result = Resolver(overlay=changed_since).resolve(check_path)
    if result.cfg is not None and same_value(to_plain(result.cfg), to_plain(plan.tree)):
        return
    left = _put_back(done)
    message = "after writing, the config did not resolve to the requested values; please report this with the config"
    if left:
        shown = ", ".join(f"`{paths.shown(fc.path)}`" for fc in left)
        raise EditError(message, after=f"{shown} had been changed by another program since and was left as it is")
    raise EditError(message, after="every file was put back as it was")


def _put_back(done: list[FileChange]) -> list[FileChange]:
    """Undo the writes of ``done`` (latest first); the files that had changed again and were left."""
    return [fc for fc in reversed(done) if not restore(fc.path, fc.old, fc.new, fc.created)]


def _as_new_file(cfg: LoadedConfig, path: str, out: str, written: Written) -> FileChange:
    """The edited config written to ``out``, with ``_base_`` paths made relative to its folder."""
    src = next(s for p, s in cfg.sources.items() if os.path.abspath(p) == os.path.abspath(path))
    text = written.files[os.path.abspath(path)].new if os.path.abspath(path) in written.files else src.original
    text = _rebase(path, out, text)
    if os.path.lexists(out):
        raise EditError(f"`{out}` exists already; choose a new file name")
    return FileChange(os.path.abspath(out), "", text, created=True)


def _rebase(path: str, out: str, text: str) -> str:
    old_dir = os.path.dirname(os.path.abspath(path))
    new_dir = os.path.dirname(os.path.abspath(out))

    def moved(entry: object) -> object:
        if not isinstance(entry, str) or "::" in entry or os.path.isabs(entry):
            return entry
        rel = os.path.relpath(os.path.normpath(os.path.join(old_dir, entry)), new_dir)
        return rel if rel.startswith(".") else f"./{rel}"

    src = SourceText.plain(path, text)
    if path.endswith(".py"):
        module = pysource.parse_quietly(text)
        edits = []
        for stmt in module.body:
            if pyast.is_base_assignment(stmt):
                for node in ast.walk(stmt.value):
                    if isinstance(node, ast.Constant) and isinstance(node.value, str):
                        span = src.span_bytes(
                            node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0
                        )
                        s, e = src.offsets(span)
                        edits.append(TextEdit(s, e, python_literal(moved(node.value))))
                break
        return apply_edits(text, edits)
    from losstune.loader.jsonread import read_json
    from losstune.loader.yamlread import read_yaml

    data = read_json(src, []) if path.endswith(".json") else read_yaml(src, [])
    if not isinstance(data, LDict) or "_base_" not in data:
        return text
    base = data["_base_"]
    new = [moved(b) for b in base] if isinstance(base, list) else moved(base)
    origin = data.origins["_base_"]
    s, e = src.offsets(origin.span)
    literal = json_literal(new) if path.endswith(".json") else yaml_literal(new)
    return apply_edits(text, [TextEdit(s, e, literal)])
