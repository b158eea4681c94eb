"""The ``losstune`` command line: argument parsing only; the work is done by the library."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from losstune.cli.boundary import reported, warn
from losstune.cli.options import (
    ConfigArg,
    Device,
    Format,
    FormatOption,
    LintFormat,
    SchemaOption,
    VersionOption,
)
from losstune.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, CommandError, EditFailure, UsageError
from losstune.loader.limits import MAX_SWEEP_RUNS

if TYPE_CHECKING:
    from losstune.config import LoadedConfig
    from losstune.lint.settings import Settings
    from losstune.loader.resolve import Resolver
    from losstune.schema.registry import Schema

# The modules doing the work are imported by the command that needs them: a `losstune lint` of
# one file should not pay for the modules of `explain`.

app = typer.Typer(
    name="losstune",
    help=(
        "See, edit and check the losses of MMDetection configs, without running them.\n\n"
        "Configs are read statically (never executed) and resolved exactly like mmengine's "
        "Config.fromfile: _base_ inheritance, _delete_, {{_base_.x}}, environment templates.\n\n"
        "Exit codes: 0 clean, 1 findings (diff: the configs differ), 2 could not run."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _width() -> int:
    if not sys.stdout.isatty():
        return 120
    try:
        return max(80, min(os.get_terminal_size().columns, 160))
    except OSError:
        return 120


def _settings(start: str) -> Settings:
    """The settings that apply to ``start``; unusable settings are an error naming the file.

    Every file the command reads afterwards is read within their ``max-file-size``."""
    from losstune.lint.settings import load_settings
    from losstune.loader import fileread

    _about(start)
    settings = load_settings(start)
    _scope.enter_context(fileread.limit(settings.max_file_size))
    return settings


# What the command being run is about, and what it set up for its duration (reset by `_root`).
_subject: list[str] = []
_scope = contextlib.ExitStack()


def _about(path: str) -> None:
    """Record the file a command is about, for the message of an unexpected failure."""
    if path not in _subject:
        _subject.append(path)


def _load(path: Path, resolver: Resolver) -> LoadedConfig:
    from losstune.config import load

    _about(str(path))
    return load(path, resolver=resolver)


@app.command()
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
    mmdet_version: VersionOption = None,
    schema: SchemaOption = None,
) -> None:
    """Show every loss of a config and where each value comes from.

    The config is resolved with its whole _base_ chain; each loss is listed with its key path,
    type and parameters, each parameter with the file:line that sets it (or its default), and the
    bbox sampler that feeds the loss (PseudoSampler when the head's train_cfg has none). With torch
    installed, each loss is also evaluated on seeded sample tensors: sampling, kernel, weight,
    reduction and loss_weight, each with its numbers (see losstune eval).

    Example: losstune explain configs/retinanet/retinanet_r50_fpn_1x_coco.py --format json
    """
    with reported(fmt):
        import importlib.util

        from losstune.loader.resolve import Resolver
        from losstune.render import json as render_json
        from losstune.render import text as render_text
        from losstune.report import explain as build_explain

        has_torch = importlib.util.find_spec("torch") is not None
        if steps and not has_torch:
            raise UsageError("--steps evaluates the losses with PyTorch: pip install torch")
        settings = _settings(str(config))
        cfg = _load(config, Resolver())
        hint = steps is None and not has_torch and bool(cfg.losses())
        if steps is None:
            steps = has_torch
        report = build_explain(cfg, _schema(schema, settings), mmdet_version, steps=steps, seed=seed)
        if fmt is Format.json:
            sys.stdout.write(render_json.render_explain(report))
        else:
            warn(report.diagnostics, fmt)
            sys.stdout.write(render_text.render_explain(report, color=_color(), width=_width()))
            if hint:
                sys.stdout.write("(pip install torch to also see each loss evaluated step by step on sample tensors)\n")


@app.command()
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
        from losstune.render import json as render_json
        from losstune.render import text as render_text
        from losstune.report import diff as build_diff

        _settings(str(a))
        resolver = Resolver()
        cfg_a = _load(a, resolver)
        cfg_b = _load(b, resolver)
        report = build_diff(cfg_a, cfg_b)
        if fmt is Format.json:
            sys.stdout.write(render_json.render_diff(report))
        else:
            warn(report.diagnostics, fmt)
            sys.stdout.write(render_text.render_diff(report, color=_color(), width=_width()))
        raise typer.Exit(EXIT_FINDINGS if report.diffs else EXIT_OK)


def _split_codes(value: list[str] | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(c.strip().upper() for v in value for c in v.split(",") if c.strip())


def _schema(extra: list[Path] | None, settings: Settings) -> Schema:
    from losstune.schema.registry import SchemaError, load_schema

    try:
        return load_schema([*settings.schema_files, *(str(p) for p in extra or ())])
    except SchemaError as e:
        raise CommandError(f"the schema cannot be used: {e}") from None


@app.command()
def lint(
    paths: Annotated[list[Path], typer.Argument(help="Config files or folders to check.", show_default=False)],
    fmt: Annotated[
        LintFormat,
        typer.Option("--format", "-f", help="text, json, sarif, github, or auto (github under GitHub Actions)."),
    ] = LintFormat.auto,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select", help="Only these codes or prefixes, comma-separated (LT1 = all LT1xx).", show_default=False
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="Skip these codes or prefixes.", show_default=False)
    ] = None,
    strict: Annotated[
        bool | None, typer.Option("--strict/--no-strict", help="Fail on warnings too.", show_default=False)
    ] = None,
    mmdet_version: VersionOption = None,
    schema: SchemaOption = None,
) -> None:
    """Check the losses and samplers of configs, before training does.

    Folders are walked for .py, .yaml, .yml and .json configs; base files under _base_ are checked
    through the configs that use them (and on their own where nothing uses them), and a finding in a
    base file is reported once, where it is written. Settings come from [tool.losstune] in the nearest
    pyproject.toml; a `# losstune: noqa` or `# losstune: noqa: LT103` comment silences a line.
    Exit codes: 0 no errors (no warnings either with --strict), 1 findings, 2 could not run.

    Example: losstune lint configs/ --format github
    """
    with reported(Format.json if fmt is LintFormat.json else Format.text):
        from losstune.lint.run import lint as run_lint
        from losstune.render import json as render_json

        settings = _settings(str(paths[0]) if paths else ".").merged(
            select=_split_codes(select),
            ignore=_split_codes(ignore),
            strict=strict,
            mmdet_version=mmdet_version,
        )
        loaded = _schema(schema, settings)
        result = run_lint([str(p) for p in paths], loaded, settings)
        chosen = fmt
        if chosen is LintFormat.auto:
            chosen = LintFormat.github if os.environ.get("GITHUB_ACTIONS") == "true" else LintFormat.text
        if chosen is LintFormat.json:
            sys.stdout.write(render_json.render_lint(result.diagnostics, len(result.configs)))
        elif chosen is LintFormat.sarif:
            from losstune.render import sarif as render_sarif

            sys.stdout.write(render_sarif.render_lint(result.diagnostics))
        elif chosen is LintFormat.github:
            from losstune.render import github as render_github

            sys.stdout.write(render_github.render_lint(result.diagnostics))
        else:
            from losstune.render import lint_text as render_lint_text

            sys.stdout.write(
                render_lint_text.render_lint(result.diagnostics, result.lines, len(result.configs), color=_color())
            )
        raise typer.Exit(EXIT_FINDINGS if result.failed(settings.strict) else EXIT_OK)


@app.command("schema")
def schema_command(
    name: Annotated[
        str | None, typer.Argument(help="A loss or sampler type; omit to list them all.", show_default=False)
    ] = None,
    fmt: FormatOption = Format.text,
    schema: SchemaOption = None,
) -> None:
    """List the known losses and samplers, or show one.

    For one loss or sampler: its formula, and each parameter's type, default, allowed values and
    meaning, from losstune's schema of MMDetection (plus your own --schema files).

    Example: losstune schema FocalLoss
    """
    with reported(fmt):
        from losstune.render import json as render_json
        from losstune.render import text as render_text

        loaded = _schema(schema, _settings("."))
        if name is None:
            out = (
                render_json.render_schema_list(loaded)
                if fmt is Format.json
                else render_text.render_schema_list(loaded, width=_width())
            )
            sys.stdout.write(out)
            return
        entry = loaded.get(name)
        if entry is None:
            guess = loaded.suggest(name)
            hint = f"; did you mean `{guess}`?" if guess else "; `losstune schema` lists them all"
            raise UsageError(f"`{name}` is not a known loss or sampler{hint}")
        out = (
            render_json.render_entry(entry)
            if fmt is Format.json
            else render_text.render_entry(entry, color=_color(), width=_width())
        )
        sys.stdout.write(out)


@contextlib.contextmanager
def _editing(config: str) -> Iterator[None]:
    """An edit's refusals as set and sweep report them: about ``config``, saying what state the
    files are in."""
    try:
        yield
    except EditFailure as e:
        raise CommandError(f"{config}: {e}; {e.after}", e.details) from None
    except OSError as e:
        raise CommandError(f"{config}: cannot write ({e.strerror}); nothing was changed") from None


@app.command("set")
def set_command(
    args: Annotated[
        list[str],
        typer.Argument(
            help="KEY=VALUE assignments, then the config file.", metavar="KEY=VALUE... CONFIG", show_default=False
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

        if not args:
            raise UsageError("name the config after the assignments: losstune set KEY=VALUE CONFIG")
        config, raw = args[-1], args[:-1]
        if "=" in config or not (raw or unset):
            raise UsageError(
                "give at least one KEY=VALUE (or --unset KEY), then the config file: "
                "losstune set loss_cls.gamma=1.5 configs/retinanet.py"
            )
        assignments = [parse_assignment(a) for a in raw] + [Assignment(k, unset=True) for k in unset or ()]
        settings = _settings(config).merged(mmdet_version=mmdet_version)
        loaded = _schema(schema, settings)
        with _editing(config):
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
            sys.stdout.write(render_edit.render_text(outcome, dry_run, color=_color()))


@app.command("sweep")
def sweep_command(
    config: Annotated[Path, typer.Argument(help="The config every run inherits.", show_default=False)],
    axes: Annotated[
        list[str],
        typer.Argument(help="KEY=V1,V2,... for each parameter to vary.", metavar="KEY=V1,V2,...", show_default=False),
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

        settings = _settings(str(config)).merged(mmdet_version=mmdet_version)
        loaded = _schema(schema, settings)
        with _editing(str(config)):
            runs = plan_sweep(str(config), axes, str(out), loaded, settings, max_runs)
            manifest_json, manifest_csv = write_sweep(runs, str(out), str(config))
        from losstune.loader.resolve import display_path

        if fmt is Format.json:
            import json

            sys.stdout.write(
                json.dumps(
                    {
                        "version": 1,
                        "kind": "sweep",
                        "config": display_path(str(config.resolve())),
                        "runs": [{"file": display_path(r.file), "values": r.values} for r in runs],
                        "manifest": [display_path(manifest_json), display_path(manifest_csv)],
                    },
                    indent=2,
                )
                + "\n"
            )
            return
        from losstune.render.safe import printable

        for r in runs:
            values = ", ".join(f"{k}={v!r}" for k, v in r.values.items())
            sys.stdout.write(printable(f"  {display_path(r.file)}  {values}") + "\n")
        sys.stdout.write(
            printable(
                f"{len(runs)} configs written, listed in {display_path(manifest_json)} and {display_path(manifest_csv)}"
            )
            + "\n"
        )


@app.command("eval")
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
            help="Also draw the configured kernel, beside its defaults, into this PNG (needs matplotlib).",
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
        from losstune.engine.session import evaluate_config
        from losstune.engine.trace import UnsupportedLoss
        from losstune.keypath import KeyPathError
        from losstune.loader.resolve import Resolver
        from losstune.render import eval as render_eval

        _settings(str(config))
        cfg = _load(config, Resolver())
        try:
            result = evaluate_config(
                cfg,
                loss,
                inputs=str(inputs) if inputs else None,
                seed=seed,
                num_priors=num_priors,
                device=device.value,
                mmdet_version=mmdet_version,
            )
            if plot is not None:
                from losstune.engine.plot import plot_kernel
                from losstune.keypath import get

                plot_kernel(get(cfg.tree, result.loss.path), str(plot), f"{result.loss.key}: {result.loss.type}")
        except (InputError, UnsupportedLoss, KeyPathError) as e:
            from losstune.loader.envmask import EnvMask

            raise CommandError(EnvMask.of(cfg).text(f"{config}: {e}")) from None
        if check:
            from dataclasses import replace

            from losstune.engine.crosscheck import crosscheck

            checked = crosscheck(result.loss_cfg, result.trace.loss, result.args, result.kwargs, result.version)
            result = replace(result, check=checked)
        if fmt is Format.json:
            sys.stdout.write(render_eval.render_json(result))
        else:
            sys.stdout.write(render_eval.render_text(result, color=_color()))
        if result.check is not None and result.check.equal is False:
            raise typer.Exit(EXIT_FINDINGS)


@app.command("rule")
def rule_command(
    code: Annotated[
        str | None, typer.Argument(help="A rule code (LT103) or name (wrong-type); omit to list all.")
    ] = None,
) -> None:
    """Explain a lint rule, or list them all.

    What the rule finds, and how MMDetection would fail or silently misbehave without it.

    Example: losstune rule LT111
    """
    with reported(Format.text):
        from losstune.loader import codes
        from losstune.rules import ALL_RULES

        if code is None:
            for c in codes.ALL_CODES:
                sys.stdout.write(f"{c.code}  {c.name:<28} {c.severity.value:<8} {c.summary}\n")
            for r in ALL_RULES:
                sys.stdout.write(f"{r.code}  {r.name:<28} {r.severity.value:<8} {r.summary}\n")
            return
        wanted = code.strip()
        for r in ALL_RULES:
            if wanted.upper() == r.code or wanted.lower() == r.name:
                sys.stdout.write(f"{r.code} {r.name} ({r.severity.value})\n\n{r.doc()}\n")
                return
        for c in codes.ALL_CODES:
            if wanted.upper() == c.code or wanted.lower() == c.name:
                sys.stdout.write(f"{c.code} {c.name} ({c.severity.value})\n\n{c.summary}\n")
                return
        raise UsageError(f"no rule `{wanted}`; `losstune rule` lists them all")


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    _subject.clear()
    ctx.call_on_close(_scope.close)
    if version:
        from losstune import __version__

        sys.stdout.write(f"losstune {__version__}\n")
        raise typer.Exit(EXIT_OK)


def main() -> None:
    """Entry point of the ``losstune`` console script."""
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_ERROR)
    except Exception as e:  # never a traceback: report, and let the user rerun with LOSSTUNE_DEBUG=1
        if os.environ.get("LOSSTUNE_DEBUG"):
            raise
        from losstune.render.safe import printable

        where = f" while processing {' and '.join(_subject)}" if _subject else ""
        what = str(e) if len(str(e)) <= 300 else str(e)[:300] + "..."
        sys.stderr.write(
            f"losstune: internal error{printable(where)}: {type(e).__name__}: {printable(what)}. This is a bug in "
            "losstune, not in your config; rerun with LOSSTUNE_DEBUG=1 for the traceback and report it.\n"
        )
        sys.exit(EXIT_ERROR)
