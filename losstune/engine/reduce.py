"""Steps 3 to 5, shared by every loss: MMDetection's ``weight_reduce_loss`` and ``loss_weight``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from losstune.engine.trace import Trace

if TYPE_CHECKING:
    from torch import Tensor

VALID_OVERRIDES = (None, "none", "mean", "sum")


def chosen_reduction(configured: str, override: str | None) -> str:
    """``reduction_override or self.reduction``, with MMDetection's assertion."""
    assert override in VALID_OVERRIDES
    return override if override else configured


def weight_step(trace: Trace, loss: Tensor, weight: Tensor | None) -> Tensor:
    """Step 3: multiply by the element-wise weight (``label_weights``, ``bbox_weights``)."""
    if weight is None:
        return trace.add("weight", "no element-wise weight: the kernel output is kept", loss)
    return trace.add("weight", "loss × weight, element-wise", loss * weight)


def reduction_step(trace: Trace, loss: Tensor, reduction: str, avg_factor: Any) -> Tensor:
    """Step 4: ``weight_reduce_loss``'s reduction, with or without ``avg_factor``."""
    import torch
    import torch.nn.functional as F

    if avg_factor is None:
        # PyTorch's own check, as MMDetection's reduce_loss uses it: "avg is not a valid value for reduction".
        enum = F._Reduction.get_enum(reduction)  # type: ignore[attr-defined]
        if enum == 0:
            return trace.add("reduction", "reduction='none': the element-wise loss is kept", loss)
        if enum == 1:
            return trace.add("reduction", f"mean over all {loss.numel()} elements", loss.mean())
        return trace.add("reduction", f"sum over all {loss.numel()} elements", loss.sum())
    if reduction == "mean":
        eps = torch.finfo(torch.float32).eps
        averaged: Tensor = loss.sum() / (avg_factor + eps)
        return trace.add("reduction", f"sum / (avg_factor + ε), avg_factor={_number(avg_factor)}", averaged)
    if reduction != "none":
        raise ValueError('avg_factor can not be used with reduction="sum"')
    return trace.add("reduction", "reduction='none': avg_factor is ignored, the element-wise loss is kept", loss)


def loss_weight_step(trace: Trace, loss: Tensor, loss_weight: float) -> Tensor:
    """Step 5: multiply by ``loss_weight``."""
    return trace.add("loss_weight", f"× loss_weight={loss_weight}", loss_weight * loss)


def finish(
    trace: Trace, loss: Tensor, weight: Tensor | None, reduction: str, avg_factor: Any, loss_weight: float
) -> Tensor:
    """Steps 3 to 5 on the kernel's output."""
    loss = weight_step(trace, loss, weight)
    loss = reduction_step(trace, loss, reduction, avg_factor)
    return loss_weight_step(trace, loss, loss_weight)


def _number(v: Any) -> str:
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


class ElementwiseLoss:
    """A loss whose forward is MMDetection's ``(pred, target, weight, avg_factor,
    reduction_override)``: its ``kernel`` (step 2), then steps 3 to 5. Subclasses give the kernel."""

    def __init__(self, reduction: str = "mean", loss_weight: float = 1.0) -> None:
        self.reduction = reduction
        self.loss_weight = loss_weight

    def kernel(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        return finish(trace, self.kernel(trace, pred, target), weight, reduction, avg_factor, self.loss_weight)
