"""Paths as a user reads them: reports and spans hold them as the loader found them (absolute
inside), and a renderer shows each relative to the working directory when it is below it, or
relative to a folder it names (the config's, where that is shorter)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from losstune.loader.resolve import display_path
from losstune.model import Span


def shown(path: str) -> str:
    """``path`` relative to the working directory when below it, else as it is."""
    return display_path(path)


def position(span: Span, *, column: bool = True) -> str:
    """``file:line:column`` (or ``file:line``) of ``span``, its file as :func:`shown`."""
    where = f"{shown(span.file)}:{span.line}"
    return f"{where}:{span.column}" if column else where


@dataclass(frozen=True)
class Paths:
    """How one report shows its paths: as :func:`shown` (``base`` is ``None``), or relative to the
    folder ``base`` (``../_base_/models/retinanet_r50_fpn.py``)."""

    base: str | None = None

    def show(self, path: str) -> str:
        """``path`` as this report shows it."""
        if self.base is None:
            return shown(path)
        try:
            return os.path.relpath(os.path.abspath(path), self.base)
        except ValueError:  # another drive
            return shown(path)

    def position(self, span: Span) -> str:
        """``file:line`` of ``span``."""
        return f"{self.show(span.file)}:{span.line}"


def shorter_from(folder: str, files: list[str]) -> bool:
    """Whether ``files`` read shorter relative to ``folder`` than as :func:`shown` (the longest of
    them decides)."""
    if not files:
        return False
    here = max(len(shown(f)) for f in files)
    there = max(len(Paths(folder).show(f)) for f in files)
    return there < here
