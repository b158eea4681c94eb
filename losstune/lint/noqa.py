"""``# noqa`` comments: which findings a line's comment silences, and the text that adds a code to it.

Two forms are read, at the end of a Python or YAML line: losstune's own, ``# losstune: noqa``
(every finding on the line) or ``# losstune: noqa: LT103,LT113``, and the form ruff and flake8
read, ``# noqa: LT103``; a code silences the findings whose code starts with it (``LT1``: every
LT1xx). A bare ``# noqa`` silences every finding too, as it does for those tools. Codes of other
tools (``E501``) in the same comment are left to them.
"""

from __future__ import annotations

import re

from msgspec import Struct

# Only the two words ignore case: under re.IGNORECASE, [A-Za-z] would also match letters that
# fold to ASCII ones (the long s, the Kelvin sign), and the pattern would take 10 ms to compile.
_DIRECTIVE = re.compile(
    r"#\s*(?P<tool>(?i:losstune):\s*)?(?i:noqa)(?![\w-])"
    r"(?:\s*:\s*(?P<codes>[A-Za-z]+[0-9]+(?:\s*[,\s]\s*[A-Za-z]+[0-9]+)*))?"
)
_CODE = re.compile(r"[A-Za-z]+[0-9]+")


class Code(Struct, frozen=True):
    """One code of a ``noqa`` comment, upper-cased, and where it is in the line (0-based offsets)."""

    code: str
    start: int
    end: int


class Directive(Struct, frozen=True):
    """A ``noqa`` comment of a line: where it starts (the ``#``) and ends in the line (0-based
    offsets), whether it is losstune's own form, and its codes (``None``: every finding)."""

    start: int
    end: int
    own: bool
    codes: tuple[Code, ...] | None

    def silences(self, code: str) -> list[Code] | None:
        """The codes of this comment that silence a finding of ``code`` (none: it is not
        silenced); ``None`` where the comment silences every finding."""
        if self.codes is None:
            return None
        return [c for c in self.codes if code.startswith(c.code)]

    def prefix(self, line: str) -> str:
        """The comment's text up to its codes: ``# noqa: `` or ``# losstune: noqa: ``."""
        if self.codes:
            return line[self.start : self.codes[0].start]
        return line[self.start : self.end] + ": "


def directive(line: str) -> Directive | None:
    """The ``noqa`` comment of ``line``, if it has one."""
    if "noqa" not in line.lower():
        return None
    m = _DIRECTIVE.search(line)
    if m is None:
        return None
    codes = None
    if m.group("codes"):
        base = m.start("codes")
        codes = tuple(Code(c.group(0).upper(), base + c.start(), base + c.end()) for c in _CODE.finditer(m["codes"]))
    return Directive(m.start(), m.end(), bool(m.group("tool")), codes)


def silenced(line: str, code: str) -> bool:
    """Whether a finding of ``code`` on ``line`` is silenced by its comment."""
    d = directive(line)
    return d is not None and (d.codes is None or bool(d.silences(code)))


def with_code(line: str, code: str) -> str:
    """``line`` with ``code`` in its ``noqa`` comment: added to the comment's codes, or a new
    ``# noqa: CODE`` at the end of the line, after two spaces (trailing spaces dropped)."""
    d = directive(line)
    if d is not None and d.codes is not None:
        last = d.codes[-1]
        return f"{line[: last.end]}, {code}{line[last.end :]}"
    if d is not None:  # silences everything already
        return line
    body = line.rstrip()
    return f"{body}{'  ' if body else ''}# noqa: {code}"
