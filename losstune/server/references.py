"""References to a key an open config sets: the places of the workspace's configs that inherit
it and write that key over it (with the key itself, where asked)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from losstune.loader.source import SourceText
from losstune.loader.values import LDict
from losstune.model import Span
from losstune.server.family import Families
from losstune.server.lookup import key_span, written_key_at


def references(
    families: Families,
    overlay: Mapping[str, str],
    tree: LDict,
    src: SourceText,
    line: int,
    column: int,
    text_of: Callable[[str], SourceText],
    declaration: bool,
) -> tuple[list[Span], list[str]]:
    """The keys of the workspace's configs that write, over ``src``'s config (resolved as
    ``tree``), the key at the 1-based ``line`` and ``column`` (the key itself first, with
    ``declaration``), and what the search for them could not reach."""
    hit = written_key_at(tree, src, line, column)
    if hit is None:
        return [], []
    found, notes = families.overrides(src.path, (*hit.path, hit.key), overlay)
    spans = [key_span(src, hit.key, hit.origin.span)] if declaration else []
    spans += [key_span(text_of(o.span.file), o.key, o.span) for o in found]
    return spans, notes
