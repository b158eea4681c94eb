"""Regression losses on coordinates: L1, SmoothL1, MSE, BalancedL1."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from losstune.engine.ghm import ghm_weights
from losstune.engine.reduce import ElementwiseLoss, chosen_reduction, reduction_step, weight_step
from losstune.engine.trace import Trace


def zero_weight_shortcut(trace: Trace, pred: Tensor, weight: Tensor | None) -> Tensor | None:
    """MMDetection's shortcut for regression losses whose weights are all zero: ``(pred * weight)
    .sum()`` is returned as is (a zero that keeps the graph), with no loss_weight; recorded as the
    one step. None when some weight is positive."""
    if weight is None or torch.any(weight > 0):
        return None
    if pred.dim() == weight.dim() + 1:
        weight = weight.unsqueeze(1)
    return trace.add("weight", "every weight is 0: MMDetection returns (pred × weight).sum()", (pred * weight).sum())


class L1Loss(ElementwiseLoss):
    """``|pred - target|``."""

    zero_weight_shortcut = True  # 3.x returns (pred × weight).sum() when no weight is > 0

    def kernel(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        if target.numel() == 0:
            return trace.add("kernel", "no targets: pred.sum() × 0", pred.sum() * 0)
        assert pred.size() == target.size()
        return trace.add("kernel", "L1 = |pred - target|", torch.abs(pred - target))

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
    ) -> Tensor:
        shortcut = zero_weight_shortcut(trace, pred, weight) if self.zero_weight_shortcut else None
        if shortcut is not None:
            return shortcut
        return super().forward(trace, pred, target, weight, avg_factor, reduction_override)


class SmoothL1Loss(L1Loss):
    """``0.5 d² / β`` below β, ``d - 0.5 β`` above, ``d = |pred - target|``."""

    def __init__(self, beta: float = 1.0, reduction: str = "mean", loss_weight: float = 1.0) -> None:
        super().__init__(reduction, loss_weight)
        self.beta = beta

    def kernel(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        assert self.beta > 0
        if target.numel() == 0:
            return trace.add("kernel", "no targets: pred.sum() × 0", pred.sum() * 0)
        assert pred.size() == target.size()
        diff = torch.abs(pred - target)
        loss = torch.where(diff < self.beta, 0.5 * diff * diff / self.beta, diff - 0.5 * self.beta)
        return trace.add("kernel", f"SmoothL1 = 0.5 d²/β if d < β else d - β/2, β={self.beta:g}", loss)


class MSELoss(ElementwiseLoss):
    """``(pred - target)²``."""

    def kernel(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        return trace.add("kernel", "MSE = (pred - target)²", F.mse_loss(pred, target, reduction="none"))


class BalancedL1Loss(ElementwiseLoss):
    """Libra R-CNN's balanced L1: a log-shaped inlier region below β, linear above."""

    def __init__(
        self,
        alpha: float = 0.5,
        gamma: float = 1.5,
        beta: float = 1.0,
        reduction: str = "mean",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__(reduction, loss_weight)
        self.alpha, self.gamma, self.beta = alpha, gamma, beta

    def forward(  # MMDetection's takes **kwargs (and no all-zero-weight shortcut)
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
        **kwargs: Any,
    ) -> Tensor:
        return super().forward(trace, pred, target, weight, avg_factor, reduction_override)

    def kernel(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        assert self.beta > 0
        if target.numel() == 0:
            return trace.add("kernel", "no targets: pred.sum() × 0", pred.sum() * 0)
        assert pred.size() == target.size()
        diff = torch.abs(pred - target)
        a, g, be = self.alpha, self.gamma, self.beta
        b = math.e ** (g / a) - 1
        loss = torch.where(
            diff < be,
            a / b * (b * diff + 1) * torch.log(b * diff / be + 1) - a * diff,
            g * diff + g / b - a * be,
        )
        return trace.add("kernel", f"balanced L1 with α={a:g}, γ={g:g}, β={be:g}", loss)


class GHMR:
    """GHM-R: the ASL1 loss ``sqrt(d² + μ²) - μ`` re-weighted by the density of its gradient norms."""

    def __init__(
        self, mu: float = 0.02, bins: int = 10, momentum: float = 0, loss_weight: float = 1.0, reduction: str = "mean"
    ) -> None:
        self.mu, self.bins, self.momentum = mu, bins, momentum
        self.edges = torch.arange(bins + 1).float() / bins
        self.edges[-1] = 1000.0
        self.acc_sum = torch.zeros(bins) if momentum > 0 else None
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        label_weight: Tensor,
        avg_factor: Any = None,
        reduction_override: str | None = None,
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        mu = self.mu
        diff = pred - target
        loss = torch.sqrt(diff * diff + mu * mu) - mu
        trace.add("kernel", f"ASL1 = sqrt(d² + μ²) - μ, μ={mu:g}", loss)
        g = torch.abs(diff / torch.sqrt(mu * mu + diff * diff)).detach()
        tot = max(label_weight.float().sum().item(), 1.0)
        weights = ghm_weights(g, label_weight > 0, self.edges, self.bins, self.momentum, self.acc_sum, tot)
        loss = weight_step(trace, loss, weights)
        reduced = reduction_step(trace, loss, reduction, tot)
        return trace.add("loss_weight", f"× loss_weight={self.loss_weight}", reduced * self.loss_weight)
