"""YAML configs read the way mmengine reads them, with the position of every value.

mmengine loads YAML with PyYAML's full loader (``CLoader``, on libyaml's parser, where PyYAML has
it), so losstune uses the same parser, PyYAML's resolver and its scalar constructors (``1e3`` is a
string, ``yes`` is ``True``, exactly as there). It composes and walks the node graph itself, to
record positions and to stay within :mod:`losstune.loader.limits` (nesting, values once aliases are
expanded, digits of an integer), builds ``!!python/tuple`` (which ``Config.dump`` writes) as a
tuple, and refuses every other Python tag instead of constructing arbitrary objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml
from msgspec import Struct

from losstune.loader import codes
from losstune.loader.limits import MAX_DATA_DEPTH, MAX_DATA_VALUES, MAX_INT_DIGITS
from losstune.loader.source import SourceText
from losstune.loader.values import LDict, Opaque
from losstune.model import Diagnostic, Origin, Span

_PY_TAG = "tag:yaml.org,2002:python/"
_TUPLE_TAG = "tag:yaml.org,2002:python/tuple"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_INT_TAG = "tag:yaml.org,2002:int"


class _Beyond(yaml.YAMLError):
    """The document crosses a limit while it is composed: ``deep`` or too many values."""

    def __init__(self, mark: Any, deep: bool) -> None:
        super().__init__("the YAML is beyond the limits losstune reads")
        self.mark = mark
        self.deep = deep


if TYPE_CHECKING or yaml.__with_libyaml__:
    from yaml._yaml import CParser as _Parser
else:  # pragma: no cover - PyYAML built without libyaml

    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


class _Loader(yaml.composer.Composer, _Parser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """mmengine's loader: libyaml's parser where PyYAML has it (mmengine takes ``CLoader`` then),
    PyYAML's own otherwise; the safe constructor, whose scalars are the same as the full loader's.

    Nodes are composed here, no deeper than ``MAX_DATA_DEPTH`` (the composer recurses) and no more
    than ``MAX_DATA_VALUES`` of them. The loader also records where each alias is written and which
    anchor each node carries, which the node graph itself forgets."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.alias_at: dict[tuple[int, Any], tuple[Any, Any]] = {}  # (start, end) marks of each alias
        self.aliases_of: dict[int, list[tuple[Any, Any]]] = {}
        self.anchor_of: dict[int, str] = {}
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if not isinstance(event, yaml.AliasEvent):
            self._nodes += 1
            deep = self._depth >= MAX_DATA_DEPTH and isinstance(
                event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)
            )
            if deep or self._nodes > MAX_DATA_VALUES:
                raise _Beyond(event.start_mark if event else None, deep)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        if isinstance(event, yaml.AliasEvent):
            marks: tuple[Any, Any] = (event.start_mark, event.end_mark)
            self.aliases_of.setdefault(id(node), []).append(marks)
            if parent is not None and index is not None:
                self.alias_at[position(parent, index)] = marks
        elif anchor := getattr(event, "anchor", None):
            self.anchor_of[id(node)] = anchor
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
        end = min(e.index, len(self.src.text))  # libyaml's end of the stream may lie past the text
        return self.src.span_offsets(min(s.index, end), end)

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
            try:
                self.loader.flatten_mapping(node)
            except yaml.YAMLError as e:
                mark = getattr(e, "problem_mark", None)
                return self._error(node, f"YAML error: {_problem(e)}", "correct the `<<` merge key", mark)
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
        if isinstance(node, yaml.ScalarNode) and tag == _INT_TAG:
            digits = sum(c.isdigit() for c in node.value)
            if digits > MAX_INT_DIGITS:
                return self._error(
                    node,
                    f"the YAML holds an integer of {digits:,} digits; Python (and so mmengine) converts at most "
                    f"{MAX_INT_DIGITS:,} digits to an integer",
                    "write the number as a float or a string",
                )
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            return self._refuse(node, _problem(e), codes.SYNTAX_ERROR)
        except Exception as e:  # PyYAML's constructors fail on text such as 2001-02-30 or an empty `!!int`
            why = str(e) or type(e).__name__
            return self._error(node, f"the YAML value cannot be built: {why}", "correct the value, or quote it")

    def _error(self, node: yaml.Node, message: str, fix: str, mark: Any = None) -> Opaque:
        """An error at ``node`` (reported at ``mark`` when PyYAML gives a closer one)."""
        span = self.span(node)
        at = _at(self.src, mark) if mark is not None else span
        self.diagnostics.append(codes.diagnostic(codes.SYNTAX_ERROR, message, at, fix=fix))
        return Opaque(message, self.src.segment(span), span)

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


def _at(src: SourceText, mark: Any, index: int = 0) -> Span:
    """A one-character span at ``mark`` (or at ``index``), kept inside the text."""
    at = max(0, min(mark.index if mark is not None else index, len(src.text)))
    return src.span_offsets(at, min(at + 1, len(src.text)))


def _problem(e: yaml.YAMLError) -> str:
    """What PyYAML says is wrong, without its context lines."""
    if isinstance(e, yaml.MarkedYAMLError) and (e.problem or e.context):
        return str(e.problem or e.context)
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


class _Measure(Struct):
    """What the node graph holds once every alias is expanded: values and nesting of each node,
    and a node that contains itself (through an alias), if any."""

    size: dict[int, int]
    depth: dict[int, int]
    cycle: yaml.Node | None = None


def _measure(root: yaml.Node) -> _Measure:
    """Sizes and depths of the expanded tree, in time linear in the nodes as composed (an
    alias is a shared node, not a copy)."""
    out = _Measure({}, {})
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            kids = _children(node)
            out.size[key] = 1 + sum(out.size[id(k)] for k in kids)
            collection = isinstance(node, (yaml.MappingNode, yaml.SequenceNode))
            out.depth[key] = (1 + max((out.depth[id(k)] for k in kids), default=0)) if collection else 0
            continue
        if key in out.size:
            continue
        if key in open_:
            out.cycle = node
            return out
        open_.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in out.size)
    return out


def _limits(root: yaml.Node, src: SourceText) -> Diagnostic | None:
    """A diagnostic when the expanded tree is recursive, too large or too deep."""
    m = _measure(root)
    if m.cycle is not None:
        return codes.diagnostic(
            codes.SYNTAX_ERROR,
            "this YAML collection contains itself through an alias; mmengine cannot convert a recursive structure",
            _at(src, m.cycle.start_mark),
            fix="replace the alias inside the collection by the values it should hold",
        )
    if m.size[id(root)] > MAX_DATA_VALUES:
        node = root
        while True:
            bigger = next((k for k in _children(node) if m.size[id(k)] > MAX_DATA_VALUES), None)
            if bigger is None:
                break
            node = bigger
        return _too_many(src, node.start_mark, aliased=True, count=m.size[id(node)])
    if m.depth[id(root)] > MAX_DATA_DEPTH:
        node = root
        for _ in range(MAX_DATA_DEPTH):
            node = max(_children(node), key=lambda k: m.depth[id(k)])
        return _too_deep(src, node.start_mark)
    return None


def _too_many(src: SourceText, mark: yaml.Mark | None, aliased: bool, count: int = 0) -> Diagnostic:
    span = _at(src, mark)
    if aliased:
        message = f"the YAML aliases here expand to {count:,} values (mmengine builds every copy)"
        fix = "write the values once, without aliases that repeat aliases"
    else:
        message = f"the YAML holds more than {MAX_DATA_VALUES:,} values by here"
        fix = "keep data that large out of the config"
    return codes.diagnostic(codes.SYNTAX_ERROR, f"{message}; losstune reads at most {MAX_DATA_VALUES:,}", span, fix=fix)


def _too_deep(src: SourceText, mark: yaml.Mark | None) -> Diagnostic:
    span = _at(src, mark)
    return codes.diagnostic(
        codes.SYNTAX_ERROR,
        f"the YAML nests lists and mappings more than {MAX_DATA_DEPTH} levels deep here "
        f"(losstune reads at most {MAX_DATA_DEPTH})",
        span,
        fix="flatten the structure",
    )


def read_yaml(src: SourceText, diagnostics: list[Diagnostic]) -> Any:
    """Parse ``src.text``; return its data (dicts as :class:`LDict`), or ``None`` on a syntax error
    or a document beyond the limits of :mod:`losstune.loader.limits`."""
    loader = _Loader(src.text)
    try:
        try:
            node = loader.get_single_node()
        except _Beyond as e:
            diagnostics.append(_too_deep(src, e.mark) if e.deep else _too_many(src, e.mark, aliased=False))
            return None
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            span = _at(src, mark)
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
        except yaml.YAMLError as e:  # a character YAML does not allow, at an offset
            position = getattr(e, "position", None)
            span = _at(src, None, position if isinstance(position, int) else 0)
            diagnostics.append(
                codes.diagnostic(
                    codes.SYNTAX_ERROR,
                    f"YAML error: {_problem(e)}",
                    span,
                    fix="remove the character, or write it escaped inside a double-quoted string",
                )
            )
            return None
        if node is None:
            return None
        beyond = _limits(node, src)
        if beyond is not None:
            diagnostics.append(beyond)
            return None
        return _Reader(src, loader, diagnostics).build(node)
    finally:
        loader.dispose()
