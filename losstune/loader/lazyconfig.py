"""New-style ("pure Python") configs, resolved like mmengine's ``Config._parse_lazy_import``.

Such a config inherits with ``with read_base(): from .._base_.models.retinanet_r50_fpn import *``
and names classes by importing them (``type=FocalLoss``). mmengine never imports those classes: it
binds each imported name to a ``LazyObject`` and writes ``'module.Name'`` strings in ``to_dict()``.
losstune does the same without running anything: base configs are located by path and resolved
recursively (new-style all the way down), their names are bound before the file runs (``import *``
binds them all), every other import becomes a :class:`~losstune.loader.lazyref.LazyRef`, and the names the
file imported are left out of the result, as ``Config.to_dict()`` leaves them out.
"""

from __future__ import annotations

import ast
import os
import re
from typing import TYPE_CHECKING

from losstune.loader import codes
from losstune.loader.lazyref import LazyRef
from losstune.loader.merge import base_copy
from losstune.loader.pkgfind import NotFound, PackageFinder, is_builtin_module
from losstune.loader.pyast import is_base_assignment, opens_read_base
from losstune.loader.pyeval import Interpreter
from losstune.loader.source import SourceText
from losstune.loader.values import Dropped, LDict, Opaque
from losstune.model import Span

if TYPE_CHECKING:
    from losstune.loader.resolve import FileResult, Resolver


def _error(result: FileResult, message: str, span: Span | None, fix: str) -> None:
    result.diagnostics.append(codes.diagnostic(codes.LAZY_CONFIG, message, span, fix=fix))


def _base_module_path(name: str, filename: str, packages: PackageFinder) -> str | None:
    """``_parse_lazy_import``'s location of a base module: relative to the file, or inside an
    installed package (found on disk, never imported). Raises :class:`NotFound` when the package
    cannot be found."""
    level = len(re.match(r"\.*", name).group())  # type: ignore[union-attr]
    if level > 0:
        ups = [".."] * (level - 1)
        return os.path.join(os.path.dirname(filename), *ups, f"{name[level:].replace('.', '/')}.py")
    module_list = name.split(".")
    if len(module_list) == 1:
        return None
    return f"{os.path.join(packages.installed_path(module_list[0]), *module_list[1:])}.py"


def resolve_lazy(resolver: Resolver, result: FileResult, src: SourceText, module: ast.Module) -> None:
    """Fill ``result`` (a new-style config) with its globals and the names it imported."""
    diagnostics = result.diagnostics
    # _get_base_modules: the first `with read_base():` block lists the bases; its imports run in place.
    body: list[ast.stmt] = []
    base_imports: list[ast.ImportFrom] = []
    seen_with = False
    for stmt in module.body:
        if not seen_with and is_base_assignment(stmt):
            _error(
                result,
                "a new-style config (with `read_base()` or package imports) cannot also use `_base_ = ...`",
                Span(src.path, stmt.lineno, stmt.col_offset + 1, stmt.lineno, stmt.col_offset + 1),
                fix="use either `_base_ = [...]` with no package imports, or `with read_base():` imports",
            )
            return
        if not seen_with and isinstance(stmt, ast.With):
            seen_with = True
            if not opens_read_base(stmt) or len(stmt.items) > 1:
                _error(
                    result,
                    "only `with read_base():` may appear in a config",
                    Span(src.path, stmt.lineno, 1, stmt.lineno, 1),
                    fix="remove this `with` block",
                )
                return
            for inner in stmt.body:
                if not isinstance(inner, ast.ImportFrom) or inner.module is None:
                    _error(
                        result,
                        "only `from ... import ...` of config modules may appear in `with read_base():`",
                        Span(src.path, inner.lineno, inner.col_offset + 1, inner.lineno, inner.col_offset + 1),
                        fix="move this statement out of the block",
                    )
                    return
                base_imports.append(inner)
                body.append(inner)
            continue
        body.append(stmt)

    base_dict: dict[str, LDict] = {}
    imported: set[str] = set()
    for node in base_imports:
        name = node.level * "." + (node.module or "")
        if name in base_dict:
            continue
        where = Span(
            src.path, node.lineno, node.col_offset + 1, node.end_lineno or node.lineno, (node.end_col_offset or 0) + 1
        )
        why = ""
        try:
            path = _base_module_path(name, result.path, resolver.packages)
        except NotFound as e:
            path, why = None, f": {e}"
        if path is None or not os.path.lexists(path):
            diagnostics.append(
                codes.diagnostic(
                    codes.MISSING_BASE,
                    f"the base config module `{name}` was not found"
                    + (f" (looked for `{os.path.abspath(path)}`)" if path else why),
                    where,
                    fix="correct the module path; a relative import is relative to this file's folder",
                    files=(os.path.abspath(path),) if path else (),
                )
            )
            continue
        sub = resolver.resolve_base(path, where, new_style=True)
        result.merge_from(sub)
        if sub.cfg is None:
            continue
        base_dict[name] = base_copy(sub.cfg, None)
        imported |= sub.imported or set()

    # _gather_abs_import_lazyobj: `import a.b` (not built in) binds `a` before anything runs.
    gathered: dict[str, list[str]] = {}
    for stmt in body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname is None and not is_builtin_module(alias.name, resolver.packages):
                    gathered.setdefault(alias.name.split(".")[0], []).append(alias.name)

    def handle(interp: Interpreter, stmt: ast.stmt) -> bool:
        if isinstance(stmt, ast.ImportFrom):
            mod = stmt.level * "." + (stmt.module or "")
            if is_builtin_module(mod, resolver.packages):
                # A real import for mmengine, left out of the result; bound here as a module name
                # that is only reported if the config uses it.
                for alias in stmt.names:
                    name = alias.asname or alias.name
                    imported.add(name)
                    interp.globals.set(name, Dropped(f"{mod}.{alias.name}"), None)
                return True
            if stmt in base_imports:
                return True  # bound before the file ran
            if mod in base_dict:
                _bind_from_base(interp, stmt, base_dict[mod])
                return True
            for alias in stmt.names:
                if alias.name == "*":
                    interp.exec_error(
                        stmt, f"`from {mod} import *` is only allowed for base configs in `with read_base():`"
                    )
                    continue
                target = alias.asname or alias.name
                interp.globals.set(target, LazyRef(mod, alias.name), interp.origin(stmt))
                imported.add(target)
            return True
        if isinstance(stmt, ast.Import):
            if len(stmt.names) > 1:
                _error(
                    result,
                    "AssertionError: Illegal syntax in config! import multiple modules in one line is not supported "
                    "(mmengine's words for `import a, b` in a new-style config)",
                    interp.span(stmt),
                    fix="import one module per line",
                )
                for alias in stmt.names:
                    name = alias.asname or alias.name.split(".")[0]
                    imported.add(name)
                    interp.globals.set(name, Dropped(alias.name), None)
                return True
            alias = stmt.names[0]
            if alias.asname is not None:
                imported.add(alias.asname)
                if is_builtin_module(alias.name.split(".")[0], resolver.packages):
                    interp.globals.set(alias.asname, Dropped(alias.name), None)
                    return True
                interp.globals.set(alias.asname, LazyRef(alias.name), interp.origin(stmt))
                return True
            return not is_builtin_module(alias.name, resolver.packages)
        return False

    interp = Interpreter(src, None, diagnostics, import_handler=handle)
    for node in base_imports:
        mod = node.level * "." + (node.module or "")
        if mod in base_dict:
            _bind_from_base(interp, node, base_dict[mod])
    for top in reversed(list(gathered)):
        interp.globals.set(top, LazyRef(tuple(gathered[top])), None)
    imported |= set(gathered)
    interp.globals.set("__file__", result.path, None)
    interp.run(body)
    cfg = interp.globals
    for k in list(cfg.keys()):
        if isinstance(k, str) and k.startswith("__"):
            del cfg[k]
        elif isinstance(cfg[k], Dropped):
            cfg[k] = Opaque(f"the module or function {cfg[k].name}", str(k), None)
    result.cfg = cfg
    result.imported = frozenset(imported)


def _bind_from_base(interp: Interpreter, stmt: ast.ImportFrom, base: LDict) -> None:
    for alias in stmt.names:
        if alias.name == "*":
            for k, v in base.items():
                interp.globals.set(k, v, base.origins.get(k))
            return
        if alias.name not in base:
            interp.exec_error(stmt, f"ImportError: cannot import name '{alias.name}' from the base config")
            continue
        interp.globals.set(alias.asname or alias.name, base[alias.name], base.origins.get(alias.name))
