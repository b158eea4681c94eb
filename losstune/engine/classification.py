"""Classification losses: cross-entropy and the focal family."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from losstune.engine.ghm import ghm_weights
from losstune.engine.reduce import ElementwiseLoss, chosen_reduction, finish, reduction_step, weight_step
from losstune.engine.trace import Trace
from losstune.words import count


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
        trace.add(
            "kernel", f"{what} over {count(cls_score.size(1), 'class', 'classes')}", loss
        )  # dim 1, as F.cross_entropy
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

    onehot_targets = True  # 3.x also takes (N, C) one-hot or soft targets

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
        if pred.dim() != target.dim() or not self.onehot_targets:
            num_classes = pred.size(1)
            target = F.one_hot(target, num_classes=num_classes + 1)[:, :num_classes]
        # targets of the prediction's shape are one-hot already (a flat row of them: GLIP's tokens)
        over = count(pred.size(1), "class", "classes") if pred.dim() == 2 else f"{pred.numel()} elements"
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
            f"FL = -α_t (1 - p_t)^γ log p_t, γ={self.gamma:g}, α={self.alpha:g}, over {over}",
            loss,
        )
        weight = _focal_weight_shape(weight, loss)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


class QualityFocalLoss:
    """GFL's quality focal loss: BCE against a soft IoU target, scaled by ``|y - σ(x)|^β``."""

    tensor_targets = True  # 3.x also takes (N, C) soft targets, not only (label, score)

    def __init__(
        self,
        use_sigmoid: bool = True,
        beta: float = 2.0,
        reduction: str = "mean",
        loss_weight: float = 1.0,
        activated: bool = False,
    ) -> None:
        assert use_sigmoid is True, "Only sigmoid in QFL supported now."
        self.beta = beta
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.activated = activated

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        target: Any,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        bce = F.binary_cross_entropy if self.activated else F.binary_cross_entropy_with_logits
        p = pred if self.activated else pred.sigmoid()
        loss = bce(pred, p.new_zeros(pred.shape), reduction="none") * p.pow(self.beta)
        if isinstance(target, torch.Tensor) and self.tensor_targets:  # (N, C) soft targets
            assert pred.size() == target.size()
            target = target.type_as(pred)
            pos = target != 0
            scale = target[pos] - p[pos]
            loss[pos] = bce(pred[pos], target[pos], reduction="none") * scale.abs().pow(self.beta)
        else:
            assert len(target) == 2, "target for QFL must be a tuple of two elements"
            label, score = target
            pos = ((label >= 0) & (label < pred.size(1))).nonzero().squeeze(1)
            pos_label = label[pos].long()
            scale = score[pos] - p[pos, pos_label]
            loss[pos, pos_label] = bce(pred[pos, pos_label], score[pos], reduction="none") * scale.abs().pow(self.beta)
        loss = loss.sum(dim=1, keepdim=False)
        trace.add(
            "kernel", f"QFL = -|y - σ|^β [y log σ + (1 - y) log(1 - σ)], β={self.beta:g}, summed over classes", loss
        )
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


class VarifocalLoss:
    """VFNet's varifocal loss: positives weighted by their IoU target, negatives by ``α |σ - y|^γ``."""

    def __init__(
        self,
        use_sigmoid: bool = True,
        alpha: float = 0.75,
        gamma: float = 2.0,
        iou_weighted: bool = True,
        reduction: str = "mean",
        loss_weight: float = 1.0,
    ) -> None:
        assert use_sigmoid is True, "Only sigmoid varifocal loss supported now."
        assert alpha >= 0.0
        self.alpha, self.gamma, self.iou_weighted = alpha, gamma, iou_weighted
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
        assert pred.size() == target.size()
        p = pred.sigmoid()
        target = target.type_as(pred)
        positive = target * (target > 0.0).float() if self.iou_weighted else (target > 0.0).float()
        focal_weight = positive + self.alpha * (p - target).abs().pow(self.gamma) * (target <= 0.0).float()
        loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal_weight
        trace.add(
            "kernel",
            f"VFL: q·BCE for positives, α|σ - q|^γ·BCE for negatives, α={self.alpha:g}, γ={self.gamma:g}",
            loss,
        )
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


class DistributionFocalLoss(ElementwiseLoss):
    """GFL's distribution focal loss on the two bins around each continuous target."""

    def kernel(self, trace: Trace, pred: Tensor, target: Tensor) -> Tensor:
        left = target.long()
        right = left + 1
        loss = F.cross_entropy(pred, left, reduction="none") * (right.float() - target) + F.cross_entropy(
            pred, right, reduction="none"
        ) * (target - left.float())
        return trace.add("kernel", "DFL = -[(y_r - y) log S_l + (y - y_l) log S_r]", loss)


class KnowledgeDistillationKLDivLoss:
    """KL divergence between temperature-softened teacher and student distributions, × T²."""

    def __init__(self, reduction: str = "mean", loss_weight: float = 1.0, T: int = 10) -> None:
        assert T >= 1
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.T = T

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        soft_label: Tensor,
        weight: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        assert pred.size() == soft_label.size()
        t = self.T
        teacher = F.softmax(soft_label / t, dim=1).detach()
        loss = F.kl_div(F.log_softmax(pred / t, dim=1), teacher, reduction="none").mean(1) * (t * t)
        trace.add("kernel", f"KD = T² · mean KL(softmax(t/T) ‖ softmax(s/T)), T={t:g}", loss)
        return finish(trace, loss, weight, reduction, avg_factor, self.loss_weight)


class GHMC:
    """GHM-C: sigmoid BCE re-weighted by the density of gradient norms ``|σ(x) - t|``."""

    def __init__(
        self,
        bins: int = 10,
        momentum: float = 0,
        use_sigmoid: bool = True,
        loss_weight: float = 1.0,
        reduction: str = "mean",
    ) -> None:
        self.bins, self.momentum = bins, momentum
        self.edges = torch.arange(bins + 1).float() / bins
        self.edges[-1] += 1e-06
        self.acc_sum = torch.zeros(bins) if momentum > 0 else None
        if not use_sigmoid:
            raise NotImplementedError
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(
        self,
        trace: Trace,
        pred: Tensor,
        target: Tensor,
        label_weight: Tensor,
        reduction_override: str | None = None,
        **kwargs: Any,
    ) -> Tensor:
        reduction = chosen_reduction(self.reduction, reduction_override)
        if pred.dim() != target.dim():
            channels = pred.size(-1)
            bin_labels = target.new_full((target.size(0), channels), 0)
            inds = torch.nonzero((target >= 0) & (target < channels), as_tuple=False).squeeze()
            if inds.numel() > 0:
                bin_labels[inds, target[inds]] = 1
            label_weight = label_weight.view(-1, 1).expand(label_weight.size(0), channels)
            target = bin_labels
        target, label_weight = target.float(), label_weight.float()
        g = torch.abs(pred.sigmoid().detach() - target)
        valid = label_weight > 0
        tot = max(valid.float().sum().item(), 1.0)
        weights = ghm_weights(g, valid, self.edges, self.bins, self.momentum, self.acc_sum, tot)
        loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
        trace.add("kernel", f"BCE per class; weights from {self.bins} bins of the gradient norm |σ(x) - t|", loss)
        loss = weight_step(trace, loss, weights)
        reduced = reduction_step(trace, loss, reduction, tot)
        return trace.add("loss_weight", f"× loss_weight={self.loss_weight}", reduced * self.loss_weight)


class SeesawLoss:
    """Seesaw loss (RoI classification over ``num_classes + 2`` channels): a seesaw cross-entropy of
    the positives over the classes, plus a cross-entropy of objectness over every sample. Each term
    runs steps 2 to 5 on its own; the loss is a dict of the two (or their sum, ``return_dict=False``).

    The mitigation factor uses the module's cumulative class counts, which MMDetection accumulates
    across calls; a single evaluation counts the labels of this call, as a fresh module does."""

    def __init__(
        self,
        use_sigmoid: bool = False,
        p: float = 0.8,
        q: float = 2.0,
        num_classes: int = 1203,
        eps: float = 1e-2,
        reduction: str = "mean",
        loss_weight: float = 1.0,
        return_dict: bool = True,
    ) -> None:
        assert not use_sigmoid
        self.p, self.q, self.eps = p, q, eps
        self.num_classes = num_classes
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.return_dict = return_dict

    def forward(
        self,
        trace: Trace,
        cls_score: Tensor,
        labels: Tensor,
        label_weights: Tensor | None = None,
        avg_factor: Any = None,
        reduction_override: str | None = None,
    ) -> Tensor | dict[str, Tensor]:
        reduction = chosen_reduction(self.reduction, reduction_override)
        assert cls_score.size(-1) == self.num_classes + 2, (
            f"cls_score has {cls_score.size(-1)} channels; SeesawLoss with num_classes={self.num_classes} takes "
            f"num_classes + 2 = {self.num_classes + 2} (the loss's num_classes must be the head's)"
        )
        c = self.num_classes
        pos = labels < c
        obj_labels = (labels == c).long()
        cum_samples = torch.bincount(labels.long(), minlength=c + 1)[: c + 1].float().to(cls_score.device)
        if labels.numel() and int(labels.max()) > c:
            raise IndexError(f"labels go up to {int(labels.max())}; SeesawLoss counts classes 0..{c}")
        weights = (
            label_weights.float() if label_weights is not None else labels.new_ones(labels.size(), dtype=torch.float)
        )
        classes, objectness = cls_score[..., :-2], cls_score[..., -2:]
        if pos.sum() > 0:
            first = len(trace.steps)
            kernel = self._seesaw_kernel(classes[pos], labels[pos], cum_samples[:c])
            trace.add("kernel", self._describe(), kernel)
            loss_classes = finish(trace, kernel, weights[pos], reduction, avg_factor, self.loss_weight)
            _prefix(trace, first, "classes: ")
        else:
            loss_classes = trace.add("kernel", "classes: no positive sample, the term is 0", classes[pos].sum())
        first = len(trace.steps)
        kernel = F.cross_entropy(objectness, obj_labels, reduction="none")
        trace.add("kernel", "CE = -log softmax(x)_obj over (object, background)", kernel)
        loss_objectness = finish(trace, kernel, weights, reduction, avg_factor, self.loss_weight)
        _prefix(trace, first, "objectness: ")
        if self.return_dict:
            return {"loss_cls_objectness": loss_objectness, "loss_cls_classes": loss_classes}
        return trace.add("sum", "loss_cls_classes + loss_cls_objectness", loss_classes + loss_objectness)

    def _describe(self) -> str:
        return (
            "Seesaw CE = -log softmax(x + log S)_y, S_ij = M_ij·C_ij (mitigation (N_j/N_i)^p where N_j < N_i, "
            f"compensation (σ_j/σ_i)^q where σ_j > σ_i), p={self.p:g}, q={self.q:g}, "
            f"over {count(self.num_classes, 'class', 'classes')}, positives only"
        )

    def _seesaw_kernel(self, score: Tensor, labels: Tensor, cum_samples: Tensor) -> Tensor:
        """MMDetection's ``seesaw_ce_loss`` before its ``weight_reduce_loss``."""
        onehot = F.one_hot(labels, self.num_classes)
        seesaw = score.new_ones(onehot.size())
        if self.p > 0:
            ratio = cum_samples[None, :].clamp(min=1) / cum_samples[:, None].clamp(min=1)
            index = (ratio < 1.0).float()
            seesaw = seesaw * (ratio.pow(self.p) * index + (1 - index))[labels.long(), :]
        if self.q > 0:
            scores = F.softmax(score.detach(), dim=1)
            self_scores = scores[torch.arange(0, len(scores)).to(scores.device).long(), labels.long()]
            matrix = scores / self_scores[:, None].clamp(min=self.eps)
            index = (matrix > 1.0).float()
            seesaw = seesaw * (matrix.pow(self.q) * index + (1 - index))
        return F.cross_entropy(score + (seesaw.log() * (1 - onehot)), labels, weight=None, reduction="none")


def _prefix(trace: Trace, first: int, prefix: str) -> None:
    """Name the term the steps from ``first`` on belong to."""
    for step in trace.steps[first:]:
        step.description = prefix + step.description
