"""``losstune eval``: one loss of a config, evaluated step by step."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from losstune.cli import context, terminal
from losstune.cli.boundary import reported
from losstune.cli.options import (
    CfgOptionsOption,
    Device,
    EpochOption,
    Format,
    FormatOption,
    VersionOption,
    refuse,
)
from losstune.cli.throughhead import ImageSizeOption, ImportCustomOption, SaveBatchOption, ThroughHeadOption
from losstune.errors import EXIT_FINDINGS, CommandError, UsageError
from losstune.render.safe import printable

if TYPE_CHECKING:
    from losstune.engine.session import EvalResult


def eval_command(
    configs: Annotated[
        list[Path],
        typer.Argument(
            help="A config file (.py, .yaml, .yml or .json), or several: each evaluated in turn, their "
            "--plot curves overlaid.",
            show_default=False,
            metavar="CONFIG...",
        ),
    ],
    loss: Annotated[
        str | None,
        typer.Option(
            "--loss",
            help="The loss to evaluate: its key (loss_cls, roi_head.bbox_head.loss_bbox...) or one of its terms "
            "as the training log names it (s1.loss_cls, d3.loss_iou, loss_rpn_cls). With a recording: the loss "
            "whose calls are shown step by step.",
            show_default=False,
        ),
    ] = None,
    inputs: Annotated[
        Path | None,
        typer.Option(
            "--inputs",
            help="A recording of a training run's loss calls (losstune.mmengine's RecordLossInputs hook): "
            "each call replayed; or a .pt or .npz file of one loss's forward arguments by name, with --loss.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample inputs.")] = 0,
    epoch: EpochOption = 0,
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
    cfg_options: CfgOptionsOption = None,
    through_head: ThroughHeadOption = False,
    import_custom_modules: ImportCustomOption = False,
    save_batch: SaveBatchOption = None,
    image_size: ImageSizeOption = 256,
) -> None:
    """Evaluate one loss of a config step by step, as MMDetection computes it (3.x, or 2.x for a 2.x config).

    The steps: (1) the config's bbox sampler picks positives and negatives from a seeded, synthetic
    assignment of priors and sets the label weights and avg_factor, as the head does; (2) the
    element-wise kernel with the configured numbers; (3) the element-wise weights; (4) the reduction
    with avg_factor; (5) loss_weight. Sample tensors are sized from the config (num_classes, RoI or
    dense head); --inputs replays tensors dumped from real training instead. Needs torch.

    With --inputs RECORDING (written by the RecordLossInputs hook of losstune.mmengine in a
    training run), every recorded call of every loss is evaluated again on exactly its inputs and
    compared with the value the run computed, and with the config as it is now where it changed;
    --loss KEY shows the calls of one loss with their steps.

    The last line compares the result with MMDetection's own loss module on the same inputs,
    where it is installed. Exit codes: 0 done, 1 that comparison found a difference, 2 bad input.

    With --through-head, the config's detector is built with MMDetection's registry and its own head
    computes the loss on a seeded synthetic batch: every call of the loss module is shown with the
    five steps on exactly its inputs, then the loss dict as the training log would show it.

    Example: losstune eval configs/retinanet.py --loss loss_cls --seed 1
    """
    with reported(fmt):
        try:
            import torch  # noqa: F401
        except ImportError:
            raise UsageError("eval needs PyTorch: pip install torch") from None
        from losstune.engine.headmodel import DENSE_PRIORS, ROI_PRIORS
        from losstune.engine.inputs import InputError
        from losstune.engine.session import evaluate_config, loss_dict
        from losstune.engine.trace import UnsupportedLoss
        from losstune.keypath import KeyPathError
        from losstune.loader.envmask import EnvMask
        from losstune.render import eval as render_eval

        if num_priors is not None and num_priors < 1:
            raise UsageError(
                f"--num-priors {num_priors}: give at least 1 prior to assign and sample, or leave it out "
                f"for the default ({DENSE_PRIORS} for a dense head, {ROI_PRIORS} for an RoI head)"
            )
        if inputs is not None and not through_head:
            from losstune.cli.replay import eval_recording, recording_of

            rec = recording_of(inputs, loss)
            if rec is not None:
                refuse(
                    {
                        "--num-priors": num_priors,
                        "--plot": plot,
                        "--save-batch": save_batch,
                        "--import-custom-modules": import_custom_modules,
                    },
                    "does not go with --inputs RECORDING, a training run's loss calls replayed on their recorded "
                    "inputs: leave out one of the two",
                )
                eval_recording(configs, rec, loss, mmdet_version, device.value, fmt, cfg_options)
                return
        if loss is None:
            raise UsageError(
                "give --loss KEY, the loss to evaluate (loss_cls, roi_head.bbox_head.loss_bbox...), or --inputs "
                "FILE, a recording of a training run's loss calls to replay"
            )
        if through_head:
            from losstune.cli.throughhead import eval_through_head

            refuse(
                {
                    "--inputs": inputs,
                    "--num-priors": num_priors,
                    "--plot": plot,
                    "--mmdet-version 2": mmdet_version == 2,
                    "--device cuda": device is Device.cuda,
                },
                "is for losstune's model of the head; --through-head runs MMDetection 3.x's own head on its "
                "synthetic batch on the CPU: leave out one of the two",
            )
            eval_through_head(
                configs, loss, seed, image_size, import_custom_modules, save_batch, fmt, cfg_options, epoch
            )
            return
        refuse(
            {"--save-batch": save_batch, "--import-custom-modules": import_custom_modules},
            "goes with --through-head (MMDetection's own head run on a batch); add it",
        )
        if len(configs) > 1 and fmt is Format.json:
            raise UsageError("--format json evaluates one config: give one config, or several as text")
        several = len(configs) > 1
        results: list[tuple[Path, EvalResult, dict[str, Any]]] = []
        for config in configs:
            context.settings(str(config))
            cfg = context.load(config, context.resolver(cfg_options))
            try:
                result = evaluate_config(
                    cfg,
                    loss,
                    inputs=str(inputs) if inputs else None,
                    seed=seed,
                    num_priors=num_priors,
                    device=device.value,
                    mmdet_version=mmdet_version,
                    plot=str(plot) if plot is not None and not several else None,
                    check=check,
                    epoch=epoch,
                )
            except KeyPathError as e:  # a key that names nothing, or several keys: the candidates, as set lists them
                mask = EnvMask.of(cfg)
                raise CommandError(mask.text(f"{config}: {e}"), [f"candidate: {c}" for c in e.candidates]) from None
            except (InputError, UnsupportedLoss) as e:
                replay = "; give --inputs FILE, a .pt or .npz of its forward's arguments by name"
                hint = replay if isinstance(e, InputError) and e.replayable else ""
                raise CommandError(EnvMask.of(cfg).text(f"{config}: {e}{hint}")) from None
            results.append((config, result, loss_dict(cfg, result.loss)))
        if several and plot is not None:
            _overlay(results, plot)
        width = terminal.layout()[0]
        for i, (config, result, _) in enumerate(results):
            if fmt is Format.json:
                sys.stdout.write(render_eval.render_json(result))
                continue
            heading = ("\n" if i else "") + f"{printable(str(config))}:\n" if several else ""
            sys.stdout.write(heading + render_eval.render_text(result, color=terminal.color(), width=width))
        if any(r.check is not None and r.check.equal is False for _, r, _ in results):
            raise typer.Exit(EXIT_FINDINGS)


def _overlay(results: list[tuple[Path, "EvalResult", dict[str, Any]]], plot: Path) -> None:
    """One PNG of every config's loss, a curve each; an error naming a config that does not fit."""
    from losstune.engine.inputs import InputError
    from losstune.engine.plot import PlotMismatch, plot_kernel

    keys = ", ".join(dict.fromkeys(f"{r.loss.key}: {r.loss.type}" for _, r, _ in results))
    names = [config.name for config, _, _ in results]
    if len(set(names)) < len(names):  # the same name in two folders: the paths as given
        names = [str(config) for config, _, _ in results]
    try:
        plot_kernel([(name, r[2]) for name, r in zip(names, results, strict=True)], str(plot), keys)
    except PlotMismatch as e:
        raise CommandError(f"{results[e.index][0]}: {e}") from None
    except InputError as e:
        raise CommandError(f"{results[0][0]}: {e}") from None
