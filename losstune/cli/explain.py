"""``losstune explain``: every loss of a config, and where each value comes from."""

import sys
from typing import Annotated

import typer

from losstune.cli import context, terminal
from losstune.cli.boundary import reported, warn
from losstune.cli.options import (
    CfgOptionsOption,
    ConfigArg,
    EpochOption,
    Format,
    FormatOption,
    SchemaOption,
    VersionOption,
)
from losstune.cli.throughhead import ImageSizeOption, ImportCustomOption, ThroughHeadOption
from losstune.errors import UsageError


def explain(
    config: ConfigArg,
    fmt: FormatOption = Format.text,
    steps: Annotated[
        bool | None,
        typer.Option(
            "--steps/--no-steps",
            help="Evaluate each loss on seeded sample tensors (default: when torch is installed; it takes ~1.5 s to import).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample tensors.")] = 0,
    epoch: EpochOption = 0,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide", help="Show every meaning whole, each row on one line however wide (the default when piped)."
        ),
    ] = False,
    resolved: Annotated[
        bool,
        typer.Option(
            "--resolved",
            help="Print the resolved losses and samplers as a config (Python, or YAML for a YAML or JSON "
            "config), each value with the file:line that sets it as a comment: ready to paste as a child config.",
        ),
    ] = False,
    mmdet_version: VersionOption = None,
    schema: SchemaOption = None,
    cfg_options: CfgOptionsOption = None,
    through_head: ThroughHeadOption = False,
    import_custom_modules: ImportCustomOption = False,
    image_size: ImageSizeOption = 256,
) -> None:
    """Show every loss of a config and where each value comes from.

    The config is resolved with its whole _base_ chain; each loss is listed with its key path,
    type and parameters, each parameter with the file:line that sets it (or its default), and the
    bbox sampler that feeds the loss (PseudoSampler when the head's train_cfg has none). With torch
    installed, each loss is also evaluated on seeded sample tensors: sampling, kernel, weight,
    reduction and loss_weight, each with its numbers (see losstune eval).

    With --through-head, MMDetection's own head also runs on a seeded synthetic batch, and the loss
    dict it returns follows, each term with the loss module calls it is made from (see losstune eval).

    Example: losstune explain configs/retinanet/retinanet_r50_fpn_1x_coco.py --format json
    """
    with reported(fmt):
        import importlib.util

        from losstune.render import explain as render_explain
        from losstune.report import explain as build_explain

        # --no-steps asks nothing of torch: looking for it searches every folder of sys.path.
        has_torch = steps is not False and importlib.util.find_spec("torch") is not None
        if steps and not has_torch:
            raise UsageError("--steps evaluates the losses with PyTorch: pip install torch")
        if through_head and resolved:
            raise UsageError("--through-head runs the head; --resolved prints config text: leave out one of the two")
        if import_custom_modules and not through_head:
            raise UsageError("--import-custom-modules goes with --through-head (MMDetection's own head); add it")
        if resolved and fmt is Format.json:
            raise UsageError("--resolved prints config text; leave out --format json (explain's JSON has every value)")
        settings = context.settings(str(config))
        cfg = context.load(config, context.resolver(cfg_options))
        if resolved:
            from losstune.render.resolved import render_resolved
            from losstune.resolved import resolved as build_resolved

            warn(cfg.diagnostics, fmt, cfg.sources)
            sys.stdout.write(render_resolved(build_resolved(cfg, context.schema(schema, settings), mmdet_version)))
            return
        hint = steps is None and not has_torch and bool(cfg.losses())
        if steps is None:
            steps = has_torch
        report = build_explain(
            cfg, context.schema(schema, settings), mmdet_version, steps=steps, seed=seed, epoch=epoch
        )
        head_run = None
        if through_head:
            from losstune.cli.throughhead import run as run_through_head

            head_run = run_through_head(config, cfg, seed, image_size, import_custom_modules, None, epoch)
        if fmt is Format.json:
            from losstune.render.headrun import run_data

            extra = {"through_head": None if head_run is None else run_data(head_run)}
            sys.stdout.write(render_explain.render_json(report, extra))
        else:
            warn(report.diagnostics, fmt, cfg.sources)
            width, shorten = terminal.layout(wide)
            shown = render_explain.render_text(
                report, color=terminal.color(), width=width, shorten=shorten, torch_hint=hint
            )
            sys.stdout.write(shown)
            if head_run is not None:
                from losstune.render.headrun import render_terms

                sys.stdout.write("\n" + render_terms(head_run, color=terminal.color(), width=width))
