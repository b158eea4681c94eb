"""``--through-head`` of ``eval`` and ``explain``: its options, and the run through MMDetection's own
head, reported."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from losstune.cli import context, terminal
from losstune.cli.options import Format
from losstune.errors import EXIT_FINDINGS, CommandError, LosstuneError, UsageError

if TYPE_CHECKING:
    from losstune.config import LoadedConfig
    from losstune.engine.realhead.run import HeadRun

ThroughHeadOption = Annotated[
    bool,
    typer.Option(
        "--through-head",
        help="Run MMDetection's own head (built with its registry; needs mmdet 3.x) on a seeded synthetic "
        "batch, and show each loss module call it makes and its loss dict.",
    ),
]
ImportCustomOption = Annotated[
    bool,
    typer.Option(
        "--import-custom-modules",
        help="With --through-head: import the config's custom_imports first (code of your own that runs).",
    ),
]
SaveBatchOption = Annotated[
    Path | None,
    typer.Option(
        "--save-batch",
        help="With --through-head: write the batch and the head's weights to this .pt file (torch.load(..., "
        "weights_only=True) reads it), to replay them through MMDetection.",
        show_default=False,
    ),
]
ImageSizeOption = Annotated[
    int, typer.Option("--image-size", help="With --through-head: the side of the synthetic images, in pixels.")
]


def run(
    config: Path,
    cfg: LoadedConfig,
    seed: int,
    image_size: int,
    import_custom_modules: bool,
    save_batch: Path | None,
    epoch: int = 0,
) -> HeadRun:
    """``config``'s detector (``cfg``, loaded statically) and its loss through MMDetection's head,
    run at the training ``epoch``."""
    from losstune.engine.realhead.batch import BatchSpec
    from losstune.engine.realhead.run import HeadFailed, run_head

    if image_size < 32:
        raise UsageError(f"--image-size {image_size}: give at least 32 pixels (the coarsest feature maps need them)")
    spec = BatchSpec(seed=seed, size=image_size, epoch=epoch)
    try:
        return run_head(
            cfg,
            spec,
            import_custom_modules=import_custom_modules,
            save=str(save_batch) if save_batch is not None else None,
        )
    except HeadFailed as e:
        raise CommandError(f"{config}: {e}") from None


def eval_through_head(
    configs: list[Path],
    key: str,
    seed: int,
    image_size: int,
    import_custom_modules: bool,
    save_batch: Path | None,
    fmt: Format,
    cfg_options: list[str] | None,
    epoch: int = 0,
) -> None:
    """``eval --through-head``: the calls of the loss at ``key``, their steps, and the loss dict."""
    from losstune.engine.session import loss_named
    from losstune.render import headrun
    from losstune.render.json import document
    from losstune.schema.mmdet_version import detect_version

    if len(configs) > 1:
        raise UsageError("--through-head evaluates one config: give one config")
    config = configs[0]
    context.settings(str(config))
    cfg = context.load(config, context.resolver(cfg_options))
    head_run = run(config, cfg, seed, image_size, import_custom_modules, save_batch, epoch)
    try:
        loss = loss_named(cfg, key, detect_version(cfg.tree), epoch)[0]  # every call of the loss is shown
    except LosstuneError as e:
        raise CommandError(f"{config}: {e}") from None
    shown = loss.key
    if fmt is Format.json:
        sys.stdout.write(document("eval", {"key": loss.key, "type": loss.type} | headrun.run_data(head_run, shown)))
    else:
        width = terminal.layout()[0]
        sys.stdout.write(headrun.render_text(head_run, shown, color=terminal.color(), width=width))
    if any(c.equal is False for c in head_run.calls):
        raise typer.Exit(EXIT_FINDINGS)
