"""Lint settings: command-line options over ``[tool.losstune]`` in the nearest pyproject.toml."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from losstune.errors import UsageError
from losstune.lint.selection import ALL, first_unknown, matches, split_entries
from losstune.loader import fileread
from losstune.loader.limits import MAX_FILE_BYTES


class SettingsError(UsageError):
    """Settings that cannot be used (the message names the file and the key)."""


class Settings(Struct, frozen=True):
    """What to check and how strictly.

    ``select``/``ignore`` hold code prefixes (``LT1`` selects every ``LT1xx``); ``per_file_ignores``
    maps glob patterns, relative to ``root``, to code prefixes; no file larger than
    ``max_file_size`` bytes is read.
    """

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    strict: bool = False
    mmdet_version: int | None = None
    schema_files: tuple[str, ...] = ()
    max_file_size: int = MAX_FILE_BYTES
    root: str = "."
    pyproject: str | None = None
    baseline: str | None = None

    def enabled(self, code: str, by_default: bool = True) -> bool:
        """Whether findings of ``code`` are reported at all; a rule that is off by default is
        reported only where ``select`` names its code in full."""
        if not by_default and code not in self.select and ALL not in self.select:
            return False
        if self.select and not any(matches(code, s) for s in self.select):
            return False
        return not any(matches(code, i) for i in self.ignore)

    def ignored_in(self, code: str, file: str) -> bool:
        """Whether ``per_file_ignores`` turns ``code`` off in ``file``."""
        rel = os.path.relpath(os.path.abspath(file), os.path.abspath(self.root))
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(os.path.basename(file), pattern):
                if any(matches(code, c) for c in codes):
                    return True
        return False

    def merged(self, **options: Any) -> Settings:
        """These settings with the command-line options that were given (``None`` = not given)."""
        given = {k: v for k, v in options.items() if v is not None and v != ()}
        if "schema_files" in given:
            given["schema_files"] = self.schema_files + tuple(given["schema_files"])
        return replace(self, **given)


def find_pyproject(start: str) -> str | None:
    """The nearest pyproject.toml at or above ``start`` that has a ``[tool.losstune]`` table."""
    found = _find(start)
    return found[0] if found else None


def _find(start: str) -> tuple[str, dict[str, Any], str] | None:
    """The nearest pyproject.toml with a ``[tool.losstune]`` table, that table and the file's text.

    A pyproject.toml that never mentions losstune is passed over whatever it holds; one that does
    must be readable TOML."""
    here = os.path.abspath(start)
    if os.path.isfile(here):
        here = os.path.dirname(here)
    while True:
        candidate = os.path.join(here, "pyproject.toml")
        if os.path.lexists(candidate):
            found = _losstune_table(candidate)
            if found is not None:
                return candidate, *found
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


# Where a pyproject.toml can open a ``[tool.losstune]`` table, whatever its spacing and quotes:
# ``tool.losstune`` as a header or a dotted key, a ``[tool]`` table (the key ``losstune`` in it)
# or an inline ``tool = {...}``. A file that names losstune elsewhere only (its name, a dependency,
# a script) is passed over without parsing it, as one that never names it.
_TOOL_TABLE = (
    r"""tool["']?\s*\.\s*["']?losstune"""
    r"""|^\s*\[\s*\[?\s*["']?tool["']?\s*\]"""
    r"""|^\s*["']?tool["']?\s*="""
)


def _may_hold_losstune_table(text: str) -> bool:
    """Whether ``text`` can hold a ``[tool.losstune]`` table (never false for one that does)."""
    return re.search(_TOOL_TABLE, text, re.MULTILINE) is not None


def _losstune_table(path: str) -> tuple[dict[str, Any], str] | None:
    try:
        text = fileread.read_text(path)
    except fileread.ReadError as e:
        if e.problem in (fileread.Problem.MISSING, fileread.Problem.DIRECTORY):
            return None
        raise SettingsError(f"{path} {e.reason}; {e.fix}") from None
    if "losstune" not in text or not _may_hold_losstune_table(text):
        return None
    if sys.version_info >= (3, 11):  # imported here: most runs find no pyproject.toml naming losstune
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        tool = tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(_not_toml(path, e)) from None
    except RecursionError:
        raise SettingsError(
            f"{path}: not valid TOML: it nests tables or arrays too deeply to be read; {_FIX_TOML}"
        ) from None
    except ValueError as e:  # not a TOMLDecodeError: int() refusing more digits than Python converts
        reason = str(e)
        if "digits" in reason:
            reason = f"a number has more than the {sys.get_int_max_str_digits():,} digits Python converts"
        raise SettingsError(f"{path}: not valid TOML: {reason}; {_FIX_TOML}") from None
    table = tool.get("losstune") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: `tool.losstune` must be a table: [tool.losstune]")
    return table, text


_FIX_TOML = "fix the TOML there (losstune reads its settings from [tool.losstune] in this file)"
_TOML_POSITION = re.compile(r"^(?P<what>.*?) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


def _not_toml(path: str, error: ValueError) -> str:
    """What is wrong with a pyproject.toml that tomllib cannot read, at its line and column."""
    what, where = str(error), path
    m = _TOML_POSITION.match(what)
    if m is not None:
        what, where = m.group("what"), f"{where}:{m.group('line')}:{m.group('column')}"
    what = what[:1].lower() + what[1:]
    return f"{where}: not valid TOML: {what}; {_FIX_TOML}"


class _Table:
    """Where the settings of ``[tool.losstune]`` are written in the text of a pyproject.toml, as far
    as reading its lines tells (the TOML reader gives no positions): the line of a key, and of a
    value in the key's entry."""

    _HEADER = re.compile(r"^\s*\[\[?\s*(?P<name>[^\]]*?)\s*\]")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        # The lines of [tool.losstune] and its subtables, or every line when no header names them
        # (a dotted key `tool.losstune.x = ...` or an inline table).
        own = []
        inside = False
        for i, line in enumerate(self.lines):
            m = self._HEADER.match(line)
            if m is not None:
                name = re.sub(r"[\s\"']", "", m.group("name"))
                inside = name == "tool.losstune" or name.startswith("tool.losstune.")
            elif inside:
                own.append(i)
        self.own = own or list(range(len(self.lines)))

    def line_of(self, key: str, value: str | None = None) -> int | None:
        """The 1-based line of ``key``'s entry (of ``value``, quoted, within the entry that follows
        it, when given), or ``None`` when the lines do not tell."""
        entry = re.compile(rf"^\s*(?:tool\.losstune\.)?[\"']?{re.escape(key)}[\"']?\s*[=.]")
        start = next((i for i in self.own if entry.match(self.lines[i])), None)
        if value is None:
            return None if start is None else start + 1
        quoted = re.compile(rf"[\"']{re.escape(value)}[\"']", re.IGNORECASE)
        after = [i for i in self.own if start is None or i >= start]
        return next((i + 1 for i in after if quoted.search(self.lines[i])), None)

    def where(self, key: str, value: str | None = None) -> str:
        """``file:line`` of ``key`` (or of its ``value``), or the file alone."""
        line = self.line_of(key, value)
        if line is None and value is not None:
            line = self.line_of(key)
        return self.path + (f":{line}" if line is not None else "")


def _codes(value: Any, table: _Table, key: str, shown: str | None = None) -> tuple[str, ...]:
    """The code entries of the setting ``key``, each naming some code."""
    label = shown or key
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError(
            f'{table.where(key)}: [tool.losstune] {label} must be a list of rule codes such as ["LT103"]'
        )
    entries = split_entries(value)
    unknown = first_unknown(entries)
    if unknown is not None:
        entry, problem = unknown
        raise SettingsError(f"{table.where(key, entry)}: [tool.losstune] {label}: {problem}")
    return entries


def option_codes(values: list[str] | None, option: str) -> tuple[str, ...] | None:
    """The code entries of a command-line option such as ``--select`` (``None`` when not given),
    each naming some code."""
    if not values:
        return None
    entries = split_entries(values)
    unknown = first_unknown(entries)
    if unknown is not None:
        raise SettingsError(f"{option}: {unknown[1]}")
    return entries


_KNOWN_KEYS = ("baseline", "ignore", "max-file-size", "mmdet-version", "per-file-ignores", "schema", "select", "strict")


def _unknown_keys(table: dict[str, Any], lines: _Table) -> None:
    unknown = [k for k in table if k not in _KNOWN_KEYS]
    if not unknown:
        return
    import difflib

    said = []
    for key in unknown:
        close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        said.append(f"{lines.where(key)}: [tool.losstune] has no setting `{key}`{hint}")
    raise SettingsError(f"{'; '.join(said)} (the settings are {', '.join(_KNOWN_KEYS)})")


def load_settings(start: str) -> Settings:
    """Settings from the nearest pyproject.toml with ``[tool.losstune]`` (defaults if none)."""
    found = _find(start)
    if found is None:
        return Settings()
    path, table, text = found
    root = os.path.dirname(path)
    lines = _Table(path, text)
    _unknown_keys(table, lines)
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise SettingsError(
            f"{lines.where('per-file-ignores')}: [tool.losstune] per-file-ignores must be a table of glob = [codes]"
        )
    schema = table.get("schema", [])
    if isinstance(schema, str):
        schema = [schema]
    if not isinstance(schema, list) or not all(isinstance(s, str) for s in schema):
        raise SettingsError(
            f'{lines.where("schema")}: [tool.losstune] schema must be a list of file paths such as ["losses.yaml"]'
        )
    version = table.get("mmdet-version")
    if version is not None and (type(version) is not int or version not in (2, 3)):
        raise SettingsError(f"{lines.where('mmdet-version')}: [tool.losstune] mmdet-version must be 2 or 3")
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise SettingsError(f"{lines.where('strict')}: [tool.losstune] strict must be true or false")
    max_size = table.get("max-file-size", MAX_FILE_BYTES)
    if type(max_size) is not int or max_size <= 0:
        raise SettingsError(
            f"{lines.where('max-file-size')}: [tool.losstune] max-file-size must be a number of bytes such as 16_000_000 "
            f"(default {MAX_FILE_BYTES:_})"
        )
    baseline = table.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise SettingsError(
            f'{lines.where("baseline")}: [tool.losstune] baseline must be a file path such as "lint-baseline.json"'
        )
    return Settings(
        baseline=os.path.join(root, baseline) if baseline is not None else None,
        select=_codes(table.get("select", []), lines, "select"),
        ignore=_codes(table.get("ignore", []), lines, "ignore"),
        per_file_ignores={k: _codes(v, lines, k, f"per-file-ignores.{k}") for k, v in per_file.items()},
        strict=strict,
        mmdet_version=version,
        schema_files=tuple(os.path.join(root, s) for s in schema),
        max_file_size=max_size,
        root=root,
        pyproject=path,
    )
