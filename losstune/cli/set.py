"""``losstune set``: schema-checked edits of loss and sampler fields."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from losstune.cli import context, terminal
from losstune.cli.boundary import editing, reported
from losstune.cli.options import Format, FormatOption, SchemaOption, VersionOption, config_and_assignments
from losstune.errors import UsageError


def set_command(
    args: Annotated[
        list[str],
        typer.Argument(
            help="KEY=VALUE assignments and the config file, in either order (the config is the argument that "
            "names an existing file).",
            metavar="KEY=VALUE... CONFIG",
            show_default=False,
        ),
    ],
    unset: Annotated[
        list[str] | None,
        typer.Option(
            "--unset", help="Remove a parameter so that its default applies (repeatable).", show_default=False
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff; write nothing.")] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Write the edited config to a new file (its _base_ paths rewritten).",
            show_default=False,
        ),
    ] = None,
    in_base: Annotated[
        bool, typer.Option("--in-base", help="Edit the file that defines each value, and list the configs it affects.")
    ] = False,
    scan: Annotated[
        Path | None,
        typer.Option(
            "--scan",
            metavar="DIR",
            help="With --in-base: the folder searched for configs that inherit the edited file (default: the "
            "config's project, the nearest folder above it with a pyproject.toml or .git, else the top of its "
            "_base_ tree). The search stops after 5 s; a file it could not check is listed as a note.",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOption = Format.text,
    mmdet_version: VersionOption = None,
    schema: SchemaOption = None,
) -> None:
    """Change loss and sampler fields, checked against the schema, keeping the file as written.

    A value written in the config is replaced where it stands; an inherited one gets the smallest
    override that mmengine resolves to it (whole lists for cascade heads, _delete_=True where a type
    swap or --unset must drop inherited keys). Keys are full (model.roi_head.bbox_head.1.loss_cls.
    loss_weight), short (loss_cls.gamma) or with * (bbox_head.*.loss_cls.loss_weight); values are
    Python literals (1.5, 'a', [1, 2], True, None; true/false/null too), anything else a string.
    An edit that the schema refuses writes nothing and exits 2. Writes are atomic, and the config is
    resolved again afterwards: if it does not give the requested values, the files are restored.

    Example: losstune set loss_cls.gamma=1.5 loss_bbox.type=GIoULoss configs/retinanet.py --dry-run
    """
    with reported(fmt):
        from losstune.edit.session import set_values
        from losstune.edit.values import Assignment, parse_assignment

        config, raw = config_and_assignments(args, "losstune set loss_cls.gamma=1.5 configs/retinanet.py")
        if not (raw or unset):
            raise UsageError(
                "give at least one KEY=VALUE (or --unset KEY), then the config file: "
                "losstune set loss_cls.gamma=1.5 configs/retinanet.py"
            )
        assignments = [parse_assignment(a) for a in raw] + [Assignment(k, unset=True) for k in unset or ()]
        settings = context.settings(config).merged(mmdet_version=mmdet_version)
        loaded = context.schema(schema, settings)
        with editing(config):
            outcome = set_values(
                config,
                assignments,
                loaded,
                settings,
                dry_run=dry_run,
                out=str(out) if out else None,
                in_base=in_base,
                scan=str(scan) if scan else None,
            )
        from losstune.render import edit as render_edit

        if fmt is Format.json:
            sys.stdout.write(render_edit.render_json(outcome, dry_run))
        else:
            sys.stdout.write(render_edit.render_text(outcome, dry_run, color=terminal.color()))
