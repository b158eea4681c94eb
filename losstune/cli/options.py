"""The options and arguments the commands share, defined once, before any command uses them."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class Format(str, Enum):
    """Output formats of the reporting commands."""

    text = "text"
    json = "json"


class LintFormat(str, Enum):
    """Output formats of ``lint``."""

    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"
    auto = "auto"


class Device(str, Enum):
    """Where eval computes."""

    cpu = "cpu"
    cuda = "cuda"


FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="text for people, json for programs (versioned schema).")
]
ConfigArg = Annotated[Path, typer.Argument(help="A config file: .py, .yaml, .yml or .json.", show_default=False)]
SchemaOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--schema", help="A YAML file describing your own losses or samplers (repeatable).", show_default=False
    ),
]
VersionOption = Annotated[
    int | None,
    typer.Option(
        "--mmdet-version",
        min=2,
        max=3,
        help="Check against MMDetection 2 or 3 (default: detected from the config's shape).",
        show_default=False,
    ),
]
