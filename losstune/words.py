"""How numbers are said in messages: ``1 loss``, ``2 losses``."""

from __future__ import annotations


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` and the word in the form that agrees with it (``many`` defaults to ``one`` + ``s``)."""
    return f"{n} {one if n == 1 else (many if many is not None else one + 's')}"
