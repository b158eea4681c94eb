"""Write an override into a YAML or JSON config.

JSON: new keys are inserted as text into the objects that hold them, so every other byte stays.
YAML: the file goes through ruamel.yaml's round-trip mode, which keeps comments, key order and
quoting.
"""

from __future__ import annotations

import io
from typing import Any

from losstune.edit.pywrite import TextEdit, Whole, WriteError, plain_value
from losstune.edit.values import json_literal
from losstune.jsonread import read_json
from losstune.source import SourceText
from losstune.values import LDict


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
            s = src.offset(origin.span.line, origin.span.column)
            e = src.offset(origin.span.end_line, origin.span.end_column)
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
    end = src.offset(last.end_line, last.end_column)
    line_start = text.rfind("\n", 0, src.offset(last.line, last.column)) + 1
    if obj.span.line != last.line:
        indent = len(text[line_start:]) - len(text[line_start:].lstrip(" \t"))
        return TextEdit(end, end, f",\n{' ' * indent}{item}")
    return TextEdit(end, end, f", {item}")


def yaml_override(text: str, override: dict[Any, Any]) -> str:
    """The YAML text with ``override`` merged in, through ruamel.yaml's round trip."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        data = yaml.load(text)
    except Exception as e:  # ruamel raises many kinds; the message says which line
        raise WriteError(f"the YAML config cannot be edited: {str(e).splitlines()[0]}") from None

    def merge(node: Any, ov: dict[Any, Any]) -> None:
        for k, v in ov.items():
            if isinstance(v, dict) and not isinstance(v, Whole):
                if not isinstance(node.get(k), dict):
                    node[k] = CommentedMap()
                merge(node[k], v)
            else:
                node[k] = plain_value(v)

    if not isinstance(data, dict):
        raise WriteError("the YAML config is not a mapping")
    merge(data, override)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
