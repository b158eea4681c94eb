"""YAML configs read the way mmengine reads them, with the position of every value.

mmengine loads YAML with PyYAML's full loader, so losstune uses PyYAML's own scanner, resolver and
scalar constructors (``1e3`` is a string, ``yes`` is ``True``, exactly as there). It walks the node
graph itself to record positions, builds ``!!python/tuple`` (which ``Config.dump`` writes) as a
tuple, and refuses every other Python tag instead of constructing arbitrary objects.
"""

from __future__ import annotations

from typing import Any

import yaml

from losstune import codes
from losstune.model import Diagnostic, Origin, Span
from losstune.source import SourceText
from losstune.values import LDict, Opaque

_PY_TAG = "tag:yaml.org,2002:python/"
_TUPLE_TAG = "tag:yaml.org,2002:python/tuple"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _Loader(yaml.SafeLoader):
    """SafeLoader: its scalar resolution is the same as the full loader mmengine uses. It also
    records where each alias is written and which anchor each node carries, which the node graph
    itself forgets."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_at: dict[tuple[int, Any], tuple[Any, Any]] = {}  # (start, end) marks of each alias
        self.aliases_of: dict[int, list[tuple[Any, Any]]] = {}
        self.anchor_of: dict[int, str] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        if node is None:
            return None
        if isinstance(event, yaml.AliasEvent):
            marks: tuple[Any, Any] = (event.start_mark, event.end_mark)
            self.aliases_of.setdefault(id(node), []).append(marks)
            if parent is not None and index is not None:
                self.alias_at[position(parent, index)] = marks
        elif getattr(event, "anchor", None):
            self.anchor_of[id(node)] = event.anchor
        return node

    def end_mark(self, parent: yaml.Node | None, index: Any, node: yaml.Node) -> Any:
        """Where the text of ``node`` (at ``index`` of ``parent``) ends: the alias when it is
        one; for a block collection, its last item, not the comments and lines after it."""
        alias = self.alias_at.get(position(parent, index)) if parent is not None else None
        if alias is not None:
            return alias[1]
        if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
            key, value = node.value[-1]
            return self.end_mark(node, key, value)
        if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
            return self.end_mark(node, len(node.value) - 1, node.value[-1])
        return node.end_mark


def position(parent: yaml.Node, index: Any) -> tuple[int, Any]:
    """The key of a value's place: its mapping and key node, or its sequence and index."""
    return (id(parent), id(index) if isinstance(index, yaml.Node) else index)


def compose(text: str) -> tuple[yaml.Node | None, _Loader]:
    """The node graph of a YAML text (nothing constructed), and the loader that knows its
    aliases and anchors; ``yaml.YAMLError`` when it does not parse."""
    loader = _Loader(text)
    try:
        return loader.get_single_node(), loader
    finally:
        loader.dispose()


class _Reader:
    def __init__(self, src: SourceText, loader: _Loader, diagnostics: list[Diagnostic]) -> None:
        self.src = src
        self.loader = loader
        self.diagnostics = diagnostics
        self.memo: dict[int, Any] = {}

    def span(self, node: yaml.Node) -> Span:
        """Where ``node`` is written (an alias's value: at its anchor), trailing comments not included."""
        s, e = node.start_mark, self.loader.end_mark(None, None, node)
        return self.src.span_chars(s.line + 1, s.column, e.line + 1, e.column)

    def build(self, node: yaml.Node) -> Any:
        if id(node) in self.memo:
            return self.memo[id(node)]
        value = self._build(node)
        self.memo[id(node)] = value
        return value

    def _build(self, node: yaml.Node) -> Any:
        tag = node.tag or ""
        if isinstance(node, yaml.MappingNode) and tag == _MAP_TAG:
            out = LDict()
            out.span = self.span(node)
            self.loader.flatten_mapping(node)
            for key_node, value_node in node.value:
                key = self.build(key_node)
                try:
                    hash(key)
                except TypeError:
                    return self._refuse(key_node, "a mapping key that is not a scalar", codes.SYNTAX_ERROR)
                out.set(key, self.build(value_node), Origin(self.span(value_node), "literal"))
            return out
        if isinstance(node, yaml.SequenceNode) and tag in (_SEQ_TAG, _TUPLE_TAG):
            items = [self.build(v) for v in node.value]
            return tuple(items) if tag == _TUPLE_TAG else items
        if tag.startswith(_PY_TAG):
            return self._refuse(node, f"the tag !!{tag[len('tag:yaml.org,2002:') :]}", codes.UNSAFE_YAML_TAG)
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            return self._refuse(node, str(e).splitlines()[0], codes.SYNTAX_ERROR)

    def _refuse(self, node: yaml.Node, what: str, code: codes.Code) -> Opaque:
        span = self.span(node)
        self.diagnostics.append(
            codes.diagnostic(
                code,
                f"{what} cannot be read safely; losstune builds plain data only",
                span,
                fix="write the value as plain YAML data (a !!python/tuple is fine)",
            )
        )
        return Opaque(what, self.src.segment(span), span)


def read_yaml(src: SourceText, diagnostics: list[Diagnostic]) -> Any:
    """Parse ``src.text``; return its data (dicts as :class:`LDict`), or ``None`` on a syntax error."""
    loader = _Loader(src.text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            span = src.span_chars(mark.line + 1, mark.column, mark.line + 1, mark.column + 1) if mark else None
            problem = e.problem or e.context or "invalid YAML"
            diagnostics.append(
                codes.diagnostic(
                    codes.SYNTAX_ERROR,
                    f"YAML syntax error: {problem}",
                    span,
                    fix="fix the YAML at this position; `{{_base_.x}}` must stay unquoted",
                )
            )
            return None
        except yaml.YAMLError as e:
            diagnostics.append(codes.diagnostic(codes.SYNTAX_ERROR, f"YAML error: {e}", None, fix="fix the YAML"))
            return None
        if node is None:
            return None
        return _Reader(src, loader, diagnostics).build(node)
    finally:
        loader.dispose()
