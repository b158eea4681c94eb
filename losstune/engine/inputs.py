"""Sample inputs for a configured loss, sized from the config: the head's classes, its sampler,
and whether it is an RoI head. Or inputs replayed from a file (``.pt`` or ``.npz``) whose keys are
the ``forward`` argument names."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from losstune.engine import tensorfile
from losstune.engine.sampling import Sampled
from losstune.errors import LosstuneError
from losstune.schema.catalogue import bare_type
from losstune.words import count

CLASSIFICATION = ("CrossEntropyLoss", "FocalLoss", "QualityFocalLoss", "VarifocalLoss")
REGRESSION = ("L1Loss", "SmoothL1Loss", "BalancedL1Loss", "MSELoss")
BOXES = ("IoULoss", "GIoULoss", "DIoULoss", "CIoULoss", "EIoULoss", "SIoULoss", "BoundedIoULoss")
OTHERS = ("SeesawLoss", "GHMC", "GHMR", "DistributionFocalLoss", "DiceLoss", "GaussianFocalLoss")


PRIOR_BIAS = -math.log((1 - 0.01) / 0.01)
# An untrained head's class logits sit at the prior bias, spread by its convolutions' N(0, 0.01)
# weights: MMDetection 3.3.0's freshly built heads give a standard deviation of 0.002 (RetinaHead)
# to 0.4 (YOLOXHead), about 0.3 for the GroupNorm heads (FCOS, ATSS, GFL) on a batch.
PRIOR_SPREAD = 0.3


def untrained_logits(*shape: int, generator: torch.Generator) -> Tensor:
    """Seeded class logits of an untrained sigmoid head: the prior bias ± :data:`PRIOR_SPREAD`."""
    return torch.randn(*shape, generator=generator) * PRIOR_SPREAD + PRIOR_BIAS


class InputError(LosstuneError):
    """Inputs that cannot be made or read for this loss; ``replayable`` when inputs read from a
    file would do instead (each command says how to give them, where it can)."""

    def __init__(self, message: str, *, replayable: bool = False) -> None:
        super().__init__(message)
        self.replayable = replayable


def require_device(device: str) -> None:
    """:class:`InputError` for ``device`` ``cuda`` on a machine without a CUDA GPU."""
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but this machine has no CUDA GPU")


@dataclass
class Inputs:
    """Positional and keyword arguments of ``forward``, and the sampling that produced them."""

    args: list[Any]
    kwargs: dict[str, Any]
    sampled: Sampled | None = None
    unsampled: str | None = None  # what stands for the sampling step where no sampler is involved
    avg_rule: str | None = None  # how ``kwargs["avg_factor"]`` is counted, in MMDetection's terms
    others: OtherCalls | None = None  # the head's further calls of the module for the same term


@dataclass
class OtherCalls:
    """The calls a head makes of the same module after the first (another map, another feature
    level), whose results its log term is made of, and how: ``combine`` takes every call's result
    (the first's first) and the head's divisor, and gives the term (or a dict of the terms) and
    the sentence that says how it arises."""

    calls: list[Inputs]
    combine: Callable[[list[Any], float], tuple[Any, str]]


def synthetic(
    loss_cfg: dict[str, Any],
    *,
    sampled: Callable[[], Sampled],
    num_classes: int,
    seed: int,
    reg_max: int = 16,
) -> Inputs:
    """Seeded inputs for a classification or box loss of a head with ``num_classes`` classes, on
    the predictions ``sampled()`` assigns and samples (a heatmap loss needs none)."""
    kind = bare_type(str(loss_cfg.get("type")))
    if kind not in CLASSIFICATION + REGRESSION + BOXES + OTHERS:
        raise InputError(f"losstune makes no sample inputs for {kind}", replayable=True)
    if kind == "GaussianFocalLoss":  # a heatmap: no priors, no sampler
        return _heatmap_inputs(num_classes, torch.Generator().manual_seed(seed + 1))
    try:
        s = sampled()
    except ValueError as e:  # a sampler that needs the model's predictions
        raise InputError(str(e), replayable=True) from None
    made = for_sampled(loss_cfg, s, num_classes=num_classes, seed=seed, reg_max=reg_max)
    if made.avg_rule is None and "avg_factor" in made.kwargs:
        made.avg_rule = s.avg_rule
    return made


def for_sampled(loss_cfg: dict[str, Any], s: Sampled, *, num_classes: int, seed: int, reg_max: int = 16) -> Inputs:
    """Seeded predictions and targets for the priors of ``s``, passed as a dense head passes them
    (every prior, ``avg_factor`` from the sampling); a head's own way is applied by the head model."""
    kind = bare_type(str(loss_cfg.get("type")))
    g = torch.Generator().manual_seed(seed + 1)
    if kind == "CrossEntropyLoss" and loss_cfg.get("use_mask"):
        return _mask_inputs(s, num_classes, g)
    n = s.labels.numel()
    cls_avg = box_avg = s.avg_factor
    if kind == "GHMC":  # called as loss_cls(cls_score, labels, label_weights, avg_factor=...), which it ignores
        score = untrained_logits(n, num_classes, generator=g)
        return Inputs([score, s.labels, s.label_weights], {"avg_factor": cls_avg}, s)
    if kind == "GHMR":
        pred, target_deltas = torch.randn(n, 4, generator=g) * 0.5, torch.randn(n, 4, generator=g) * 0.5
        return Inputs([pred, target_deltas, s.bbox_weights], {"avg_factor": box_avg}, s)
    if kind == "DistributionFocalLoss":
        return _dfl_inputs(s, reg_max, g)
    if kind == "DiceLoss":
        return _dice_inputs(s, g)
    if kind == "SeesawLoss":  # num_classes + 2 channels: the classes, then (object, background)
        score = torch.randn(n, num_classes + 2, generator=g)
        return Inputs([score, s.labels, s.label_weights], {"avg_factor": cls_avg}, s)
    if kind in CLASSIFICATION:
        sigmoid = kind != "CrossEntropyLoss" or bool(loss_cfg.get("use_sigmoid", False))
        if sigmoid:  # an untrained head, initialised as MMDetection does: prior probability 0.01
            score = untrained_logits(n, num_classes, generator=g)
        else:
            score = torch.randn(n, num_classes + 1, generator=g)
        if loss_cfg.get("activated"):  # the head hands the loss probabilities
            score = score.sigmoid()
        if kind == "QualityFocalLoss":
            target: Any = (s.labels, s.ious * s.pos_mask)
        elif kind == "VarifocalLoss":
            target = torch.zeros(n, num_classes)
            rows = torch.nonzero(s.pos_mask).squeeze(1)
            target[rows, s.labels[rows]] = s.ious[rows]
            return Inputs([score, target], {"avg_factor": cls_avg}, s)
        else:
            target = s.labels
        return Inputs([score, target, s.label_weights], {"avg_factor": cls_avg}, s)
    if kind in REGRESSION:
        pred = torch.randn(n, 4, generator=g) * 0.5
        target_deltas = torch.randn(n, 4, generator=g) * 0.5
        return Inputs([pred, target_deltas, s.bbox_weights], {"avg_factor": box_avg}, s)
    xy = torch.rand(n, 2, generator=g) * 800
    wh = torch.rand(n, 2, generator=g) * 200 + 8
    target_boxes = torch.cat([xy, xy + wh], 1)
    pred_boxes = target_boxes + torch.randn(n, 4, generator=g) * wh.repeat(1, 2) * 0.15
    return Inputs([pred_boxes, target_boxes, s.bbox_weights], {"avg_factor": box_avg}, s)


MASK_SIZE = 28  # FCNMaskHead's mask targets, roi_feat_size 14 upsampled twice


def _positive_masks(
    s: Sampled, g: torch.Generator, channels: int | None, positives: str
) -> tuple[Tensor, Tensor, Tensor, Sampled]:
    """The positives' rows, mask logits (``channels`` per positive, or one mask each), binary
    targets, and the sampling result noting that the mask loss takes the positives only."""
    rows = torch.nonzero(s.pos_mask).squeeze(1)
    n = rows.numel()
    shape = (n, channels, MASK_SIZE, MASK_SIZE) if channels is not None else (n, MASK_SIZE, MASK_SIZE)
    logits = torch.randn(*shape, generator=g)
    targets = (torch.rand(n, MASK_SIZE, MASK_SIZE, generator=g) > 0.5).float()
    note = f"; the mask loss takes the {n} {positives} only ({MASK_SIZE}×{MASK_SIZE} masks)"
    return rows, logits, targets, replace(s, description=s.description + note, stats={**s.stats, "mask_rois": n})


def _mask_inputs(s: Sampled, num_classes: int, g: torch.Generator) -> Inputs:
    """FCNMaskHead's call: ``loss_mask(mask_preds, mask_targets, pos_labels)`` over the positive
    RoIs only, with no avg_factor (the loss is the mean over their pixels)."""
    rows, mask_preds, mask_targets, s = _positive_masks(s, g, num_classes, "positive RoIs")
    return Inputs([mask_preds, mask_targets, s.labels[rows]], {}, s)


def _dfl_inputs(s: Sampled, reg_max: int, g: torch.Generator) -> Inputs:
    """GFLHead's call: ``loss_dfl(pred_corners, target_corners, weight, avg_factor=4.0)``, four
    distances per positive, each weighted by the positive's best classification score."""
    rows = torch.nonzero(s.pos_mask).squeeze(1)
    m = rows.numel() * 4
    pred_corners = torch.randn(m, reg_max + 1, generator=g)
    target_corners = torch.rand(m, generator=g) * (reg_max - 0.01)
    weight = torch.rand(rows.numel(), generator=g).repeat_interleave(4)
    note = f"; the distribution loss takes the {rows.numel()} positives only (4 sides each, reg_max={reg_max})"
    s = replace(s, description=s.description + note)
    return Inputs([pred_corners, target_corners], {"weight": weight, "avg_factor": 4.0}, s, avg_rule="4.0")


def _dice_inputs(s: Sampled, g: torch.Generator) -> Inputs:
    """A mask head's call (RTMDet-Ins, as others): ``loss_mask(mask_logits, gt_masks, weight=None,
    avg_factor=num_pos)`` over the positives' masks."""
    rows, logits, masks, s = _positive_masks(s, g, None, "positives")
    return Inputs([logits, masks], {"avg_factor": float(rows.numel())}, s, avg_rule="positives")


HEATMAP_SIZE = 64


def _heatmap_inputs(num_classes: int, g: torch.Generator, num_objects: int = 8) -> Inputs:
    """CenterNetHead's call: ``loss_center_heatmap(heatmap_pred, heatmap_target, avg_factor=...)``,
    a sigmoid heatmap (clamped to [1e-4, 1 - 1e-4]) against Gaussian peaks at the objects' centres,
    normalised by the number of peaks. No sampler is involved."""
    size = HEATMAP_SIZE
    pred = (torch.randn(1, num_classes, size, size, generator=g) + PRIOR_BIAS).sigmoid().clamp(1e-4, 1 - 1e-4)
    target = torch.zeros(1, num_classes, size, size)
    ys, xs = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    for _ in range(num_objects):
        cls = int(torch.randint(0, num_classes, (1,), generator=g))
        cy, cx = (int(v) for v in torch.randint(0, size, (2,), generator=g))
        sigma = float(torch.rand(1, generator=g)) * 3 + 1
        gaussian = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma**2))
        target[0, cls] = torch.maximum(target[0, cls], gaussian)
    avg_factor = max(1.0, float(target.eq(1).sum()))
    what = (
        f"no sampler: a {size}×{size} heatmap of {count(num_classes, 'class', 'classes')} with Gaussian peaks at {num_objects} "
        f"object centres"
    )
    return Inputs([pred, target], {"avg_factor": avg_factor}, None, what, "max(1, number of peaks)")


def from_file(path: str, forward: Any) -> Inputs:
    """Arguments read from a ``.pt`` (a dict of tensors) or ``.npz`` file, by ``forward``'s names."""
    try:
        if path.endswith(".npz"):
            values: Any = {k: torch.from_numpy(v) for k, v in tensorfile.load_npz(path).items()}
        else:
            values = tensorfile.load(path)
    except tensorfile.TensorFileError as e:
        raise InputError(str(e) if not e.opened else f"`{path}` cannot be read as inputs: it {e.reason}") from None
    if not isinstance(values, dict):
        raise InputError(f"`{path}` must hold a dict of the forward's arguments by name")
    params = [p for p in inspect.signature(forward).parameters.values() if p.name not in ("self", "trace")]
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in params:
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if p.name in values:
            kwargs[p.name] = values.pop(p.name)
        elif p.default is inspect.Parameter.empty:
            raise InputError(
                f"`{path}` has no `{p.name}`, which the loss needs; it holds {', '.join(values) or 'nothing'}"
            )
    if values:
        raise InputError(f"`{path}` holds {', '.join(values)}, which the loss does not take")
    for name, value in kwargs.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            raise InputError(f"`{name}` in `{path}` holds NaN or inf")
        if name in ("avg_factor",) and isinstance(value, torch.Tensor) and value.numel() == 1:
            kwargs[name] = value.item()
    return Inputs(args, kwargs)
