"""What the terminal the command writes to can show: colour, and how wide."""

from __future__ import annotations

import os
import sys


def color() -> bool:
    """Colour when stdout is a terminal; ``NO_COLOR`` turns it off, ``FORCE_COLOR`` on."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def width() -> int:
    """The terminal's width, between 80 and 160 columns; 120 when stdout is not a terminal."""
    if not sys.stdout.isatty():
        return 120
    try:
        return max(80, min(os.get_terminal_size().columns, 160))
    except OSError:
        return 120


def layout(wide: bool = False) -> tuple[int | None, bool]:
    """The width a report is laid out for (``None``: as wide as its lines) and whether what has no
    room may be shortened: on a terminal, its width (``COLUMNS`` when set, as rich reads it) and
    shortened; piped, or with ``wide``, never shortened, at ``COLUMNS`` when set, else unbounded."""
    if wide:
        return None, False
    columns = _columns()
    if not sys.stdout.isatty():
        return columns, False
    if columns is None:
        try:
            columns = os.get_terminal_size().columns
        except OSError:
            columns = 80
    return max(MIN_WIDTH, columns), True


MIN_WIDTH = 40


def _columns() -> int | None:
    """``COLUMNS`` when it is a positive number."""
    text = os.environ.get("COLUMNS", "").strip()
    return max(MIN_WIDTH, int(text)) if text.isdigit() and int(text) > 0 else None
