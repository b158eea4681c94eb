"""Write an override into a YAML or JSON config, as text: new keys are inserted into the
mappings (objects) that hold them, values are replaced where they are written, and every other
byte of the file stays as it was.
"""

from __future__ import annotations

import itertools
from typing import Any

import yaml

from losstune.edit.pywrite import TextEdit, Whole, WriteError, plain_value
from losstune.edit.values import json_literal, yaml_literal
from losstune.loader.jsonread import read_json
from losstune.loader.source import SourceText
from losstune.loader.values import LDict, to_plain
from losstune.loader.yamlread import compose, position, read_yaml


def json_override(src: SourceText, override: dict[Any, Any]) -> list[TextEdit]:
    """Edits that make a JSON config carry ``override``."""
    own = read_json(src, [])
    if not isinstance(own, LDict):
        raise WriteError("the JSON config cannot be read")
    edits: list[TextEdit] = []
    _json_merge(src, own, override, edits)
    return edits


def _json_merge(src: SourceText, obj: LDict, override: dict[Any, Any], edits: list[TextEdit]) -> None:
    for key, value in override.items():
        if key in obj:
            child = obj[key]
            if isinstance(value, dict) and not isinstance(value, Whole) and isinstance(child, LDict):
                _json_merge(src, child, value, edits)
                continue
            origin = obj.origins[key]
            s, e = src.offsets(origin.span)
            edits.append(TextEdit(s, e, json_literal(plain_value(value))))
        else:
            edits.append(_json_insert(src, obj, key, plain_value(value)))


def _json_insert(src: SourceText, obj: LDict, key: Any, value: Any) -> TextEdit:
    text = src.original
    assert obj.span is not None
    start = src.offset(obj.span.line, obj.span.column)
    item = f"{json_literal(str(key))}: {json_literal(value)}"
    if not obj:
        return TextEdit(start + 1, start + 1, item)
    last = obj.origins[list(obj.keys())[-1]].span
    last_start, end = src.offsets(last)
    line_start = src.line_start(last_start)
    if obj.span.line != last.line:
        indent = len(text[line_start:]) - len(text[line_start:].lstrip(" \t"))
        return TextEdit(end, end, f",\n{' ' * indent}{item}")
    return TextEdit(end, end, f", {item}")


def yaml_override(text: str, override: dict[Any, Any]) -> list[TextEdit]:
    """Edits that make a YAML config carry ``override``, as text: a value is replaced where it is
    written, a new key is a new line in its block mapping (or an item of its flow mapping), and
    every other byte stays. A value reached through an alias (``*name``) is edited by writing the
    alias out with its own, changed value; before a value with an anchor (``&name``) is edited,
    its aliases are written out with the value they had, so that only the requested keys change."""
    try:
        root, loader = compose(text)
        src = SourceText.plain("<config>", text)
        own = read_yaml(src, [])
    except yaml.YAMLError as e:
        raise WriteError(f"the YAML config cannot be edited: {str(e).splitlines()[0]}") from None
    if not isinstance(root, yaml.MappingNode) or not isinstance(own, LDict):
        raise WriteError("the YAML config is not a mapping")
    writer = _YamlWriter(src, loader)
    writer.merge(root, own, override, "")
    return writer.edits()


class _YamlWriter:
    def __init__(self, src: SourceText, loader: Any) -> None:
        self.src = src
        self.text = src.original
        self.loader = loader
        self.plain: list[TextEdit] = []
        self.at_alias: dict[int, TextEdit] = {}  # by start: one edit per alias, the explicit one wins

    def edits(self) -> list[TextEdit]:
        # New lines inserted at one place: the deeper ones first, so each lands in its mapping.
        out = sorted([*self.plain, *self.at_alias.values()], key=lambda e: (e.start, e.end, -_depth(e)))
        for a, b in itertools.pairwise(out):
            if b.start < a.end:
                raise WriteError("the YAML edits overlap (anchors and aliases around the edited keys); edit by hand")
        return out

    def _key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:merge":
            return _NO_KEY
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            return _NO_KEY

    def _unshare(self, node: yaml.Node, value: Any) -> None:
        """Write every alias of ``node`` out as ``value``: ``node`` is about to change."""
        literal = yaml_literal(to_plain(value))
        for start, end in self.loader.aliases_of.get(id(node), []):
            self.at_alias.setdefault(start.index, TextEdit(start.index, end.index, literal))

    def merge(self, node: yaml.MappingNode, data: LDict, override: dict[Any, Any], where: str) -> None:
        self._unshare(node, data)
        entries = {self._key(k): (k, v) for k, v in node.value}
        for key, value in override.items():
            shown = f"{where}.{key}" if where else str(key)
            if key not in entries:
                self._insert(node, key, _merged(data.get(key), value))
                continue
            key_node, value_node = entries[key]
            alias = self.loader.alias_at.get(position(node, key_node))
            if alias is not None:
                start, end = alias[0].index, alias[1].index
                self.at_alias[start] = TextEdit(start, end, yaml_literal(_merged(data.get(key), value)))
            elif (
                isinstance(value, dict)
                and not isinstance(value, Whole)
                and isinstance(value_node, yaml.MappingNode)
                and value_node.tag == "tag:yaml.org,2002:map"
                and isinstance(data.get(key), LDict)
            ):
                self.merge(value_node, data[key], value, shown)
            else:
                self._unshare(value_node, data.get(key))
                self._replace(node, key_node, value_node, yaml_literal(plain_value(value)))

    def _replace(self, parent: yaml.Node, key: yaml.Node, node: yaml.Node, literal: str) -> None:
        start, end = node.start_mark.index, self.loader.end_mark(parent, key, node).index
        self.plain.append(yaml_replacement(self.src, start, end, literal))

    def _insert(self, node: yaml.MappingNode, key: Any, value: Any) -> None:
        item = f"{yaml_literal(key)}: {yaml_literal(value)}"
        text = self.text
        if node.flow_style:
            if not node.value:
                opening = text.index("{", node.start_mark.index) + 1
                self.plain.append(TextEdit(opening, opening, item))
                return
            last_key, last_value = node.value[-1]
            end = self.loader.end_mark(node, last_key, last_value).index
            self.plain.append(TextEdit(end, end, f", {item}"))
            return
        first_key, _ = node.value[0]
        last_key, last_value = node.value[-1]
        end = self.loader.end_mark(node, last_key, last_value).index
        # After the last item's line (its comment included), before the lines that follow it.
        if end > 0 and text[end - 1] == "\n":
            at = end - 1
        else:
            at = text.find("\n", end)
            at = len(text) if at < 0 else at
        self.plain.append(TextEdit(at, at, f"\n{' ' * first_key.start_mark.column}{item}"))


_NO_KEY = object()


def _depth(edit: TextEdit) -> int:
    """The indentation of a new line that ``edit`` inserts (0 for other edits)."""
    if edit.start != edit.end or not edit.new.startswith("\n"):
        return 0
    return len(edit.new) - len(edit.new[1:].lstrip(" ")) - 1


def yaml_replacement(src: SourceText, start: int, end: int, literal: str) -> TextEdit:
    """The edit that replaces the YAML value written at ``src.original[start:end]`` by ``literal``: it
    keeps the value's anchor (``&name``), puts a one-line value after its key's colon, or after a
    space where the old value was empty (``key:``), and indents it where it replaces a block
    sequence that starts its line after a comment (a one-line value stands further in than its key)."""
    text = src.original
    old = text[start:end]
    if old.startswith("&"):
        return TextEdit(start, end, f"{old.split(None, 1)[0]} {literal}")
    before = text[:start].rstrip(" \t\r\n")
    colon_line = text[src.line_start(len(before)) : len(before)]
    if before.endswith(":") and "#" not in colon_line and (not old or "\n" in text[len(before) : start]):
        return TextEdit(len(before), end, f" {literal}")  # `key:\n- a` becomes `key: [a]`
    line_start = src.line_start(start)
    if old.startswith("-") and not text[line_start:start].strip():
        return TextEdit(start, end, f"  {literal}")
    return TextEdit(start, end, literal)


def _merged(current: Any, value: Any) -> Any:
    """The plain value a key gets when ``value`` (an override, or a whole value) is merged into
    ``current`` the way mmengine merges a child's dict into its base's."""
    if isinstance(value, dict) and not isinstance(value, Whole) and isinstance(current, dict):
        out = dict(to_plain(current))
        for k, v in value.items():
            out[k] = _merged(out.get(k), v)
        return out
    return plain_value(value)
