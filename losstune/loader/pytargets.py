"""Assignment targets: binding a value to a name, an unpacked tuple, an item or an attribute, as
Python does; augmented assignment and ``del``; and which names a statement binds or changes."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from losstune.loader.pyast import BASE_KEY
from losstune.loader.pybuiltins import expandable, goes_through
from losstune.loader.pycore import Fail, type_name
from losstune.loader.pyerrors import PYTHON_ERRORS, python_message
from losstune.loader.pyexpr import Expressions
from losstune.loader.values import LDict, Opaque, hook
from losstune.model import Origin

_IBINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.iadd,
    ast.Sub: operator.isub,
    ast.Mult: operator.imul,
    ast.Div: operator.itruediv,
    ast.FloorDiv: operator.ifloordiv,
    ast.Mod: operator.imod,
    ast.Pow: operator.ipow,
    ast.MatMult: operator.imatmul,
    ast.BitOr: operator.ior,
    ast.BitAnd: operator.iand,
    ast.BitXor: operator.ixor,
    ast.LShift: operator.ilshift,
    ast.RShift: operator.irshift,
}
MUTATORS = frozenset("append extend insert pop remove sort reverse clear update setdefault merge".split())
"""Methods that change the value they are called on."""


class Targets(Expressions):
    """What assigning to, changing and deleting a target does."""

    def assign(self, target: ast.expr, value: Any, origin: Origin | None) -> None:
        if isinstance(target, ast.Name):
            self._bind_name(target.id, value, origin)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Opaque):
                for elt in target.elts:
                    self.assign(elt, value, origin)
                return
            goes_through(self.budget, value)
            try:
                values = list(value)
            except TypeError:
                raise Fail(target, f"TypeError: cannot unpack non-iterable {type_name(value)} object") from None
            starred = [i for i, e in enumerate(target.elts) if isinstance(e, ast.Starred)]
            if len(starred) == 1:
                i = starred[0]
                after = len(target.elts) - i - 1
                if len(values) < len(target.elts) - 1:
                    raise Fail(
                        target,
                        f"ValueError: not enough values to unpack (expected at least {len(target.elts) - 1}, got {len(values)})",
                    )
                rest = values[i : len(values) - after]
                values = [*values[:i], rest, *values[len(values) - after :]]
                target_elts = [e.value if isinstance(e, ast.Starred) else e for e in target.elts]
                for elt, v in zip(target_elts, values, strict=True):
                    self.assign(elt, v, origin)
                return
            if len(values) != len(target.elts):
                raise Fail(target, f"ValueError: expected {len(target.elts)} values to unpack, got {len(values)}")
            for elt, v in zip(target.elts, values, strict=True):
                self.assign(elt, v, origin)
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value)
            key = self.eval(target.slice)
            if isinstance(container, Opaque) or isinstance(key, Opaque):
                return
            if isinstance(container, LDict):
                if container.config_dict:
                    expandable(self.budget, value)
                    value = hook(value)
                container.set(key, value, origin)
            elif isinstance(container, list):
                if isinstance(key, slice):
                    goes_through(self.budget, value)
                container[key] = value
            else:
                raise Fail(target, f"TypeError: '{type_name(container)}' object does not support item assignment")
        elif isinstance(target, ast.Attribute):
            container = self.eval(target.value)
            if isinstance(container, Opaque):
                return
            if isinstance(container, LDict) and container.config_dict:
                expandable(self.budget, value)
                container.set(target.attr, hook(value), origin)
            else:
                raise Fail(
                    target,
                    f"AttributeError: '{type_name(container)}' object has no attribute '{target.attr}'",
                )
        elif isinstance(target, ast.Starred):
            self._opaque(target, "starred assignment")
        else:
            self._opaque(target, "this assignment target")

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        op = _IBINOPS[type(stmt.op)]
        target = stmt.target
        rhs = self.eval(stmt.value)
        if isinstance(target, ast.Name):
            current = self.lookup(target)
            self._bind_name(target.id, self._binop(stmt, op, current, rhs), self.origin(stmt))
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            current = self.eval(target)
            self.assign(target, self._binop(stmt, op, current, rhs), self.origin(stmt))
        else:
            self._opaque(stmt, "this augmented assignment")

    def delete(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            scope = self.scopes[-1] if self.scopes else self.globals
            if target.id not in scope:
                raise Fail(target, f"NameError: name '{target.id}' is not defined")
            del scope[target.id]
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value)
            key = self.eval(target.slice)
            if isinstance(container, Opaque) or isinstance(key, Opaque):
                return
            try:
                del container[key]
            except PYTHON_ERRORS as e:
                raise Fail(target, python_message(e)) from None
        elif isinstance(target, ast.Attribute):
            container = self.eval(target.value)
            if isinstance(container, Opaque):
                return
            if isinstance(container, LDict) and container.config_dict and target.attr in container:
                del container[target.attr]
            else:
                raise Fail(target, f"AttributeError: {target.attr}")
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.delete(elt)
        else:
            self._opaque(target, "this `del` target")


def affected_names(stmt: ast.stmt, walrus: bool) -> list[str]:
    """The names a statement that stopped half way may have left half-changed: those a simple
    statement assigns (and binds with ``:=``, when ``walrus`` says the file may have one); for a
    compound one (a loop...), every name assigned or changed inside it (``d[k] = v``,
    ``d.update(...)``)."""
    if not isinstance(stmt, (ast.For, ast.While, ast.If, ast.With, ast.Try)):
        assigned = assigned_names(stmt)
        return assigned + walrus_names(stmt) if walrus else assigned
    names: list[str] = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            root = root_name(node)
            if root is not None:
                names.append(root)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
            root = root_name(node.func.value)
            if root is not None:
                names.append(root)
    return list(dict.fromkeys(n for n in names if n != BASE_KEY))


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


def root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
