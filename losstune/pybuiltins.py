"""The functions and methods a config may call, and nothing else.

Configs are data with a little arithmetic. These are the pure built-ins and methods that real
MMDetection configs use; anything else is refused (the value becomes opaque), never run.
"""

from __future__ import annotations

import copy
import math
import os.path
import string
from collections.abc import Callable
from typing import Any

from losstune.values import LDict, Opaque, hook

MAX_SEQUENCE = 1_000_000


class Unsupported(Exception):
    """The construct cannot be evaluated statically; its value becomes opaque."""


class PyError(Exception):
    """Python itself would raise here (and so would mmengine while loading)."""


def _check_size(n: int) -> None:
    if n > MAX_SEQUENCE:
        raise Unsupported(f"a sequence of {n} elements is too large to build")


def _range(*args: Any) -> range:
    r = range(*args)
    _check_size(len(r))
    return r


def _list(*args: Any) -> list[Any]:
    return list(*args)


def _checked_format(fmt: str) -> None:
    for _, field_name, spec, _ in string.Formatter().parse(fmt):
        for part in (field_name or "", spec or ""):
            if "." in part.split(":")[0] or "[" in part:
                raise Unsupported("attribute or item access inside a format string")


def _str_format(s: str, *args: Any, **kwargs: Any) -> str:
    _checked_format(s)
    return s.format(*args, **kwargs)


def _isinstance(obj: Any, types: Any) -> bool:
    return isinstance(obj, types)


def _pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if isinstance(exp, int) and abs(exp) > 10_000 and mod is None:
        raise Unsupported("a number too large to compute")
    return pow(base, exp, mod)


BUILTIN_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "list": _list,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "range": _range,
    "len": len,
    "enumerate": enumerate,
    "zip": zip,
    "sum": sum,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "sorted": sorted,
    "reversed": reversed,
    "any": any,
    "all": all,
    "isinstance": _isinstance,
    "divmod": divmod,
    "pow": _pow,
}
# Names that evaluate to a type (for isinstance) as well as being callable.
BUILTIN_TYPES: dict[str, type] = {
    "dict": dict,
    "list": list,
    "tuple": tuple,
    "set": set,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
}
# `__name__` is not a global of an exec-ed config, so Python finds the builtins module's name.
BUILTIN_CONSTANTS: dict[str, Any] = {"True": True, "False": False, "None": None, "__name__": "builtins"}

_STR_METHODS = frozenset(
    """capitalize casefold center count endswith expandtabs find index isalnum isalpha
    isascii isdecimal isdigit isidentifier islower isnumeric isspace istitle isupper join ljust
    lower lstrip partition removeprefix removesuffix replace rfind rindex rjust rpartition rsplit
    rstrip split splitlines startswith strip swapcase title upper zfill""".split()
)
_WIDTH_METHODS = frozenset(("center", "ljust", "rjust", "zfill", "expandtabs"))
_LIST_METHODS = frozenset("append extend insert pop index count copy remove reverse clear".split())
_TUPLE_METHODS = frozenset(("index", "count"))
DICT_METHODS = frozenset("get keys values items update pop copy setdefault clear".split())
# Methods only `ConfigDict` has (values reached through `_base_` or imported from a base config).
CONFIG_DICT_METHODS = frozenset(("merge", "to_dict"))


# Pure functions of standard modules that configs import (`import copy`, `import os.path as osp`).
PURE_MODULE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "copy.copy": lambda x: x.shallow_copy() if isinstance(x, LDict) else copy.copy(x),
    "copy.deepcopy": copy.deepcopy,
    "os.path.join": os.path.join,
    "os.path.basename": os.path.basename,
    "os.path.dirname": os.path.dirname,
    "os.path.splitext": os.path.splitext,
    "os.path.normpath": os.path.normpath,
    "math.sqrt": math.sqrt,
    "math.ceil": math.ceil,
    "math.floor": math.floor,
    "math.log": math.log,
    "math.exp": math.exp,
}


class ModuleRef:
    """An imported standard module, or a dotted name inside it (``osp.join``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class BoundMethod:
    """``obj.name`` waiting to be called."""

    __slots__ = ("name", "obj")

    def __init__(self, obj: Any, name: str) -> None:
        self.obj = obj
        self.name = name


class Builtin:
    """A built-in name used as a value (``dict``, ``len``...)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def method_of(obj: Any, name: str) -> BoundMethod | None:
    """The allowed method ``name`` of ``obj``, or ``None``."""
    if isinstance(obj, dict):
        ok = name in DICT_METHODS or (name in CONFIG_DICT_METHODS and isinstance(obj, LDict) and obj.config_dict)
    elif isinstance(obj, str):
        ok = name in _STR_METHODS or name == "format"
    elif isinstance(obj, list):
        ok = name in _LIST_METHODS or name == "sort"
    elif isinstance(obj, tuple):
        ok = name in _TUPLE_METHODS
    else:
        ok = False
    return BoundMethod(obj, name) if ok else None


def recursive_update(target: LDict, other: dict[Any, Any], origins: dict[Any, Any]) -> None:
    """``ConfigDict.update``: merge nested dicts instead of replacing them."""
    for k, v in other.items():
        cur = target.get(k)
        if k not in target or not isinstance(cur, dict) or not isinstance(v, dict):
            target.set(k, hook(v), origins.get(k))
        else:
            inner = v.origins if isinstance(v, LDict) else {}
            if isinstance(cur, LDict):
                recursive_update(cur, v, inner)
            else:  # pragma: no cover - every dict built by the interpreter is an LDict
                cur.update(v)


_MISSING = object()


def _merge_values(a: Any, b: Any) -> Any:
    """The inner ``_merge_a_into_b`` of ``ConfigDict.merge``."""
    if isinstance(a, dict):
        if not isinstance(b, dict):
            a.pop("_delete_", None)
            return a
        if a.pop("_delete_", False):
            b.clear()
        out = LDict()
        a_origins = a.origins if isinstance(a, LDict) else {}
        b_origins = b.origins if isinstance(b, LDict) else {}
        for key in [*b.keys(), *a.keys()]:
            if key == "_delete_" or key in out:
                continue
            out.set(
                key,
                _merge_values(a.get(key, _MISSING), b.get(key, _MISSING)),
                a_origins.get(key) if key in a else b_origins.get(key),
            )
        return out
    return a if a is not _MISSING else b


def config_dict_merge(target: LDict, other: dict[Any, Any]) -> None:
    """``ConfigDict.merge``: a deep merge that honours ``_delete_`` (unlike ``update``)."""
    merged = _merge_values(copy.deepcopy(other), copy.deepcopy(target))
    target.clear()
    target.origins.clear()
    for k, v in merged.items():
        target.set(k, hook(v), merged.origins.get(k))


def call_method(m: BoundMethod, args: list[Any], kwargs: dict[str, Any], origins: dict[Any, Any]) -> Any:
    """Call an allowed method. ``origins`` gives the origin of each keyword or mapping key
    passed to ``update``/``setdefault``, so that dict mutations keep provenance."""
    obj, name = m.obj, m.name
    if isinstance(obj, LDict):
        if name == "update":
            if len(args) > 1:
                raise PyError(f"update expected at most 1 argument, got {len(args)}")
            other = LDict()
            if args:
                src = args[0]
                if isinstance(src, dict):
                    for k, v in src.items():
                        other[k] = v
                    if isinstance(src, LDict):
                        origins = {**src.origins, **origins}
                else:
                    for k, v in src:
                        other[k] = v
            for k, v in kwargs.items():
                other[k] = v
            if obj.config_dict:
                recursive_update(obj, other, origins)
            else:
                for k, v in other.items():
                    obj.set(k, v, origins.get(k))
            return None
        if name == "copy":
            return obj.shallow_copy()
        if name == "setdefault":
            key = args[0]
            default = args[1] if len(args) > 1 else None
            if key in obj:
                return obj[key]
            if obj.config_dict:
                # addict's setdefault stores a converted copy but returns the default itself.
                obj.set(key, hook(default), origins.get(key))
                return default
            obj.set(key, default, origins.get(key))
            return default
        if name == "pop":
            if not args:
                raise PyError("pop expected at least 1 argument, got 0")
            key = args[0]
            if obj.config_dict:
                # ConfigDict.pop has a default of None.
                value = obj.pop(key, args[1] if len(args) > 1 else None)
            elif len(args) > 1:
                value = obj.pop(key, args[1])
            else:
                if key not in obj:
                    raise PyError(f"KeyError: {key!r}")
                value = obj.pop(key)
            obj.origins.pop(key, None)
            return value
        if name == "clear":
            obj.clear()
            obj.origins.clear()
            return None
        if name == "merge":
            if len(args) != 1 or not isinstance(args[0], dict):
                raise PyError("TypeError: merge() takes one dict")
            config_dict_merge(obj, args[0])
            return None
        if name == "to_dict":
            raise Unsupported("ConfigDict.to_dict() inside a config")
    if isinstance(obj, str) and name == "format":
        return _str_format(obj, *args, **kwargs)
    if isinstance(obj, str) and name in _WIDTH_METHODS and any(isinstance(a, int) and a > MAX_SEQUENCE for a in args):
        raise Unsupported(f"str.{name} with a width that large")
    if isinstance(obj, list) and name == "sort" and kwargs:
        raise Unsupported("list.sort with arguments")
    for a in args:
        if isinstance(a, Opaque):
            return a
    try:
        return getattr(obj, name)(*args, **kwargs)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        raise PyError(f"{type(e).__name__}: {e}") from None
