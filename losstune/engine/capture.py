"""The loss module calls of a model during training iterations, captured for a recording: each
call's arguments copied to the CPU as it is made, the term of the loss dict each call feeds (found
through the autograd graph when the model parses its losses), the loss dict as mmengine logs it, and
all of it as the plain data :mod:`losstune.engine.recording` writes.

Only what one iteration's calls hold is kept on the side of the training (a copy of their inputs,
on the CPU); the caller decides how many iterations to capture, so memory stays bounded by it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from losstune.engine.realhead.attribute import feeding
from losstune.engine.realhead.batch import NotPlain, to_plain
from losstune.engine.realhead.record import Call, recording_calls


def config_at(model_cfg: Any, module: str) -> dict[str, Any] | None:
    """The config of the module at ``module`` (``roi_head.bbox_head.0.loss_cls``) in the model's
    config, plain; None where the config has no dict with a ``type`` there."""
    node = model_cfg
    for part in module.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if not isinstance(node, dict) or "type" not in node:
        return None
    try:
        plain = to_plain(node)
    except NotPlain:
        return None
    assert isinstance(plain, dict)
    return plain


class Capture:
    """Captures the loss module calls of ``model`` between :meth:`begin` and :meth:`end` of each
    iteration (the modules ``select`` takes, where given), with the loss dict the model's
    ``parse_losses`` makes of them."""

    def __init__(self, model: Any, select: Callable[[str], bool] | None = None) -> None:
        self.model = model
        self.select = select
        self.iterations: list[dict[str, Any]] = []
        self._stack: contextlib.ExitStack | None = None
        self._calls: list[Call] = []
        self._terms: dict[int, str] = {}
        self._log: dict[str, float] = {}

    def modules(self) -> list[str]:
        """The paths of the loss modules captured."""
        from losstune.engine.realhead.record import is_loss_module

        return [
            name
            for name, module in self.model.named_modules()
            if name and is_loss_module(name, module) and (self.select is None or self.select(name))
        ]

    def begin(self) -> None:
        """Start capturing an iteration's calls."""
        self.end_quietly()
        self._stack = contextlib.ExitStack()
        self._calls = self._stack.enter_context(recording_calls(self.model, cpu=True, select=self.select))
        self._terms, self._log = {}, {}
        if hasattr(self.model, "parse_losses"):
            original = self.model.parse_losses

            def parse_losses(losses: Any) -> Any:
                for name, value in losses.items():
                    for i in feeding(value, self._calls):
                        self._terms.setdefault(i, name)
                parsed = original(losses)
                self._log = {k: float(v.item()) if hasattr(v, "item") else float(v) for k, v in parsed[1].items()}
                return parsed

            self.model.parse_losses = parse_losses
            self._stack.callback(self._unwrap)

    def _unwrap(self) -> None:
        if "parse_losses" in vars(self.model):
            del self.model.parse_losses

    def end_quietly(self) -> None:
        """Stop capturing without keeping what the current iteration recorded."""
        if self._stack is not None:
            self._stack.close()
            self._stack = None
        self._calls = []

    def end(self, iteration: int) -> None:
        """Stop capturing, and keep the iteration's calls as plain data (tagged ``iteration``)."""
        if self._stack is None:
            return
        self._stack.close()
        self._stack = None
        calls = []
        for call in self._calls:
            entry: dict[str, Any] = {
                "module": call.module,
                "term": self._terms.get(call.index),
                "note": "",
                "autocast": call.autocast,
            }
            try:
                # the arguments are the hook's copies on the CPU already; the output is the module's own
                args, kwargs = to_plain(call.args, copy=False), to_plain(call.kwargs, copy=False)
                entry |= {"args": args, "kwargs": kwargs, "output": to_plain(call.output)}
            except NotPlain as e:
                entry |= {"args": None, "kwargs": None, "output": None, "note": f"not recorded: {e}"}
            calls.append(entry)
        self._calls = []
        self.iterations.append({"iteration": iteration, "log": self._log, "calls": calls})
