"""``lint --add-noqa``: a ``# noqa: LTxxx`` comment on the line of each finding.

The code goes into the line's ``noqa`` comment where it has one (``# noqa: E501`` becomes
``# noqa: E501, LT102``), else a ``# noqa: LT102`` is added at the end of the line. A file's new
text must mean exactly what the old one did (the same Python syntax tree; the same YAML data):
where a comment cannot go on the line (inside a string, after a line continuation) the file is
left as it is and said so. JSON has no comments: its findings are counted and left.
"""

from __future__ import annotations

import ast
import os
import warnings
from collections import defaultdict

from msgspec import Struct, field

from losstune.edit.apply import FileChanged, atomic_write
from losstune.edit.lock import locked
from losstune.lint import noqa
from losstune.model import Diagnostic


class NoqaOutcome(Struct):
    """How many comments went into each file (absolute paths), the findings of JSON files left
    without one, and each file left as it was, with why."""

    added: dict[str, int] = field(default_factory=dict)
    json_left: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


def add_noqa(findings: list[Diagnostic]) -> NoqaOutcome:
    """Add a ``noqa`` comment for each of ``findings`` to its line, file by file."""
    by_file: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    outcome = NoqaOutcome()
    for d in findings:
        if d.span is None:
            continue
        if d.span.file.endswith(".json"):
            outcome.json_left += 1
            continue
        codes = by_file[os.path.abspath(d.span.file)][d.span.line]
        if d.code not in codes:
            codes.append(d.code)
    for path, lines in sorted(by_file.items()):
        try:
            with locked(path):
                with open(path, encoding="utf-8", newline="") as f:
                    old = f.read()
                new, problem = with_noqa(path, old, lines)
                if problem:
                    outcome.refused.append((path, problem))
                    continue
                atomic_write(path, new, expected=old)
        except (OSError, UnicodeDecodeError, FileChanged) as e:
            outcome.refused.append((path, f"it could not be rewritten ({getattr(e, 'strerror', None) or e})"))
            continue
        outcome.added[path] = sum(len(c) for c in lines.values())
    return outcome


def with_noqa(path: str, old: str, codes: dict[int, list[str]]) -> tuple[str, str | None]:
    """The text of ``path`` (now ``old``) with each line's codes added to its ``noqa`` comment, and
    why it cannot be (``None`` where it can): the new text must mean what the old one did."""
    new = _with_comments(old, codes)
    return new, _changes_meaning(path, old, new)


def _with_comments(text: str, codes: dict[int, list[str]]) -> str:
    lines = text.splitlines(keepends=True)
    for number, wanted in codes.items():
        if not 0 < number <= len(lines):
            continue
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        for code in wanted:
            if not noqa.silenced(body, code):
                body = noqa.with_code(body, code)
        lines[number - 1] = body + line[len(line.rstrip("\r\n")) :]
    return "".join(lines)


def _changes_meaning(path: str, old: str, new: str) -> str | None:
    """Why ``new`` is not the same config as ``old`` with comments added, or ``None``."""
    if path.endswith(".py"):
        try:
            with warnings.catch_warnings():  # an escape a comment made inside a string
                warnings.simplefilter("ignore")
                same = ast.dump(ast.parse(old)) == ast.dump(ast.parse(new))
        except (SyntaxError, ValueError):
            return "a comment cannot go at the end of a finding's line (a line continuation, or a string)"
        return None if same else "a finding's line ends inside a string, where a comment would change it"
    import yaml

    try:
        same = yaml.safe_load(old) == yaml.safe_load(new)
    except yaml.YAMLError:
        return "the file is not plain YAML that losstune can add a comment to"
    return None if same else "a finding's line ends inside a YAML string, where a comment would change it"
