"""Assignment targets: binding a value to a name, an unpacked tuple, an item or an attribute, as
Python does; augmented assignment and ``del``; and what a block that is not run leaves unknown
(the names and values :mod:`~losstune.loader.pyeffects` says it may change)."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Hashable
from typing import Any

from losstune.loader.pyast import BASE_KEY
from losstune.loader.pybuiltins import expandable, goes_through, is_config_dict_attribute
from losstune.loader.pycore import CODE, Fail, type_name
from losstune.loader.pyeffects import Effects, root
from losstune.loader.pyerrors import PYTHON_ERRORS, python_message
from losstune.loader.pyexpr import Expressions
from losstune.loader.values import LDict, Opaque, hook
from losstune.model import Origin, Span

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
            self.changed_in_place = True
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
            self.changed_in_place = True
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
        self.changed_in_place = True
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
            self.changed_in_place = True
            container = self.eval(target.value)
            key = self.eval(target.slice)
            if isinstance(container, Opaque) or isinstance(key, Opaque):
                return
            try:
                del container[key]
            except PYTHON_ERRORS as e:
                raise Fail(target, python_message(e)) from None
        elif isinstance(target, ast.Attribute):
            self.changed_in_place = True
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

    # -- what a block that is not run leaves unknown ------------------------------------------

    def forget(self, found: Effects, reason: str, span: Span) -> None:
        """Make unknown (``reason``, reported at ``span``) everything ``found`` says a block may
        change, each value with the place in the block that may set it as its origin. The changed
        values are found with the names' values before the block, so that a value the block
        changes through a name it also binds is not missed; then the names."""
        self.changed_in_place = True
        for change in found.changes:
            origin = self._may_set(change.at)
            if change.kind == "slot":
                self._forget_slot(change.node, reason, span, origin)  # type: ignore[arg-type]
            elif change.keys is not None:
                self._forget_keys(change.node, change.keys, reason, span, origin)
            else:
                self._forget_object_at(change.node, reason, span, origin)
        for name in found.names:
            self._bind_name(name, Opaque(reason, name, span), self._may_set(found.bound_at[name]))

    def _may_set(self, node: ast.AST) -> Origin:
        span = self.span(node)
        return Origin(span, "expression", self.src.segment(span))

    def _forget_slot(self, node: ast.Subscript | ast.Attribute, reason: str, span: Span, origin: Origin) -> None:
        """The item or attribute ``node`` may be set or deleted."""
        container = self._quiet(node.value)
        key = node.attr if isinstance(node, ast.Attribute) else self._quiet(node.slice)
        unknown = Opaque(reason, self.src.segment(self.span(node)), span)
        if key is not _NOTHING and isinstance(container, LDict):
            if (isinstance(node, ast.Subscript) or container.config_dict) and _hashable(key):
                container.set(key, unknown, origin)
                return
        elif isinstance(container, list) and type(key) is int and -len(container) <= key < len(container):
            container[key] = unknown
            return
        self._forget_object_at(node.value, reason, span, origin)

    def _forget_keys(self, node: ast.expr, keys: tuple[Hashable, ...], reason: str, span: Span, origin: Origin) -> None:
        """The dict ``node`` may change at ``keys``."""
        obj = self._quiet(node)
        if not isinstance(obj, LDict):
            self._forget_object_at(node, reason, span, origin)
            return
        text = self.src.segment(self.span(node))
        for key in keys:
            obj.set(key, Opaque(reason, f"{text}[{key!r}]", span), origin)

    def _forget_object_at(self, node: ast.expr, reason: str, span: Span, origin: Origin) -> None:
        """The value ``node`` evaluates to may change anywhere: every reference to it (in the
        file's names and in ``_base_``) becomes unknown; where it is not known, the place it is
        read from does."""
        obj = self._quiet(node)
        unknown = Opaque(reason, self.src.segment(self.span(node)), span)
        if isinstance(obj, (dict, list)):
            self._replace_everywhere(obj, unknown, origin)
        elif isinstance(node, ast.Name):
            if node.id != BASE_KEY:
                self._bind_name(node.id, unknown, origin)
        elif isinstance(node, (ast.Subscript, ast.Attribute)):
            self._forget_slot(node, reason, span, origin)
        else:  # `x.get(k).update(...)`: a value somewhere inside `x`
            name = root(node)
            if name is not None:
                self._forget_object_at(name, reason, span, origin)

    def _replace_everywhere(self, obj: dict[Any, Any] | list[Any], unknown: Opaque, origin: Origin) -> None:
        roots: list[Any] = [self.globals] if self.base is None else [self.globals, self.base]
        seen: set[int] = set()
        stack = roots
        while stack:
            container = stack.pop()
            if id(container) in seen:
                continue
            seen.add(id(container))
            self.budget.charge(len(container))
            pairs = list(container.items() if isinstance(container, dict) else enumerate(container))
            for key, value in pairs:
                if value is obj and not isinstance(container, tuple):
                    if isinstance(container, LDict):
                        container.set(key, unknown, origin)
                    else:
                        container[key] = unknown
                elif isinstance(value, (dict, list, tuple)):
                    stack.append(value)

    def _quiet(self, node: ast.expr) -> Any:
        """The value now of a name, or of items and attributes of it with constant or name keys,
        found without a diagnostic; ``_NOTHING`` where it is not known."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            try:
                value = self.lookup(node)
            except Fail:
                return _NOTHING
        elif isinstance(node, ast.Attribute):
            obj = self._quiet(node.value)
            name = node.attr
            if not (isinstance(obj, LDict) and obj.config_dict and name in obj and not is_config_dict_attribute(name)):
                return _NOTHING
            value = obj[name]
        elif isinstance(node, ast.Subscript):
            obj = self._quiet(node.value)
            key = self._quiet(node.slice)
            if not isinstance(obj, (dict, list, tuple)) or key is _NOTHING or not _hashable(key):
                return _NOTHING
            try:
                value = obj[key]
            except (LookupError, TypeError):
                return _NOTHING
        else:
            return _NOTHING
        return _NOTHING if isinstance(value, (Opaque, *CODE)) else value


_NOTHING: Any = object()


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True
