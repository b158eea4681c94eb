"""What statements may change when they run, read from their syntax alone.

A block whose running depends on a value losstune does not know (the condition of an ``if``, the
iterable of a ``for``) is not run; what it could have changed becomes unknown instead. This module
says what that is: the names the block binds or deletes (by assignment, augmented assignment,
``import``, ``def``, ``class``, a loop's target, ``except ... as``, ``with ... as``, a ``match``
pattern, ``:=``), the items and attributes it sets or deletes (``d[k] = v``, ``cfg.x = v``,
``del d[k]``), and the values it changes in place (``d.update(...)``, ``l.append(...)``), with the
keys such a call names where they are written as constants. Nested blocks count; the bodies of
functions and classes, and comprehensions' own variables, do not (they bind no name of the file).
"""

from __future__ import annotations

import ast
from collections.abc import Hashable, Iterable
from typing import Literal

from msgspec import Struct, field

from losstune.loader.pyast import BASE_KEY

MUTATORS = frozenset("append extend insert pop remove sort reverse clear update setdefault merge".split())
"""Methods that change the value they are called on."""

# Methods whose first argument (or the constant keys of the dict given) says which keys change.
_KEYED = frozenset(("update", "merge", "setdefault", "pop"))

ChangeKind = Literal["slot", "object"]


class Change(Struct, frozen=True):
    """A value changed in place, by the statement or call ``at``. ``slot``: the item or attribute
    ``node`` (``d[k]``, ``cfg.x``) is set or deleted. ``object``: the value ``node`` evaluates to
    is changed by a method, at the ``keys`` given (``None``: anywhere in it)."""

    node: ast.expr
    kind: ChangeKind
    at: ast.AST
    keys: tuple[Hashable, ...] | None = None


class Effects(Struct):
    """What a block may change: ``names`` it binds or deletes and values it ``changes``, each in
    the order the source first names it."""

    names: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    # Where each name is first bound.
    bound_at: dict[str, ast.AST] = field(default_factory=dict)
    # Names and changes in source order, for the warning that lists them.
    described: list[str | Change] = field(default_factory=list)
    # Whether a `break` or `continue` in the block leaves a loop that holds the block.
    exits_loop: bool = False

    def name(self, name: str, at: ast.AST) -> None:
        if name != BASE_KEY and name not in self.bound_at:
            self.names.append(name)
            self.bound_at[name] = at
            self.described.append(name)

    def change(self, change: Change) -> None:
        self.changes.append(change)
        self.described.append(change)


def effects(stmts: Iterable[ast.stmt], targets: Iterable[ast.expr] = ()) -> Effects:
    """What running ``stmts`` may change; ``targets`` are bound first (a ``for`` loop's)."""
    found = Effects()
    for target in targets:
        _target(found, target)
    for stmt in stmts:
        _statement(found, stmt, in_loop=False)
    return found


def _statement(found: Effects, stmt: ast.stmt, in_loop: bool) -> None:
    kind = type(stmt)
    if kind is ast.Assign:
        _expression(found, stmt.value)  # type: ignore[attr-defined]
        for target in stmt.targets:  # type: ignore[attr-defined]
            _target(found, target)
    elif kind is ast.AugAssign or kind is ast.AnnAssign:
        value = stmt.value  # type: ignore[attr-defined]
        if value is not None:
            _expression(found, value)
        target = stmt.target  # type: ignore[attr-defined]
        if kind is ast.AugAssign and isinstance(target, (ast.Name, ast.Subscript, ast.Attribute)):
            # `l += [x]` changes the list itself (every name for it sees the change).
            _expression(found, target)
            found.change(Change(target, "object", stmt))
        if kind is ast.AugAssign or value is not None:
            _target(found, target)
    elif kind is ast.Delete:
        for target in stmt.targets:  # type: ignore[attr-defined]
            _target(found, target)
    elif kind in (ast.Import, ast.ImportFrom):
        for alias in stmt.names:  # type: ignore[attr-defined]
            if alias.name != "*":
                found.name(alias.asname or (alias.name.split(".")[0] if kind is ast.Import else alias.name), stmt)
    elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
        found.name(stmt.name, stmt)  # type: ignore[attr-defined]
    elif kind in (ast.For, ast.AsyncFor):
        _expression(found, stmt.iter)  # type: ignore[attr-defined]
        _target(found, stmt.target)  # type: ignore[attr-defined]
        _block(found, stmt.body, in_loop=True)  # type: ignore[attr-defined]
        _block(found, stmt.orelse, in_loop)  # type: ignore[attr-defined]
    elif kind is ast.While:
        _expression(found, stmt.test)  # type: ignore[attr-defined]
        _block(found, stmt.body, in_loop=True)  # type: ignore[attr-defined]
        _block(found, stmt.orelse, in_loop)  # type: ignore[attr-defined]
    elif kind is ast.If:
        _expression(found, stmt.test)  # type: ignore[attr-defined]
        _block(found, stmt.body, in_loop)  # type: ignore[attr-defined]
        _block(found, stmt.orelse, in_loop)  # type: ignore[attr-defined]
    elif kind in (ast.With, ast.AsyncWith):
        for item in stmt.items:  # type: ignore[attr-defined]
            _expression(found, item.context_expr)
            if item.optional_vars is not None:
                _target(found, item.optional_vars)
        _block(found, stmt.body, in_loop)  # type: ignore[attr-defined]
    elif kind in _TRY:
        _block(found, stmt.body, in_loop)  # type: ignore[attr-defined]
        for handler in stmt.handlers:  # type: ignore[attr-defined]
            if handler.name:
                found.name(handler.name, handler)
            _block(found, handler.body, in_loop)
        _block(found, stmt.orelse, in_loop)  # type: ignore[attr-defined]
        _block(found, stmt.finalbody, in_loop)  # type: ignore[attr-defined]
    elif kind is ast.Match:
        _expression(found, stmt.subject)  # type: ignore[attr-defined]
        for case in stmt.cases:  # type: ignore[attr-defined]
            for node in ast.walk(case.pattern):
                name = getattr(node, "name", None) or getattr(node, "rest", None)
                if isinstance(name, str):
                    found.name(name, node)
            _block(found, case.body, in_loop)
    elif kind is ast.Break or kind is ast.Continue:
        if not in_loop:
            found.exits_loop = True
    else:  # an expression statement, `return`, `raise`, `assert`...
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.expr):
                _expression(found, child)


_TRY: tuple[type[ast.stmt], ...] = (ast.Try, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))


def _block(found: Effects, body: list[ast.stmt], in_loop: bool) -> None:
    for stmt in body:
        _statement(found, stmt, in_loop)


def _target(found: Effects, target: ast.expr) -> None:
    if isinstance(target, ast.Name):
        found.name(target.id, target)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _target(found, element)
    elif isinstance(target, ast.Starred):
        _target(found, target.value)
    elif isinstance(target, (ast.Subscript, ast.Attribute)):
        _expression(found, target.value)
        if isinstance(target, ast.Subscript):
            _expression(found, target.slice)
        found.change(Change(target, "slot", target))


def _expression(found: Effects, node: ast.expr) -> None:
    """The names ``:=`` binds in ``node`` and the values its method calls change (a lambda's body
    is not run, but what it could change is counted too)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.NamedExpr):
            found.name(sub.target.id, sub)
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr in MUTATORS:
            found.change(Change(sub.func.value, "object", sub, _keys(sub)))


def _keys(call: ast.Call) -> tuple[Hashable, ...] | None:
    """The keys ``d.update(...)``, ``d.setdefault(k)``, ``d.pop(k)`` or ``cfg.merge(...)`` can
    change, where the call writes them as constants; ``None`` otherwise."""
    method = call.func.attr  # type: ignore[attr-defined]
    if method not in _KEYED:
        return None
    if method in ("setdefault", "pop"):
        if call.args and isinstance(call.args[0], ast.Constant) and not call.keywords:
            return (call.args[0].value,)
        return None
    keys: list[Hashable] = []
    if len(call.args) > 1:
        return None
    for arg in call.args:
        written = _written_keys(arg)
        if written is None:
            return None
        keys.extend(written)
    for keyword in call.keywords:
        if keyword.arg is None:
            return None
        keys.append(keyword.arg)
    if "_delete_" in keys:  # `merge` may then drop every key
        return None
    return tuple(dict.fromkeys(keys))


def _written_keys(node: ast.expr) -> list[Hashable] | None:
    """The keys of ``{'a': ...}`` or ``dict(a=...)`` written as constants."""
    if isinstance(node, ast.Dict):
        keys: list[Hashable] = []
        for key in node.keys:
            if not isinstance(key, ast.Constant):
                return None
            keys.append(key.value)
        return keys
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
        and all(k.arg is not None for k in node.keywords)
    ):
        return [k.arg for k in node.keywords if k.arg is not None]
    return None


def affected_names(stmt: ast.stmt, walrus: bool) -> list[str]:
    """The names a statement that stopped half way may have left half-changed: those a simple
    statement assigns (and binds with ``:=``, when ``walrus`` says the file may have one); for a
    compound one (a loop...), every name it binds, and the names of the values it changes
    (``d[k] = v``, ``d.update(...)``)."""
    if not isinstance(stmt, _COMPOUND):
        assigned = assigned_names(stmt)
        return assigned + walrus_names(stmt) if walrus else assigned
    found = effects([stmt])
    names = list(found.names)
    for change in found.changes:
        name = root(change.node)
        if name is not None:
            names.append(name.id)
    return list(dict.fromkeys(n for n in names if n != BASE_KEY))


_COMPOUND: tuple[type[ast.stmt], ...] = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.If,
    ast.With,
    ast.AsyncWith,
    ast.Match,
    *_TRY,
)


def assigned_names(stmt: ast.stmt) -> list[str]:
    """The names written in the targets of an assignment that are names, tuples or lists."""
    if type(stmt) is ast.Assign:
        targets = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    else:
        return []
    names: list[str] = []
    for t in targets:
        if type(t) is ast.Name:
            names.append(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            names.extend(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def walrus_names(stmt: ast.stmt) -> list[str]:
    """The names the ``:=`` inside a statement bind."""
    return [n.target.id for n in ast.walk(stmt) if isinstance(n, ast.NamedExpr)]


def root(node: ast.expr) -> ast.Name | None:
    """The name at the root of ``a.b[c].d`` (and of ``a.get(k).x``), if it is one."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node if isinstance(node, ast.Name) else None
