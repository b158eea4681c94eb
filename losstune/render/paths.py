"""Paths as a user reads them: reports and spans hold them as the loader found them (absolute
inside), and a renderer shows each relative to the working directory when it is below it."""

from __future__ import annotations

from losstune.loader.resolve import display_path
from losstune.model import Span


def shown(path: str) -> str:
    """``path`` relative to the working directory when below it, else as it is."""
    return display_path(path)


def position(span: Span, *, column: bool = True) -> str:
    """``file:line:column`` (or ``file:line``) of ``span``, its file as :func:`shown`."""
    where = f"{shown(span.file)}:{span.line}"
    return f"{where}:{span.column}" if column else where
