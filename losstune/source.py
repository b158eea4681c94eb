"""Source text, mmengine's text templates, and the mapping of positions back to the file.

mmengine substitutes ``{{fileDirname}}``-style variables, ``{{$ENV:default}}`` and
``{{_base_.x}}`` in the raw text before parsing. losstune does the same substitutions, then maps
every position the parser reports back to the column in the file as the user wrote it.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from losstune.model import Span

BASE_PLACEHOLDER_PREFIX = "_losstune_base_ref_:"
_PREDEFINED = ("fileDirname", "fileBasename", "fileBasenameNoExtension", "fileExtname")
_ENV_FIND = re.compile(r"\{\{[\'\"]?\s*\$(\w+)\s*\:\s*(\S*?)\s*[\'\"]?\}\}")
_BASE_VAR = re.compile(r"\{\{\s*_base_\.([\w\.]+)\s*\}\}")


class TemplateError(Exception):
    """An environment template with no value and no default."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass
class _Edit:
    new_start: int
    new_end: int
    old_start: int
    old_end: int


@dataclass
class SourceText:
    """The file's text, the text after template substitution, and the map between them."""

    path: str
    original: str
    text: str = ""
    env_used: dict[str, str] = field(default_factory=dict)
    base_vars: dict[str, str] = field(default_factory=dict)
    _passes: list[list[_Edit]] = field(default_factory=list)
    _orig_line_starts: list[int] = field(default_factory=list)
    _new_line_starts: list[int] = field(default_factory=list)
    _new_lines: list[str] = field(default_factory=list)

    @classmethod
    def from_file(cls, path: str, original: str, env: Mapping[str, str] | None = None) -> SourceText:
        """Apply mmengine's three template passes to ``original`` (read from ``path``)."""
        src = cls(path=path, original=original, text=original)
        src._substitute_predefined()
        src._substitute_env(os.environ if env is None else env)
        src._substitute_base_vars()
        src._orig_line_starts = _line_starts(original)
        src._new_line_starts = _line_starts(src.text)
        return src

    @classmethod
    def plain(cls, path: str, original: str) -> SourceText:
        """The text as written, without template substitution (new-style configs)."""
        src = cls(path=path, original=original, text=original)
        src._orig_line_starts = _line_starts(original)
        src._new_line_starts = src._orig_line_starts
        return src

    def _apply(self, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str]) -> None:
        edits: list[_Edit] = []
        out: list[str] = []
        pos = 0
        shift = 0
        for m in pattern.finditer(self.text):
            new = repl(m)
            out.append(self.text[pos : m.start()])
            out.append(new)
            start = m.start() + shift
            edits.append(_Edit(start, start + len(new), m.start(), m.end()))
            shift += len(new) - (m.end() - m.start())
            pos = m.end()
        if edits:
            out.append(self.text[pos:])
            self.text = "".join(out)
            self._passes.append(edits)

    def _substitute_predefined(self) -> None:
        if "{{" not in self.text:
            return
        base = os.path.basename(self.path)
        values = {
            "fileDirname": os.path.dirname(self.path),
            "fileBasename": base,
            "fileBasenameNoExtension": os.path.splitext(base)[0],
            "fileExtname": os.path.splitext(self.path)[1],
        }
        for key in _PREDEFINED:
            value = values[key].replace("\\", "/")
            self._apply(re.compile(r"\{\{\s*" + key + r"\s*\}\}"), _expander(value))

    def _substitute_env(self, env: Mapping[str, str]) -> None:
        if "{{" not in self.text:
            return
        for var_name, default in _ENV_FIND.findall(self.text):
            value = default
            if var_name in env:
                value = env[var_name]
                self.env_used[var_name] = value
            pattern = re.compile(r"\{\{[\'\"]?\s*\$" + var_name + r"\s*\:\s*" + default + r"\s*[\'\"]?\}\}")
            if not value:
                m = pattern.search(self.text)
                offset = self.to_original_offset(m.start() if m else 0)
                raise TemplateError(
                    f"environment variable `{var_name}` is not set and the template gives no default",
                    offset,
                )
            self._apply(pattern, _expander(value))

    def _substitute_base_vars(self) -> None:
        if "{{" not in self.text:
            return

        def repl(m: re.Match[str]) -> str:
            placeholder = f"{BASE_PLACEHOLDER_PREFIX}{m.group(1)}"
            self.base_vars[placeholder] = m.group(1)
            return f'"{placeholder}"'

        self._apply(_BASE_VAR, repl)

    # -- position mapping -------------------------------------------------------------------

    def to_original_offset(self, offset: int) -> int:
        """Map an offset in the substituted text to the offset in the file."""
        for edits in reversed(self._passes):
            starts = [e.new_start for e in edits]
            i = bisect.bisect_right(starts, offset) - 1
            if i < 0:
                continue
            e = edits[i]
            if offset < e.new_end:
                offset = e.old_start
            else:
                offset = offset - e.new_end + e.old_end
        return offset

    def _orig_line_col(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._orig_line_starts, offset) - 1
        return i + 1, offset - self._orig_line_starts[i] + 1

    def _new_offset(self, line: int, col: int) -> int:
        """``line`` 1-based, ``col`` 0-based in characters, in the substituted text."""
        line = max(1, min(line, len(self._new_line_starts)))
        return self._new_line_starts[line - 1] + col

    def _char_col(self, line: int, byte_col: int) -> int:
        if not self._new_lines:
            self._new_lines = self.text.split("\n")
        if line - 1 >= len(self._new_lines):
            return byte_col
        text = self._new_lines[line - 1]
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def span_chars(self, line: int, col: int, end_line: int, end_col: int) -> Span:
        """A span from 1-based lines and 0-based character columns of the substituted text."""
        if not self._passes:
            return Span(self.path, line, col + 1, end_line, end_col + 1)
        start = self.to_original_offset(self._new_offset(line, col))
        end = self.to_original_offset(self._new_offset(end_line, end_col))
        sl, sc = self._orig_line_col(start)
        el, ec = self._orig_line_col(max(end, start))
        return Span(self.path, sl, sc, el, ec)

    def span_bytes(self, line: int, byte_col: int, end_line: int, end_byte_col: int) -> Span:
        """A span from an ``ast`` node's positions (UTF-8 byte columns)."""
        return self.span_chars(
            line,
            self._char_col(line, byte_col),
            end_line,
            self._char_col(end_line, end_byte_col),
        )

    def span_offsets(self, start: int, end: int) -> Span:
        """A span from character offsets into the substituted text."""
        sl, sc = self._orig_line_col(self.to_original_offset(start))
        el, ec = self._orig_line_col(max(self.to_original_offset(end), 0))
        if (el, ec) < (sl, sc):
            el, ec = sl, sc
        return Span(self.path, sl, sc, el, ec)

    def offset(self, line: int, column: int) -> int:
        """Offset in the file's text of a 1-based line and column."""
        return self._orig_line_starts[line - 1] + column - 1

    def segment(self, span: Span) -> str:
        """The file's text inside ``span``."""
        start = self._orig_line_starts[span.line - 1] + span.column - 1
        end = self._orig_line_starts[span.end_line - 1] + span.end_column - 1
        return self.original[start:end]

    def line_text(self, line: int) -> str:
        """One line of the file as written (1-based)."""
        lines = self.original.split("\n")
        return lines[line - 1] if 0 < line <= len(lines) else ""


def _expander(template: str) -> Callable[[re.Match[str]], str]:
    """``re.sub``'s replacement semantics for ``template`` (mmengine passes values as templates)."""

    def expand(m: re.Match[str]) -> str:
        return m.expand(template)

    return expand


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    i = find("\n")
    while i != -1:
        starts.append(i + 1)
        i = find("\n", i + 1)
    return starts
