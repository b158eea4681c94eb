"""Check that ``losstune explain``'s text output tells everything its JSON output does, at each width.

Usage: ``python benchmarks/explain_check.py PATH [PATH ...] [--widths 80,100,120] [--limit N]``;
each PATH is a config or a folder of configs (``_base_`` folders are skipped). For each config and
width, the text is rendered as on a terminal of that width (meanings may be shortened), and every
value and every ``file:line`` of the JSON output must appear whole in it: a value may wrap over
lines (whitespace is ignored), a ``file:line`` must be on one line, not followed by another digit.
Prints the configs that fail with what is missing, and a summary.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

from losstune.render.safe import printable

# the header's last line, which may wrap (a long folder)
_FOLDER = re.compile(r"^  paths: relative to the config's folder,\s*(.*?)\n\n", re.M | re.S)


def _squash(text: str) -> str:
    """``text`` without whitespace, every bracket as ``[`` or ``]``: a tuple and the list JSON
    makes of it read alike, and so does a value wrapped over lines."""
    return re.sub(r"\s+", "", text).translate(str.maketrans("()", "[]"))


def _in_column(lines: list[str], needle: str) -> bool:
    """Whether ``needle`` is written down one column from the first of ``lines`` on: from a cell
    of that line, the same column of the lines that follow, each piece up to the next gap of two
    spaces, read together (a value wrapped in its column of a table)."""
    want = _squash(needle)
    first = lines[0] if lines else ""
    for c in range(len(first)):
        if first[c] == " " or first[max(0, c - 2) : c].strip():
            continue
        got = ""
        for below in lines:
            piece = _squash(below[c:].split("  ")[0]) if below[max(0, c - 2) : c].strip() == "" else ""
            if not piece or not want.startswith(got + piece):
                break
            got += piece
            if got == want:
                return True
    return False


def _row_shows(lines: list[str], name: str, value: str) -> bool:
    """Whether a row of ``lines`` names the parameter ``name`` and shows ``value`` whole, on its
    own line or the next (each value on its own line under its name, in a narrow table)."""
    cell = re.compile(rf"(^|  ){re.escape(name)}(  |$)")
    whole = re.compile(rf"(^|  ){re.escape(value)}(  |$)")
    for i, line in enumerate(lines):
        if not cell.search(line):
            continue
        if any(
            whole.search(below) or _in_column(lines[j:], value) for j, below in enumerate(lines[i : i + 2], start=i)
        ):
            return True
    return False


def _as_text(v: Any) -> str:
    """A JSON value as explain's text shows it (as Python writes it)."""
    if isinstance(v, dict) and set(v) == {"opaque"}:
        return f"<unknown: {v['opaque']}>"
    if isinstance(v, dict) and set(v) == {"env"}:
        return ", ".join(f"${n}" for n in v["env"])
    if isinstance(v, dict) and set(v) == {"float"}:
        return repr(float(v["float"]))
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_as_text(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_as_text(x) for x in v) + "]"
    return repr(v)


def _origins(o: dict[str, Any] | None) -> Iterator[tuple[str, int]]:
    if o is None:
        return
    yield o["file"], o["line"]
    yield from _origins(o.get("defined_at"))


def missing(text: str, data: dict[str, Any], cwd: str) -> list[str]:
    """What of the JSON report ``data`` does not appear whole in ``text`` (both rendered in
    ``cwd``), each loss's in its own part of the text; paths are compared as the text's header
    says it shows them."""
    found = _FOLDER.search(text)
    folder = os.path.join(cwd, re.sub(r"\n\s*", "", found.group(1))) if found else None
    lines = text.split("\n")
    out: list[str] = []
    titles = []
    at = 0
    for loss in data["losses"]:
        key = printable(loss["key"])
        at = next((i for i in range(at, len(lines)) if lines[i].startswith(key + "  ")), len(lines))
        titles.append(at)
    for n, loss in enumerate(data["losses"]):
        block = lines[titles[n] : titles[n + 1] if n + 1 < len(titles) else len(lines)]
        if not block:
            out.append(f"the loss {loss['key']}")
            continue
        joined = "\n".join(block)

        def place(file: str, line: int, joined: str = joined) -> None:
            shown = os.path.relpath(os.path.join(cwd, file), folder) if folder else file
            if not re.search(rf"(?<![\w/.]){re.escape(printable(shown))}:{line}(?!\d)", joined):
                out.append(f"{shown}:{line}")

        for file, line in _origins(loss["origin"]):
            place(file, line)
        sampler = loss["sampler"]
        params = loss["params"] + (sampler["params"] if sampler is not None else [])
        for p in params:
            value = printable(_as_text(p["value"]))
            if not _row_shows(block, printable(p["name"]), value):
                out.append(f"{p['name']} = {value}")
            for file, line in _origins(p["origin"]):
                place(file, line)
        if sampler is not None:
            for file, line in _origins(sampler["origin"]):
                place(file, line)
    return out


def _configs(paths: list[str]) -> Iterator[str]:
    for path in paths:
        if os.path.isfile(path):
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d != "_base_" and not d.startswith("."))
            yield from (os.path.join(root, f) for f in sorted(files) if f.endswith(".py"))


def check(config: str, widths: list[int]) -> dict[int, list[str]] | None:
    """What is missing at each width (``None``: the config could not be explained)."""
    import losstune
    from losstune.errors import LosstuneError
    from losstune.render.explain import render_json, render_text
    from losstune.report import explain
    from losstune.schema.registry import load_schema

    try:
        report = explain(losstune.load(config), load_schema())
    except LosstuneError:
        return None
    data = json.loads(render_json(report))
    # as a terminal shows it; an older render_text without `shorten` always shortened
    terminal = {"shorten": True} if "shorten" in inspect.signature(render_text).parameters else {}
    return {w: missing(render_text(report, width=w, **terminal), data, os.getcwd()) for w in widths}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--widths", default="80,100,120")
    parser.add_argument("--limit", type=int, default=0, help="check at most N configs (0: all)")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    checked = whole = unreadable = 0
    for i, config in enumerate(_configs(args.paths)):
        if args.limit and i >= args.limit:
            break
        result = check(config, widths)
        if result is None:
            unreadable += 1
            continue
        checked += 1
        bad = {w: m for w, m in result.items() if m}
        if not bad:
            whole += 1
            continue
        for w, m in bad.items():
            print(f"{config} at {w} columns: {len(m)} missing, e.g. {', '.join(m[:3])}")
    print(f"{whole} of {checked} configs whole at {args.widths} columns ({unreadable} could not be read)")
    return 0 if whole == checked else 1


if __name__ == "__main__":
    sys.exit(main())
