"""Write an override into a Python config's text: merged into its existing ``model = dict(...)``
(descending through nested ``dict(...)`` and ``{...}``), or appended as a new assignment.

Only the spans that change are touched; every other byte of the file stays as it was.
"""

from __future__ import annotations

import ast
from typing import Any

from msgspec import Struct

from losstune.edit.values import closing_style, is_name, line_length, python_literal
from losstune.errors import EditFailure
from losstune.loader import pysource
from losstune.loader.source import SourceText
from losstune.loader.values import same_value


class Whole(Struct, frozen=True):
    """A value written complete (a list, or a dict with ``_delete_``), never merged into."""

    value: Any


class TextEdit(Struct, frozen=True):
    """Replace ``text[start:end]`` of a file by ``new``."""

    start: int
    end: int
    new: str


class WriteError(EditFailure):
    """The override cannot be merged into the file's text automatically."""


def plain_value(v: Any) -> Any:
    """An override (or part of one) as plain data, :class:`Whole` markers removed."""
    if isinstance(v, Whole):
        return v.value
    if isinstance(v, dict):
        return {k: plain_value(x) for k, x in v.items()}
    return v


def _offsets(src: SourceText, node: ast.AST) -> tuple[int, int]:
    span = src.span_bytes(node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0)  # type: ignore[attr-defined]
    return src.offsets(span)


def _entries(node: ast.expr) -> list[tuple[Any, ast.expr, ast.AST]] | None:
    """(key, value node, item node) of a ``dict(...)`` call or a ``{...}`` display."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        if any(kw.arg is None for kw in node.keywords):
            return None
        return [(kw.arg, kw.value, kw) for kw in node.keywords]
    if isinstance(node, ast.Dict):
        out: list[tuple[Any, ast.expr, ast.AST]] = []
        for k, v in zip(node.keys, node.values, strict=True):
            if not isinstance(k, ast.Constant):
                return None
            out.append((k.value, v, v))
        return out
    return None


def _insert(src: SourceText, node: ast.expr, key: Any, value: Any, edits: list[TextEdit]) -> None:
    """Add ``key=value`` at the end of the ``dict(...)`` or ``{...}`` at ``node``, in its layout:
    on a line of its own where the items are one a line, else on the dict's line where it fits,
    else on the next line, under the first item."""
    text = src.original
    width = line_length(text)
    start, end = _offsets(src, node)
    items = _entries(node) or []
    is_call = isinstance(node, ast.Call)
    if is_call and is_name(key):
        item, close = f"{key}=", ""
    elif is_call:  # not a Python name: `dict(a=1, **{'key': value})`, which Python allows
        item, close = f"**{{{key!r}: ", "}"
    else:
        item, close = f"{key!r}: ", ""
    if not items:
        opening = text.index("(" if is_call else "{", start) + 1
        column = _col(src, opening) + len(item)
        literal = python_literal(value, _indent(src, opening), width, column=column, tail=_rest(src, opening))
        edits.append(TextEdit(opening, opening, item + literal + close))
        return
    last_start, last_end = _offsets(src, items[-1][2])
    first_start, _ = _offsets(src, items[0][2])
    line_start = src.line_start(last_start)
    own_line = not text[line_start:last_start].strip()
    multiline = own_line and _line(src, end) > _line(src, start) and _line(src, last_start) > _line(src, first_start)
    tail = _rest(src, last_end) + len(close)
    if multiline:
        indent = last_start - line_start
        literal = python_literal(value, indent, width, column=indent + len(item), tail=tail)
        new = f",\n{' ' * indent}{item}{literal}{close}"
    else:
        column = _col(src, last_end) + 2 + len(item)
        flat = python_literal(value, width=10**9)
        if column + len(flat) + tail <= width:
            new = f", {item}{flat}{close}"
        else:
            under = _col(src, first_start)
            literal = python_literal(value, under, width, column=under + len(item), tail=tail)
            new = f",\n{' ' * under}{item}{literal}{close}"
    edits.append(TextEdit(last_end, last_end, new))


def _rest(src: SourceText, offset: int) -> int:
    """How many characters follow ``offset`` on its line (trailing spaces not counted)."""
    text = src.original
    end = text.find("\n", offset)
    return len(text[offset : len(text) if end < 0 else end].rstrip())


def _replacement(src: SourceText, start: int, end: int, value: Any) -> TextEdit:
    """Replace the text at ``start:end`` by ``value``, laid out to fit where it stands."""
    text = src.original
    literal = python_literal(
        value,
        _indent(src, start),
        line_length(text),
        column=_col(src, start),
        tail=_rest(src, end),
        close=closing_style(text[start:end]),
    )
    return TextEdit(start, end, literal)


def _merge(src: SourceText, node: ast.expr, override: dict[Any, Any], where: str, edits: list[TextEdit]) -> None:
    entries = _entries(node)
    if entries is None:
        raise WriteError(f"`{where}` is not written as dict(...) or {{...}}, so the change cannot be merged into it")
    existing = {k: (v, item) for k, v, item in entries}
    for key, value in override.items():
        if key in existing:
            value_node = existing[key][0]
            if isinstance(value, dict) and not isinstance(value, Whole):
                _merge(src, value_node, value, f"{where}.{key}", edits)
            else:
                edits.append(_replacement(src, *_offsets(src, value_node), plain_value(value)))
        else:
            _insert(src, node, key, plain_value(value), edits)


def dict_edits(
    src: SourceText, start: int, end: int, old: dict[Any, Any], new: dict[Any, Any]
) -> list[TextEdit] | None:
    """Edits that turn the ``dict(...)`` or ``{...}`` written at ``start:end`` (which resolves to
    ``old``) into one that resolves to ``new``: removed items are cut out, changed values replaced,
    new keys added in the dict's layout; every other item keeps its text. ``None`` where the text
    there is not such a dict, or every item it writes goes."""
    node = _node_at(src, start, end)
    entries = _entries(node) if node is not None else None
    if node is None or entries is None or not entries or all(k not in new for k, _, _ in entries):
        return None
    spans = [_offsets(src, item) for _, _, item in entries]
    first_kept = next(i for i, (k, _, _) in enumerate(entries) if k in new)
    edits: list[TextEdit] = []
    for i, (key, value_node, _) in enumerate(entries):
        if key not in new:
            # Cut the item with the separator before it; before the first item kept, with the
            # separator after it.
            cut = (spans[i][0], spans[i + 1][0]) if i < first_kept else (spans[i - 1][1], spans[i][1])
            edits.append(TextEdit(*cut, ""))
        elif key not in old or not same_value(old[key], new[key]):
            edits.append(_replacement(src, *_offsets(src, value_node), plain_value(new[key])))
    written = {k for k, _, _ in entries}
    for key, value in new.items():
        if key == "_delete_" and key not in written and isinstance(node, ast.Call):
            edits.append(_insert_first(src, spans, f"_delete_={python_literal(value)}"))
        elif key not in written:
            _insert(src, node, key, plain_value(value), edits)
    return edits


def _insert_first(src: SourceText, spans: list[tuple[int, int]], item: str) -> TextEdit:
    """``item`` before the first item, separated from it as the first two items are."""
    first = spans[0][0]
    apart = len(spans) > 1 and _line(src, spans[1][0]) > _line(src, first)
    return TextEdit(first, first, item + (f",\n{' ' * _col(src, first)}" if apart else ", "))


def _node_at(src: SourceText, start: int, end: int) -> ast.expr | None:
    try:
        module = pysource.parse_quietly(src.original)
    except SyntaxError:
        return None
    for node in ast.walk(module):
        if isinstance(node, (ast.Call, ast.Dict)) and _offsets(src, node) == (start, end):
            return node
    return None


def _line(src: SourceText, offset: int) -> int:
    return src.line_col(offset)[0]


def _col(src: SourceText, offset: int) -> int:
    return src.line_col(offset)[1] - 1


def _indent(src: SourceText, offset: int) -> int:
    line_start = src.line_start(offset)
    line = src.original[line_start:offset]
    return len(line) - len(line.lstrip(" "))


def python_override(src: SourceText, module: ast.Module, override: dict[Any, Any]) -> list[TextEdit]:
    """Edits that make the file's top-level assignments carry ``override`` (nested dicts are
    merged, :class:`Whole` values and leaves replace)."""
    edits: list[TextEdit] = []
    assigned: dict[str, ast.Assign] = {}
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            assigned[stmt.targets[0].id] = stmt
    appended: list[str] = []
    for key, value in override.items():
        target = assigned.get(key)
        if not is_name(key):
            raise WriteError(
                f"{key!r} is not a Python name, so it cannot be a top-level key of a Python config; check the key path"
            )
        if target is None:
            literal = python_literal(plain_value(value), 0, line_length(src.original), column=len(key) + 3)
            appended.append(f"{key} = {literal}\n")
        elif isinstance(value, dict) and not isinstance(value, Whole):
            merged: list[TextEdit] = []
            try:
                _merge(src, target.value, value, key, merged)
                edits.extend(merged)
            except WriteError:
                # Somewhere on the way the config names a variable or a `_base_` value instead of
                # writing a dict: rebuild the path with copies, so that nothing else sharing
                # that value changes.
                appended.append(f"{key} = {_rebind(key, value)}\n")
        else:
            edits.append(_replacement(src, *_offsets(src, target.value), plain_value(value)))
    if appended:
        text = src.original
        lead = "" if text.endswith("\n") else "\n"
        edits.append(TextEdit(len(text), len(text), lead + "".join(appended)))
    return edits


def _rebind(expr: str, override: dict[Any, Any]) -> str:
    """``dict(expr, key=...)``: a copy of ``expr`` with ``override`` applied, level by level."""
    items = []
    for k, v in override.items():
        if isinstance(v, dict) and not isinstance(v, Whole):
            text = _rebind(f"{expr}[{k!r}]", v)
        else:
            text = python_literal(plain_value(v))
        items.append(f"{k}={text}" if is_name(k) else f"**{{{k!r}: {text}}}")
    return f"dict({expr}, {', '.join(items)})"


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    """``text`` with every edit applied (they must not overlap; the same edit twice is one).
    Insertions at one place keep the order in which they were made."""
    unique = list(dict.fromkeys(edits))
    order = sorted(range(len(unique)), key=lambda i: (unique[i].start, unique[i].end, i))
    out, pos = [], 0
    for i in order:
        e = unique[i]
        out.append(text[pos : e.start])
        out.append(e.new)
        pos = max(pos, e.end)
    out.append(text[pos:])
    return "".join(out)
