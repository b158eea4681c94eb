"""The options and arguments the commands share, defined once, before any command uses them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from losstune.errors import UsageError


def refuse(given: Mapping[str, object], reason: str) -> None:
    """A usage error, ``{flag} {reason}``, for the first of the options ``given`` (by flag, its value)
    that the user gave: a value other than ``None`` and ``False``."""
    for flag, value in given.items():
        if value is not None and value is not False:
            raise UsageError(f"{flag} {reason}")


class Format(str, Enum):
    """Output formats of the reporting commands."""

    text = "text"
    json = "json"


class LintFormat(str, Enum):
    """Output formats of ``lint``."""

    text = "text"
    concise = "concise"
    json = "json"
    sarif = "sarif"
    github = "github"
    rdjson = "rdjson"
    gitlab = "gitlab"
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
        "--schema",
        metavar="FILE",
        help="A YAML file describing your own losses or samplers (repeatable).",
        show_default=False,
    ),
]
CfgOptionsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--cfg-options",
        metavar="KEY=VALUE",
        help="Override a value of the resolved config as mmengine's --cfg-options does (a.b=1, a=[1,2], "
        "a=(1,2), a.0.b=x into a list); give the option once per KEY=VALUE.",
        show_default=False,
    ),
]


VersionOption = Annotated[
    int | None,
    typer.Option(
        "--mmdet-version",
        metavar="2|3",
        min=2,
        max=3,
        help="Check against MMDetection 2 or 3 (default: detected from the config's shape).",
        show_default=False,
    ),
]

EpochOption = Annotated[
    int,
    typer.Option(
        "--epoch",
        min=0,
        metavar="N",
        help="The training epoch modelled (0, as a run starts). It changes TOODHead only: before its "
        "train_cfg.initial_epoch it assigns with initial_assigner (ATSS) and makes loss_cls with "
        "initial_loss_cls, from then on the task-aligned way; no other head's losses follow the epoch. "
        "With --through-head, MMDetection's head runs at this epoch (mmengine's MessageHub 'epoch').",
    ),
]


def complete_codes(incomplete: str) -> list[tuple[str, str]]:
    """The completions of a ``--select``/``--ignore`` value: each code (with its name) that
    continues the last comma-separated entry, and ``ALL``."""
    from losstune.lint.selection import ALL, code_names

    head, comma, last = incomplete.rpartition(",")
    names = {**code_names(), ALL: "every code"}
    return [(f"{head}{comma}{c}", names[c]) for c in names if c.startswith(last.upper())]


def config_and_assignments(args: list[str], usage: str) -> tuple[str, list[str]]:
    """The config and the ``KEY=...`` arguments of ``set`` and ``sweep``, in either order.

    An argument that names an existing file is the config, even one holding ``=``. When none does,
    the one argument without ``=`` is (reading it then says what is wrong with it). The others are
    assignments; one whose left side names an existing file is refused, since it reads as a
    config path, not a key. ``usage`` is an example of the command, for the error messages."""
    from losstune.errors import UsageError

    files = [a for a in args if os.path.isfile(a)]
    if len(files) > 1:
        shown = ", ".join(f"`{f}`" for f in files)
        raise UsageError(f"more than one argument names a file ({shown}); give one config: {usage}")
    if not files:
        files = [a for a in args if "=" not in a]
        if len(files) != 1:
            raise UsageError(f"name the config file, an existing file, with the assignments: {usage}")
    config = files[0]
    rest = [a for a in args if a is not config]
    for a in rest:
        left = a.partition("=")[0].strip()
        if left and os.path.isfile(left):
            raise UsageError(
                f"`{a}` is not an assignment: `{left}` names a file, not a key; give the config on its own: {usage}"
            )
    return config, rest
