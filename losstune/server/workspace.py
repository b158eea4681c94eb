"""The server's view of the workspace: the open documents' unsaved texts (an overlay over the
files on disk), the settings and schema that apply to each, and the last check of each open
config with the files it read (so that editing a base re-checks the configs that inherit it)."""

from __future__ import annotations

import os

from msgspec import Struct, field

from losstune.config import LoadedConfig
from losstune.errors import LosstuneError
from losstune.lint.run import lint
from losstune.lint.settings import Settings, load_settings
from losstune.loader import codes
from losstune.loader.resolve import FileResult, Resolver
from losstune.loader.source import SourceText
from losstune.model import Diagnostic, Span
from losstune.schema.registry import Schema, load_schema
from losstune.server.inherited import on_entries


class Checked(Struct):
    """One check of an open config: every finding lint reports for it (in whatever file each is
    written), the files its resolution read (absolute paths), and the errors of the other files
    placed on its ``_base_`` entries (see :mod:`losstune.server.inherited`)."""

    diagnostics: list[Diagnostic]
    files: list[str] = field(default_factory=list)
    inherited: list[Diagnostic] = field(default_factory=list)


class Workspace:
    """Open documents by absolute path, and what checking them found."""

    def __init__(self) -> None:
        self.documents: dict[str, str] = {}
        self.checked: dict[str, Checked] = {}
        self._settings: dict[str, Settings] = {}
        self._schemas: dict[tuple[str, ...], Schema] = {}

    def open(self, path: str, text: str) -> None:
        """Record the text of an opened or edited document."""
        self.documents[os.path.abspath(path)] = text

    def close(self, path: str) -> None:
        """Forget a closed document: the file on disk is read again."""
        path = os.path.abspath(path)
        self.documents.pop(path, None)
        self.checked.pop(path, None)

    def forget_settings(self) -> None:
        """Read the settings and schema files again at the next check (a ``pyproject.toml`` or a
        schema file changed)."""
        self._settings.clear()
        self._schemas.clear()

    def text(self, path: str) -> SourceText:
        """The text of ``path`` as the server sees it: the open buffer, else the file on disk."""
        path = os.path.abspath(path)
        text = self.documents.get(path)
        if text is None:
            text = self.documents.get(os.path.realpath(path))
        if text is None:
            try:
                with open(path, encoding="utf-8", errors="replace", newline="") as f:
                    text = f.read()
            except OSError:
                text = ""
        return SourceText.plain(path, text)

    def resolver(self) -> Resolver:
        """A resolver reading the open documents' texts in place of the files on disk."""
        return Resolver(overlay=dict(self.documents))

    def settings(self, path: str) -> Settings:
        """The settings of ``[tool.losstune]`` that apply to ``path``."""
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in self._settings:
            self._settings[folder] = load_settings(folder)
        return self._settings[folder]

    def schema(self, settings: Settings) -> Schema:
        """losstune's schema with the settings' schema files."""
        key = tuple(settings.schema_files)
        if key not in self._schemas:
            self._schemas[key] = load_schema(key)
        return self._schemas[key]

    def check(self, path: str) -> Checked:
        """Lint the open config ``path`` as the open documents' texts are; a problem with the
        settings or schema is one finding on the file's first line."""
        path = os.path.abspath(path)
        resolver = self.resolver()
        try:
            settings = self.settings(path)
            result = lint([path], self.schema(settings), settings, resolver)
            files = [path, *resolver.resolve(path).files]
            inherited = on_entries(path, self.text(path).text, result.diagnostics, resolver)
            checked = Checked(result.diagnostics, list(dict.fromkeys(files)), inherited)
        except LosstuneError as e:
            problem = codes.diagnostic(codes.CHECK_FAILED, str(e), Span(path, 1, 1, 1, 1), files=(path,))
            checked = Checked([problem], [path])
        self.checked[path] = checked
        return checked

    def dependents(self, path: str) -> list[str]:
        """The open configs whose last check read ``path`` (``path`` itself included if open)."""
        wanted = {os.path.abspath(path), os.path.realpath(path)}
        return [p for p, c in self.checked.items() if wanted & {*c.files, *map(os.path.realpath, c.files)}]

    def loaded(self, path: str) -> tuple[LoadedConfig | None, FileResult, Schema, Settings]:
        """The open config ``path`` resolved as the open documents' texts are, with its schema
        and settings."""
        path = os.path.abspath(path)
        settings = self.settings(path)
        result = self.resolver().resolve(path)
        return (LoadedConfig(result) if result.cfg is not None else None), result, self.schema(settings), settings
