"""Paths as a user reads them: spans, diagnostics and reports hold them absolute, as the loader
found them, and every renderer shows them through here: relative to the working directory when
below it, or relative to a folder it names (the config's, where that is shorter)."""

from __future__ import annotations

import functools
import os
import re

from msgspec import Struct

from losstune.model import Diagnostic, Span


def shown(path: str) -> str:
    """``path`` relative to the working directory when below it, else as it is."""
    try:
        return _below(path, os.getcwd())
    except (OSError, ValueError):  # pragma: no cover - no working directory; other drive on Windows
        return path


@functools.lru_cache(maxsize=8192)
def _below(path: str, cwd: str) -> str:
    rel = os.path.relpath(path, cwd)
    return path if rel.startswith("..") else rel


def position(span: Span, *, column: bool = True) -> str:
    """``file:line:column`` (or ``file:line``) of ``span``, its file as :func:`shown`."""
    where = f"{shown(span.file)}:{span.line}"
    return f"{where}:{span.column}" if column else where


def message(d: Diagnostic) -> str:
    """The message of ``d`` with each file it names (``d.files``) as :func:`shown`."""
    if not d.files:
        return d.message
    names = sorted(set(d.files), key=len, reverse=True)  # a path that begins another is tried last
    return re.sub("|".join(map(re.escape, names)), lambda m: shown(m.group()), d.message)


def order(d: Diagnostic) -> tuple[str, int, int, str]:
    """Diagnostics in the order a report lists them: by file as :func:`shown`, position, code."""
    if d.span is None:
        return ("", 0, 0, d.code)
    return (shown(d.span.file), d.span.line, d.span.column, d.code)


class Paths(Struct, frozen=True):
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
