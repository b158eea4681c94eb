"""``losstune set`` as a library call: plan, check, write, verify."""

from __future__ import annotations

import ast
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from losstune.config import LoadedConfig
from losstune.edit.apply import atomic_write, check_writable, locked
from losstune.edit.inheritors import find_inheritors
from losstune.edit.plan import Change, EditError, Plan, plan_edits
from losstune.edit.pywrite import TextEdit, apply_edits
from losstune.edit.values import Assignment, json_literal, python_literal, yaml_literal
from losstune.edit.write import FileChange, Written, plan_files
from losstune.model import ConfigError, Severity
from losstune.resolve import Resolver, display_path
from losstune.schema import Schema
from losstune.settings import Settings
from losstune.source import SourceText
from losstune.values import LDict, to_plain


@dataclass
class SetOutcome:
    """What an edit changed (or would change, with ``dry_run``)."""

    config: str
    changes: list[Change]
    files: list[FileChange]
    notes: list[str] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)
    # With --in-base: the folder searched for the configs that inherit the edited files, and a
    # sentence for each file that could not be checked.
    scanned: str | None = None
    unchecked: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: bool = False


def _load(path: str) -> LoadedConfig:
    result = Resolver().resolve(path)
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if result.cfg is None or errors:
        raise ConfigError(errors or result.diagnostics)
    if result.imported is not None:
        raise EditError("new-style (read_base) configs cannot be edited by losstune yet; edit the file by hand")
    return LoadedConfig(result)


@contextlib.contextmanager
def _locks(paths: list[str]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for p in sorted({os.path.abspath(p) for p in paths}):
            stack.enter_context(locked(p))
        yield


def _plan(
    path: str, assignments: list[Assignment], schema: Schema, settings: Settings, in_base: bool
) -> tuple[Plan, Written]:
    plan = plan_edits(_load(path), assignments, schema, settings)
    return plan, plan_files(plan, path, in_base)


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
    ``in_base``, ``scan`` is the folder searched for the configs that inherit the edited files."""
    if out is not None and in_base:
        raise EditError("--in-base and -o cannot be combined: -o writes a new config")
    if scan is not None and not in_base:
        raise EditError("--scan names the folder that --in-base searches; add --in-base, or leave --scan out")
    if scan is not None and not os.path.isdir(scan):
        raise EditError(f"--scan {scan}: not a folder; name the folder to search for configs that use the edited base")
    with locked(path):
        plan, written = _plan(path, assignments, schema, settings, in_base)
        others = [f for f in written.files if os.path.abspath(f) != os.path.abspath(path)]
        with _locks(others):
            if others:  # another writer may have changed them while we waited: plan again
                plan, written = _plan(path, assignments, schema, settings, in_base)
            files = list(written.files.values())
            if out is not None:
                files = [_as_new_file(plan.config, path, out, written)]
            for fc in files:
                problem = check_writable(fc.path)
                if problem:
                    raise EditError(f"{problem}; nothing was changed")
            outcome = SetOutcome(
                display_path(path), plan.changes, files, plan.notes + written.notes, warnings=plan.warnings
            )
            if in_base:
                users = find_inheritors(path, [f.path for f in files], scan)
                outcome.affected = [display_path(f) for f in users.configs]
                outcome.scanned, outcome.unchecked = display_path(users.root), users.unchecked
            if dry_run:
                return outcome
            _write_and_verify(files, out or path, plan)
            outcome.written = True
            return outcome


def _write_and_verify(files: list[FileChange], check_path: str, plan: Plan) -> None:
    done: list[FileChange] = []
    try:
        for fc in files:
            atomic_write(fc.path, fc.new)
            done.append(fc)
        result = Resolver().resolve(check_path)
        if result.cfg is None or to_plain(result.cfg) != to_plain(plan.tree):
            raise EditError(
                "after writing, the config did not resolve to the requested values, so every file was "
                "restored; please report this with the config"
            )
    except BaseException:
        for fc in reversed(done):
            if fc.created:
                with contextlib.suppress(OSError):
                    os.unlink(fc.path)
            else:
                atomic_write(fc.path, fc.old)
        raise


def _as_new_file(cfg: LoadedConfig, path: str, out: str, written: Written) -> FileChange:
    """The edited config written to ``out``, with ``_base_`` paths made relative to its folder."""
    src = next(s for p, s in cfg.sources.items() if os.path.abspath(p) == os.path.abspath(path))
    text = written.files[os.path.abspath(path)].new if os.path.abspath(path) in written.files else src.original
    text = _rebase(path, out, text)
    if os.path.exists(out):
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
        module = ast.parse(text)
        edits = []
        for stmt in module.body:
            if (
                isinstance(stmt, ast.Assign)
                and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id == "_base_"
            ):
                for node in ast.walk(stmt.value):
                    if isinstance(node, ast.Constant) and isinstance(node.value, str):
                        span = src.span_bytes(
                            node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0
                        )
                        s, e = src.offset(span.line, span.column), src.offset(span.end_line, span.end_column)
                        edits.append(TextEdit(s, e, python_literal(moved(node.value))))
                break
        return apply_edits(text, edits)
    from losstune.jsonread import read_json
    from losstune.yamlread import read_yaml

    data = read_json(src, []) if path.endswith(".json") else read_yaml(src, [])
    if not isinstance(data, LDict) or "_base_" not in data:
        return text
    base = data["_base_"]
    new = [moved(b) for b in base] if isinstance(base, list) else moved(base)
    origin = data.origins["_base_"]
    s, e = src.offset(origin.span.line, origin.span.column), src.offset(origin.span.end_line, origin.span.end_column)
    literal = json_literal(new) if path.endswith(".json") else yaml_literal(new)
    return apply_edits(text, [TextEdit(s, e, literal)])
