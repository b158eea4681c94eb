"""mmengine's inheritance merge (``Config._merge_a_into_b``), keeping origins.

Dicts merge key by key, everything else (lists included) is replaced whole, ``_delete_=True``
replaces the base dict, and a ``_delete_`` whose key is absent from the base stays in the result
exactly as it does in mmengine (where it then reaches the constructor).
"""

from __future__ import annotations

import copy
from typing import Any

from losstune.loader import codes
from losstune.loader.values import SCALARS_AND_TEXT, LDict, hook, to_config_dict
from losstune.model import Diagnostic

DELETE_KEY = "_delete_"


def merge_into(
    child: dict[Any, Any], base: LDict, diagnostics: list[Diagnostic], path: str = "", owned: bool = False
) -> LDict:
    """Merge ``child`` into a copy of ``base``; ``child``'s dicts lose their ``_delete_`` keys
    where mmengine pops them. ``owned``: nothing else holds any container of ``child`` and no
    container appears in it twice, so that its dicts become config dicts in place rather than
    as copies (the same tree)."""
    convert = _adopt if owned else _converted
    out = base.shallow_copy()
    origins = child.origins if isinstance(child, LDict) else {}
    out_origins = out.origins
    for k, v in child.items():
        origin = origins.get(k)
        if type(v) in SCALARS_AND_TEXT:  # `out.set(k, v, origin)`, the most common case, inline
            out[k] = v
            if origin is not None:
                out_origins[k] = origin
            else:
                out_origins.pop(k, None)
            continue
        if isinstance(v, dict):
            key_path = f"{path}.{k}" if path else str(k)
            if k in out and not _pop_delete(v):
                current = out[k]
                if not isinstance(current, dict):
                    span = origin.span if origin else None
                    diagnostics.append(
                        codes.diagnostic(
                            codes.BASE_TYPE_CONFLICT,
                            f"`{key_path}` is a dict here but a {type(current).__name__} in the base config, "
                            "so it cannot be merged",
                            span,
                            key=key_path,
                            fix="add `_delete_=True` to this dict to replace the base value, or write a "
                            f"{type(current).__name__} like the base does",
                        )
                    )
                    out.set(k, convert(v), origin)
                    continue
                out.set(
                    k,
                    merge_into(v, _as_ldict(current), diagnostics, key_path, owned),
                    origin,
                )
            else:
                out.set(k, convert(v), origin)
        else:
            out.set(k, v, origin)
    return out


def _converted(value: dict[Any, Any]) -> LDict:
    """A child's dict as the merged tree holds it: a config dict, copied (``ConfigDict(value)``)."""
    return to_config_dict(value) if isinstance(value, LDict) else hook(value)


def _adopt(value: dict[Any, Any]) -> LDict:
    """:func:`_converted` of a dict that nothing else holds, made in place where that gives the
    same tree: an ``LDict`` becomes a config dict itself, its values hooked as
    :func:`~losstune.loader.values.hook` hooks them (lists element by element, in place)."""
    if type(value) is not LDict:
        return _converted(value)
    for k, v in value.items():
        if type(v) not in SCALARS_AND_TEXT:
            value[k] = _hooked(v)  # the same keys: the dict does not change size as it is walked
    value.config_dict = True
    return value


def _hooked(value: Any) -> Any:
    """``hook(value)`` of a value that nothing else holds, in place where that gives the same tree."""
    kind = type(value)
    if kind is LDict:
        return value if value.config_dict else _adopt(value)
    if kind is list:
        for i, v in enumerate(value):
            if type(v) not in SCALARS_AND_TEXT:
                value[i] = _hooked(v)
        return value
    return hook(value)


def _pop_delete(d: dict[Any, Any]) -> bool:
    return bool(d.pop(DELETE_KEY, False))


def _as_ldict(d: dict[Any, Any]) -> LDict:
    if isinstance(d, LDict):
        return d
    out = LDict(d)
    out.config_dict = True
    return out


def base_copy(cfg: LDict, scope: str | None) -> LDict:
    """A fresh copy of a resolved base, ready to be seen as ``_base_`` and merged into
    (``Config._dict_to_config_dict``).

    Every dict becomes a new config dict, each occurrence copied on its own (so two keys that
    shared a dict in the base no longer do, as with mmengine's conversion); for a base loaded
    through ``pkg::``, the outermost dicts with a ``type`` get the package's ``_scope_``."""

    def copy_(value: Any, has_scope: bool) -> Any:
        if isinstance(value, dict):
            out = LDict.like(value)
            out.config_dict = True
            set_scope = False
            if has_scope and "type" in value:
                has_scope = False
                set_scope = scope is not None and value.get("_scope_") is None
            for k, v in value.items():
                out[k] = v if type(v) in SCALARS_AND_TEXT else copy_(v, has_scope)
            if set_scope:
                out["_scope_"] = scope
            return out
        if isinstance(value, list):
            return [v if type(v) in SCALARS_AND_TEXT else copy_(v, has_scope) for v in value]
        if isinstance(value, tuple):
            return tuple([v if type(v) in SCALARS_AND_TEXT else copy_(v, has_scope) for v in value])
        if isinstance(value, (set, frozenset)):
            return copy.copy(value)
        return value

    out = copy_(cfg, True)
    assert isinstance(out, LDict)
    return out
