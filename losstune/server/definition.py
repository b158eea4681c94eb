"""Go to definition in an open config: where the value at the cursor is set.

On a ``_base_`` path, the file it names. On a key, the places that set the value the config
gets there: for a dict merged over its bases (``loss_cls=dict(gamma=1.5)``), the writes of that
dict in each file that sets one of its keys (where ``type`` and the rest come from); for a value
set from a name or ``_base_.x``, where that name's value is set; else the write itself. On a name
in a value (``num_classes``, ``_base_.model.bbox_head``, a name an expression reads), where that
name's value is set."""

from __future__ import annotations

from losstune.config import LoadedConfig, origin_at
from losstune.keypath import Path, get
from losstune.loader.resolve import FileResult, Resolver
from losstune.loader.source import SourceText
from losstune.model import Origin, Span
from losstune.server.lookup import base_path_at, chain, key_span, name_origin, word_at, written_key_at


def _end(origin: Origin) -> Origin:
    """Where a value read through names and ``_base_`` references was written."""
    while origin.via is not None:
        origin = origin.via
    return origin


def value_places(result: FileResult, path: Path, resolver: Resolver) -> list[Origin]:
    """The places that set the value at ``path`` of the resolved config (see the module)."""
    assert result.cfg is not None
    tree = result.cfg
    origin = origin_at(tree, path)
    try:
        node = get(tree, path)
    except (KeyError, IndexError, TypeError):
        node = None
    if isinstance(node, dict):
        files = {o.span.file for k in node if (o := origin_at(tree, (*path, k))) is not None}
        writes = [o for o, _ in chain(result, path, resolver) if o.span.file in files]
        if writes:
            return writes
    return [_end(origin)] if origin is not None else []


def definition(result: FileResult, resolver: Resolver, src: SourceText, line: int, column: int) -> list[Span] | str:
    """The file a ``_base_`` path at the 1-based ``line`` and ``column`` of ``src`` names, or the
    places that set the value of the key or name there (the key's own write only where it is
    the only one); nothing on blank space."""
    target = base_path_at(src, line, column)
    if target is not None:
        return target
    if result.cfg is None:
        return []
    hit = written_key_at(result.cfg, src, line, column)
    word = word_at(src, line, column)
    on_key = hit is not None and (line, column) < (hit.origin.span.line, hit.origin.span.column)
    if hit is not None and word is not None and not on_key:
        read = dict(hit.origin.reads).get(word.split(".")[0])
        named = read if read is not None and "." not in word else name_origin(LoadedConfig(result), word)
        if named is not None:
            return [_end(named).span]
    if hit is None or not (on_key or word):  # nothing, or blank space in a value
        named = name_origin(LoadedConfig(result), word) if word else None
        return [named.span] if named is not None else []
    places = [o.span for o in value_places(result, (*hit.path, hit.key), resolver)]
    others = [s for s in places if s != hit.origin.span]
    return others or places or [key_span(src, hit.key, hit.origin.span)]
