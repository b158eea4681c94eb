"""``losstune eval``: one loss of a config, evaluated step by step."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from losstune.cli import context, terminal
from losstune.cli.boundary import reported
from losstune.cli.options import ConfigArg, Device, Format, FormatOption, VersionOption
from losstune.errors import EXIT_FINDINGS, CommandError, UsageError


def eval_command(
    config: ConfigArg,
    loss: Annotated[
        str,
        typer.Option(
            "--loss", help="The loss to evaluate: loss_cls, roi_head.bbox_head.loss_bbox...", show_default=False
        ),
    ],
    inputs: Annotated[
        Path | None,
        typer.Option(
            "--inputs",
            help="A .pt or .npz file of the forward's arguments by name (replays real tensors).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample inputs.")] = 0,
    num_priors: Annotated[
        int | None,
        typer.Option(
            "--num-priors", help="Priors to assign and sample (default 20000 dense, 2000 RoI).", show_default=False
        ),
    ] = None,
    device: Annotated[Device, typer.Option("--device", help="cpu or cuda.")] = Device.cpu,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Also draw the configured kernel and its gradient, beside its defaults, into this PNG (needs matplotlib).",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Compare the final value with MMDetection's own loss module called on the same inputs, "
            "where that version of MMDetection can be imported; exit 1 if they differ.",
        ),
    ] = True,
    mmdet_version: VersionOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Evaluate one loss of a config step by step, as MMDetection computes it (3.x, or 2.x for a 2.x config).

    The steps: (1) the config's bbox sampler picks positives and negatives from a seeded, synthetic
    assignment of priors and sets the label weights and avg_factor, as the head does; (2) the
    element-wise kernel with the configured numbers; (3) the element-wise weights; (4) the reduction
    with avg_factor; (5) loss_weight. Sample tensors are sized from the config (num_classes, RoI or
    dense head); --inputs replays tensors dumped from real training instead. Needs torch.

    The last line compares the result with MMDetection's own loss module on the same inputs,
    where it is installed. Exit codes: 0 done, 1 that comparison found a difference, 2 bad input.

    Example: losstune eval configs/retinanet.py --loss loss_cls --seed 1
    """
    with reported(fmt):
        try:
            import torch  # noqa: F401
        except ImportError:
            raise UsageError("eval needs PyTorch: pip install torch") from None
        from losstune.engine.inputs import InputError
        from losstune.engine.session import DENSE_PRIORS, ROI_PRIORS, evaluate_config
        from losstune.engine.trace import UnsupportedLoss
        from losstune.keypath import KeyPathError
        from losstune.loader.envmask import EnvMask
        from losstune.loader.resolve import Resolver
        from losstune.render import eval as render_eval

        if num_priors is not None and num_priors < 1:
            raise UsageError(
                f"--num-priors {num_priors}: give at least 1 prior to assign and sample, or leave it out "
                f"for the default ({DENSE_PRIORS} for a dense head, {ROI_PRIORS} for an RoI head)"
            )
        context.settings(str(config))
        cfg = context.load(config, Resolver())
        try:
            result = evaluate_config(
                cfg,
                loss,
                inputs=str(inputs) if inputs else None,
                seed=seed,
                num_priors=num_priors,
                device=device.value,
                mmdet_version=mmdet_version,
                plot=str(plot) if plot is not None else None,
                check=check,
            )
        except KeyPathError as e:  # a key that names nothing, or several keys: the candidates, as set lists them
            mask = EnvMask.of(cfg)
            raise CommandError(mask.text(f"{config}: {e}"), [f"candidate: {c}" for c in e.candidates]) from None
        except (InputError, UnsupportedLoss) as e:
            replay = "; give --inputs FILE, a .pt or .npz of its forward's arguments by name"
            hint = replay if isinstance(e, InputError) and e.replayable else ""
            raise CommandError(EnvMask.of(cfg).text(f"{config}: {e}{hint}")) from None
        sys.stdout.write(
            render_eval.render_json(result)
            if fmt is Format.json
            else render_eval.render_text(result, color=terminal.color(), width=terminal.layout()[0])
        )
        if result.check is not None and result.check.equal is False:
            raise typer.Exit(EXIT_FINDINGS)
