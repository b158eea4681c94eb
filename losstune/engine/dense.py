"""Dense losses on heatmaps and masks: Gaussian focal loss (CornerNet, CenterNet) and Dice."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from losstune.engine.reduce import chosen_reduction, finish, loss_weight_step, reduction_step
from losstune.engine.trace import Trace


class GaussianFocalLoss:
    """Focal loss against a Gaussian heatmap: positives at the peaks, negatives down-weighted by
    ``(1 - y)^γ`` near them."""

    def __init__(
        self,
        alpha: float = 2.0,
        gamma: float = 4.0,
        reduction: str = "mean",
        loss_weight: float = 1.0,
        pos_weight: float = 1.0,
        neg_weight: float = 1.0,
    ) -> None:
        self.alpha, self.gamma = alpha, gamma
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.pos_weight, self.neg_weight = pos_weight, neg_weight

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        pos_inds: Tensor | None = None,
        pos_labels: Tensor | None = None,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        eps = 1e-12
        a, g = self.alpha, self.gamma
        what = f"GFL: -(1-p)^α log p at peaks, -(1-y)^γ p^α log(1-p) elsewhere, α={a:g}, γ={g:g}"
        if pos_inds is None:
            pos = -(pred + eps).log() * (1 - pred).pow(a) * target.eq(1)
            neg = -(1 - pred + eps).log() * pred.pow(a) * (1 - target).pow(g)
            loss = trace.add("kernel", what, self.pos_weight * pos + self.neg_weight * neg)
            return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)
        assert pos_labels is not None
        pos_pred = pred[pos_inds].gather(1, pos_labels.unsqueeze(1))
        pos = -(pos_pred + eps).log() * (1 - pos_pred).pow(a)
        neg = -(1 - pred + eps).log() * pred.pow(a) * (1 - target).pow(g)
        trace.add("kernel", what + " (positives given by pos_inds)", neg)
        trace.add("weight", "no element-wise weight; positives and negatives are reduced apart", neg)
        inner = Trace(trace.type)
        reduced_pos = reduction_step(inner, pos, reduction, avg_factor)
        reduced_neg = reduction_step(inner, neg, reduction, avg_factor)
        combined = trace.add(
            "reduction",
            f"pos_weight·reduce(positives) + neg_weight·reduce(negatives), {inner.steps[0].description}",
            self.pos_weight * reduced_pos + self.neg_weight * reduced_neg,
        )
        return loss_weight_step(trace, combined, self.loss_weight)


class DiceLoss:
    """``1 - 2|X∩Y| / (|X|² + |Y|²)`` per mask (or the naive ``(2|X∩Y| + ε) / (|X| + |Y| + ε)``)."""

    def __init__(
        self,
        use_sigmoid: bool = True,
        activate: bool = True,
        reduction: str = "mean",
        naive_dice: bool = False,
        loss_weight: float = 1.0,
        eps: float = 1e-3,
    ) -> None:
        self.use_sigmoid, self.activate = use_sigmoid, activate
        self.reduction = reduction
        self.naive_dice = naive_dice
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        reduction_override: str | None = None,
        avg_factor: Any = None,
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        if self.activate:
            if not self.use_sigmoid:
                raise NotImplementedError
            pred = pred.sigmoid()
        x = pred.flatten(1)
        y = target.flatten(1).float()
        a = torch.sum(x * y, 1)
        eps = self.eps
        if self.naive_dice:
            d = (2 * a + eps) / (torch.sum(x, 1) + torch.sum(y, 1) + eps)
            what = f"1 - (2|X∩Y| + ε) / (|X| + |Y| + ε), ε={eps:g}"
        else:
            d = 2 * a / ((torch.sum(x * x, 1) + eps) + (torch.sum(y * y, 1) + eps))
            what = f"1 - 2|X∩Y| / (|X|² + |Y|² + 2ε), ε={eps:g}"
        loss = trace.add("kernel", what + ", one value per mask", 1 - d)
        if weight is not None:
            assert weight.ndim == loss.ndim
            assert len(weight) == len(pred)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)
