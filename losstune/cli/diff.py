"""``losstune diff``: the losses and samplers of two configs, compared."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from losstune.cli import context, terminal
from losstune.cli.boundary import reported, warn
from losstune.cli.options import Format, FormatOption
from losstune.errors import EXIT_FINDINGS, EXIT_OK


def diff(
    a: Annotated[Path, typer.Argument(help="The first config.", show_default=False)],
    b: Annotated[Path, typer.Argument(help="The second config.", show_default=False)],
    fmt: FormatOption = Format.text,
) -> None:
    """Compare the losses and samplers of two configs.

    Lists every loss and sampler field whose resolved value differs between A and B, each side
    with the file:line that sets it. Exits 1 when they differ, 0 when they do not.

    Example: losstune diff retinanet_r50_fpn_1x_coco.py retinanet_r50_fpn_gamma1.5_1x_coco.py
    """
    with reported(fmt):
        from losstune.loader.resolve import Resolver
        from losstune.render import diff as render_diff
        from losstune.report import diff as build_diff

        context.settings(str(a))
        resolver = Resolver()
        cfg_a = context.load(a, resolver)
        cfg_b = context.load(b, resolver)
        report = build_diff(cfg_a, cfg_b)
        if fmt is Format.json:
            sys.stdout.write(render_diff.render_json(report))
        else:
            warn(report.diagnostics, fmt, {**cfg_a.sources, **cfg_b.sources})
            sys.stdout.write(render_diff.render_text(report, color=terminal.color(), width=terminal.width()))
        raise typer.Exit(EXIT_FINDINGS if report.diffs else EXIT_OK)
