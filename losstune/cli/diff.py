"""``losstune diff``: the losses and samplers of configs, compared as they take effect."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from losstune.cli import context, terminal
from losstune.cli.boundary import reported, warn
from losstune.cli.options import Format, FormatOption, SchemaOption, VersionOption
from losstune.errors import EXIT_FINDINGS, EXIT_OK, UsageError


def _configs(paths: list[Path]) -> list[str]:
    """The configs named, a folder standing for the configs below it (sorted, base files left out)."""
    from losstune.lint.run import collect, is_base_file

    out: list[str] = []
    for p in paths:
        found = collect([str(p)]).files
        out += [f for f in found if not is_base_file(f)] if p.is_dir() else found
    if len(out) < 2:
        raise UsageError(
            f"diff compares two configs or more; {', '.join(f'`{p}`' for p in paths)} "
            f"{'holds' if len(paths) == 1 else 'hold'} {len(out) or 'none'}: name two configs, or a folder of them"
        )
    return out


def diff(
    paths: Annotated[
        list[Path], typer.Argument(help="Two configs or more, or a folder of configs.", show_default=False)
    ],
    written: Annotated[
        bool,
        typer.Option("--written", help="Compare what is written, not what takes effect (no defaults filled in)."),
    ] = False,
    fmt: FormatOption = Format.text,
    mmdet_version: VersionOption = None,
    schema: SchemaOption = None,
) -> None:
    """Compare the losses and samplers of configs as they take effect.

    Every loss and sampler field is compared with the schema's defaults filled in (in the
    registry its type is looked up in) and a head's implicit PseudoSampler made explicit, as
    explain shows them: a config that writes only defaults is equal in effect, and a value that
    is a default is marked so. --written compares what is written instead.

    Two configs: each field that differs, each side with the file:line that sets it.
    More (A B C..., or a folder such as a sweep's output: its configs, sorted): one table, a
    column per config and a row per field that differs in any of them.

    Exit codes: 0 equal (in effect; as written with --written), 1 they differ, 2 could not run.

    \b
    Examples:
      losstune diff retinanet_r50_fpn_1x_coco.py retinanet_gamma1.5.py
      losstune diff --written retinanet_r50_fpn_1x_coco.py my_child.py
      losstune diff A B C
      losstune diff sweeps/focal --format json
    """
    with reported(fmt):
        from losstune.loader.resolve import Resolver
        from losstune.render import diff as render_diff
        from losstune.report import diff as build_diff

        settings = context.settings(str(paths[0]))
        found = context.schema(schema, settings)
        resolver = Resolver()
        configs = [context.load(Path(p), resolver) for p in _configs(paths)]
        report = build_diff(configs, found, mmdet_version, written=written)
        if fmt is Format.json:
            sys.stdout.write(render_diff.render_json(report))
        else:
            warn(report.diagnostics, fmt, {k: v for c in configs for k, v in c.sources.items()})
            sys.stdout.write(render_diff.render_text(report, color=terminal.color(), width=terminal.width()))
        raise typer.Exit(EXIT_FINDINGS if report.diffs else EXIT_OK)
