"""The functions and methods a config may call, and nothing else.

Configs are data with a little arithmetic. These are the pure built-ins and methods that real
MMDetection configs use; anything else is refused (the value becomes opaque), never run. Each call
is paid for from the file's :class:`~losstune.loader.budget.Budget`, and what it builds is bounded before
it is built wherever its size is known in advance (``[0] * n``, ``s.replace(a, b)``, ``2 ** n``...).
"""

from __future__ import annotations

import copy
import math
import operator
import os.path
from collections.abc import Callable, ItemsView, Iterable
from typing import Any, Literal, cast

from losstune.loader.budget import VIEWS, Budget, Built, Extent, TooExpensive
from losstune.loader.lazyref import LazyRef
from losstune.loader.pyerrors import PyError, Unknown, Unsupported
from losstune.loader.pyformat import (
    beyond,
    convert,
    format_value,
    known_extent,
    percent_format,
    str_format,
    str_format_map,
)
from losstune.loader.values import Dropped, LDict, Opaque, hook, to_config_dict

__all__ = ["PyError", "Unsupported"]


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


# Values that stand for code: never handed to a real function, which might call them.
CALLABLES = (Builtin, BoundMethod, ModuleRef, Dropped, LazyRef)
_NUMBERS = (int, float, bool, complex)
_SEQUENCES = (str, bytes, list, tuple)


# -- sizes and costs -----------------------------------------------------------------------------


def length(value: Any) -> int:
    """How many elements ``value`` holds (0 when it is not a collection); exact for a ``range``
    however long it is."""
    if isinstance(value, range):
        step = value.step
        span = value.stop - value.start
        n = (span + step - (1 if step > 0 else -1)) // step
        return max(n, 0)
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) else 0


def goes_through(budget: Budget, value: Any) -> int:
    """Pay for going through the elements of ``value``; refuse more than the length limit."""
    n = length(value)
    if n > budget.limits.length:
        raise TooExpensive(
            f"it goes through {n:,} elements (losstune goes through at most {budget.limits.length:,} at once)"
        )
    budget.work(n)
    return n


def inspect(budget: Budget, value: Any) -> Extent:
    """Measure a value an operation is about to compare, hash or add up element by element:
    an unknown value inside makes the result unknown, and the work is paid for."""
    extent = known_extent(budget, value, "reads")
    budget.work(extent.values)
    return extent


def expandable(budget: Budget, value: Any) -> None:
    """About to copy ``value`` with every shared part copied where it appears (as a
    ``ConfigDict`` conversion does): refuse it beyond the limits, and pay one step a value."""
    extent = budget.measure(value)
    if not extent.complete:
        raise TooExpensive(f"it copies a value {beyond(budget.limits, extent)}, as mmengine's conversion copies it")
    if extent.cyclic:
        raise PyError("RecursionError: maximum recursion depth exceeded (the value contains itself)")
    budget.charge(extent.values)


def _int_cost(budget: Budget, a_bits: int, b_bits: int) -> None:
    """Pay for an arithmetic operation on integers of these sizes (a division is quadratic)."""
    budget.work((a_bits // 64 + 1) * (b_bits // 64 + 1) // 16)


def _check_binary(budget: Budget, op: Callable[[Any, Any], Any], a: Any, b: Any) -> None:
    ta, tb = type(a), type(b)
    if ta in (int, bool) and tb in (int, bool):
        if op in (operator.pow, operator.ipow):
            if b > 0 and abs(a) > 1:
                bits = (a.bit_length() - 1) * b
                budget.int_bits(bits)
                _int_cost(budget, bits, bits)
            return
        if op in (operator.lshift, operator.ilshift) and b > 0:
            budget.int_bits(a.bit_length() + b)
        elif op in (operator.mul, operator.imul):
            budget.int_bits(a.bit_length() + b.bit_length())
        _int_cost(budget, a.bit_length(), b.bit_length())
        return
    if op in (operator.mul, operator.imul):
        seq, n = (a, b) if isinstance(a, _SEQUENCES) else (b, a)
        if isinstance(seq, _SEQUENCES) and type(n) in (int, bool):
            budget.sized(len(seq) * max(n, 0), _kind(seq))
        return
    if op in (operator.add, operator.iadd) and isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        budget.sized(len(a) + len(b), _kind(a))
        return
    if op is operator.iadd and type(a) is list:
        budget.sized(len(a) + length(b), "list")
        return
    if op in (operator.or_, operator.ior, operator.and_, operator.sub, operator.xor):
        budget.work(length(a) + length(b))


def _kind(seq: Any) -> Built:
    if isinstance(seq, (str, bytes)):
        return "string"
    return "list" if isinstance(seq, list) else "tuple"


def binary(budget: Budget, op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """``op(a, b)`` for an arithmetic or sequence operator, bounded and paid for."""
    if op in (operator.mod, operator.imod) and isinstance(a, (str, bytes)):
        result = percent_format(budget, a, b)
    else:
        _check_binary(budget, op, a, b)
        result = op(a, b)
    budget.produced(result)
    return result


def is_in(a: Any, b: Any) -> bool:
    """``a in b``."""
    return a in b


def is_not_in(a: Any, b: Any) -> bool:
    """``a not in b``."""
    return a not in b


def compare(budget: Budget, op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """``op(a, b)`` for a comparison (``==``, ``<``, ``in``...): nested values are compared
    element by element, so they are measured (and paid for) first."""
    if isinstance(a, _CONTAINERS) or isinstance(b, _CONTAINERS):
        left = inspect(budget, a)
        inspect(budget, b)
        if op in (is_in, is_not_in) and isinstance(b, (list, tuple)):
            budget.work(len(b) * left.values)
    elif isinstance(a, (str, bytes)) and isinstance(b, (str, bytes)):
        budget.work(len(a) + len(b))
    return op(a, b)


_CONTAINERS = (dict, list, tuple, set, frozenset)


# -- built-in functions --------------------------------------------------------------------------


def _materialised(kind: Built | Literal["sorted"], build: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in that builds a collection of its argument's elements (``list``, ``sorted``...)."""
    inspects = kind in ("sorted", "set", "frozenset")

    def call(budget: Budget, *args: Any, **kwargs: Any) -> Any:
        if args:
            budget.sized(length(args[0]), "list" if kind == "sorted" else kind)
            if inspects:
                extent = inspect(budget, args[0])
                budget.work(extent.values * max(1, length(args[0]).bit_length()))
        return build(*args, **kwargs)

    return call


def _enumerate(budget: Budget, *args: Any, **kwargs: Any) -> list[Any]:
    if args:
        budget.sized(length(args[0]), "list")
        budget.charge(length(args[0]))  # a new tuple for each element
    return list(enumerate(*args, **kwargs))


def _zip(budget: Budget, *args: Any, **kwargs: Any) -> list[Any]:
    n = min((length(a) for a in args), default=0)
    budget.sized(n, "list")
    budget.charge(n)  # a new tuple for each element
    return list(zip(*args, **kwargs))  # noqa: B905 - the config's own call, `strict` included


def _reversed(budget: Budget, *args: Any, **kwargs: Any) -> list[Any]:
    if args:
        budget.sized(length(args[0]), "list")
    return list(reversed(*args, **kwargs))


def _reads(build: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in that reads the elements of its arguments (``min``, ``any``...)."""

    def call(budget: Budget, *args: Any, **kwargs: Any) -> Any:
        for a in args:
            goes_through(budget, a)
            inspect(budget, a)
        return build(*args, **kwargs)

    return call


def _sum(budget: Budget, *args: Any, **kwargs: Any) -> Any:
    if not args or len(args) > 2 or set(kwargs) - {"start"}:
        return sum(*args, **kwargs)  # Python's own complaint
    goes_through(budget, args[0])
    items = list(args[0])
    start = kwargs.get("start", args[1] if len(args) > 1 else 0)
    if isinstance(start, (str, bytes, bytearray)):
        return sum(items, start)  # Python refuses to sum strings
    if type(start) in (int, float, bool) and all(type(x) in (int, float, bool) for x in items):
        largest = max((abs(x) for x in items if type(x) is int), default=0)
        _int_cost(budget, largest.bit_length() * len(items), 1)
        return sum(items, start)
    # Anything else is added up one `+` at a time, as Python does (lists: in quadratic time).
    total = start
    for item in items:
        if isinstance(item, Opaque):
            raise Unknown(item)
        budget.charge(1)
        total = binary(budget, operator.add, total, item)
    return total


def _str(budget: Budget, *args: Any, **kwargs: Any) -> str:
    if len(args) == 1 and not kwargs:
        return convert(budget, args[0], "s")
    for a in args:
        goes_through(budget, a)
    return str(*args, **kwargs)


def _int(budget: Budget, *args: Any, **kwargs: Any) -> int:
    for a in args:
        goes_through(budget, a)
    return int(*args, **kwargs)


def _round(budget: Budget, *args: Any, **kwargs: Any) -> Any:
    number = args[0] if args else None
    digits = args[1] if len(args) > 1 else kwargs.get("ndigits")
    if type(number) is int and type(digits) is int and digits < 0:
        bits = -digits * 10 // 3  # Python computes 10 ** -digits
        budget.int_bits(bits)
        _int_cost(budget, bits, number.bit_length())
    return round(*args, **kwargs)


def _pow(budget: Budget, *args: Any, **kwargs: Any) -> Any:
    if len(args) == 2 and not kwargs:
        return binary(budget, operator.pow, args[0], args[1])
    if len(args) == 3 and all(type(a) is int for a in args) and args[1] > 0:
        exp, mod = args[1], args[2]
        _int_cost(budget, exp.bit_length() * mod.bit_length(), mod.bit_length())
    return pow(*args, **kwargs)


def _divmod(budget: Budget, *args: Any, **kwargs: Any) -> Any:
    if len(args) == 2 and all(type(a) is int for a in args):
        _int_cost(budget, args[0].bit_length(), args[1].bit_length())
    real: Callable[..., Any] = divmod
    return real(*args, **kwargs)


def _isinstance(budget: Budget, *args: Any, **kwargs: Any) -> bool:
    return isinstance(*args, **kwargs)


def _plain(function: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in whose work is bounded by its arguments' sizes (``len``, ``abs``...)."""

    def call(budget: Budget, *args: Any, **kwargs: Any) -> Any:
        for a in args:
            budget.work(length(a))
        return function(*args, **kwargs)

    return call


def _conversion(kind: str) -> Callable[..., Any]:
    def call(budget: Budget, *args: Any, **kwargs: Any) -> str:
        if len(args) != 1 or kwargs:
            real: Callable[..., str] = repr if kind == "r" else ascii
            return real(*args, **kwargs)
        return convert(budget, args[0], kind)

    return call


def _format(budget: Budget, *args: Any, **kwargs: Any) -> str:
    if 1 <= len(args) <= 2 and not kwargs and isinstance(args[-1], str):
        return format_value(budget, args[0], args[1] if len(args) == 2 else "")
    return format(*args, **kwargs)


BUILTIN_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "list": _materialised("list", list),
    "tuple": _materialised("tuple", tuple),
    "set": _materialised("set", set),
    "frozenset": _materialised("frozenset", frozenset),
    "sorted": _materialised("sorted", sorted),
    "range": _plain(range),
    "slice": _plain(slice),
    "len": _plain(len),
    "abs": _plain(abs),
    "float": _plain(float),
    "bool": _plain(bool),
    "ord": _plain(ord),
    "chr": _plain(chr),
    "hex": _plain(hex),
    "oct": _plain(oct),
    "bin": _plain(bin),
    "enumerate": _enumerate,
    "zip": _zip,
    "reversed": _reversed,
    "sum": _sum,
    "min": _reads(min),
    "max": _reads(max),
    "any": _reads(any),
    "all": _reads(all),
    "round": _round,
    "int": _int,
    "str": _str,
    "repr": _conversion("r"),
    "ascii": _conversion("a"),
    "format": _format,
    "isinstance": _isinstance,
    "divmod": _divmod,
    "pow": _pow,
}
# Names that evaluate to a type (for isinstance) as well as being callable.
BUILTIN_TYPES: dict[str, type] = {
    "dict": dict,
    "list": list,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "slice": slice,
    "range": range,
}
# `__name__` is not a global of an exec-ed config, so Python finds the builtins module's name.
BUILTIN_CONSTANTS: dict[str, Any] = {"True": True, "False": False, "None": None, "__name__": "builtins"}


def call_builtin(budget: Budget, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call the built-in ``name``; ``Unsupported`` when it is not one a config may call."""
    impl = BUILTIN_FUNCTIONS.get(name)
    if impl is None:
        raise Unsupported(f"a call of `{name}`")
    _refuse_code(name, args, kwargs)
    # A dict's keys, values or items are read as the list they stand for.
    args = [_listed(budget, a) if isinstance(a, VIEWS) else a for a in args]
    result = impl(budget, *args, **kwargs)
    budget.produced(result)
    return result


def _listed(budget: Budget, view: Any) -> list[Any]:
    budget.sized(len(view), "list")
    if isinstance(view, ItemsView):
        budget.charge(len(view))  # a new tuple for each item
    return list(view)


def _refuse_code(name: str, args: Iterable[Any], kwargs: dict[str, Any]) -> None:
    for a in (*args, *kwargs.values()):
        if isinstance(a, CALLABLES):
            raise Unsupported(f"passing a function or module to `{name}`")


# -- methods -------------------------------------------------------------------------------------

_STR_METHODS = frozenset(
    """capitalize casefold center count endswith expandtabs find format format_map index isalnum
    isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable isspace istitle
    isupper join ljust lower lstrip partition removeprefix removesuffix replace rfind rindex rjust
    rpartition rsplit rstrip split splitlines startswith strip swapcase title upper zfill""".split()
)
_LIST_METHODS = frozenset("append extend insert pop index count copy remove reverse clear sort".split())
_TUPLE_METHODS = frozenset(("index", "count"))
_INT_METHODS = frozenset(("bit_length", "bit_count", "conjugate", "as_integer_ratio"))
_FLOAT_METHODS = frozenset(("hex", "is_integer", "conjugate", "as_integer_ratio"))
DICT_METHODS = frozenset("get keys values items update pop copy setdefault clear".split())
# Methods only `ConfigDict` has (values reached through `_base_` or imported from a base config).
CONFIG_DICT_METHODS = frozenset(("merge", "to_dict"))
# What mmengine's `ConfigDict` class defines beyond `dict`'s attributes (found before its keys).
_CONFIG_DICT_CLASS_ATTRIBUTES = frozenset(
    """__add__ __copy__ __deepcopy__ __dict__ __getattr__ __getnewargs__ __missing__ __module__
    __setstate__ __weakref__ _hook _to_lazy_dict build_lazy deepcopy freeze lazy merge to_dict
    unfreeze""".split()
)
# Attributes of numbers that are values, not methods: `(1).real`.
_NUMBER_ATTRIBUTES = frozenset(("real", "imag", "numerator", "denominator"))


def method_of(obj: Any, name: str) -> BoundMethod | None:
    """The allowed method ``name`` of ``obj``, or ``None``."""
    if isinstance(obj, dict):
        ok = name in DICT_METHODS or (name in CONFIG_DICT_METHODS and isinstance(obj, LDict) and obj.config_dict)
    elif isinstance(obj, str):
        ok = name in _STR_METHODS
    elif isinstance(obj, list):
        ok = name in _LIST_METHODS
    elif isinstance(obj, tuple):
        ok = name in _TUPLE_METHODS
    elif isinstance(obj, (int, bool)):
        ok = name in _INT_METHODS
    elif isinstance(obj, float):
        ok = name in _FLOAT_METHODS
    else:
        ok = False
    return BoundMethod(obj, name) if ok else None


def is_config_dict_attribute(name: str) -> bool:
    """Whether mmengine's ``ConfigDict`` class has an attribute ``name`` (a method, mostly)."""
    return name in _CONFIG_DICT_CLASS_ATTRIBUTES or hasattr(dict, name)


def has_attribute(obj: Any, name: str) -> bool:
    """``hasattr(obj, name)`` for a config value (not code, not unknown): a config dict has its
    class's attributes and its keys; any other value has its type's attributes."""
    if isinstance(obj, LDict) and obj.config_dict:
        return name in obj or is_config_dict_attribute(name)
    return hasattr(python_type(obj), name)


def number_attribute(obj: Any, name: str) -> tuple[bool, Any]:
    """``(True, obj.name)`` for a data attribute of a number (``(1).real``), else ``(False, None)``."""
    if isinstance(obj, _NUMBERS) and name in _NUMBER_ATTRIBUTES and hasattr(obj, name):
        return True, getattr(obj, name)
    return False, None


def python_type(obj: Any) -> type:
    """The Python type ``obj`` stands for (a config's dict is a ``dict``)."""
    return dict if isinstance(obj, LDict) else type(obj)


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


def config_dict_union(
    budget: Budget, op: Callable[[Any, Any], Any], left: dict[Any, Any], right: dict[Any, Any]
) -> Any:
    """``left | right`` or ``left |= right`` where a config dict takes part, as addict does it:
    nested dicts are merged, not replaced. ``|`` copies the left side (addict's ``__or__``, and
    ``__ror__`` where only the right is a config dict); ``|=`` updates a config dict in place. None
    where Python's own dict operator applies (``|=`` on a plain dict, ``|`` between plain dicts)."""
    is_config = [isinstance(side, LDict) and side.config_dict for side in (left, right)]
    origins = right.origins if isinstance(right, LDict) else {}
    if op is operator.ior:
        if not is_config[0]:
            return None
        expandable(budget, right)
        recursive_update(cast(LDict, left), right, origins)
        return left
    if not any(is_config):
        return None
    expandable(budget, left)
    expandable(budget, right)
    out = to_config_dict(left, every_dict=True)  # addict's Dict(left): every dict copied
    recursive_update(out, right, origins)
    return out


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
    for k, v in merged.items():
        target.set(k, hook(v), merged.origins.get(k))


def _dict_method(
    budget: Budget, obj: LDict, name: str, args: list[Any], kwargs: dict[str, Any], origins: dict[Any, Any]
) -> Any:
    if name in DICT_METHODS:
        # Python's own checks of the arguments (their number, a key that cannot be hashed, an
        # update from something that is not pairs), with its own messages, on a scratch dict.
        goes_through(budget, args[0] if args and name == "update" else None)
        try:
            getattr({}, name)(*args, **kwargs)
        except KeyError:
            pass  # an absent key: the real dict decides
    if name == "update":
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
        budget.charge(len(other))
        if obj.config_dict:
            expandable(budget, other)
            recursive_update(obj, other, origins)
        else:
            for k, v in other.items():
                obj.set(k, v, origins.get(k))
        return None
    if name == "copy":
        budget.work(len(obj))
        return obj.shallow_copy()
    if name == "setdefault":
        key = args[0]
        default = args[1] if len(args) > 1 else None
        if key in obj:
            return obj[key]
        if obj.config_dict:
            # addict's setdefault stores a converted copy but returns the default itself.
            expandable(budget, default)
            obj.set(key, hook(default), origins.get(key))
            return default
        obj.set(key, default, origins.get(key))
        return default
    if name == "pop":
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
        return value
    if name == "clear":
        obj.clear()
        return None
    if name == "merge":
        if len(args) != 1 or kwargs or not isinstance(args[0], dict):
            raise PyError("TypeError: merge() takes one dict")
        expandable(budget, args[0])
        expandable(budget, obj)
        config_dict_merge(obj, args[0])
        return None
    if name == "to_dict":
        raise Unsupported("ConfigDict.to_dict() inside a config")
    budget.work(len(obj))
    return getattr(obj, name)(*args, **kwargs)


def _str_method(budget: Budget, s: str, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if name == "format":
        return str_format(budget, s, args, kwargs)
    if name == "format_map":
        if len(args) != 1 or kwargs:
            return s.format_map(*args, **kwargs)  # Python's complaint
        return str_format_map(budget, s, args[0])
    if name in ("center", "ljust", "rjust", "zfill") and args and type(args[0]) is int:
        budget.sized(max(args[0], len(s)), "string")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if type(size) is int:
            budget.sized(len(s) + s.count("\t") * max(size, 0), "string")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        old, new = args[0], args[1]
        times = s.count(old) if old else len(s) + 1
        if len(args) > 2 and type(args[2]) is int and args[2] >= 0:
            times = min(times, args[2])
        budget.sized(len(s) + times * max(len(new) - len(old), 0), "string")
    elif name == "join" and args:
        goes_through(budget, args[0])
        parts = list(args[0])
        inspect(budget, parts)
        if all(type(p) is str for p in parts):
            budget.sized(sum(map(len, parts)) + len(s) * max(len(parts) - 1, 0), "string")
        return s.join(parts)
    budget.work(len(s) + sum(length(a) for a in args))
    return getattr(s, name)(*args, **kwargs)


def _list_method(budget: Budget, obj: list[Any], name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if name in ("append", "insert"):
        budget.sized(len(obj) + 1, "list")
    elif name == "extend" and args:
        budget.sized(len(obj) + length(args[0]), "list")
    elif name in ("index", "count", "remove", "sort"):
        extent = inspect(budget, obj)
        for a in args:
            inspect(budget, a)
        budget.work(extent.values * max(1, len(obj).bit_length()))
    else:
        budget.work(len(obj))
    return getattr(obj, name)(*args, **kwargs)


def call_method(
    budget: Budget, m: BoundMethod, args: list[Any], kwargs: dict[str, Any], origins: dict[Any, Any]
) -> Any:
    """Call an allowed method. ``origins`` gives the origin of each keyword or mapping key
    passed to ``update``/``setdefault``, so that dict mutations keep provenance."""
    obj, name = m.obj, m.name
    _refuse_code(f"{python_type(obj).__name__}.{name}", args, kwargs)
    if isinstance(obj, LDict):
        result = _dict_method(budget, obj, name, args, kwargs, origins)
    elif isinstance(obj, str):
        result = _str_method(budget, obj, name, args, kwargs)
    elif isinstance(obj, list):
        result = _list_method(budget, obj, name, args, kwargs)
    else:
        for a in args:
            inspect(budget, a)
        inspect(budget, obj)
        result = getattr(obj, name)(*args, **kwargs)
    budget.produced(result)
    return result


# -- standard modules ----------------------------------------------------------------------------


def _shallow_copy(budget: Budget, x: Any) -> Any:
    budget.work(length(x))
    return x.shallow_copy() if isinstance(x, LDict) else copy.copy(x)


def _deep_copy(budget: Budget, x: Any, *args: Any) -> Any:
    extent = budget.measure(x)
    if not extent.complete:
        raise TooExpensive("it deep-copies a value beyond losstune's limits")
    budget.charge(extent.slots)  # copy.deepcopy is Python code: a step for each element
    return copy.deepcopy(x, *args)


def _path_function(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(budget: Budget, *args: Any, **kwargs: Any) -> Any:
        budget.sized(sum(length(a) for a in args), "string")
        return function(*args, **kwargs)

    return call


def _math(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(budget: Budget, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return call


# Pure functions of standard modules that configs import (`import copy`, `import os.path as osp`).
PURE_MODULE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "copy.copy": _shallow_copy,
    "copy.deepcopy": _deep_copy,
    "os.path.join": _path_function(os.path.join),
    "os.path.basename": _path_function(os.path.basename),
    "os.path.dirname": _path_function(os.path.dirname),
    "os.path.splitext": _path_function(os.path.splitext),
    "os.path.normpath": _path_function(os.path.normpath),
    "math.sqrt": _math(math.sqrt),
    "math.ceil": _math(math.ceil),
    "math.floor": _math(math.floor),
    "math.log": _math(math.log),
    "math.exp": _math(math.exp),
}


def call_module_function(budget: Budget, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call the standard module function ``name`` (``os.path.join``)."""
    impl = PURE_MODULE_FUNCTIONS.get(name)
    if impl is None:
        raise Unsupported(f"a call of `{name}`")
    _refuse_code(name, args, kwargs)
    result = impl(budget, *args, **kwargs)
    budget.produced(result)
    return result
