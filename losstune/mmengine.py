"""``RecordLossInputs``: an mmengine hook that records the inputs of every loss module call of the
first iterations of a real training run, for ``losstune eval CONFIG --inputs FILE`` to replay.

Add it to a training config (this module imports mmengine and torch, so it is imported only by
the training process that names it; ``import losstune`` never imports it)::

    custom_imports = dict(imports=['losstune.mmengine'], allow_failed_imports=False)
    custom_hooks = [dict(type='RecordLossInputs', iterations=2, out='loss_inputs.pt')]

Importing this module registers the hook in mmengine's root ``HOOKS`` registry, which every
project's registry (``default_scope='mmdet'``...) falls back on.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from losstune.engine import recording
from losstune.engine.capture import Capture, config_at


def _version(name: str) -> str | None:
    module = sys.modules.get(name)
    return str(getattr(module, "__version__", "?")) if module is not None else None


@HOOKS.register_module()
class RecordLossInputs(Hook):  # type: ignore[misc]  # mmengine is untyped
    """Records every call of every loss module of the model (its submodules named ``loss*``, and
    MMDetection's loss classes) during the first ``iterations`` training iterations of the run: the
    arguments as the head passed them (``cls_score``, ``labels``, ``weight``, ``avg_factor``...)
    and the output, copied to the CPU, with the module's path (``bbox_head.loss_cls``), the term
    of the loss dict each call feeds (``loss_cls``), the loss dict as logged, and each loss's config
    as the run's config gives it. Then it removes its hooks and writes everything to ``out``,
    whole (a temporary file beside it, renamed over it), as plain tensors, lists and dicts that
    ``torch.load(out, weights_only=True)`` reads; only the main process records and writes.

    Args:
        iterations: how many training iterations to record, from the run's first (at least 1).
            The copies of one iteration's loss inputs are kept in memory until the file is
            written, so memory grows with ``iterations`` (about the size of the heads'
            outputs and targets per iteration).
        out: the file to write; a relative path is relative to the run's ``work_dir``.
        losses: record only these loss modules: a module's path or its last parts
            (``['loss_cls']``, ``['roi_head.bbox_head.loss_bbox']``); None records every one.
    """

    priority = "VERY_LOW"

    def __init__(self, iterations: int = 1, out: str = "loss_inputs.pt", losses: Sequence[str] | None = None) -> None:
        if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 1:
            raise ValueError(f"RecordLossInputs: iterations={iterations!r}: give a whole number of at least 1")
        if not isinstance(out, str) or not out:
            raise ValueError(f"RecordLossInputs: out={out!r}: give the path of the file to write")
        if isinstance(losses, str):
            losses = [losses]
        if losses is not None and (
            not isinstance(losses, (list, tuple)) or not losses or not all(isinstance(w, str) and w for w in losses)
        ):
            raise ValueError(
                f"RecordLossInputs: losses={losses!r}: give the loss modules to record, by path or last parts "
                "(['loss_cls'], ['roi_head.bbox_head.loss_bbox']), or leave it out to record every one"
            )
        self.iterations = iterations
        self.out = out
        self.losses = list(losses) if losses is not None else None
        self.path = ""
        self.seconds = 0.0
        self._capture: Capture | None = None
        self._configs: dict[str, dict[str, Any] | None] = {}
        self._config: str | None = None

    def _select(self, name: str) -> bool:
        return self.losses is None or any(name == w or name.endswith("." + w) for w in self.losses)

    def before_run(self, runner: Any) -> None:
        """Find the loss modules of the model (unwrapped from DDP) and their configs."""
        if not is_main_process():
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._capture = Capture(model, self._select)
        modules = self._capture.modules()
        if not modules:
            runner.logger.warning(
                f"RecordLossInputs: the model has no loss module{' matching ' + str(self.losses) if self.losses else ''}"
                "; nothing is recorded"
            )
            self._capture = None
            return
        cfg = getattr(runner, "cfg", None)
        model_cfg = cfg.get("model") if cfg is not None else None
        self._configs = {m: config_at(model_cfg, m) for m in modules}
        filename = getattr(cfg, "filename", None)
        self._config = str(filename) if filename else None
        self.path = self.out if os.path.isabs(self.out) else os.path.join(runner.work_dir, self.out)

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        if self._capture is not None:
            started = time.perf_counter()
            self._capture.begin()
            self.seconds += time.perf_counter() - started

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        capture = self._capture
        if capture is None:
            return
        started = time.perf_counter()
        capture.end(runner.iter + 1)
        self.seconds += time.perf_counter() - started
        if len(capture.iterations) >= self.iterations:
            self._write(runner)

    def after_train(self, runner: Any) -> None:
        """A run shorter than ``iterations`` still writes what it recorded."""
        if self._capture is not None:
            self._write(runner)

    def _write(self, runner: Any) -> None:
        capture = self._capture
        assert capture is not None
        self._capture = None
        capture.end_quietly()
        started = time.perf_counter()
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            recording.write(
                self.path,
                {
                    "versions": {name: _version(name) for name in ("torch", "mmengine", "mmdet", "mmcv")},
                    "config": self._config,
                    "asked": self.iterations,
                    "configs": self._configs,
                    "iterations": capture.iterations,
                    "seconds": self.seconds,
                },
            )
        except OSError as e:  # the training goes on without the recording
            runner.logger.error(f"RecordLossInputs: cannot write {self.path}: {e.strerror or e}; nothing was recorded")
            return
        self.seconds += time.perf_counter() - started
        calls = sum(len(it["calls"]) for it in capture.iterations)
        runner.logger.info(
            f"RecordLossInputs: {calls} loss module calls of {len(capture.iterations)} iterations written to "
            f"{self.path} ({os.path.getsize(self.path)} bytes; {self.seconds:.2f} s spent recording)"
        )
