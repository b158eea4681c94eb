"""Expressions: literals, names, operators, items and attributes, as Python evaluates them on
config values (calls and comprehensions have their own modules)."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from losstune.loader.lazyref import LazyRef
from losstune.loader.pybuiltins import (
    PURE_MODULE_FUNCTIONS,
    ModuleRef,
    binary,
    compare,
    config_dict_union,
    is_config_dict_attribute,
    is_in,
    is_not_in,
    length,
    method_of,
    number_attribute,
    python_type,
)
from losstune.loader.pycore import CODE, PLAIN, Core, type_name
from losstune.loader.pyerrors import NoAttribute, PyError, Unsupported
from losstune.loader.pyformat import convert, format_value
from losstune.loader.values import Dropped, LDict, Opaque

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}

_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: is_in,
    ast.NotIn: is_not_in,
}

_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
    ast.Invert: operator.invert,
}


def is_known_module(name: str) -> bool:
    """Whether ``name`` is a module (or function) whose pure functions a config may call."""
    return name in PURE_MODULE_FUNCTIONS or any(f.startswith(name + ".") for f in PURE_MODULE_FUNCTIONS)


class Expressions(Core):
    """The value of each expression that is not a call or a comprehension."""

    def _eval_NamedExpr(self, node: ast.NamedExpr) -> Any:
        value = self.eval(node.value)
        # Bound in the scope that holds the expression: never a comprehension's own.
        self.globals.set(node.target.id, value, self.origin(node.value))
        return value

    def _eval_JoinedStr(self, node: ast.JoinedStr) -> Any:
        parts: list[str] = []
        total = 0
        for value in node.values:
            part = self.eval(value)
            if isinstance(part, Opaque):
                return part
            total += len(part)
            self.budget.sized(total, "string")
            parts.append(part)
        return "".join(parts)

    def _eval_FormattedValue(self, node: ast.FormattedValue) -> Any:
        value = self.eval(node.value)
        if isinstance(value, Opaque):
            return value
        if node.conversion in (ord("r"), ord("s"), ord("a")):
            value = convert(self.budget, value, chr(node.conversion))
        spec = ""
        if node.format_spec is not None:
            spec = self.eval(node.format_spec)
            if isinstance(spec, Opaque):
                return spec
        return format_value(self.budget, value, spec)

    def _eval_Name(self, node: ast.Name) -> Any:
        value = self.lookup(node)
        if isinstance(value, Dropped):
            if is_known_module(value.name):
                return ModuleRef(value.name)
            raise Unsupported(f"`{node.id}` is a module or function defined in the config")
        return value

    def _eval_List(self, node: ast.List) -> Any:
        return self._elements(node.elts)

    def _eval_Tuple(self, node: ast.Tuple) -> Any:
        elts = self._elements(node.elts)
        return elts if isinstance(elts, Opaque) else tuple(elts)

    def _eval_Set(self, node: ast.Set) -> Any:
        elts = self._elements(node.elts)
        return elts if isinstance(elts, Opaque) else set(elts)

    def _elements(self, elts: list[ast.expr]) -> Any:
        out: list[Any] = []
        for elt in elts:
            if isinstance(elt, ast.Starred):
                value = self.eval(elt.value)
                if isinstance(value, Opaque):
                    return value
                self.budget.sized(len(out) + length(value), "list")
                out.extend(value)
            else:
                out.append(self.eval(elt))
        return out

    def _eval_Dict(self, node: ast.Dict) -> Any:
        out = LDict()
        out.span = self.span(node)
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                value = self.eval(v)
                if isinstance(value, Opaque):
                    return value
                self._update_from(out, value, v)
            else:
                key = self.eval(k)
                if isinstance(key, Opaque):
                    return key
                out.set(key, self.eval(v), self.origin(v))
        return out

    def _update_from(self, out: LDict, value: Any, node: ast.expr) -> None:
        if not isinstance(value, dict):
            raise PyError(f"TypeError: '{type_name(value)}' object is not a mapping")
        self.budget.charge(len(value))
        fallback = self.origin(node)
        for k, v in value.items():
            origin = value.origins.get(k, fallback) if isinstance(value, LDict) else fallback
            out.set(k, v, origin)

    def _eval_BinOp(self, node: ast.BinOp) -> Any:
        left = self.eval(node.left)
        right = self.eval(node.right)
        return self._binop(node, _BINOPS[type(node.op)], left, right)

    @staticmethod
    def _unknown_operand(left: Any, right: Any, doing: str) -> Opaque | None:
        """The operand that is not known (the left one first), if any; an operand that is a
        function or module is not something a config can compute with (``doing`` says what)."""
        if isinstance(left, Opaque):
            return left
        if isinstance(right, Opaque):
            return right
        if isinstance(left, CODE) or isinstance(right, CODE):
            raise Unsupported(doing)
        return None

    def _binop(self, node: ast.AST, op: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
        unknown = self._unknown_operand(left, right, "an operation on a function or module")
        if unknown is not None:
            return unknown
        if op in (operator.or_, operator.ior) and isinstance(left, dict) and isinstance(right, dict):
            union = config_dict_union(self.budget, op, left, right)
            if union is not None:
                return union
        result = binary(self.budget, op, left, right)
        if isinstance(result, dict) and not isinstance(result, LDict):
            out = LDict(result)
            for side in (left, right):
                if isinstance(side, LDict):
                    out.origins.update({k: o for k, o in side.origins.items() if k in out})
            return out
        return result

    def _eval_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.eval(node.operand)
        if isinstance(operand, Opaque):
            return operand
        if isinstance(operand, CODE):
            raise Unsupported("an operation on a function or module")
        return _UNARY[type(node.op)](operand)

    def _eval_BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for sub in node.values:
            value = self.eval(sub)
            if isinstance(value, Opaque):
                return value
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _eval_Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comp)
            unknown = self._unknown_operand(left, right, "comparing a function or module")
            if unknown is not None:
                return unknown
            ok = compare(self.budget, _CMPOPS[type(op)], left, right)
            if not ok:
                return False
            left = right
        return True

    def _eval_IfExp(self, node: ast.IfExp) -> Any:
        test = self.eval(node.test)
        if isinstance(test, Opaque):
            return test
        return self.eval(node.body if test else node.orelse)

    def _eval_Subscript(self, node: ast.Subscript) -> Any:
        container = self.eval(node.value)
        key = self.eval(node.slice)
        if isinstance(container, Opaque):
            return container
        if isinstance(key, Opaque):
            return key
        if isinstance(container, CODE):
            raise Unsupported("an item of a function or module")
        value = container[key]
        if isinstance(key, slice):
            self.budget.work(len(value))
        return value

    def _eval_Slice(self, node: ast.Slice) -> Any:
        parts = [None if p is None else self.eval(p) for p in (node.lower, node.upper, node.step)]
        for p in parts:
            if isinstance(p, Opaque):
                return p
        return slice(*parts)

    def _eval_Attribute(self, node: ast.Attribute) -> Any:
        obj = self._eval_chain(node.value)
        if isinstance(obj, Opaque):
            return obj
        return self.attribute(obj, node.attr)

    @staticmethod
    def attribute(obj: Any, name: str) -> Any:
        """``obj.name`` for a known ``obj``: :class:`NoAttribute` where Python finds no such
        attribute, ``Unsupported`` where it finds one that a config may not use."""
        if isinstance(obj, ModuleRef):
            return ModuleRef(f"{obj.name}.{name}")
        if isinstance(obj, LazyRef):
            return obj.get_attr(name)
        if name.startswith("_") and not (isinstance(obj, LDict) and obj.config_dict):
            raise Unsupported(f"access to the private attribute `{name}`")
        method = method_of(obj, name)
        if method is not None:
            return method
        found, value = number_attribute(obj, name)
        if found:
            return value
        if isinstance(obj, LDict) and obj.config_dict:
            # A name the class defines is found before a key (as `ConfigDict.__getattr__` is
            # only asked for what the class does not have).
            if name in obj and not is_config_dict_attribute(name):
                return obj[name]
            if not is_config_dict_attribute(name):
                raise NoAttribute(f"AttributeError: 'ConfigDict' object has no attribute '{name}'")
        elif isinstance(obj, PLAIN) and not hasattr(python_type(obj), name):
            raise NoAttribute(f"AttributeError: '{type_name(obj)}' object has no attribute '{name}'")
        raise Unsupported(f"the attribute `{name}` of a {type_name(obj)}")

    def _eval_chain(self, node: ast.expr) -> Any:
        """Evaluate the head of ``a.b.c(...)`` letting an unsupported step fail the whole chain,
        so that the opaque value and its warning cover the full call, not just ``a``."""
        if isinstance(node, ast.Name):
            return self._eval_Name(node)
        if isinstance(node, ast.Attribute):
            return self._eval_Attribute(node)
        return self.eval(node)
