"""Inlay hints in an open config: after the keys a loss or sampler dict writes, the parameters it
inherits and does not write (``alpha=0.25 ← retinanet_r50_fpn.py:37``), each with the place that
sets it. Only loss and sampler dicts written in the file that also inherit keys get them."""

from __future__ import annotations

import os

from msgspec import Struct

from losstune.config import LoadedConfig
from losstune.keypath import Path, get
from losstune.loader.source import SourceText
from losstune.loader.values import LDict, to_plain
from losstune.model import Span

MAX_VALUE_CHARS = 40
"""A value longer than this is cut, with an ellipsis."""


class Hint(Struct, frozen=True):
    """One inherited parameter of a dict: shown after ``line`` and ``column`` (1-based, the end
    of the dict's last written value) as ``label``, set at ``origin``."""

    line: int
    column: int
    label: str
    origin: Span


def inherited_hints(cfg: LoadedConfig, src: SourceText, first: int, last: int) -> list[Hint]:
    """The hints of the loss and sampler dicts written in ``src`` whose last written value ends
    on a line from ``first`` to ``last`` (1-based, inclusive)."""
    paths: list[Path] = [loss.path for loss in cfg.losses()]
    paths += [s.path for s in cfg.samplers() if s.path is not None]
    out: list[Hint] = []
    for path in dict.fromkeys(paths):
        try:
            node = get(cfg.tree, path)
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(node, LDict):
            continue
        written = [o.span for o in node.origins.values() if o.span.file == src.path]
        inherited = [
            (k, o.span)
            for k, o in node.origins.items()
            if o.span.file != src.path and isinstance(k, str) and not k.startswith("_")
        ]
        if not written or not inherited:
            continue
        end = max(written, key=lambda s: (s.end_line, s.end_column))
        if not first <= end.end_line <= last:
            continue
        for key, span in inherited:
            value = repr(to_plain(node[key]))
            value = value if len(value) <= MAX_VALUE_CHARS else value[: MAX_VALUE_CHARS - 1] + "…"
            label = f"{key}={value} ← {os.path.basename(span.file)}:{span.line}"
            out.append(Hint(end.end_line, end.end_column, label, span))
    return out
