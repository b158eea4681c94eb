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
