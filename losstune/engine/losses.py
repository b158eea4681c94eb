"""The losses the engine evaluates, each with MMDetection 3.3's constructor and ``forward``
signature, split into recorded steps. Formulas follow losstune's catalogue of MMDetection."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from losstune.engine.reduce import chosen_reduction, finish
from losstune.engine.trace import Trace


def _all_zero_weight(pred: Tensor, weight: Tensor | None) -> Tensor | None:
    """MMDetection's shortcut for regression losses whose weights are all zero: ``(pred * weight)
    .sum()`` is returned as is (a zero that keeps the graph), with no loss_weight."""
    if weight is not None and not torch.any(weight > 0):
        if pred.dim() == weight.dim() + 1:
            weight = weight.unsqueeze(1)
        return (pred * weight).sum()
    return None


class L1Loss:
    """``|pred - target|``."""

    def __init__(self, reduction: str = "mean", loss_weight: float = 1.0) -> None:
        self.reduction = reduction
        self.loss_weight = loss_weight

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
        shortcut = _all_zero_weight(pred, weight)
        if shortcut is not None:
            trace.add("weight", "every weight is 0: MMDetection returns (pred × weight).sum()", shortcut)
            return shortcut
        reduction = chosen_reduction(self.reduction, reduction_override)
        loss = self.kernel(trace, pred, target)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


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


class MSELoss:
    """``(pred - target)²``."""

    def __init__(self, reduction: str = "mean", loss_weight: float = 1.0) -> None:
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
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        loss = trace.add("kernel", "MSE = (pred - target)²", F.mse_loss(pred, target, reduction="none"))
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


class CrossEntropyLoss:
    """Softmax cross-entropy (default), sigmoid BCE (``use_sigmoid``) or mask BCE (``use_mask``)."""

    def __init__(
        self,
        use_sigmoid: bool = False,
        use_mask: bool = False,
        reduction: str = "mean",
        class_weight: list[float] | None = None,
        ignore_index: int | None = None,
        loss_weight: float = 1.0,
        avg_non_ignore: bool = False,
    ) -> None:
        assert use_sigmoid is False or use_mask is False
        self.use_sigmoid = use_sigmoid
        self.use_mask = use_mask
        self.reduction = reduction
        self.class_weight = class_weight
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self.avg_non_ignore = avg_non_ignore

    def forward(
        self,
        trace: Trace,
        cls_score: Tensor,
        label: Tensor,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
        ignore_index: int | None = None,
        **kwargs: Any,
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        if ignore_index is None:
            ignore_index = self.ignore_index
        class_weight = (
            cls_score.new_tensor(self.class_weight, device=cls_score.device) if self.class_weight is not None else None
        )
        if self.use_mask:
            # Mask heads call loss_mask(mask_pred, mask_targets, labels): the third argument, named
            # `weight` in the signature, holds each RoI's class.
            return self._mask(trace, cls_score, label, weight, class_weight, reduction, avg_factor, ignore_index)
        if self.use_sigmoid:
            return self._sigmoid(trace, cls_score, label, weight, class_weight, reduction, avg_factor, ignore_index)
        ignore = -100 if ignore_index is None else ignore_index
        loss = F.cross_entropy(cls_score, label, weight=class_weight, reduction="none", ignore_index=ignore)
        what = "CE = -w_y log softmax(x)_y" if class_weight is not None else "CE = -log softmax(x)_y"
        trace.add("kernel", f"{what} over {cls_score.size(-1)} classes", loss)
        if avg_factor is None and self.avg_non_ignore and reduction == "mean":
            avg_factor = label.numel() - (label == ignore).sum().item()
        if weight is not None:
            weight = weight.float()
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)

    def _sigmoid(
        self,
        trace: Trace,
        pred: Tensor,
        label: Tensor,
        weight: Tensor | None,
        class_weight: Tensor | None,
        reduction: str,
        avg_factor: Any,
        ignore_index: int | None,
    ) -> Tensor:
        ignore = -100 if ignore_index is None else ignore_index
        if pred.dim() != label.dim():
            channels = pred.size(-1)
            bin_labels = label.new_full((label.size(0), channels), 0)
            valid = (label >= 0) & (label != ignore)
            inds = torch.nonzero(valid & (label < channels), as_tuple=False)
            if inds.numel() > 0:
                bin_labels[inds, label[inds]] = 1
            valid_mask = valid.view(-1, 1).expand(label.size(0), channels).float()
            if weight is None:
                weight = valid_mask
            else:
                weight = weight.view(-1, 1).repeat(1, channels)
                weight *= valid_mask
            label = bin_labels
        else:
            valid_mask = ((label >= 0) & (label != ignore)).float()
            weight = weight * valid_mask if weight is not None else valid_mask
        if avg_factor is None and self.avg_non_ignore and reduction == "mean":
            avg_factor = valid_mask.sum().item()
        weight = weight.float()
        loss = F.binary_cross_entropy_with_logits(pred, label.float(), pos_weight=class_weight, reduction="none")
        trace.add("kernel", "BCE = -[t log σ(x) + (1 - t) log(1 - σ(x))], per class", loss)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)

    def _mask(
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        label: Tensor | None,
        class_weight: Tensor | None,
        reduction: str,
        avg_factor: Any,
        ignore_index: int | None,
    ) -> Tensor:
        assert ignore_index is None, "BCE loss does not support ignore_index"
        assert reduction == "mean" and avg_factor is None
        assert label is not None
        inds = torch.arange(0, pred.size()[0], dtype=torch.long, device=pred.device)
        pred_slice = pred[inds, label].squeeze(1)
        loss = F.binary_cross_entropy_with_logits(pred_slice, target, weight=class_weight, reduction="none")
        trace.add("kernel", "mask BCE of each RoI's own class channel", loss)
        trace.add("weight", "no element-wise weight (class_weight is inside the kernel)", loss)
        reduced = trace.add("reduction", f"mean over all {loss.numel()} mask pixels", loss.mean()[None])
        return trace.add("loss_weight", f"× loss_weight={self.loss_weight}", self.loss_weight * reduced)


def _focal_weight_shape(weight: Tensor | None, loss: Tensor) -> Tensor | None:
    if weight is not None and weight.shape != loss.shape:
        if weight.size(0) == loss.size(0):
            weight = weight.view(-1, 1)
        else:
            assert weight.numel() == loss.numel()
            weight = weight.view(loss.size(0), -1)
    if weight is not None:
        assert weight.ndim == loss.ndim
    return weight


class FocalLoss:
    """Sigmoid focal loss: ``-α_t (1 - p_t)^γ log p_t``."""

    def __init__(
        self,
        use_sigmoid: bool = True,
        gamma: float = 2.0,
        alpha: float = 0.25,
        reduction: str = "mean",
        loss_weight: float = 1.0,
        activated: bool = False,
    ) -> None:
        assert use_sigmoid is True, "Only sigmoid focal loss supported now."
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.activated = activated

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
        num_classes = pred.size(1)
        if pred.dim() != target.dim():
            target = F.one_hot(target, num_classes=num_classes + 1)[:, :num_classes]
        target = target.type_as(pred)
        p = pred if self.activated else pred.sigmoid()
        pt = (1 - p) * target + p * (1 - target)
        focal_weight = (self.alpha * target + (1 - self.alpha) * (1 - target)) * pt.pow(self.gamma)
        if self.activated:
            bce = F.binary_cross_entropy(pred, target, reduction="none")
        else:
            bce = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
        loss = bce * focal_weight
        trace.add(
            "kernel",
            f"FL = -α_t (1 - p_t)^γ log p_t, γ={self.gamma:g}, α={self.alpha:g}, over {num_classes} classes",
            loss,
        )
        weight = _focal_weight_shape(weight, loss)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


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
        shortcut = _all_zero_weight(pred, weight)
        if shortcut is not None:
            trace.add("weight", "every weight is 0: MMDetection returns (pred × weight).sum()", shortcut)
            return shortcut
        reduction = chosen_reduction(self.reduction, reduction_override)
        if weight is not None and weight.dim() > 1:
            assert weight.shape == pred.shape
            weight = weight.mean(-1)
        boxes = pred.to(torch.float32) if pred.dtype == torch.float16 else pred
        gious = aligned_overlaps(boxes, target, "giou", self.eps)
        if pred.dtype == torch.float16:
            gious = gious.to(torch.float16)
        loss = trace.add("kernel", f"1 - GIoU(pred, target), ε={self.eps:g}", 1 - gious)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


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
            shortcut = _all_zero_weight(pred, weight)
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


LOSSES: dict[str, type[Any]] = {
    "L1Loss": L1Loss,
    "SmoothL1Loss": SmoothL1Loss,
    "MSELoss": MSELoss,
    "CrossEntropyLoss": CrossEntropyLoss,
    "FocalLoss": FocalLoss,
    "GIoULoss": GIoULoss,
    "IoULoss": IoULoss,
}
