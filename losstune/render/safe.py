"""Text from configs, made safe to print: control characters escaped, source lines clipped.

A config, a file name or an environment value can hold escape sequences (``\\x1b]0;...\\x07``),
carriage returns, bidirectional overrides or a ten-megabyte line. Every text renderer passes the
config's text through :func:`printable` (messages, values, cells, keys, paths) and shows source
lines through :func:`excerpt`, so that what reaches a terminal or a CI log is what the file says,
escaped as Python would write it, never an instruction to the terminal. JSON output keeps the
characters themselves; JSON escapes them.

Pure and without rich: ``losstune lint`` of one file imports this too.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from msgspec import Struct

# Characters of a source line shown around the marker; a longer line is clipped, with an ellipsis
# on the side (or sides) cut.
EXCERPT_WIDTH = 100
ELLIPSIS = "…"

# Characters of a line of `set`'s diff: a diff is read line against line, so lines are cut only
# at twice an excerpt, around where they change.
DIFF_WIDTH = 2 * EXCERPT_WIDTH

# Characters of a value shown in a sentence (``set``'s change lines); a longer one is cut, with an
# ellipsis and how many characters were left out.
VALUE_WIDTH = 80

# Characters of a message or a fix (a finding's, an error's); a longer one keeps its beginning and
# its end (where a message says what is wrong with the value it quotes), with how many characters
# were left out between them.
SENTENCE_WIDTH = 400

# Characters that are not control characters but still reorder or break what a terminal shows.
_INVISIBLE_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\ufeff"
)


def _unsafe(c: str) -> bool:
    # A lone surrogate is how Python holds a byte of a file name that is not UTF-8: written out,
    # it is that raw byte, and the output is no longer UTF-8.
    return c in _INVISIBLE_CONTROLS or (unicodedata.category(c) in ("Cc", "Cs") and c != "\t")


def _escape(c: str) -> str:
    if c == "\n":
        return "\\n"
    if c == "\r":
        return "\\r"
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character (but tab), bidirectional control, line or paragraph
    separator and lone surrogate written as its Python escape (``\\x1b``, ``\\n``, ``\\u202e``,
    ``\\udcff``); other text is unchanged, so a plain message passes through as it is."""
    if text.isprintable():
        return text
    return "".join(_escape(c) if _unsafe(c) else c for c in text)


@cache
def _json_escapes() -> dict[int, str]:
    # Built when first needed: its 2,000 entries took 1.5% of the instructions of a one-file lint
    # to make at every start.
    return {
        c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), *range(0xD800, 0xE000), *(ord(c) for c in _INVISIBLE_CONTROLS))
    }


def json_text(text: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it) with the characters that
    JSON leaves as they are (DEL, C1, bidirectional controls, lone surrogates) escaped as ``\\uXXXX``:
    they can only stand inside strings, so the data is the same and a terminal showing the
    JSON shows them escaped."""
    if text.isascii() and "\x7f" not in text:
        return text  # none of them (DEL is the one ASCII character among them)
    return text.translate(_json_escapes())


def cells(text: str) -> int:
    """How many terminal columns ``text`` takes: wide East Asian characters take two, combining
    marks none."""
    if text.isascii():
        return len(text)
    n = 0
    for c in text:
        if unicodedata.combining(c):
            continue
        n += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return n


class Excerpt(Struct, frozen=True):
    """One source line as shown, and where the marker goes under it (in terminal columns)."""

    text: str
    marker_at: int
    marker_width: int


def excerpt(line: str, start: int, end: int | None, width: int = EXCERPT_WIDTH) -> Excerpt:
    """The source ``line`` with a marker under characters ``start`` to ``end`` (0-based, end
    exclusive; ``None``: to the end of the line), at most ``width`` characters of it around the
    marker, escaped with :func:`printable` (a tab shows as one space, so columns stay columns)."""
    line = line.rstrip("\r\n")
    start = max(0, min(start, len(line)))
    end = len(line) if end is None else max(start, min(end, len(line)))
    lo, hi = 0, len(line)
    if len(line) > width:
        lo = max(0, min(start - width // 4, len(line) - width))
        hi = lo + width
    head = ELLIPSIS if lo > 0 else ""
    tail = ELLIPSIS if hi < len(line) else ""

    def shown(part: str) -> str:
        return printable(part.replace("\t", " "))

    before = head + shown(line[lo:start])
    marked = shown(line[start : min(end, hi)])
    return Excerpt(before + marked + shown(line[min(end, hi) : hi]) + tail, cells(before), max(1, cells(marked)))


def clip(text: str, width: int = VALUE_WIDTH) -> str:
    """``text`` escaped with :func:`printable`; one longer than ``width`` characters cut there,
    with an ellipsis and the count of what was left out (``'aaa… (99,922 more characters)``)."""
    if len(text) <= width:
        return printable(text)
    return f"{printable(text[:width])}{ELLIPSIS} ({len(text) - width:,} more characters)"


def sentence(text: str, width: int = SENTENCE_WIDTH) -> str:
    """A message or fix escaped with :func:`printable`; one longer than ``width`` characters keeps
    its first two thirds and its last third of that, with the count of what was left out between
    them (``'… (99,600 characters left out) …'``)."""
    if len(text) <= width:
        return printable(text)
    head, tail = text[: 2 * width // 3], text[len(text) - width // 3 :]
    left_out = len(text) - len(head) - len(tail)
    return f"{printable(head)}{ELLIPSIS} ({left_out:,} characters left out) {ELLIPSIS}{printable(tail)}"


def clip_line(line: str, start: int, width: int = DIFF_WIDTH) -> str:
    """A long line clipped as an :func:`excerpt` is: at most ``width`` characters of it, from a
    little before character ``start`` (where it differs from the line it replaces), escaped."""
    return excerpt(line, start, None, width).text
