"""Calls: the arguments as Python binds them, then the built-in, the method or the pure module
function called, each only within the budget."""

from __future__ import annotations

import ast
from typing import Any

from losstune.loader.lazyref import LazyRef
from losstune.loader.pybuiltins import (
    BUILTIN_FUNCTIONS,
    BUILTIN_TYPES,
    PURE_MODULE_FUNCTIONS,
    BoundMethod,
    Builtin,
    ModuleRef,
    call_builtin,
    call_method,
    call_module_function,
    goes_through,
    has_attribute,
    python_type,
)
from losstune.loader.pycore import CODE, type_name
from losstune.loader.pyerrors import NoAttribute, PyError, Unsupported
from losstune.loader.pyexpr import Expressions
from losstune.loader.values import LDict, Opaque
from losstune.model import Origin

_DICT = Builtin("dict")


class Calls(Expressions):
    """The value of a call."""

    def _eval_Call(self, node: ast.Call) -> Any:
        if not node.args and self._is_builtin_dict(node.func):
            return self._dict_of_keywords(node)
        func = self._eval_chain(node.func)
        if isinstance(func, Opaque):
            return func
        args = self._elements(node.args)
        if isinstance(args, Opaque):
            return args
        kwargs: dict[str, Any] = {}
        origins: dict[Any, Origin] = {}
        for kw in node.keywords:
            value = self.eval(kw.value)
            if isinstance(value, Opaque) and kw.arg is None:
                return value
            if kw.arg is None:
                self._spread(func, value, kw.value, kwargs, origins)
            else:
                if kw.arg in kwargs:  # given by a `**` before it
                    self._keyword(func, kwargs, kw.arg)
                kwargs[kw.arg] = value
                origins[kw.arg] = self.origin(kw.value)
        if isinstance(func, Builtin):
            return self._call_builtin(node, func.name, args, kwargs, origins)
        if isinstance(func, LazyRef):
            raise PyError(f"RuntimeError: `{func.text()}` is imported lazily and cannot be called in a config")
        if isinstance(func, ModuleRef):
            if func.name not in PURE_MODULE_FUNCTIONS:
                raise Unsupported(f"a call of `{func.name}`")
            for a in list(args) + list(kwargs.values()):
                if isinstance(a, Opaque):
                    return a
            return call_module_function(self.budget, func.name, args, kwargs)
        if isinstance(func, BoundMethod):
            self.changed_in_place = True
            if isinstance(func.obj, LDict) and func.name == "setdefault" and args:
                origins[args[0]] = self.origin(node.args[1] if len(node.args) > 1 else node.args[0])
            for a in args:
                if isinstance(a, Opaque):
                    return a
            for v in kwargs.values():
                if isinstance(v, Opaque) and func.name not in ("update", "setdefault"):
                    return v
            return call_method(self.budget, func, args, kwargs, origins)
        raise Unsupported(f"a call of {type_name(func)}")

    def _is_builtin_dict(self, func: ast.expr) -> bool:
        """Whether ``func`` is the name ``dict`` and stands for the built-in (nothing rebinds it)."""
        if type(func) is not ast.Name or func.id != "dict" or "dict" in self.globals:
            return False
        return not any("dict" in scope for scope in self.scopes)

    def _dict_of_keywords(self, node: ast.Call) -> Any:
        """``dict(k=v, ...)``, the commonest call of a config, as the general path of
        :meth:`_eval_Call` and :meth:`_call_builtin` computes it (the same values, origins, checks
        and steps), without the call's general machinery."""
        out = LDict()
        out.span = self.span(node)
        origins = out.origins
        for kw in node.keywords:
            value = self.eval(kw.value)
            name = kw.arg
            if name is None:
                if isinstance(value, Opaque):
                    return value
                self._spread(_DICT, value, kw.value, out, origins)
            else:
                if name in out:  # given by a `**` before it
                    self._keyword(_DICT, out, name)
                out[name] = value  # `out.set(...)` inline: an origin is always given
                origins[name] = self.origin(kw.value)
        return out

    def _spread(self, func: Any, value: Any, node: ast.expr, into: dict[Any, Any], origins: dict[Any, Origin]) -> None:
        """``**value`` (written at ``node``) in a call of ``func``: each key checked as Python checks a
        keyword, its value set in ``into`` and its origin in ``origins`` (the mapping's own, else
        the mapping's)."""
        if not isinstance(value, dict):
            raise PyError(f"TypeError: argument after ** must be a mapping, not {type_name(value)}")
        self.budget.charge(len(value))
        fallback = self.origin(node)
        for k, v in value.items():
            self._keyword(func, into, k)
            into[k] = v
            origins[k] = value.origins.get(k, fallback) if isinstance(value, LDict) else fallback

    @staticmethod
    def _keyword(func: Any, kwargs: dict[str, Any], name: Any) -> None:
        """Python's checks of one keyword argument: a string, given once."""
        if not isinstance(name, str):
            raise PyError("TypeError: keywords must be strings")
        if name in kwargs:
            raise PyError(f"TypeError: {_callable_name(func)}() got multiple values for keyword argument '{name}'")

    def _call_builtin(
        self, node: ast.Call, name: str, args: list[Any], kwargs: dict[str, Any], origins: dict[Any, Origin]
    ) -> Any:
        if name == "dict":
            out = LDict()
            out.span = self.span(node)
            if len(args) > 1:
                raise PyError(f"TypeError: dict expected at most 1 argument, got {len(args)}")
            if args:
                src = args[0]
                if isinstance(src, Opaque):
                    return src
                if isinstance(src, dict):
                    self._update_from(out, src, node.args[0])
                else:
                    goes_through(self.budget, src)
                    dict(src)  # Python's checks of the pairs, with its own messages
                    fallback = self.origin(node.args[0])
                    for k, v in src:
                        out.set(k, v, fallback)
            for k, v in kwargs.items():
                out.set(k, v, origins.get(k))
            return out
        if name == "print":
            return None
        if name in ("getattr", "hasattr"):
            return self._attribute_call(name, args, kwargs)
        if name not in BUILTIN_FUNCTIONS:
            raise Unsupported(f"a call of `{name}`")
        for a in list(args) + list(kwargs.values()):
            if isinstance(a, Opaque):
                return a
        if name == "isinstance" and len(args) == 2:
            args = [args[0], _as_types(args[1])]
        return call_builtin(self.budget, name, args, kwargs)

    def _attribute_call(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """``getattr(obj, name[, default])`` or ``hasattr(obj, name)``, answered as Python answers
        them for the value ``obj`` stands for; the default is needed only where the attribute is
        missing."""
        if kwargs:
            raise PyError(f"TypeError: {name}() takes no keyword arguments")
        if name == "hasattr" and len(args) != 2:
            raise PyError(f"TypeError: hasattr expected 2 arguments, got {len(args)}")
        if not 2 <= len(args) <= 3:
            raise PyError(
                f"TypeError: getattr expected at {'least 2' if len(args) < 2 else 'most 3'} arguments, got {len(args)}"
            )
        obj, attr = args[0], args[1]
        for a in (obj, attr):
            if isinstance(a, Opaque):
                return a
        if not isinstance(attr, str):
            raise PyError(f"TypeError: attribute name must be string, not '{type_name(attr)}'")
        if isinstance(obj, CODE):
            raise Unsupported(f"`{name}` of a function or module")
        if name == "hasattr":
            return has_attribute(obj, attr)
        try:
            return self.attribute(obj, attr)
        except NoAttribute:
            if len(args) == 3:
                return args[2]
            raise


def _callable_name(func: Any) -> str:
    """The name Python gives a function in its messages: ``dict``, ``dict.update``."""
    if isinstance(func, Builtin):
        return func.name
    if isinstance(func, BoundMethod):
        return f"{python_type(func.obj).__name__}.{func.name}"
    if isinstance(func, ModuleRef):
        return func.name.rsplit(".", 1)[-1]
    return type(func).__name__


def _as_types(value: Any) -> Any:
    if isinstance(value, Builtin):
        if value.name in BUILTIN_TYPES:
            return BUILTIN_TYPES[value.name]
        raise Unsupported(f"isinstance with `{value.name}`")
    if isinstance(value, tuple):
        return tuple(_as_types(v) for v in value)
    raise Unsupported("isinstance with this type")
