"""A loss evaluated as its steps: element-wise kernel, element-wise weight, reduction (with
avg_factor), loss_weight. ``Trace.loss`` is computed from the steps themselves, so applying steps
3 to 5 to the kernel's output gives it exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from losstune.schema.catalogue import bare_type

T = TypeVar("T")


class UnsupportedLoss(Exception):
    """A loss type the engine does not evaluate (yet)."""


@dataclass
class Step:
    """One step: its name, what it computes with the configured numbers, and what it produced."""

    name: str
    description: str
    value: Any

    def summary(self) -> dict[str, Any]:
        """Shape and statistics of the value (a tensor or a number)."""
        import torch

        v = self.value
        if not isinstance(v, torch.Tensor):
            return {"value": v}
        t = v.detach().float()
        if t.numel() == 0:
            return {"shape": list(t.shape), "numel": 0}
        return {
            "shape": list(t.shape),
            "min": t.min().item(),
            "mean": t.mean().item(),
            "max": t.max().item(),
            "sum": t.sum().item(),
        }


@dataclass
class Trace:
    """The steps of one evaluation, and the loss (what the MMDetection module returns)."""

    type: str
    steps: list[Step] = field(default_factory=list)
    loss: Any = None

    def add(self, name: str, description: str, value: T) -> T:
        """Record a step and pass its value on."""
        self.steps.append(Step(name, description, value))
        return value


def terms(loss: Any) -> dict[str, Any]:
    """``{"loss": value}``, or the named terms of a loss that returns several (SeesawLoss's dict)."""
    return dict(loss) if isinstance(loss, dict) else {"loss": loss}


def evaluate(loss_cfg: dict[str, Any], *args: Any, mmdet_version: int = 3, **kwargs: Any) -> Trace:
    """Evaluate the loss configured by ``loss_cfg`` (``dict(type='FocalLoss', gamma=1.5)``) on the
    arguments MMDetection's module ``forward`` takes, in the same order and with the same names, as
    MMDetection 3.x computes it (``mmdet_version=2``: as 2.x does, where the two differ)."""
    from losstune.engine import losses, v2

    cfg = dict(loss_cfg)
    type_name = bare_type(str(cfg.pop("type", "")))
    if mmdet_version not in (2, 3):
        raise ValueError(f"mmdet_version must be 2 or 3, not {mmdet_version!r}")
    if mmdet_version == 2 and type_name in v2.ONLY_IN_3:
        raise UnsupportedLoss(f"`{type_name}` does not exist in MMDetection 2.x (it was added in 3.0)")
    cls = (v2.LOSSES_2.get(type_name) if mmdet_version == 2 else None) or losses.LOSSES.get(type_name)
    if cls is None:
        known = ", ".join(sorted(losses.LOSSES))
        raise UnsupportedLoss(f"`{type_name}` cannot be evaluated by losstune yet; it evaluates {known}")
    cfg.pop("_scope_", None)
    module = cls(**cfg)
    trace = Trace(type_name)
    trace.loss = module.forward(trace, *args, **kwargs)
    return trace
