"""``losstune sweep``: one child config per combination of values, with a manifest."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from losstune.cli import context
from losstune.cli.boundary import editing, reported
from losstune.cli.options import Format, FormatOption, SchemaOption, VersionOption, config_and_assignments
from losstune.errors import UsageError
from losstune.loader.limits import MAX_SWEEP_RUNS

_EXAMPLE = "losstune sweep configs/retinanet.py loss_cls.gamma=1.0,1.5 -o sweeps/focal"


def sweep_command(
    args: Annotated[
        list[str],
        typer.Argument(
            help="The config every run inherits and KEY=V1,V2,... for each parameter to vary, in either order "
            "(the config is the argument that names an existing file).",
            metavar="CONFIG KEY=V1,V2,...",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("-o", "--output", help="Folder for the generated configs.", show_default=False)],
    max_runs: Annotated[
        int, typer.Option("--max", min=1, help="The most combinations to write; a larger sweep is refused.")
    ] = MAX_SWEEP_RUNS,
    fmt: FormatOption = Format.text,
    mmdet_version: VersionOption = None,
    schema: SchemaOption = None,
) -> None:
    """Write one child config per combination of values, with a manifest.

    Each child inherits CONFIG through _base_ and holds only its overrides; file names say the
    values (retinanet_gamma-1.5_alpha-0.25.py); manifest.json and manifest.csv list every file
    with its values. Every combination is checked against the schema before any file is written;
    a sweep of more than --max combinations is refused before any work.

    Example: losstune sweep configs/retinanet.py loss_cls.gamma=1.0,1.5,2.0 loss_cls.alpha=0.25,0.5 -o sweeps/focal
    """
    with reported(fmt):
        from losstune.edit.sweep import plan_sweep, write_sweep

        config, axes = config_and_assignments(args, _EXAMPLE)
        if not axes:
            raise UsageError(f"give at least one KEY=V1,V2,... to vary: {_EXAMPLE}")
        settings = context.settings(config).merged(mmdet_version=mmdet_version)
        loaded = context.schema(schema, settings)
        with editing(config):
            runs = plan_sweep(config, axes, str(out), loaded, settings, max_runs)
            written = write_sweep(runs, str(out), config)
        from losstune.render import sweep as render_sweep

        sys.stdout.write(render_sweep.render_json(written) if fmt is Format.json else render_sweep.render_text(written))
