"""The questions losstune asks of a config's Python syntax tree, answered in one place.

Is a statement ``_base_ = ...`` or ``with read_base():``? Is a file a new-style config (mmengine's
``_is_lazy_import``, with :func:`~losstune.loader.pkgfind.is_builtin_module`), does its code read
``_base_``? Which of its statements can compiling not fail? The questions about a whole module
are answered by :func:`examine`, which walks the tree once, meeting the statements in
``ast.walk``'s order (breadth first), as mmengine's own checks do.
"""

from __future__ import annotations

import ast
from typing import TypeGuard

from msgspec import Struct

from losstune.loader.pkgfind import PackageFinder, is_builtin_module
from losstune.loader.pycompile import reads_when_plain

BASE_KEY = "_base_"
READ_BASE = "read_base"

# Fields that never hold a node, or only the shared leaf nodes of contexts and operators: the walk
# skips them (the nodes it yields, and their order, are those of ``ast.walk`` less those leaves).
_NOT_CHILDREN = frozenset(
    (
        "ctx",
        "op",
        "ops",
        "id",
        "arg",
        "attr",
        "kind",
        "type_comment",
        "conversion",
        "is_async",
        "simple",
        "level",
        "module",
    )
)
_CHILD_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {}


def is_base_assignment(stmt: ast.AST) -> TypeGuard[ast.Assign]:
    """Whether ``stmt`` is ``_base_ = ...`` (its first target the name ``_base_``), as mmengine
    recognises the list of bases."""
    return isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == BASE_KEY


def opens_read_base(stmt: ast.stmt) -> bool:
    """Whether ``stmt`` is a ``with`` block whose first item calls ``read_base()``."""
    if not isinstance(stmt, ast.With):
        return False
    call = stmt.items[0].context_expr
    return isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == READ_BASE


class ModuleFacts(Struct, frozen=True):
    """What one walk over a module found: ``uses_base`` says whether the code reads the name
    ``_base_`` (besides assigning it)."""

    uses_base: bool
    # mmengine's `_is_lazy_import` stops at the first node that decides: the imports met before
    # that node (each decides "new-style" unless it is a built-in module) and that node's answer.
    lazy_imports: tuple[str, ...]
    lazy_otherwise: bool
    # The positions in the module's body of the statements that compiling cannot fail
    # (:func:`~losstune.loader.pycompile.cannot_fail`).
    cannot_fail: frozenset[int] = frozenset()

    def is_lazy(self, packages: PackageFinder | None = None) -> bool:
        """mmengine's ``_is_lazy_import``: whether the module is a new-style (pure Python) config,
        with the standard library standing for built-in modules."""
        for name in self.lazy_imports:
            if not is_builtin_module(name, packages):
                return True
        return self.lazy_otherwise


def _child_fields(cls: type[ast.AST]) -> tuple[str, ...]:
    fields = tuple(f for f in cls._fields if f not in _NOT_CHILDREN)
    _CHILD_FIELDS[cls] = fields
    return fields


def examine(module: ast.Module) -> ModuleFacts:
    """Walk ``module`` once and answer every question :class:`ModuleFacts` holds.

    Only statements decide ``_is_lazy_import``, in ``ast.walk``'s order (breadth first), and no
    statement lies inside an expression: the statements of the module's body come first, in
    order, then (only where none of them decides) the statements nested in them, found by a walk
    in the same order that does not go into expressions. Each statement of the body is walked
    once on its own for the rest: an assignment by the walk that decides whether compiling it can
    fail, which meets every node of its value where it cannot."""
    uses_base = False
    imports: list[str] = []
    decided: bool | None = None
    plain: list[int] = []
    for i, stmt in enumerate(module.body):
        if decided is None:
            decided = _lazy_step(stmt, imports)
        reads = reads_when_plain(stmt, BASE_KEY)
        if reads is not None:
            plain.append(i)
            uses_base = uses_base or reads
        elif not uses_base:
            uses_base = _reads_base(stmt)
    if decided is None:
        decided = _nested_lazy_step(module, imports)
    return ModuleFacts(uses_base, tuple(imports), bool(decided), frozenset(plain))


def _reads_base(root: ast.AST) -> bool:
    """Whether the name ``_base_`` is read anywhere in ``root``. The most common expressions
    (calls, attributes, dicts, lists, tuples) hand on only the expressions inside them, keyword
    arguments without their ``keyword`` nodes."""
    todo: list[ast.AST | None] = [root]
    pop, append, extend = todo.pop, todo.append, todo.extend
    while todo:
        node = pop()
        cls = type(node)
        if cls is ast.Constant:
            continue
        if cls is ast.Name:
            if node.id == BASE_KEY and isinstance(node.ctx, ast.Load):  # type: ignore[union-attr]
                return True
            continue  # a name has no children but its context
        if cls is ast.Call:
            append(node.func)  # type: ignore[union-attr]
            extend(node.args)  # type: ignore[union-attr]
            for keyword in node.keywords:  # type: ignore[union-attr]
                append(keyword.value)
            continue
        if cls is ast.Attribute:
            append(node.value)  # type: ignore[union-attr]
            continue
        if cls is ast.Dict:
            extend(node.keys)  # type: ignore[union-attr]  # None for `**mapping`, passed over
            extend(node.values)  # type: ignore[union-attr]
            continue
        if cls is ast.List or cls is ast.Tuple:
            extend(node.elts)  # type: ignore[union-attr]
            continue
        if node is None:
            continue
        kind = type(node)
        for name in _CHILD_FIELDS.get(kind) or _child_fields(kind):
            value = getattr(node, name, None)
            if value.__class__ is list:
                extend(v for v in value if isinstance(v, ast.AST))
            elif isinstance(value, ast.AST):
                append(value)
    return False


def _nested_lazy_step(module: ast.Module, imports: list[str]) -> bool | None:
    """:func:`_lazy_step` over the nodes below the module's body that may hold a statement, in
    ``ast.walk``'s order, until one decides (leaving out expressions, which hold none, keeps the
    order of the rest)."""
    todo: list[ast.AST] = []
    for stmt in module.body:
        _add_children(stmt, todo)
    i = 0
    while i < len(todo):
        node = todo[i]
        i += 1
        decided = _lazy_step(node, imports)
        if decided is not None:
            return decided
        _add_children(node, todo)
    return None


def _add_children(node: ast.AST, todo: list[ast.AST]) -> None:
    """The children of ``node`` that are not expressions, in ``ast.iter_child_nodes``' order."""
    kind = type(node)
    for name in _CHILD_FIELDS.get(kind) or _child_fields(kind):
        value = getattr(node, name, None)
        if value.__class__ is list:
            todo.extend(v for v in value if isinstance(v, ast.AST) and not isinstance(v, ast.expr))
        elif isinstance(value, ast.AST) and not isinstance(value, ast.expr):
            todo.append(value)


def _lazy_step(node: ast.AST, imports: list[str]) -> bool | None:
    """One node of ``_is_lazy_import``'s walk: its answer if the node decides it, else ``None``
    (with the modules an import names added to ``imports``, each deciding unless built in)."""
    if isinstance(node, ast.Assign):
        return False if is_base_assignment(node) else None
    if isinstance(node, ast.With):
        return True
    if isinstance(node, ast.ImportFrom):
        if node.level != 0:
            return True
        if node.module == "mmengine" and len(node.names) == 1 and node.names[0].name == "Config":
            return None
        if isinstance(node.module, str):
            imports.append(node.module)
        return None
    if isinstance(node, ast.Import):
        imports.extend(alias.name for alias in node.names)
    return None
