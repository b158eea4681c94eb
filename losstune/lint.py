"""``losstune lint``: every config under the given paths, checked by every enabled rule.

Loader problems (syntax errors, missing bases...) are findings like any other. A finding is
reported where the offending value is written, so a mistake in a base file is reported once, in
the base file, however many configs inherit it. Base files (under a ``_base_`` folder) are checked
through the configs that use them, and on their own where nothing uses them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from losstune import codes
from losstune.config import LoadedConfig
from losstune.mmdet_version import detect_version
from losstune.model import Diagnostic, Severity
from losstune.resolve import SUPPORTED_SUFFIXES, Resolver, display_path
from losstune.rules import ALL_RULES, Context
from losstune.schema import Schema
from losstune.settings import Settings

_NOQA = re.compile(r"#\s*losstune:\s*noqa(?::\s*(?P<codes>[A-Za-z0-9,\s]+))?", re.IGNORECASE)
_SKIP_DIRS = frozenset(("__pycache__", "node_modules", "site-packages"))
# Files that sit among configs but are metadata (MMDetection's model index), not configs
# (and the manifests that `losstune sweep` writes beside its configs).
_NOT_CONFIGS = frozenset(("metafile.yml", "metafile.yaml", "model-index.yml", "model-index.yaml", "manifest.json"))


class UsageError(Exception):
    """The command cannot run as asked (a path that does not exist...)."""


@dataclass
class LintResult:
    """The findings of one lint run, the files checked, and the source lines findings point at."""

    diagnostics: list[Diagnostic]
    configs: list[str]
    lines: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Number of error-level findings."""
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        """Number of warning-level findings."""
        return sum(d.severity is Severity.WARNING for d in self.diagnostics)

    def failed(self, strict: bool) -> bool:
        """Whether the run fails: errors, or warnings too with ``strict``."""
        return self.errors > 0 or (strict and self.warnings > 0)


def _is_base(path: str) -> bool:
    return "_base_" in os.path.normpath(path).split(os.sep)


def collect(paths: Iterable[str]) -> tuple[list[str], set[str]]:
    """Config files named or found (sorted) below the given paths, and which of them were found
    by walking a folder (rather than named)."""
    out: list[str] = []
    walked: set[str] = set()
    for p in paths:
        if os.path.isfile(p):
            out.append(p)
        elif os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
                for f in sorted(files):
                    if f.endswith(SUPPORTED_SUFFIXES) and f not in _NOT_CONFIGS and not f.startswith("."):
                        out.append(os.path.join(root, f))
                        walked.add(os.path.join(root, f))
        else:
            raise UsageError(f"`{p}` does not exist")
    return list(dict.fromkeys(out)), walked - set(p for p in paths if os.path.isfile(p))


def check_config(config: LoadedConfig, schema: Schema, settings: Settings) -> list[Diagnostic]:
    """The rule findings of one resolved config."""
    version = settings.mmdet_version or detect_version(config.tree)
    ctx = Context(config, schema, version)
    out: list[Diagnostic] = []
    for rule in ALL_RULES:
        if settings.enabled(rule.code):
            out.extend(ctx.mask.diagnostic(d) for d in rule.check(ctx))
    return out


def lint(paths: Iterable[str], schema: Schema, settings: Settings, resolver: Resolver | None = None) -> LintResult:
    """Lint every config under ``paths``."""
    files, walked = collect(paths)
    resolver = resolver or Resolver()
    found: list[Diagnostic] = []
    used: set[str] = set()
    configs = [f for f in files if not _is_base(f)]
    bases = [f for f in files if _is_base(f)]
    checked: list[str] = []

    def run(path: str) -> None:
        result = resolver.resolve(path)
        if path in walked and any(d.code == codes.NOT_A_CONFIG.code for d in result.diagnostics):
            return  # a data file found in a config folder, not a config
        checked.append(path)
        used.update(result.files)
        found.extend(result.diagnostics)
        if result.cfg is not None:
            found.extend(check_config(LoadedConfig(result), schema, settings))

    for path in configs:
        run(path)
    for path in bases:
        if os.path.abspath(path) not in used:
            run(path)

    lines = _SourceLines()
    kept: list[Diagnostic] = []
    seen: set[tuple[str, object]] = set()
    for d in found:
        # One finding per rule and position, however many configs (or keys) reach the value.
        if (d.code, d.span or d.message) in seen:
            continue
        seen.add((d.code, d.span or d.message))
        if not settings.enabled(d.code):
            continue
        if d.span is not None:
            if settings.ignored_in(d.code, d.span.file) or _noqa(lines.get(d.span.file, d.span.line), d.code):
                continue
        kept.append(d)
    kept.sort(key=lambda d: d.sort_key())
    shown = {(d.span.file, d.span.line): lines.get(d.span.file, d.span.line) for d in kept if d.span is not None}
    return LintResult(kept, [display_path(os.path.abspath(c)) for c in checked], shown)


def _noqa(line: str, code: str) -> bool:
    m = _NOQA.search(line)
    if m is None:
        return False
    codes = m.group("codes")
    if not codes:
        return True
    return any(code.startswith(c.strip().upper()) for c in codes.split(",") if c.strip())


class _SourceLines:
    """Lines of files, read once."""

    def __init__(self) -> None:
        self._files: dict[str, list[str]] = {}

    def get(self, file: str, line: int) -> str:
        if file not in self._files:
            try:
                with open(file, encoding="utf-8", errors="replace") as f:
                    self._files[file] = f.read().split("\n")
            except OSError:
                self._files[file] = []
        lines = self._files[file]
        return lines[line - 1] if 0 < line <= len(lines) else ""
