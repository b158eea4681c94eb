"""The one reader of a number the engine takes from a config dict, with a default.

The rule is what MMDetection's code does with the value: a head or coder computes with it
(``range(num_feat_levels)``, ``nn.Embedding(num_queries, ...)``, ``epoch < initial_epoch``,
``(1 - overlap) / (1 + overlap)``), and Python computes with ``True`` and ``False`` as 1 and 0, so
a bool is read as the int it equals, as MMDetection would use it. A float where the code needs an
int (``range(2.0)``) and anything that is not a number make MMDetection fail, so they, like a
number out of the range the code takes, give the default: the engine models a run that can start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

D = TypeVar("D")


def number(value: Any) -> int | float | None:
    """``value`` as MMDetection's code computes with it: an int or a float as it is, a bool as the
    int it equals; None for anything else."""
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, (int, float)) else None


def _number(d: Any, key: str) -> int | float | None:
    return number(d.get(key)) if isinstance(d, Mapping) else None


def config_int(d: Any, key: str, default: D, *, least: int | None = None) -> int | D:
    """``d[key]`` as MMDetection's code would use it as an int (a bool as 0 or 1), where it is one
    and at least ``least``; else ``default``."""
    value = _number(d, key)
    if isinstance(value, int) and (least is None or value >= least):
        return value
    return default


def config_float(d: Any, key: str, default: D, *, least: float | None = None, above: float | None = None) -> float | D:
    """``d[key]`` as MMDetection's code would compute with it (an int or a bool as the number it
    equals), where it is a number, at least ``least`` and above ``above``; else ``default``."""
    value = _number(d, key)
    if value is None or (least is not None and value < least) or (above is not None and value <= above):
        return default
    return float(value)
