"""What a command sets up before its work: the settings, the schema, the loaded config, and the
files it is about (named by the message of an unexpected failure)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from losstune.errors import CommandError

if TYPE_CHECKING:
    from losstune.config import LoadedConfig
    from losstune.lint.settings import Settings
    from losstune.loader.resolve import Resolver
    from losstune.schema.registry import Schema

# The modules doing the work are imported by the command that needs them: a `losstune lint` of
# one file should not pay for the modules of `explain`.

# What the command being run is about, and what it set up for its duration (reset by `begin`).
subject: list[str] = []
_scope = contextlib.ExitStack()


def begin() -> contextlib.ExitStack:
    """Start a command: nothing recorded yet; the returned stack is closed when it ends."""
    subject.clear()
    return _scope


def about(path: str) -> None:
    """Record the file a command is about, for the message of an unexpected failure."""
    if path not in subject:
        subject.append(path)


def settings(start: str) -> Settings:
    """The settings that apply to ``start``; unusable settings are an error naming the file.

    Every file the command reads afterwards is read within their ``max-file-size``."""
    from losstune.lint.settings import load_settings
    from losstune.loader import fileread

    about(start)
    found = load_settings(start)
    _scope.enter_context(fileread.limit(found.max_file_size))
    return found


def schema(extra: list[Path] | None, settings: Settings) -> Schema:
    """losstune's schema with the settings' schema files and the command's ``--schema`` files."""
    from losstune.schema.registry import SchemaError, load_schema

    try:
        return load_schema([*settings.schema_files, *(str(p) for p in extra or ())])
    except SchemaError as e:
        raise CommandError(f"the schema cannot be used: {e}") from None


def resolver(cfg_options: list[str] | None) -> Resolver:
    """The resolver of a command, with its ``--cfg-options`` merged into each config it resolves
    (read as mmengine's ``DictAction`` reads them: one it would refuse is an error, exit code 2)."""
    from losstune.loader.cfgoptions import parse_options
    from losstune.loader.resolve import Resolver

    return Resolver(options=parse_options(cfg_options or ()))


def load(path: Path, resolver: Resolver) -> LoadedConfig:
    """The config at ``path``, resolved; a config that cannot be is a ``ConfigError``."""
    from losstune.config import load as load_config

    about(str(path))
    return load_config(path, resolver=resolver)
