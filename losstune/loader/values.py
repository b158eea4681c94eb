"""Config values that remember where they were set.

A resolved config is made of ordinary Python values, except that every dict is an :class:`LDict`:
a ``dict`` that also records, for each key, the :class:`~losstune.model.Origin` of its value,
and whether it behaves like mmengine's ``ConfigDict`` (values reached through ``_base_``) or like
a plain ``dict`` built in the child file. Scalars cannot carry attributes, so their origin lives
in the dict that holds them.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from losstune.model import Origin, Span

_NO_DEFAULT: Any = object()

SCALARS = frozenset((int, float, bool, type(None)))
"""The types of the values that every copy of a config's tree leaves as they are (checked by
exact type, so that a copy skips them without a call)."""
SCALARS_AND_TEXT = SCALARS | {str}


class LDict(dict[Any, Any]):
    """A dict with per-key origins; ``config_dict`` marks mmengine ``ConfigDict`` behaviour.

    ``origins`` holds an origin only for keys the dict has: removing a key (``del``, ``pop``,
    ``popitem``, ``clear``) removes its origin. Assigning (``d[k] = v``, ``setdefault``, ``update``
    from a plain mapping) never invents one: a key keeps the origin it has until :meth:`set` gives
    another (or none). ``update`` (and ``|=``) from an ``LDict`` brings that dict's origins for the
    keys it sets.
    """

    __slots__ = ("config_dict", "origins", "span")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:  # a dict is made empty: nothing to initialise otherwise
            dict.__init__(self, *args, **kwargs)
        self.origins: dict[Any, Origin] = {}
        self.config_dict = False
        self.span: Span | None = None

    def set(self, key: Any, value: Any, origin: Origin | None) -> None:
        """Set ``key`` and record where it was set."""
        self[key] = value
        if origin is not None:
            self.origins[key] = origin
        else:
            self.origins.pop(key, None)

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, key)
        self.origins.pop(key, None)

    def pop(self, key: Any, default: Any = _NO_DEFAULT) -> Any:
        """``dict.pop``; the key's origin goes with it."""
        value = dict.pop(self, key) if default is _NO_DEFAULT else dict.pop(self, key, default)
        self.origins.pop(key, None)
        return value

    def popitem(self) -> tuple[Any, Any]:
        """``dict.popitem``; the key's origin goes with it."""
        key, value = dict.popitem(self)
        self.origins.pop(key, None)
        return key, value

    def clear(self) -> None:
        """``dict.clear``, origins included."""
        dict.clear(self)
        self.origins.clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``dict.update``; the origins of an ``LDict`` argument come along for the keys it sets."""
        dict.update(self, *args, **kwargs)
        if args and isinstance(args[0], LDict):
            self.origins.update((k, o) for k, o in args[0].origins.items() if k not in kwargs)

    def __ior__(self, other: Any) -> LDict:  # type: ignore[misc]
        """``d |= other``: :meth:`update`, origins included."""
        if not isinstance(other, dict):
            return NotImplemented
        self.update(other)
        return self

    @classmethod
    def like(cls, other: dict[Any, Any]) -> LDict:
        """An empty dict with ``other``'s origins, ``ConfigDict`` behaviour and span, to be
        filled with (transformed) copies of its values."""
        out = cls()
        if isinstance(other, LDict):
            out.origins = dict(other.origins)
            out.config_dict = other.config_dict
            out.span = other.span
        return out

    def shallow_copy(self) -> LDict:
        """A copy of this level only (mmengine's ``dict.copy`` / ``ConfigDict.copy``)."""
        out = LDict.like(self)
        dict.update(out, self)  # the origins came with `like`: LDict.update would copy them again
        return out

    def __deepcopy__(self, memo: dict[int, Any]) -> LDict:
        out = LDict.like(self)
        memo[id(self)] = out
        for k, v in self.items():
            out[k] = copy.deepcopy(v, memo)
        return out

    def __reduce_ex__(self, protocol: Any) -> Any:  # pragma: no cover - pickling is not used
        return (LDict, (dict(self),))


class Opaque:
    """A value that cannot be known without running code: shown, never guessed."""

    __slots__ = ("reason", "span", "text")

    def __init__(self, reason: str, text: str, span: Span | None) -> None:
        self.reason = reason
        self.text = text
        self.span = span

    def __repr__(self) -> str:
        return f"<opaque: {self.text}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> Opaque:
        return self


class Dropped:
    """A module, function or class bound in a config: mmengine leaves these out of the result."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<dropped: {self.name}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> Dropped:
        return self


def hook(value: Any, *, every_dict: bool = False) -> Any:
    """Mirror ``ConfigDict._hook``: dicts that are not config dicts yet become config dicts
    (copied), lists and tuples are rebuilt element by element. With ``every_dict``, addict's
    ``Dict._hook``, which copies config dicts too (``|`` does that to its left side)."""
    if isinstance(value, dict):
        if not every_dict and isinstance(value, LDict) and value.config_dict:
            return value
        return to_config_dict(value, every_dict=every_dict)
    if type(value) is list:
        return [v if type(v) in SCALARS_AND_TEXT else hook(v, every_dict=every_dict) for v in value]
    if type(value) is tuple:
        return tuple([v if type(v) in SCALARS_AND_TEXT else hook(v, every_dict=every_dict) for v in value])
    return value


def to_config_dict(value: dict[Any, Any], *, every_dict: bool = False) -> LDict:
    """``ConfigDict(value)``: a new config dict with the same keys (and origins), nested values
    hooked."""
    out = LDict.like(value)
    for k, v in value.items():
        out[k] = v if type(v) in SCALARS_AND_TEXT else hook(v, every_dict=every_dict)
    out.config_dict = True
    return out


def to_plain(value: Any) -> Any:
    """Plain Python data (dicts, lists, tuples, scalars), as ``Config.to_dict()`` gives it."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    return value


def contains_opaque(value: Any) -> bool:
    """Whether any part of ``value`` could not be evaluated."""
    if isinstance(value, Opaque):
        return True
    if isinstance(value, dict):
        return any(contains_opaque(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_opaque(v) for v in value)
    return False


def same_value(a: Any, b: Any) -> bool:
    """Whether two config values are the same: of the same types all the way down, with NaN equal
    to NaN (a config that holds ``float('nan')`` is the same config as itself) and opaque values
    equal when they are the same text."""
    if a is b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):  # an LDict is a dict here
        return a.keys() == b.keys() and all(same_value(v, b[k]) for k, v in a.items())
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Opaque):
        return (a.reason, a.text) == (b.reason, b.text)
    if isinstance(a, Dropped):
        return bool(a.name == b.name)
    return bool(a == b)
