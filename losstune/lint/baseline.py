"""A baseline: the findings a team has accepted for now, so that lint reports only new ones.

The file is JSON, one entry per finding: its file (relative to the baseline's folder), code,
key path and message. Line numbers are not part of an entry, so a finding stays known when lines
are added above it; in a message, a position such as ``a.py:12`` is kept as ``a.py`` for the
same reason. An entry stands for one finding: two equal findings need two entries.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter

from msgspec.structs import replace

from losstune.errors import UsageError
from losstune.lint.run import LintResult
from losstune.loader import fileread
from losstune.loader.source import SourceText
from losstune.loader.values import LDict
from losstune.model import Diagnostic
from losstune.outfile import write_whole

KIND = "losstune-baseline"
_POSITION = re.compile(r"(\.(?:py|ya?ml|json)):\d+(?::\d+)?")

Entry = tuple[str, str, str, str]


class BaselineError(UsageError):
    """A baseline file that cannot be used: the message names the file and line."""


def _entry(d: Diagnostic, folder: str) -> Entry:
    file = d.span.file if d.span is not None else ""
    if file:
        file = os.path.relpath(os.path.abspath(file), folder).replace(os.sep, "/")
    return (file, d.code, d.key or "", _POSITION.sub(r"\1", d.message))


def write_baseline(path: str, diagnostics: list[Diagnostic]) -> int:
    """Write ``diagnostics`` to the baseline file ``path``; how many entries it has."""
    folder = os.path.dirname(os.path.abspath(path))
    entries = sorted(_entry(d, folder) for d in diagnostics)
    data = {
        "kind": KIND,
        "version": 1,
        "findings": [{"file": f, "code": c, "key": k or None, "message": m} for f, c, k, m in entries],
    }
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_whole(path, lambda out: out.write(text.encode("utf-8")))
    return len(entries)


def read_baseline(path: str) -> Counter[Entry]:
    """The entries of the baseline file ``path``, counted."""
    try:
        text = fileread.read_text(path)
    except fileread.ReadError as e:
        how = f"; write it with --write-baseline {path}" if e.problem is fileread.Problem.MISSING else ""
        raise BaselineError(f"baseline {path}:1: {e.reason}{how}") from None
    src = SourceText.plain(path, text)
    problems: list[Diagnostic] = []
    from losstune.loader.jsonread import read_json

    data = read_json(src, problems)
    if problems:
        p = problems[0]
        line = p.span.line if p.span else 1
        raise BaselineError(f"baseline {path}:{line}: {p.message}; write it again with --write-baseline {path}")

    def wrong(node: object, what: str, key: str | None = None) -> BaselineError:
        span = node.span if isinstance(node, LDict) else None
        if isinstance(node, LDict) and key in node.origins:
            span = node.origins[key].span
        line = span.line if span is not None else 1
        return BaselineError(
            f"baseline {path}:{line}: {what}; a baseline is the file --write-baseline writes "
            f'({{"kind": "{KIND}", "version": 1, "findings": [...]}})'
        )

    if not isinstance(data, LDict) or data.get("kind") != KIND or not isinstance(data.get("findings"), list):
        raise wrong(data, f'not a losstune baseline (no "kind": "{KIND}" with a "findings" list)')
    version = data.get("version")
    if type(version) is not int or version != 1:  # true and 1.0 equal 1, and are not the version written
        raise wrong(data, f"version {json.dumps(version)} is not one this losstune reads (1)", "version")
    entries: Counter[Entry] = Counter()
    for item in data["findings"]:
        if not isinstance(item, LDict):
            raise wrong(data, "each finding must be an object with file, code, key and message")
        fields = [item.get(k) for k in ("file", "code", "message")]
        key = item.get("key")
        if not all(isinstance(f, str) for f in fields) or not (key is None or isinstance(key, str)):
            raise wrong(item, "a finding needs file, code and message as strings, and key as a string or null")
        file, code, message = (str(f) for f in fields)
        entries[(file, code, key or "", message)] += 1
    return entries


def without_baseline(result: LintResult, path: str) -> LintResult:
    """``result`` without the findings the baseline file ``path`` holds."""
    known = read_baseline(path)
    folder = os.path.dirname(os.path.abspath(path))
    kept = []
    for d in result.diagnostics:
        e = _entry(d, folder)
        if known[e] > 0:
            known[e] -= 1
        else:
            kept.append(d)
    return replace(result, diagnostics=kept)
