"""``eval CONFIG --inputs RECORDING``: the loss module calls a training run recorded (with the
``RecordLossInputs`` hook of :mod:`losstune.mmengine`), replayed by losstune's engine on the config."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from losstune.cli import context, terminal
from losstune.cli.options import Format
from losstune.errors import EXIT_FINDINGS, CommandError, UsageError

if TYPE_CHECKING:
    from losstune.engine.recording import Recording


def recording_of(inputs: Path, loss: str | None) -> Recording | None:
    """The recording ``inputs`` holds; None for a file of one loss's forward arguments (``--loss``
    given). Without ``--loss``, a file that is not a recording is an error naming it."""
    from losstune.engine import recording

    data = None if inputs.suffix == ".npz" else recording.peek(str(inputs))
    if recording.is_recording(data):
        return recording.parse(str(inputs), data)
    if loss is not None:
        return None
    if data is None and inputs.suffix != ".npz":
        recording.read(str(inputs))  # raises, saying why the file cannot be read
    return recording.parse(str(inputs), data)  # raises: not a recording


def eval_recording(
    configs: list[Path],
    rec: Recording,
    key: str | None,
    mmdet_version: int | None,
    device: str,
    fmt: Format,
    cfg_options: list[str] | None,
) -> None:
    """Replay ``rec`` on the config (the calls of the loss at ``key``, with their steps, where given)."""
    from losstune.engine.inputs import InputError
    from losstune.engine.replaycalls import replay
    from losstune.keypath import KeyPathError
    from losstune.loader.envmask import EnvMask
    from losstune.render import replay as render

    if len(configs) > 1:
        raise UsageError("--inputs replays a recording on one config: give one config")
    config = configs[0]
    context.settings(str(config))
    cfg = context.load(config, context.resolver(cfg_options))
    try:
        done = replay(cfg, rec, key=key, mmdet_version=mmdet_version, device=device)
    except KeyPathError as e:
        mask = EnvMask.of(cfg)
        raise CommandError(mask.text(f"{config}: {e}"), [f"candidate: {c}" for c in e.candidates]) from None
    except InputError as e:
        raise CommandError(EnvMask.of(cfg).text(f"{config}: {e}")) from None
    if fmt is Format.json:
        sys.stdout.write(render.render_json(done, key))
    else:
        width = terminal.layout()[0]
        sys.stdout.write(render.render_text(done, key, color=terminal.color(), width=width))
    if any(c.equal is False for c in done.calls):
        raise typer.Exit(EXIT_FINDINGS)
