"""What is under the cursor in an open config: a key of a loss or sampler dict (with the value
it resolves to and where each file of the chain set it), a name, or a ``_base_`` path."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from msgspec import Struct

from losstune.config import LoadedConfig, origin_at
from losstune.keypath import Path, get, walk_dicts
from losstune.loader.resolve import FileResult, Resolver
from losstune.loader.source import SourceText
from losstune.loader.values import LDict
from losstune.model import Origin, Span

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_KEY_REACH = 200  # how far before a value SourceText.key_of looks for its key
_STRING = re.compile(r"""(['"])([^'"]*)\1""")


class KeyHit(Struct, frozen=True):
    """A key of a loss or sampler dict under the cursor: the dict's path, the key, and where
    the value the config gets was set."""

    path: Path
    key: str
    origin: Origin


def key_span(src: SourceText, key: str, value: Span) -> Span:
    """The span of ``key`` where it is written as the key of the value at ``value``, else the
    value's span (a value set another way: ``update``, ``**``)."""
    return src.key_of(value, key) or value


def written_key_at(
    tree: LDict, src: SourceText, line: int, column: int, paths: Iterable[Path] | None = None
) -> KeyHit | None:
    """The innermost key written in ``src`` whose text (from the key's name to the end of its
    value) the 1-based ``line`` and ``column`` fall in: among the keys of the dicts at ``paths``
    only, where given, else of every dict of ``tree``."""
    dicts: list[tuple[Path, Any]] = (
        [((), tree), *walk_dicts(tree)] if paths is None else [(p, _get(tree, p)) for p in paths]
    )
    best: KeyHit | None = None
    for path, node in dicts:
        if not isinstance(node, LDict) or (best is not None and len(path) <= len(best.path)):
            continue
        for key, origin in node.origins.items():
            span = origin.span
            if span.file != src.path or not isinstance(key, str) or (line, column) > (span.end_line, span.end_column):
                continue
            if (line, column) < (span.line, span.column):
                # Before the value: on its key, which key_of finds in the text just before it.
                if src.offset(span.line, span.column) - src.offset(line, column) > len(key) + _KEY_REACH:
                    continue
                span = key_span(src, key, span)
            if (span.line, span.column) <= (line, column):
                best = KeyHit(path, key, origin)
                break
    return best


def _get(tree: LDict, path: Path) -> Any:
    try:
        return get(tree, path)
    except (KeyError, IndexError, TypeError):
        return None


def key_at(cfg: LoadedConfig, src: SourceText, line: int, column: int) -> KeyHit | None:
    """The loss or sampler key at the 1-based ``line`` and ``column`` of ``src`` (see
    :func:`written_key_at`)."""
    paths = [loss.path for loss in cfg.losses()] + [s.path for s in cfg.samplers() if s.path is not None]
    return written_key_at(cfg.tree, src, line, column, paths)


def chain(result: FileResult, path: Path, resolver: Resolver) -> list[tuple[Origin, Any]]:
    """Where each file the config reads (its bases, then itself) set the value at ``path`` when
    resolved on its own, and the value it set, one entry per place, in inheritance order."""
    out: list[tuple[Origin, Any]] = []
    seen: set[object] = set()
    for file in [*result.files, result.path]:
        tree = resolver.resolve(file).cfg
        if tree is None:
            continue
        origin = origin_at(tree, path)
        if origin is None or origin.span in seen or origin.span.file != file:
            continue
        seen.add(origin.span)
        try:
            value = get(tree, path)
        except (KeyError, IndexError, TypeError):
            continue
        out.append((origin, value))
    return out


def word_at(src: SourceText, line: int, column: int) -> str | None:
    """The dotted name (``num_classes``, ``_base_.model``) at the cursor."""
    for m in _WORD.finditer(src.line_text(line)):
        if m.start() < column <= m.end() + 1:
            return m.group()
    return None


def base_path_at(src: SourceText, line: int, column: int) -> str | None:
    """The file a string at the cursor names, relative to the config's folder, if it exists
    (a ``_base_`` entry)."""
    for m in _STRING.finditer(src.line_text(line)):
        if m.start() < column <= m.end():
            target = os.path.normpath(os.path.join(os.path.dirname(src.path), m.group(2)))
            if m.group(2) and os.path.isfile(target):
                return target
    return None


def name_origin(cfg: LoadedConfig, name: str) -> Origin | None:
    """Where the value a top-level name (or a dotted path through ``_base_``) has was set."""
    parts = name.split(".")
    if parts[0] == "_base_":
        parts = parts[1:]
    if not parts or parts[0] not in cfg.tree:
        return None
    path: Path = tuple(parts)
    origin = origin_at(cfg.tree, path)
    while origin is not None and origin.via is not None:
        origin = origin.via
    return origin
