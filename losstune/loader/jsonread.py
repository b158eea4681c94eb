"""JSON configs with the position of every value.

Values are decoded with the standard library's own string and number scanners, so they are
exactly what ``json.load`` (mmengine's JSON handler) gives; only the walk is losstune's, to
record where each value stands.
"""

from __future__ import annotations

import json.decoder
import json.scanner
import re
from typing import Any

from losstune.loader import codes
from losstune.loader.limits import MAX_DATA_DEPTH, MAX_DATA_VALUES, MAX_INT_DIGITS
from losstune.loader.source import SourceText
from losstune.loader.values import LDict
from losstune.model import Diagnostic, Origin

_scanstring: Any = getattr(json.decoder, "scanstring")  # noqa: B009 - untyped in typeshed
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = json.scanner.NUMBER_RE
_CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "NaN": float("nan"),
    "Infinity": float("inf"),
    "-Infinity": float("-inf"),
}


class _JSONError(Exception):
    def __init__(self, message: str, offset: int, fix: str = "fix the JSON at this position") -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.fix = fix


class _Parser:
    def __init__(self, src: SourceText) -> None:
        self.src = src
        self.s = src.text
        self.count = 0

    def ws(self, i: int) -> int:
        m = _WS.match(self.s, i)
        return m.end() if m else i

    def value(self, i: int, depth: int = 0) -> tuple[Any, int]:
        s = self.s
        if i >= len(s):
            raise _JSONError("JSON syntax error: Expecting value", i)
        self.count += 1
        if self.count > MAX_DATA_VALUES:
            raise _JSONError(
                f"the JSON holds more than {MAX_DATA_VALUES:,} values by here; losstune reads at most "
                f"{MAX_DATA_VALUES:,}",
                i,
                "keep data that large out of the config",
            )
        c = s[i]
        if c in "{[":
            if depth >= MAX_DATA_DEPTH:
                raise _JSONError(
                    f"the JSON nests objects and arrays more than {MAX_DATA_DEPTH} levels deep here "
                    f"(losstune reads at most {MAX_DATA_DEPTH})",
                    i,
                    "flatten the structure",
                )
            return self.obj(i, depth + 1) if c == "{" else self.arr(i, depth + 1)
        if c == '"':
            try:
                text, end = _scanstring(s, i + 1, True)
                return text, end
            except json.JSONDecodeError as e:
                raise _JSONError(f"JSON syntax error: {e.msg}", e.pos) from None
        for word, val in _CONSTANTS.items():
            if s.startswith(word, i):
                return val, i + len(word)
        m = _NUMBER.match(s, i)
        if m:
            integer, frac, exp = m.groups()
            if frac or exp:
                return float(integer + (frac or "") + (exp or "")), m.end()
            digits = len(integer.lstrip("-"))
            if digits > MAX_INT_DIGITS:
                raise _JSONError(
                    f"the JSON holds an integer of {digits:,} digits; Python (and so mmengine) converts at most "
                    f"{MAX_INT_DIGITS:,} digits to an integer",
                    i,
                    "write the number as a float or a string",
                )
            return int(integer), m.end()
        raise _JSONError("JSON syntax error: Expecting value", i)

    def obj(self, start: int, depth: int) -> tuple[LDict, int]:
        s = self.s
        out = LDict()
        i = self.ws(start + 1)
        if i < len(s) and s[i] == "}":
            out.span = self.src.span_offsets(start, i + 1)
            return out, i + 1
        while True:
            if i >= len(s) or s[i] != '"':
                raise _JSONError("JSON syntax error: Expecting property name enclosed in double quotes", i)
            try:
                key, i = _scanstring(s, i + 1, True)
            except json.JSONDecodeError as e:
                raise _JSONError(f"JSON syntax error: {e.msg}", e.pos) from None
            i = self.ws(i)
            if i >= len(s) or s[i] != ":":
                raise _JSONError("JSON syntax error: Expecting ':' delimiter", i)
            i = self.ws(i + 1)
            vstart = i
            value, i = self.value(i, depth)
            out.set(key, value, Origin(self.src.span_offsets(vstart, i), "literal"))
            i = self.ws(i)
            if i < len(s) and s[i] == "}":
                out.span = self.src.span_offsets(start, i + 1)
                return out, i + 1
            if i >= len(s) or s[i] != ",":
                raise _JSONError("JSON syntax error: Expecting ',' delimiter", i)
            i = self.ws(i + 1)

    def arr(self, start: int, depth: int) -> tuple[list[Any], int]:
        s = self.s
        out: list[Any] = []
        i = self.ws(start + 1)
        if i < len(s) and s[i] == "]":
            return out, i + 1
        while True:
            value, i = self.value(i, depth)
            out.append(value)
            i = self.ws(i)
            if i < len(s) and s[i] == "]":
                return out, i + 1
            if i >= len(s) or s[i] != ",":
                raise _JSONError("JSON syntax error: Expecting ',' delimiter", i)
            i = self.ws(i + 1)


def read_json(src: SourceText, diagnostics: list[Diagnostic]) -> Any:
    """Parse ``src.text``; return its data (objects as :class:`LDict`), or ``None`` on an error."""
    p = _Parser(src)
    try:
        i = p.ws(0)
        value, i = p.value(i)
        i = p.ws(i)
        if i != len(p.s):
            raise _JSONError("JSON syntax error: Extra data", i)
        return value
    except _JSONError as e:
        span = p.src.span_offsets(e.offset, e.offset + 1)
        diagnostics.append(
            codes.diagnostic(
                codes.SYNTAX_ERROR,
                e.message,
                span,
                fix=e.fix,
            )
        )
        return None
