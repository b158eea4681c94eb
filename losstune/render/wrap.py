"""Plain text wrapped at a width with a hanging indent, never cutting a word (a number, a path, a
key stays whole on its line, even where it is wider than the width). A no-break space (``GLUE``)
keeps two words on one line, and is written as a space."""

from __future__ import annotations

import textwrap

GLUE = "\xa0"


def hang(text: str, width: int | None, first: str = "", rest: str | None = None) -> list[str]:
    """``text`` as lines at most ``width`` wide (``None``: one line), the first starting with
    ``first``, the others with ``rest`` (as many spaces as ``first`` when not given); words joined
    by ``GLUE`` stay on one line."""
    rest = " " * len(first) if rest is None else rest
    if width is None:
        return [(first + text).replace(GLUE, " ")]
    lines = textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line.replace(GLUE, " ") for line in lines] or [first.rstrip()]
