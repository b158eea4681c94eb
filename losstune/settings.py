"""Lint settings: command-line options over ``[tool.losstune]`` in the nearest pyproject.toml."""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


class SettingsError(Exception):
    """Settings that cannot be used (the message names the file and the key)."""


@dataclass(frozen=True)
class Settings:
    """What to check and how strictly.

    ``select``/``ignore`` hold code prefixes (``LT1`` selects every ``LT1xx``); ``per_file_ignores``
    maps glob patterns, relative to ``root``, to code prefixes.
    """

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    strict: bool = False
    mmdet_version: int | None = None
    schema_files: tuple[str, ...] = ()
    root: str = "."
    pyproject: str | None = None

    def enabled(self, code: str) -> bool:
        """Whether findings of ``code`` are reported at all."""
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
    here = os.path.abspath(start)
    if os.path.isfile(here):
        here = os.path.dirname(here)
    while True:
        candidate = os.path.join(here, "pyproject.toml")
        if os.path.isfile(candidate):
            try:
                with open(candidate, "rb") as f:
                    if "losstune" in tomllib.load(f).get("tool", {}):
                        return candidate
            except (OSError, tomllib.TOMLDecodeError):
                pass
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _codes(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f'{where} must be a list of rule codes such as ["LT103"]')
    return tuple(v.strip().upper() for v in value)


def load_settings(start: str) -> Settings:
    """Settings from the nearest pyproject.toml with ``[tool.losstune]`` (defaults if none)."""
    path = find_pyproject(start)
    if path is None:
        return Settings()
    with open(path, "rb") as f:
        table = tomllib.load(f)["tool"]["losstune"]
    root = os.path.dirname(path)
    known = {"select", "ignore", "per-file-ignores", "strict", "schema", "mmdet-version"}
    unknown = set(table) - known
    if unknown:
        raise SettingsError(f"{path}: [tool.losstune] has unknown keys {sorted(unknown)}; known: {sorted(known)}")
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise SettingsError(f"{path}: [tool.losstune] per-file-ignores must be a table of glob = [codes]")
    schema = table.get("schema", [])
    if isinstance(schema, str):
        schema = [schema]
    version = table.get("mmdet-version")
    if version not in (None, 2, 3):
        raise SettingsError(f"{path}: [tool.losstune] mmdet-version must be 2 or 3")
    return Settings(
        select=_codes(table.get("select", []), f"{path}: select"),
        ignore=_codes(table.get("ignore", []), f"{path}: ignore"),
        per_file_ignores={k: _codes(v, f"{path}: per-file-ignores.{k}") for k, v in per_file.items()},
        strict=bool(table.get("strict", False)),
        mmdet_version=version,
        schema_files=tuple(os.path.join(root, s) for s in schema),
        root=root,
        pyproject=path,
    )
