"""What an evaluation records, step by step: element-wise kernel, element-wise weight, reduction (with
avg_factor), loss_weight. ``Trace.loss`` is computed from the steps themselves, so applying steps
3 to 5 to the kernel's output gives it exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from losstune.errors import LosstuneError

T = TypeVar("T")

StepName = Literal["sampling", "kernel", "weight", "reduction", "loss_weight", "sum", "head"]
"""The steps of an evaluation: the sample inputs (``sampling``), the element-wise loss (``kernel``),
its element-wise ``weight``, the ``reduction`` (with ``avg_factor``), the ``loss_weight``, and the
``sum`` of the terms of a loss made of several, and what the ``head`` does to the module's result
(GFLHead's division by the sum of its weights, a cascade stage's weight)."""


class UnsupportedLoss(LosstuneError):
    """A loss type the engine does not evaluate (yet)."""


@dataclass
class Step:
    """One step: its name, what it computes with the configured numbers, and what it produced."""

    name: StepName
    description: str
    value: Any
    kept: dict[str, Any] | None = None  # the summary, where the value itself was let go

    def summary(self) -> dict[str, Any]:
        """Shape and statistics of the value (a tensor or a number)."""
        return self.kept if self.kept is not None else summarize(self.value)

    def compact(self) -> None:
        """Keep the summary only: the value (an element-wise tensor, as large as the inputs) is let go."""
        if self.kept is None:
            self.kept = summarize(self.value)
            self.value = None


def summarize(v: Any) -> dict[str, Any]:
    """Shape and statistics of a tensor (``{"value": v}`` for anything else)."""
    import torch

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

    def add(self, name: StepName, description: str, value: T) -> T:
        """Record a step and pass its value on."""
        self.steps.append(Step(name, description, value))
        return value


def terms(loss: Any) -> dict[str, Any]:
    """``{"loss": value}``, or the named terms of a loss that returns several (SeesawLoss's dict,
    AssociativeEmbeddingLoss's pair: by its fields' names, else by position, ``loss[0]``...)."""
    if isinstance(loss, dict):
        return dict(loss)
    if isinstance(loss, tuple):
        names = getattr(loss, "_fields", None) or [f"loss[{i}]" for i in range(len(loss))]
        return dict(zip(names, loss, strict=True))
    return {"loss": loss}


def agrees(ours: Any, theirs: Any, rtol: float) -> bool:
    """Whether two loss results (a tensor, or a dict of terms) have the same terms, shapes and values,
    within ``rtol`` (and an absolute 1e-6 for values near zero); NaN where the other is NaN too (a
    loss that went NaN on its inputs, and goes NaN again on the same inputs, is reproduced)."""
    import torch

    a, b = list(terms(ours).values()), list(terms(theirs).values())
    return len(a) == len(b) and all(
        isinstance(x, torch.Tensor)
        and isinstance(y, torch.Tensor)
        and x.shape == y.shape
        and torch.allclose(x.detach().float(), y.detach().float(), rtol=rtol, atol=1e-6, equal_nan=True)
        for x, y in zip(a, b, strict=True)
    )
