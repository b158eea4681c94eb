"""The colours of the plain-text reports (lint, errors, set, eval), as ANSI escapes, and the one
way they are applied. The rich-based reports (explain, diff, schema) name rich's styles instead."""

from __future__ import annotations

from typing import Literal

Style = Literal["bold", "dim", "red", "green", "cyan", "yellow", "blue", "bold-red", "bold-green", "bold-underline"]

_RESET = "\033[0m"
_CODES: dict[Style, str] = {
    "bold": "\033[1m",
    "dim": "\033[2m",
    "red": "\033[31m",
    "green": "\033[32m",
    "cyan": "\033[36m",
    "yellow": "\033[33m",
    "blue": "\033[34m",
    "bold-red": "\033[1;31m",
    "bold-green": "\033[1;32m",
    "bold-underline": "\033[1;4m",
}


def paint(text: str, style: Style, color: bool) -> str:
    """``text`` in ``style`` when ``color`` is on (and the text is not empty); else as it is."""
    return f"{_CODES[style]}{text}{_RESET}" if color and text else text
