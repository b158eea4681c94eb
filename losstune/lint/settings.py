"""Lint settings: command-line options over ``[tool.losstune]`` in the nearest pyproject.toml."""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any

from losstune.errors import UsageError
from losstune.loader import fileread
from losstune.loader.limits import MAX_FILE_BYTES


class SettingsError(UsageError):
    """Settings that cannot be used (the message names the file and the key)."""


@dataclass(frozen=True)
class Settings:
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
        if not by_default and code not in self.select:
            return False
        if self.select and not any(code.startswith(s) for s in self.select):
            return False
        return not any(code.startswith(i) for i in self.ignore)

    def ignored_in(self, code: str, file: str) -> bool:
        """Whether ``per_file_ignores`` turns ``code`` off in ``file``."""
        rel = os.path.relpath(os.path.abspath(file), os.path.abspath(self.root))
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(os.path.basename(file), pattern):
                if any(code.startswith(c) for c in codes):
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


def _find(start: str) -> tuple[str, dict[str, Any]] | None:
    """The nearest pyproject.toml with a ``[tool.losstune]`` table, and that table.

    A pyproject.toml that never mentions losstune is passed over whatever it holds; one that does
    must be readable TOML."""
    here = os.path.abspath(start)
    if os.path.isfile(here):
        here = os.path.dirname(here)
    while True:
        candidate = os.path.join(here, "pyproject.toml")
        if os.path.lexists(candidate):
            table = _losstune_table(candidate)
            if table is not None:
                return candidate, table
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _losstune_table(path: str) -> dict[str, Any] | None:
    try:
        text = fileread.read_text(path)
    except fileread.ReadError as e:
        if e.problem in (fileread.Problem.MISSING, fileread.Problem.DIRECTORY):
            return None
        raise SettingsError(f"{path} {e.reason}; {e.fix}") from None
    if "losstune" not in text:
        return None
    if sys.version_info >= (3, 11):  # imported here: most runs find no pyproject.toml naming losstune
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        tool = tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: not valid TOML: {e}") from None
    except RecursionError:
        raise SettingsError(f"{path}: not valid TOML: it nests tables or arrays too deeply to be read") from None
    except ValueError as e:  # not a TOMLDecodeError: int() refusing more digits than Python converts
        reason = str(e)
        if "digits" in reason:
            reason = f"a number has more than the {sys.get_int_max_str_digits():,} digits Python converts"
        raise SettingsError(f"{path}: not valid TOML: {reason}") from None
    table = tool.get("losstune") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: `tool.losstune` must be a table: [tool.losstune]")
    return table


def _codes(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f'{where} must be a list of rule codes such as ["LT103"]')
    return tuple(v.strip().upper() for v in value)


def load_settings(start: str) -> Settings:
    """Settings from the nearest pyproject.toml with ``[tool.losstune]`` (defaults if none)."""
    found = _find(start)
    if found is None:
        return Settings()
    path, table = found
    root = os.path.dirname(path)
    known = {"select", "ignore", "per-file-ignores", "strict", "schema", "mmdet-version", "max-file-size", "baseline"}
    unknown = set(table) - known
    if unknown:
        raise SettingsError(f"{path}: [tool.losstune] has unknown keys {sorted(unknown)}; known: {sorted(known)}")
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise SettingsError(f"{path}: [tool.losstune] per-file-ignores must be a table of glob = [codes]")
    schema = table.get("schema", [])
    if isinstance(schema, str):
        schema = [schema]
    if not isinstance(schema, list) or not all(isinstance(s, str) for s in schema):
        raise SettingsError(f'{path}: [tool.losstune] schema must be a list of file paths such as ["losses.yaml"]')
    version = table.get("mmdet-version")
    if version is not None and (type(version) is not int or version not in (2, 3)):
        raise SettingsError(f"{path}: [tool.losstune] mmdet-version must be 2 or 3")
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise SettingsError(f"{path}: [tool.losstune] strict must be true or false")
    max_size = table.get("max-file-size", MAX_FILE_BYTES)
    if type(max_size) is not int or max_size <= 0:
        raise SettingsError(
            f"{path}: [tool.losstune] max-file-size must be a number of bytes such as 16_000_000 "
            f"(default {MAX_FILE_BYTES:_})"
        )
    baseline = table.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise SettingsError(f'{path}: [tool.losstune] baseline must be a file path such as "lint-baseline.json"')
    return Settings(
        baseline=os.path.join(root, baseline) if baseline is not None else None,
        select=_codes(table.get("select", []), f"{path}: select"),
        ignore=_codes(table.get("ignore", []), f"{path}: ignore"),
        per_file_ignores={k: _codes(v, f"{path}: per-file-ignores.{k}") for k, v in per_file.items()},
        strict=strict,
        mmdet_version=version,
        schema_files=tuple(os.path.join(root, s) for s in schema),
        max_file_size=max_size,
        root=root,
        pyproject=path,
    )
