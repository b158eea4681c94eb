"""How numbers are said in messages: ``1 loss``, ``2 losses``, a tensor of ``20000×80``."""

from __future__ import annotations

from collections.abc import Iterable


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` and the word in the form that agrees with it (``many`` defaults to ``one`` + ``s``)."""
    return f"{n} {one if n == 1 else (many if many is not None else one + 's')}"


def shape(dims: Iterable[int]) -> str:
    """A tensor's shape as people write it, ``20000×80`` (``scalar`` for none)."""
    return "×".join(str(d) for d in dims) or "scalar"
