"""Source text, mmengine's text templates, and the mapping of positions back to the file.

mmengine substitutes ``{{fileDirname}}``-style variables, ``{{$ENV:default}}`` and
``{{_base_.x}}`` in the raw text before parsing. losstune does the same substitutions, then maps
every position the parser reports back to the column in the file as the user wrote it.

mmengine finds ``{{$NAME:default}}`` templates with a regular expression and then splices each
default into another one, and passes each value to ``re.sub`` as a replacement template. Here the
same templates are found by a linear scan with the same grammar, and names, defaults and values
are taken as written: where mmengine's reading of them as regular expressions fails (``(``, a
value ``C:\\data``) or matches something else (``focal+ce``), losstune does what the template says.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import accumulate

from msgspec import Struct, field

from losstune.errors import LosstuneError
from losstune.model import Span

BASE_PLACEHOLDER_PREFIX = "_losstune_base_ref_:"
_PREDEFINED = ("fileDirname", "fileBasename", "fileBasenameNoExtension", "fileExtname")
_SPACE = re.compile(r"\s")
_SPACES = re.compile(r"\s*")
_NAME = re.compile(r"\w+")
_LINE_BREAK = re.compile(r"\r\n?|\n")
_QUOTES = "'\""
# Characters that a regular expression does not read as themselves (`.` is left out: matching any
# character, it matches itself too, and defaults such as `instances.json` are common).
_REGEX_SPECIAL = frozenset("\\^$*+?{}[]|()")
_BASE_VAR = re.compile(r"\{\{\s*_base_\.([\w\.]+)\s*\}\}")


class TemplateError(LosstuneError):
    """An environment template with no value and no default."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class _Edit(Struct):
    new_start: int
    new_end: int
    old_start: int
    old_end: int


class _Pass(Struct):
    """The replacements of one template pass, in order, with their start offsets for bisection."""

    edits: list[_Edit]
    starts: list[int]


class EnvTemplate(Struct, frozen=True):
    """One ``{{$NAME:default}}`` template of the file: where it is written (offsets into the
    file's text, end exclusive), the variable, its default, and whether the environment set the
    variable (``from_env``) or the default was used. ``note`` says why mmengine, which reads the
    default and the value as regular expressions, would not substitute it as written (or is
    empty)."""

    start: int
    end: int
    name: str
    default: str
    from_env: bool
    note: str = ""


class SourceText(Struct):
    """The file's text, the text after template substitution, and the map between them."""

    path: str
    original: str
    text: str = ""
    env_used: dict[str, str] = field(default_factory=dict)
    env_templates: list[EnvTemplate] = field(default_factory=list)
    base_vars: dict[str, str] = field(default_factory=dict)
    _passes: list[_Pass] = field(default_factory=list)
    _orig_line_starts: list[int] = field(default_factory=list)
    _new_line_starts: list[int] = field(default_factory=list)
    # The lines the template passes changed (1-based; every pass keeps each line's number), or
    # `None` once one changed where lines break.
    _edited_lines: set[int] | None = field(default_factory=set)

    @classmethod
    def from_file(
        cls,
        path: str,
        original: str,
        env: Mapping[str, str] | None = None,
        line_starts: list[int] | None = None,
    ) -> SourceText:
        """Apply mmengine's three template passes to ``original`` (read from ``path``);
        ``line_starts``: those of ``original`` (:attr:`line_starts`), when already known."""
        src = cls(path=path, original=original, text=original)
        src._substitute_predefined()
        src._substitute_env(os.environ if env is None else env)
        src._substitute_base_vars()
        src._orig_line_starts = _line_starts(original) if line_starts is None else line_starts
        src._new_line_starts = _line_starts(src.text) if src._passes else src._orig_line_starts
        return src

    @classmethod
    def plain(cls, path: str, original: str) -> SourceText:
        """The text as written, without template substitution (new-style configs)."""
        src = cls(path=path, original=original, text=original)
        src._orig_line_starts = _line_starts(original)
        src._new_line_starts = src._orig_line_starts
        return src

    @property
    def edited_lines(self) -> set[int] | None:
        """The lines that a template changed (the same lines in the file and in :attr:`text`),
        or ``None`` where one changed a line break. On every other line, a position in the
        substituted text is the same line and column in the file (shared, never to be changed)."""
        return self._edited_lines

    @property
    def line_starts(self) -> list[int]:
        """Where each line of the file's text starts (offsets; shared, never to be changed)."""
        return self._orig_line_starts

    @property
    def text_line_starts(self) -> list[int]:
        """Where each line of :attr:`text` starts (offsets; shared, never to be changed)."""
        return self._new_line_starts

    def _apply(self, replacements: Iterable[tuple[int, int, str]]) -> list[_Edit]:
        """Replace each (start, end, new text) of the current text, given in order and not
        overlapping, and record the pass for the position map."""
        edits: list[_Edit] = []
        out: list[str] = []
        pos = 0
        shift = 0
        for m_start, m_end, new in replacements:
            out.append(self.text[pos:m_start])
            out.append(new)
            start = m_start + shift
            edits.append(_Edit(start, start + len(new), m_start, m_end))
            shift += len(new) - (m_end - m_start)
            pos = m_end
        if edits:
            out.append(self.text[pos:])
            before, self.text = self.text, "".join(out)
            self._passes.append(_Pass(edits, [e.new_start for e in edits]))
            self._note_edited_lines(before, edits)
        return edits

    def _note_edited_lines(self, before: str, edits: list[_Edit]) -> None:
        """Add the lines ``edits`` changed (``before``: the text they were made in) to
        :attr:`edited_lines`, or make it ``None`` where one changed a line break."""
        lines = self._edited_lines
        if lines is None:
            return
        if "\r" in self.text or "\r" in before:
            self._edited_lines = None
            return
        line, at = 1, 0
        for e in edits:
            if "\n" in before[e.old_start : e.old_end] or "\n" in self.text[e.new_start : e.new_end]:
                self._edited_lines = None
                return
            line += self.text.count("\n", at, e.new_start)
            at = e.new_start
            lines.add(line)

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
            pattern = re.compile(r"\{\{\s*" + key + r"\s*\}\}")
            self._apply((m.start(), m.end(), value) for m in pattern.finditer(self.text))

    def _substitute_env(self, env: Mapping[str, str]) -> None:
        if "{{" not in self.text:
            return
        found: list[tuple[int, int, str]] = []
        for start, end, name, default in _env_templates(self.text):
            from_env = name in env
            value = env[name] if from_env else default
            if not value:
                raise TemplateError(
                    f"environment variable `{name}` is not set and the template gives no default",
                    self.to_original_offset(start),
                )
            if from_env:
                self.env_used[name] = value
            note = _mmengine_reading(name, default, from_env and "\\" in value)
            self.env_templates.append(
                EnvTemplate(self.to_original_offset(start), self.to_original_offset(end), name, default, from_env, note)
            )
            found.append((start, end, value))
        self._apply(found)

    def _substitute_base_vars(self) -> None:
        if "{{" not in self.text:
            return

        def repl(m: re.Match[str]) -> str:
            placeholder = f"{BASE_PLACEHOLDER_PREFIX}{m.group(1)}"
            self.base_vars[placeholder] = m.group(1)
            return f'"{placeholder}"'

        self._apply((m.start(), m.end(), repl(m)) for m in _BASE_VAR.finditer(self.text))

    # -- position mapping -------------------------------------------------------------------

    def to_original_offset(self, offset: int) -> int:
        """Map an offset in the substituted text to the offset in the file."""
        for p in reversed(self._passes):
            i = bisect.bisect_right(p.starts, offset) - 1
            if i < 0:
                continue
            e = p.edits[i]
            if offset < e.new_end:
                offset = e.old_start
            else:
                offset = offset - e.new_end + e.old_end
        return offset

    def line_col(self, offset: int) -> tuple[int, int]:
        """The 1-based line and column of an offset into the file's text (:meth:`offset` inverted)."""
        i = bisect.bisect_right(self._orig_line_starts, offset) - 1
        return i + 1, offset - self._orig_line_starts[i] + 1

    def line_start(self, offset: int) -> int:
        """The offset into the file's text where the line holding ``offset`` starts."""
        return self._orig_line_starts[bisect.bisect_right(self._orig_line_starts, offset) - 1]

    def _new_offset(self, line: int, col: int) -> int:
        """``line`` 1-based, ``col`` 0-based in characters, in the substituted text."""
        line = max(1, min(line, len(self._new_line_starts)))
        return self._new_line_starts[line - 1] + col

    def _char_col(self, line: int, byte_col: int) -> int:
        starts = self._new_line_starts
        if not 0 < line <= len(starts):
            return byte_col
        text = self.text[starts[line - 1] : starts[line] if line < len(starts) else len(self.text)]
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def span_chars(self, line: int, col: int, end_line: int, end_col: int) -> Span:
        """A span from 1-based lines and 0-based character columns of the substituted text."""
        if not self._passes:
            return Span(self.path, line, col + 1, end_line, end_col + 1)
        start = self.to_original_offset(self._new_offset(line, col))
        end = self.to_original_offset(self._new_offset(end_line, end_col))
        sl, sc = self.line_col(start)
        el, ec = self.line_col(max(end, start))
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
        sl, sc = self.line_col(self.to_original_offset(start))
        el, ec = self.line_col(max(self.to_original_offset(end), 0))
        if (el, ec) < (sl, sc):
            el, ec = sl, sc
        return Span(self.path, sl, sc, el, ec)

    def span_original(self, start: int, end: int) -> Span:
        """A span from character offsets into the file's text."""
        sl, sc = self.line_col(start)
        el, ec = self.line_col(max(end, start))
        return Span(self.path, sl, sc, el, ec)

    def offset(self, line: int, column: int) -> int:
        """Offset in the file's text of a 1-based line and column."""
        return self._orig_line_starts[line - 1] + column - 1

    def offsets(self, span: Span) -> tuple[int, int]:
        """The offsets into the file's text where ``span`` starts and ends."""
        return self.offset(span.line, span.column), self.offset(span.end_line, span.end_column)

    def key_of(self, value: Span, key: str) -> Span | None:
        """The span of ``key`` where the text just before ``value`` writes it as the key of that
        value (``key=`` of a call, ``'key':`` of a dict, ``key:`` of YAML, ``"key":`` of JSON),
        or ``None`` where it does not (a value set another way: ``update``, ``**``, a base)."""
        start = self.offset(value.line, value.column)
        if not 0 <= start <= len(self.original):
            return None
        before = self.original[max(0, start - len(key) - 200) : start]
        m = re.search(r"(?:(?<![\w'\"])" + re.escape(key) + r"|(['\"])" + re.escape(key) + r"\1)\s*[=:]\s*\Z", before)
        if m is None:
            return None
        begin = start - len(before) + m.start() + (1 if m.group(1) else 0)
        return self.span_original(begin, begin + len(key))

    def segment(self, span: Span) -> str:
        """The file's text inside ``span``."""
        start, end = self.offsets(span)
        return self.original[start:end]

    @property
    def line_count(self) -> int:
        """How many lines the file has as written (the text after its last newline is one)."""
        return len(self._orig_line_starts)

    def line_text(self, line: int) -> str:
        """One line of the file as written (1-based)."""
        starts = self._orig_line_starts
        if not 0 < line <= len(starts):
            return ""
        end = starts[line] if line < len(starts) else len(self.original)
        return self.original[starts[line - 1] : end].removesuffix("\n").removesuffix("\r")


def _env_templates(text: str) -> Iterator[tuple[int, int, str, str]]:
    """Every ``{{$NAME:default}}`` of ``text`` as (start, end, name, default), left to right and
    not overlapping: what ``re.findall`` of mmengine's pattern
    ``\\{\\{['"]?\\s*\\$(\\w+)\\s*:\\s*(\\S*?)\\s*['"]?\\}\\}`` finds, in time linear in the text.

    The default is the shortest run of non-space characters after which ``\\s*['"]?}}`` follows.
    For templates whose defaults share one run of non-space characters (``{{$a:{{$a:...``),
    the end of the run, the first ``}}`` in it and what follows the run are each found once.
    """
    n = len(text)
    run_start, run_end, run_close = 0, 0, -1  # the non-space run last seen, and where its template closes
    closing = -1  # the first `}}` at or after `closing_from` (-1: none)
    closing_from = n + 1
    pos = text.find("{{")
    while pos != -1:
        i = pos + 2
        if i < n and text[i] in _QUOTES:
            i += 1
        i = _after_spaces(text, i)
        name = _NAME.match(text, i + 1) if text.startswith("$", i) else None
        if name is None or not text.startswith(":", i := _after_spaces(text, name.end())):
            pos = text.find("{{", pos + 1)
            continue
        d = _after_spaces(text, i + 1)
        if not run_start <= d < run_end:
            space = _SPACE.search(text, d)
            run_start, run_end = d, space.start() if space else n
            run_close = _close_after(text, run_end)
        if not (closing_from <= d and (closing == -1 or closing >= d)):
            closing, closing_from = text.find("}}", d), d
        if closing != -1 and closing < run_end:
            stop = closing - 1 if closing - 1 >= d and text[closing - 1] in _QUOTES else closing
            end = closing + 2
        elif run_close != -1:
            stop, end = run_end, run_close
        else:
            pos = text.find("{{", pos + 1)
            continue
        yield pos, end, name.group(), text[d:stop]
        pos = text.find("{{", end)


def _mmengine_reading(name: str, default: str, value_has_backslash: bool) -> str:
    """Why mmengine would not substitute this template as written, or ``""``."""
    special = sorted(set(default) & _REGEX_SPECIAL)
    if special:
        chars = " ".join(f"`{c}`" for c in special)
        return (
            f"mmengine splices the default `{default}` into a regular expression unescaped ({chars}), so it "
            "fails to load this config or leaves the template unreplaced; losstune takes the default as written"
        )
    if value_has_backslash:
        return (
            f"mmengine passes the value of `${name}` to re.sub as a replacement template, which reads its "
            "backslashes as escapes, so it fails to load this config or changes the value; losstune takes "
            "the value as written"
        )
    return ""


def _after_spaces(text: str, i: int) -> int:
    m = _SPACES.match(text, i)
    return m.end() if m else i


def _close_after(text: str, i: int) -> int:
    """The end of ``\\s*['"]?}}`` at ``i``, or -1."""
    i = _after_spaces(text, i)
    if i < len(text) and text[i] in _QUOTES:
        i += 1
    return i + 2 if text.startswith("}}", i) else -1


def _line_starts(text: str) -> list[int]:
    """Where each line of ``text`` starts, lines ending as Python's tokenizer ends them: at CR LF,
    CR or LF (so the positions of a syntax tree match; YAML and JSON line breaks are the same)."""
    if "\r" in text:
        return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]
    # Each line starts one past the end of the line before it (the lengths summed in C).
    return list(accumulate(map((1).__add__, map(len, text.split("\n")[:-1])), initial=0))
