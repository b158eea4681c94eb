"""Values on the command line (``KEY=VALUE``) and values written back into config files."""

from __future__ import annotations

import ast
import json
import keyword
import math
import unicodedata
from typing import Any

import yaml
from msgspec import Struct

from losstune.errors import EditFailure
from losstune.loader.limits import MAX_DATA_DEPTH


class AssignmentError(EditFailure):
    """A ``KEY=VALUE`` that cannot be understood."""


class Assignment(Struct, frozen=True):
    """One requested change: ``key`` set to ``value``, removed with ``unset``, or renamed to
    ``rename`` (its last step; the value stays); ``text`` is the value as it was typed, where it was."""

    key: str
    value: Any = None
    unset: bool = False
    text: str | None = None
    rename: str | None = None


def parse_value(raw: str) -> Any:
    """A Python literal (numbers, quoted strings, ``True``/``False``/``None``, lists, tuples,
    dicts), ``true``/``false``/``null`` as in JSON and YAML, or else the text itself, spaces kept."""
    text = raw.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError):
        pass
    except (MemoryError, RecursionError):
        raise _too_deep() from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    except RecursionError:
        raise _too_deep() from None
    if "(" in text:  # dict(type='GIoULoss', loss_weight=2.0), 1.0 / 9.0 written with a call...
        value = _interpret(text)
        if value is not _FAILED:
            return value
    return raw


def _too_deep() -> AssignmentError:
    return AssignmentError(
        f"the value nests too deeply to be read; give one nested at most {MAX_DATA_DEPTH} levels deep"
    )


_FAILED = object()


def _interpret(text: str) -> Any:
    """Evaluate an expression with the config interpreter (nothing runs); ``_FAILED`` if it
    cannot be evaluated."""
    from losstune.loader.recompute import FAILED, evaluate
    from losstune.loader.values import to_plain

    value = evaluate(text)
    return _FAILED if value is FAILED else to_plain(value)


def parse_assignment(text: str) -> Assignment:
    """``KEY=VALUE``, split at the first ``=``."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise AssignmentError(f"`{text}` is not an assignment: write KEY=VALUE, like loss_cls.gamma=1.5")
    try:
        return Assignment(key.strip(), parse_value(raw), text=raw)
    except AssignmentError as e:
        raise AssignmentError(f"`{key.strip()}=...`: {e}") from None


def split_sweep_values(raw: str) -> list[tuple[str, Any]]:
    """``V1,V2,...`` of ``losstune sweep``, each as typed and as read: commas inside brackets or
    quotes do not split."""
    parts: list[str] = []
    depth = 0
    quote = ""
    current = ""
    for ch in raw:
        if quote:
            current += ch
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    return [(p, parse_value(p)) for p in parts if p.strip()]


def is_name(key: Any) -> bool:
    """Whether ``key`` can be written as a Python name (``dict(key=...)``, ``key = ...``): an
    identifier, not a keyword, and one that Python does not normalise into another name."""
    return (
        isinstance(key, str)
        and key.isidentifier()
        and not keyword.iskeyword(key)
        and unicodedata.normalize("NFKC", key) == key
    )


LINE_LENGTH = 79


def line_length(text: str) -> int:
    """The line length to write ``text``'s new lines to: 79 (MMDetection's yapf style), or its
    longest line where the file is written to a longer one."""
    return max([LINE_LENGTH, *(len(line) for line in text.splitlines())])


def closing_style(text: str) -> str:
    """How the bracketed source ``text`` closes: ``""`` right after its last item, ``"\n"`` on a
    line of its own, ``",\n"`` on a line of its own after a trailing comma."""
    body = text.rstrip()[:-1]
    if not text.rstrip().endswith((")", "]", "}")) or "\n" not in body or body.rsplit("\n", 1)[1].strip():
        return ""
    return ",\n" if body.rstrip().endswith(",") else "\n"


def python_literal(
    value: Any, indent: int = 0, width: int = 100, column: int | None = None, tail: int = 0, close: str = ""
) -> str:
    """Source text of ``value`` as a config writes it: ``dict(a=1)`` for dicts with name keys.

    It stays on one line when it fits in ``width`` from ``column`` (default ``indent``) with
    ``tail`` more characters after it on that line; otherwise each item goes on its own line,
    indented by ``indent + 4``, and the closing bracket follows the last item, or with ``close``
    (a :func:`closing_style`) goes on a line of its own at ``indent``."""
    flat = _python_flat(value)
    start = indent if column is None else column
    if start + len(flat) + tail <= width or not isinstance(value, (dict, list, tuple)) or not value:
        return flat
    pad = indent + 4
    if isinstance(value, dict):
        names = all(is_name(k) for k in value)
        entries = [(f"{k}=" if names else f"{k!r}: ", v) for k, v in value.items()]
        opening, closing = ("dict(", ")") if names else ("{", "}")
    else:
        entries = [("", v) for v in value]
        opening, closing = ("(", ",)" if len(value) == 1 else ")") if isinstance(value, tuple) else ("[", "]")
    if close and closing == ",)":  # a one-item tuple keeps its comma
        closing, close = ")", ",\n"
    items = []
    for i, (prefix, v) in enumerate(entries):
        last = i == len(entries) - 1
        after = (len(close) - 1 if close else tail + len(closing)) if last else 1
        items.append(" " * pad + prefix + python_literal(v, pad, width, column=pad + len(prefix), tail=after))
    if close:
        return opening + "\n" + ",\n".join(items) + close + " " * indent + closing
    return opening + "\n" + ",\n".join(items) + closing


def _python_flat(value: Any) -> str:
    if isinstance(value, dict):
        if all(is_name(k) for k in value):
            return "dict(" + ", ".join(f"{k}={_python_flat(v)}" for k, v in value.items()) + ")"
        return "{" + ", ".join(f"{k!r}: {_python_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_python_flat(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_python_flat(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def yaml_literal(value: Any) -> str:
    """A one-line YAML flow form of ``value`` that PyYAML (and so mmengine) reads back as
    ``value``: ``{type: FocalLoss, gamma: 2.0}``, ``!!python/tuple [1, 2]``, ``null``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{yaml_literal(k)}: {yaml_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "!!python/tuple [" + ", ".join(yaml_literal(v) for v in value) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_literal(v) for v in value) + "]"
    # Dumped inside a flow list, so that PyYAML quotes what a flow context needs quoted (`a,b`).
    text = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=10**6).strip()
    text = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if isinstance(value, str) and any(c in text for c in _YAML_BREAKS):
        # A string with line breaks: one double-quoted line, every break escaped.
        text = json.dumps(value, ensure_ascii=False)
        for c in _YAML_BREAKS[1:]:
            text = text.replace(c, f"\\u{ord(c):04x}")
    return text


_YAML_BREAKS = "\n\r\x85\u2028\u2029"


def json_literal(value: Any) -> str:
    """JSON text of ``value``."""
    return json.dumps(value, ensure_ascii=False)
