"""Turning values into text (``str()``, ``repr()``, f-strings, ``str.format``, ``%``) within
the budget.

Each conversion bounds the length of what it is about to write, from the value (measured by
identity, so a shared part is counted where it appears) and from the widths and precisions of the
format, and refuses beyond the length limit before any text is built: ``'{:>2000000000}'.format(1)``
and ``str([[0] * 10**6] * 10**6)`` are refused in microseconds. Within the limits the text is
Python's own, and so are its errors.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from losstune.loader.budget import Budget, Extent, Limits, TooExpensive
from losstune.loader.pyerrors import Unknown, Unsupported, python_message
from losstune.loader.values import Opaque

_CONTAINERS = (dict, list, tuple, set, frozenset)
# A standard format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d*))?[a-zA-Z%]?", re.DOTALL)
# One conversion of printf-style formatting.
_PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?(?P<conv>.)", re.DOTALL
)
_HUGE = 10**12


def _number(digits: str | None) -> int:
    if not digits:
        return 0
    return _HUGE if len(digits) > 12 else int(digits)


def _spec_room(spec: str) -> tuple[int, int]:
    """(width, precision) a format spec asks for; for a spec that is not a standard one, the
    largest number written in it stands for both."""
    m = _SPEC.fullmatch(spec)
    if m is not None:
        return _number(m["width"]), _number(m["precision"])
    largest = max((_number(run) for run in re.findall(r"\d+", spec)), default=0)
    return largest, largest


Doing = Literal["reads", "writes out"]
"""What an operation does with a value it goes through element by element."""


def known_extent(budget: Budget, value: Any, doing: Doing) -> Extent:
    """The extent of a value an operation is about to go through element by element (``doing``
    it: "reads", "writes out"), paid for. An unknown value inside makes the result unknown
    (:class:`Unknown`); a value beyond the limits of one operation is refused."""
    extent = budget.measure(value)
    if isinstance(extent.unknown, Opaque):
        raise Unknown(extent.unknown)
    if extent.unknown is not None:
        raise Unsupported(f"an operation that {doing} a value holding a function or module")
    if not extent.complete:
        raise TooExpensive(f"it {doing} a value {beyond(budget.limits, extent)}")
    return extent


def beyond(limits: Limits, extent: Extent) -> str:
    """How a value whose measure stopped early (``extent``) is beyond the limits of one operation."""
    if extent.depth > limits.depth:
        return f"nested more than {limits.depth} levels deep (losstune reads at most {limits.depth})"
    return (
        f"that stands for more than {limits.values:,} values, every shared part counted where it appears "
        f"(losstune reads at most {limits.values:,} at once)"
    )


def printed_length(budget: Budget, value: Any) -> int:
    """A bound on ``len(repr(value))`` (and so on ``str()``), paid for; raises when ``value``
    holds an unknown value or is beyond the limits."""
    return known_extent(budget, value, "writes out").printed


def convert(budget: Budget, value: Any, conversion: str) -> str:
    """``str(value)``, ``repr(value)`` or ``ascii(value)`` (conversion ``s``, ``r``, ``a``)."""
    if conversion == "s" and type(value) is str:
        return value
    if conversion not in ("s", "r", "a"):
        return string.Formatter().convert_field(value, conversion)  # type: ignore[no-any-return]
    bound = printed_length(budget, value)
    budget.sized(bound * 5 if conversion == "a" else bound, "string")
    if conversion == "s":
        return str(value)
    return repr(value) if conversion == "r" else ascii(value)


def exception_line(budget: Budget, kind: type[BaseException], args: list[Any], kwargs: dict[str, Any]) -> str:
    """The line Python prints for ``raise kind(*args, **kwargs)``: ``ValueError: boom``."""
    budget.sized(printed_length(budget, (args, kwargs)), "string")
    return python_message(kind(*args, **kwargs))


def format_value(budget: Budget, value: Any, spec: str) -> str:
    """``format(value, spec)``."""
    if isinstance(value, _CONTAINERS) and spec:
        return format(value, spec)  # Python refuses any spec for these
    if type(value) is str:
        base = len(value)
    elif isinstance(value, Opaque):
        raise Unknown(value)
    else:
        base = printed_length(budget, value)
    width, precision = _spec_room(spec)
    budget.sized(max(width, 2 * base + precision + 16), "string")
    return format(value, spec)


class _Checked(string.Formatter):
    """``str.format`` that pays for and bounds each field before writing it."""

    def __init__(self, budget: Budget, literal: int) -> None:
        self.budget = budget
        self.total = literal

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if "." in field_name or "[" in field_name:
            raise Unsupported("attribute or item access inside a format string")
        return super().get_field(field_name, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        return value if conversion is None else convert(self.budget, value, conversion)

    def format_field(self, value: Any, format_spec: str) -> str:
        out = format_value(self.budget, value, format_spec)
        self.total += len(out)
        self.budget.sized(self.total, "string")
        return out


def _formatted(check: Callable[[], str], real: Callable[[], str]) -> str:
    """Python's result and errors, once ``check`` (the same formatting, bounded) has passed."""
    try:
        return check()
    except (TooExpensive, Unsupported, Unknown):
        raise
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        # The bounded pass failed where Python fails: let Python say it, in its own words.
        return real()


def str_format(budget: Budget, fmt: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """``fmt.format(*args, **kwargs)``."""
    return _formatted(
        lambda: _Checked(budget, len(fmt)).vformat(fmt, args, kwargs), lambda: fmt.format(*args, **kwargs)
    )


def str_format_map(budget: Budget, fmt: str, mapping: Any) -> str:
    """``fmt.format_map(mapping)``."""
    return _formatted(lambda: _Checked(budget, len(fmt)).vformat(fmt, (), mapping), lambda: fmt.format_map(mapping))


def percent_format(budget: Budget, fmt: str | bytes, values: Any) -> Any:
    """``fmt % values``: each conversion is bounded (its width, precision and the value it
    writes) before Python formats the whole."""
    if isinstance(fmt, bytes):
        text = fmt.decode("latin-1")
    else:
        text = fmt
    args = values if type(values) is tuple else (values,)
    total = len(text)
    i = 0
    pos = text.find("%")
    while pos != -1:
        m = _PERCENT.match(text, pos)
        if m is None:
            break  # Python raises at this conversion
        conv = m["conv"]
        if conv == "%":
            pos = text.find("%", m.end())
            continue
        room = []
        for part in (m["width"], m["precision"]):
            if part == "*":
                if i >= len(args) or type(args[i]) is not int:
                    room.append(0)
                    break
                room.append(abs(args[i]))
                i += 1
            else:
                room.append(_number(part))
        if m["key"] is not None:
            if not isinstance(values, Mapping) or m["key"] not in values:
                break
            arg = values[m["key"]]
        else:
            if i >= len(args):
                break
            arg = args[i]
            i += 1
        if conv == "c":
            base = 1
        elif conv in "rsa" and type(arg) is str:
            base = len(arg) * (10 if conv == "a" else 2) + 2
        elif conv in "rsa":
            base = printed_length(budget, arg) * (5 if conv == "a" else 1)
        elif isinstance(arg, Opaque):
            raise Unknown(arg)
        else:
            base = 2 * printed_length(budget, arg)
        total += max(room[0], base + (room[1] if len(room) > 1 else 0) + 16)
        budget.sized(total, "string")
        pos = text.find("%", m.end())
    return fmt % values
