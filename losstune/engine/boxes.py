"""Box losses computed from overlaps: IoU, GIoU, DIoU, CIoU, BoundedIoU."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from losstune.engine.reduce import chosen_reduction, finish
from losstune.engine.regression import zero_weight_shortcut
from losstune.engine.trace import Trace


def aligned_overlaps(b1: Tensor, b2: Tensor, mode: str = "iou", eps: float = 1e-6) -> Tensor:
    """IoU or GIoU of aligned pairs of (x1, y1, x2, y2) boxes, as MMDetection computes them."""
    if b1.size(-2) == 0:
        return b1.new_zeros(b1.shape[:-1])  # no pairs: an empty tensor, as MMDetection returns
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

    fp16_in_fp32 = True  # 3.x computes the overlaps of float16 boxes in float32

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
        shortcut = zero_weight_shortcut(trace, pred, weight)
        if shortcut is not None:
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
        half = pred.dtype == torch.float16 and self.fp16_in_fp32
        gious = aligned_overlaps(pred.to(torch.float32) if half else pred, target, "giou", self.eps)
        if half:
            gious = gious.to(torch.float16)
        return trace.add("kernel", f"1 - GIoU(pred, target), ε={self.eps:g}", 1 - gious)


class IoULoss:
    """``1 - IoU`` (linear), ``1 - IoU²`` (square) or ``-log IoU`` (log)."""

    fp16_in_fp32 = True  # 3.x computes the overlaps of float16 boxes in float32

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
        shortcut = zero_weight_shortcut(trace, pred, weight) if reduction != "none" else None
        if shortcut is not None:
            return shortcut
        if weight is not None and weight.dim() > 1:
            assert weight.shape == pred.shape
            weight = weight.mean(-1)
        half = pred.dtype == torch.float16 and self.fp16_in_fp32
        ious = aligned_overlaps(pred.to(torch.float32) if half else pred, target, "iou").clamp(min=self.eps)
        if half:
            ious = ious.to(torch.float16)
        if self.mode == "linear":
            loss, what = 1 - ious, "1 - IoU"
        elif self.mode == "square":
            loss, what = 1 - ious**2, "1 - IoU²"
        else:
            loss, what = -ious.log(), "-log IoU"
        trace.add("kernel", f"{what}, IoU clamped at ε={self.eps:g}", loss)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


def _eps_ious(pred: Tensor, target: Tensor, eps: float) -> Tensor:
    """IoU with ``eps`` added to the union, as DIoU, CIoU and SIoU compute it."""
    lt = torch.max(pred[:, :2], target[:, :2])
    rb = torch.min(pred[:, 2:], target[:, 2:])
    wh = (rb - lt).clamp(min=0)
    overlap = wh[:, 0] * wh[:, 1]
    ap = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    ag = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    return overlap / (ap + ag - overlap + eps)


def _distance_terms(pred: Tensor, target: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """IoU, squared centre distance and squared enclosing diagonal (+ eps), as DIoU and CIoU use."""
    ious = _eps_ious(pred, target, eps)
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


class EIoULoss(GIoULoss):
    """Efficient IoU loss: ``1 - IoU`` made smooth below ``smooth_point``."""

    def __init__(
        self, eps: float = 1e-6, reduction: str = "mean", loss_weight: float = 1.0, smooth_point: float = 0.1
    ) -> None:
        super().__init__(eps, reduction, loss_weight)
        self.smooth_point = smooth_point

    def overlap_loss(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        px1, py1, px2, py2 = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
        tx1, ty1, tx2, ty2 = target[:, 0], target[:, 1], target[:, 2], target[:, 3]
        ex1, ey1 = torch.min(px1, tx1), torch.min(py1, ty1)
        ix1, iy1 = torch.max(px1, tx1), torch.max(py1, ty1)
        ix2, iy2 = torch.min(px2, tx2), torch.min(py2, ty2)
        xmin, ymin = torch.min(ix1, ix2), torch.min(iy1, iy2)
        xmax, ymax = torch.max(ix1, ix2), torch.max(iy1, iy2)
        inter = (
            (ix2 - ex1) * (iy2 - ey1)
            + (xmin - ex1) * (ymin - ey1)
            - (ix1 - ex1) * (ymax - ey1)
            - (xmax - ex1) * (iy1 - ey1)
        )
        union = (px2 - px1) * (py2 - py1) + (tx2 - tx1) * (ty2 - ty1) - inter + self.eps
        d = 1 - inter / union
        s = self.smooth_point
        sign = (d < s).detach().float()
        loss = 0.5 * sign * d**2 / s + (1 - sign) * (d - 0.5 * s)
        return trace.add("kernel", f"EIoU: smooth 1 - IoU, smooth_point={s:g}, ε={self.eps:g}", loss)


class SIoULoss(GIoULoss):
    """SCYLLA-IoU: ``1 - (IoU - (distance cost + shape cost) / 2)`` with an angle-aware distance."""

    def __init__(
        self, eps: float = 1e-6, reduction: str = "mean", loss_weight: float = 1.0, neg_gamma: bool = False
    ) -> None:
        super().__init__(eps, reduction, loss_weight)
        self.neg_gamma = neg_gamma

    def overlap_loss(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        eps = self.eps
        ious = _eps_ious(pred, target, eps)
        enclose = (torch.max(pred[:, 2:], target[:, 2:]) - torch.min(pred[:, :2], target[:, :2])).clamp(min=eps)
        cw, ch = enclose[:, 0], enclose[:, 1]
        w1, h1 = pred[:, 2] - pred[:, 0], pred[:, 3] - pred[:, 1] + eps
        w2, h2 = target[:, 2] - target[:, 0], target[:, 3] - target[:, 1] + eps
        s_cw = (target[:, 0] + target[:, 2] - pred[:, 0] - pred[:, 2]) * 0.5 + eps
        s_ch = (target[:, 1] + target[:, 3] - pred[:, 1] - pred[:, 3]) * 0.5 + eps
        sigma = torch.pow(s_cw**2 + s_ch**2, 0.5)
        sin1, sin2 = torch.abs(s_cw) / sigma, torch.abs(s_ch) / sigma
        sin_alpha = torch.where(sin1 > pow(2, 0.5) / 2, sin2, sin1)
        angle_cost = torch.cos(torch.asin(sin_alpha) * 2 - math.pi / 2)
        gamma = angle_cost - 2 if self.neg_gamma else 2 - angle_cost
        distance_cost = 2 - torch.exp(gamma * (s_cw / cw) ** 2) - torch.exp(gamma * (s_ch / ch) ** 2)
        omega_w = torch.abs(w1 - w2) / torch.max(w1, w2)
        omega_h = torch.abs(h1 - h2) / torch.max(h1, h2)
        shape_cost = torch.pow(1 - torch.exp(-1 * omega_w), 4) + torch.pow(1 - torch.exp(-1 * omega_h), 4)
        sious = ious - 0.5 * (distance_cost + shape_cost)
        return trace.add(
            "kernel", f"1 - SIoU (angle, distance and shape costs), ε={eps:g}", 1 - sious.clamp(min=-1.0, max=1.0)
        )
