"""Box losses computed from overlaps: IoU, GIoU, DIoU, CIoU, BoundedIoU."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from losstune.engine.reduce import chosen_reduction, finish
from losstune.engine.regression import all_zero_weight
from losstune.engine.trace import Trace


def aligned_overlaps(b1: Tensor, b2: Tensor, mode: str = "iou", eps: float = 1e-6) -> Tensor:
    """IoU or GIoU of aligned pairs of (x1, y1, x2, y2) boxes, as MMDetection computes them."""
    if b1.size(-2) == 0:
        return b1.new((*b1.shape[:-2], 0))
    area1 = (b1[..., 2] - b1[..., 0]) * (b1[..., 3] - b1[..., 1])
    area2 = (b2[..., 2] - b2[..., 0]) * (b2[..., 3] - b2[..., 1])
    lt = torch.max(b1[..., :2], b2[..., :2])
    rb = torch.min(b1[..., 2:], b2[..., 2:])
    wh = (rb - lt).clamp(min=0)
    overlap = wh[..., 0] * wh[..., 1]
    union = area1 + area2 - overlap
    eps_t = union.new_tensor([eps])
    union = torch.max(union, eps_t)
    ious = overlap / union
    if mode == "iou":
        return ious
    enclose_wh = (torch.max(b1[..., 2:], b2[..., 2:]) - torch.min(b1[..., :2], b2[..., :2])).clamp(min=0)
    enclose_area = torch.max(enclose_wh[..., 0] * enclose_wh[..., 1], eps_t)
    return ious - (enclose_area - union) / enclose_area


class GIoULoss:
    """``1 - GIoU(pred, target)``."""

    def __init__(self, eps: float = 1e-6, reduction: str = "mean", loss_weight: float = 1.0) -> None:
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
        **kwargs: Any,
    ) -> Tensor:
        shortcut = all_zero_weight(pred, weight)
        if shortcut is not None:
            trace.add("weight", "every weight is 0: MMDetection returns (pred × weight).sum()", shortcut)
            return shortcut
        reduction = chosen_reduction(self.reduction, reduction_override)
        weight = self.mean_weight(weight, pred)
        loss = self.overlap_loss(trace, pred, target)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)

    def mean_weight(self, weight: Tensor | None, pred: Tensor) -> Tensor | None:
        """(N, 4) box weights become one weight per box, their mean."""
        if weight is not None and weight.dim() > 1:
            assert weight.shape == pred.shape
            return weight.mean(-1)
        return weight

    def overlap_loss(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        """The element-wise kernel (step 2)."""
        boxes = pred.to(torch.float32) if pred.dtype == torch.float16 else pred
        gious = aligned_overlaps(boxes, target, "giou", self.eps)
        if pred.dtype == torch.float16:
            gious = gious.to(torch.float16)
        return trace.add("kernel", f"1 - GIoU(pred, target), ε={self.eps:g}", 1 - gious)


class IoULoss:
    """``1 - IoU`` (linear), ``1 - IoU²`` (square) or ``-log IoU`` (log)."""

    def __init__(
        self,
        linear: bool = False,
        eps: float = 1e-6,
        reduction: str = "mean",
        loss_weight: float = 1.0,
        mode: str = "log",
    ) -> None:
        assert mode in ["linear", "square", "log"]
        self.mode = "linear" if linear else mode
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
        **kwargs: Any,
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        if weight is not None and not torch.any(weight > 0) and reduction != "none":
            shortcut = all_zero_weight(pred, weight)
            assert shortcut is not None
            trace.add("weight", "every weight is 0: MMDetection returns (pred × weight).sum()", shortcut)
            return shortcut
        if weight is not None and weight.dim() > 1:
            assert weight.shape == pred.shape
            weight = weight.mean(-1)
        boxes = pred.to(torch.float32) if pred.dtype == torch.float16 else pred
        ious = aligned_overlaps(boxes, target, "iou").clamp(min=self.eps)
        if pred.dtype == torch.float16:
            ious = ious.to(torch.float16)
        if self.mode == "linear":
            loss, what = 1 - ious, "1 - IoU"
        elif self.mode == "square":
            loss, what = 1 - ious**2, "1 - IoU²"
        else:
            loss, what = -ious.log(), "-log IoU"
        trace.add("kernel", f"{what}, IoU clamped at ε={self.eps:g}", loss)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


def _distance_terms(pred: Tensor, target: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """IoU, squared centre distance and squared enclosing diagonal (+ eps), as DIoU and CIoU use."""
    lt = torch.max(pred[:, :2], target[:, :2])
    rb = torch.min(pred[:, 2:], target[:, 2:])
    wh = (rb - lt).clamp(min=0)
    overlap = wh[:, 0] * wh[:, 1]
    ap = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    ag = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    ious = overlap / (ap + ag - overlap + eps)
    enclose_wh = (torch.max(pred[:, 2:], target[:, 2:]) - torch.min(pred[:, :2], target[:, :2])).clamp(min=0)
    c2 = enclose_wh[:, 0] ** 2 + enclose_wh[:, 1] ** 2 + eps
    left = (target[:, 0] + target[:, 2] - (pred[:, 0] + pred[:, 2])) ** 2 / 4
    right = (target[:, 1] + target[:, 3] - (pred[:, 1] + pred[:, 3])) ** 2 / 4
    return ious, left + right, c2


class DIoULoss(GIoULoss):
    """``1 - (IoU - ρ²/c²)``."""

    def overlap_loss(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        ious, rho2, c2 = _distance_terms(pred, target, self.eps)
        return trace.add("kernel", f"1 - (IoU - ρ²/c²), ε={self.eps:g}", 1 - (ious - rho2 / c2))


class CIoULoss(GIoULoss):
    """``1 - (IoU - ρ²/c² - α v)``, v the aspect-ratio term."""

    def overlap_loss(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        eps = self.eps
        ious, rho2, c2 = _distance_terms(pred, target, eps)
        w1, h1 = pred[:, 2] - pred[:, 0], pred[:, 3] - pred[:, 1] + eps
        w2, h2 = target[:, 2] - target[:, 0], target[:, 3] - target[:, 1] + eps
        v = 4 / math.pi**2 * torch.pow(torch.atan(w2 / h2) - torch.atan(w1 / h1), 2)
        with torch.no_grad():
            alpha = (ious > 0.5).float() * v / (1 - ious + v)
        cious = ious - (rho2 / c2 + alpha * v)
        return trace.add("kernel", f"1 - (IoU - ρ²/c² - αv), ε={eps:g}", 1 - cious.clamp(min=-1.0, max=1.0))


class BoundedIoULoss(GIoULoss):
    """Smooth-L1 of the bounded IoU terms of centre offsets and sizes."""

    def __init__(
        self, beta: float = 0.2, eps: float = 0.001, reduction: str = "mean", loss_weight: float = 1.0
    ) -> None:
        super().__init__(eps, reduction, loss_weight)
        self.beta = beta

    def mean_weight(self, weight: Tensor | None, pred: Tensor) -> Tensor | None:
        return weight  # BoundedIoULoss keeps (N, 4) weights

    def overlap_loss(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        eps, beta = self.eps, self.beta
        pcx, pcy = (pred[:, 0] + pred[:, 2]) * 0.5, (pred[:, 1] + pred[:, 3]) * 0.5
        pw, ph = pred[:, 2] - pred[:, 0], pred[:, 3] - pred[:, 1]
        with torch.no_grad():
            tcx, tcy = (target[:, 0] + target[:, 2]) * 0.5, (target[:, 1] + target[:, 3]) * 0.5
            tw, th = target[:, 2] - target[:, 0], target[:, 3] - target[:, 1]
        dx, dy = tcx - pcx, tcy - pcy
        loss_dx = 1 - torch.max((tw - 2 * dx.abs()) / (tw + 2 * dx.abs() + eps), torch.zeros_like(dx))
        loss_dy = 1 - torch.max((th - 2 * dy.abs()) / (th + 2 * dy.abs() + eps), torch.zeros_like(dy))
        loss_dw = 1 - torch.min(tw / (pw + eps), pw / (tw + eps))
        loss_dh = 1 - torch.min(th / (ph + eps), ph / (th + eps))
        comb = torch.stack([loss_dx, loss_dy, loss_dw, loss_dh], dim=-1).flatten(1)
        loss = torch.where(comb < beta, 0.5 * comb * comb / beta, comb - 0.5 * beta)
        return trace.add("kernel", f"smooth-L1 of bounded IoU terms (Δx, Δy, w, h), β={beta:g}, ε={eps:g}", loss)
