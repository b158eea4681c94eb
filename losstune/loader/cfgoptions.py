"""``--cfg-options KEY=VALUE``: mmengine's ``DictAction`` and ``Config.merge_from_dict``, statically.

A value is read as ``DictAction`` reads it, by string operations only (nothing is evaluated):
quotes around it are stripped and every space removed; ``1`` is an int, ``0.5`` a float,
``true``/``false`` (any case) a bool, ``None`` None, anything else a string; ``a,b``, ``[a,b]`` and
``(a,b)`` are lists and tuples, nested as brackets nest. The options are then merged into the
resolved config as ``merge_from_dict`` does (``allow_list_keys``): a dotted key makes or merges
dicts down its path, an integer step (``key.0.x``) goes into a list that is there, the value
replaces whatever was at its key. Each value's origin is the command line: the option's position
among the ``--cfg-options`` given (line ``n`` of ``<command line>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgspec import Struct

from losstune.errors import UsageError
from losstune.loader.values import LDict
from losstune.model import Origin, Span

COMMAND_LINE = "<command line>"
"""The file a value given with ``--cfg-options`` comes from."""

DELETE_KEY = "_delete_"


class CfgOption(Struct, frozen=True):
    """One ``KEY=VALUE`` of ``--cfg-options``: the key, the value as read, and where it was given."""

    key: str
    value: Any
    origin: Origin


class OptionError(UsageError):
    """A ``--cfg-options`` value that mmengine would refuse too (exit code 2)."""


def parse_options(texts: Sequence[str]) -> list[CfgOption]:
    """Each ``KEY=VALUE`` read as ``DictAction`` reads it; a later key replaces an earlier one (as
    the dict ``DictAction`` fills does, in the place of the first)."""
    found: dict[str, CfgOption] = {}
    for i, text in enumerate(texts, start=1):
        key, sep, raw = text.partition("=")
        if not sep:
            raise OptionError(f"--cfg-options `{text}` is not KEY=VALUE: write it like model.bbox_head.num_classes=3")
        span = Span(COMMAND_LINE, i, 1, i, len(text) + 1)
        found[key] = CfgOption(key, parse_value(raw, text), Origin(span, "command-line", text))
    return list(found.values())


def parse_value(raw: str, option: str = "", depth: int = 0) -> Any:
    """``DictAction._parse_iterable``: the value of ``raw`` (see the module's docstring)."""
    if depth > _MAX_DEPTH:
        raise OptionError(f"--cfg-options `{option or raw}`: the value nests more than {_MAX_DEPTH} brackets deep")
    val = raw.strip("'\"").replace(" ", "")
    is_tuple = False
    bracketed = True
    if val.startswith("(") and val.endswith(")"):
        is_tuple = True
        val = val[1:-1]
    elif val.startswith("[") and val.endswith("]"):
        val = val[1:-1]
    elif "," not in val:
        return _scalar(val)
    else:
        bracketed = False
    values: list[Any] = []
    while val:
        comma = _next_comma(val, option or raw)
        if not bracketed and not values and comma == len(val):
            # `[a,b]c`: its only comma is inside brackets, and DictAction reads the same text again
            # without end (a RecursionError).
            raise OptionError(
                f"--cfg-options `{option or raw}`: `{val}` is neither one value nor a list (mmengine fails on it "
                "with a RecursionError): put it in brackets or quotes"
            )
        values.append(parse_value(val[:comma], option, depth + 1))
        val = val[comma + 1 :]
    return tuple(values) if is_tuple else values


_MAX_DEPTH = 100


def _next_comma(text: str, option: str) -> int:
    """Where the next comma outside brackets is (the length of ``text`` if there is none)."""
    if text.count("(") != text.count(")") or text.count("[") != text.count("]"):
        raise OptionError(f"--cfg-options `{option}`: imbalanced brackets in `{text}` (mmengine refuses it too)")
    depth_round = depth_square = 0
    for i, ch in enumerate(text):
        if ch == "," and depth_round == depth_square == 0:
            return i
        depth_round += (ch == "(") - (ch == ")")
        depth_square += (ch == "[") - (ch == "]")
    return len(text)


def _scalar(val: str) -> Any:
    for kind in (int, float):
        try:
            return kind(val)
        except ValueError:
            pass
    if val.lower() in ("true", "false"):
        return val.lower() == "true"
    if val == "None":
        return None
    return val


def apply_options(cfg: LDict, options: Sequence[CfgOption]) -> LDict:
    """``cfg`` with ``options`` merged in as ``Config.merge_from_dict`` merges them; ``cfg`` itself
    is left as it is (it may be shared)."""
    nested = LDict()
    for option in options:
        d: Any = nested
        steps = option.key.split(".")
        for step in steps[:-1]:
            if step not in d:
                d.set(step, LDict(), option.origin)
            d = d[step]
            if not isinstance(d, LDict):
                raise OptionError(
                    f"--cfg-options `{option.origin.text}`: `{step}` is given a value by another option, "
                    "so it cannot hold keys (mmengine fails here too)"
                )
        d.set(steps[-1], option.value, option.origin)
    out = _merge(nested, cfg, "")
    assert isinstance(out, LDict)
    return out


def _merge(a: LDict, b: Any, where: str) -> Any:
    """``Config._merge_a_into_b(a, b, allow_list_keys=True)``, keeping origins."""
    out: Any = b.shallow_copy() if isinstance(b, LDict) else list(b) if isinstance(b, list) else None
    if out is None:
        raise OptionError(f"--cfg-options: `{where}` is a {type(b).__name__}, so it has no keys to set")
    for k, v in a.items():
        origin = a.origins.get(k)
        key = f"{where}.{k}" if where else k
        if isinstance(out, list) and not k.isdigit():
            raise OptionError(f"--cfg-options: `{where}` is a list: give an item's index, like `{where}.0`")
        if k.isdigit() and isinstance(out, list):
            index = int(k)
            if len(out) <= index:
                raise OptionError(
                    f"--cfg-options `{origin.text if origin else key}`: `{where}` has {len(out)} items, no item {index}"
                )
            if not isinstance(v, LDict):
                raise OptionError(
                    f"--cfg-options `{origin.text if origin else key}`: an item of the list `{where}` is "
                    "replaced key by key (`key.0.x=...`), not whole (mmengine fails on this too)"
                )
            out[index] = _merge(v, out[index], key)
        elif isinstance(v, LDict):
            if k in out and not v.pop(DELETE_KEY, False):
                if not isinstance(out[k], (dict, list)):
                    raise OptionError(
                        f"--cfg-options `{origin.text if origin else key}`: `{key}` is a "
                        f"{type(out[k]).__name__} in the config, not a dict: set `{key}._delete_=True` to "
                        "replace it"
                    )
                _set(out, k, _merge(v, out[k], key), origin)
            else:
                v.config_dict = True
                _set(out, k, v, origin)
        else:
            _set(out, k, v, origin)
    return out


def _set(out: Any, k: Any, value: Any, origin: Origin | None) -> None:
    if isinstance(out, LDict):
        if k in out and origin is not None and isinstance(value, LDict):
            out[k] = value  # a dict merged into keeps where it was first written
        else:
            out.set(k, value, origin)
    else:
        out[k] = value
