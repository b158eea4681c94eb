"""Inputs read from a file (``eval --inputs``), checked against what the loss expects before it
runs: shapes, dtypes and label ranges, each failure saying what was expected. (On a GPU an
out-of-range label is a device-side assert, not an error message.)"""

from __future__ import annotations

from typing import Any

import torch

from losstune.engine.inputs import BOXES, REGRESSION, InputError
from losstune.schema.catalogue import bare_type
from losstune.words import count


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def _tensor(kwargs: dict[str, Any], name: str) -> torch.Tensor | None:
    value = kwargs.get(name)
    if value is not None and not isinstance(value, torch.Tensor):
        raise InputError(f"`{name}` must be a tensor, not {type(value).__name__}")
    return value


def _labels(labels: torch.Tensor, name: str, n: int, top: int | None, what: str, ignore: int | None = None) -> None:
    if labels.dtype != torch.int64:  # the losses index with them, or compare them with int64 ranges
        raise InputError(
            f"`{name}` must hold integer class indices (int64), not {str(labels.dtype).replace('torch.', '')}"
        )
    if labels.shape != (n,):
        raise InputError(f"`{name}` must have shape ({n},), one label per row of the scores; it has {_shape(labels)}")
    valid = labels if ignore is None else labels[labels != ignore]
    if top is not None and valid.numel() and (int(valid.min()) < 0 or int(valid.max()) > top):
        raise InputError(
            f"`{name}` holds labels from {int(valid.min())} to {int(valid.max())}; {what} takes 0 to {top}"
        )


def check_inputs(loss_cfg: dict[str, Any], kwargs: dict[str, Any]) -> None:
    """Raise ``InputError`` naming the argument and the shape, dtype or range the loss expects."""
    kind = bare_type(str(loss_cfg.get("type")))
    if kind in REGRESSION + BOXES:
        pred, target = _tensor(kwargs, "pred"), _tensor(kwargs, "target")
        if pred is None or target is None or target.numel() == 0:  # no targets: MMDetection gives pred.sum() × 0
            return
        if kind in BOXES and (pred.dim() == 0 or pred.size(-1) != 4):
            raise InputError(f"`pred` must be boxes of shape (N, 4) as (x1, y1, x2, y2); it has {_shape(pred)}")
        if pred.shape != target.shape:
            raise InputError(f"`target` must have the shape of `pred`, {_shape(pred)}; it has {_shape(target)}")
        return
    if kind == "CrossEntropyLoss" and not loss_cfg.get("use_mask"):
        score, label = _tensor(kwargs, "cls_score"), _tensor(kwargs, "label")
        if score is None or label is None or score.dim() != 2:
            return
        sigmoid = bool(loss_cfg.get("use_sigmoid"))
        c = score.size(1)
        if sigmoid:
            # one-hot / soft targets, or labels: MMDetection's sigmoid CE takes any label, those
            # outside 0..C-1 (background, ignored) giving an all-zero target row
            if label.shape != score.shape:
                _labels(label, "label", score.size(0), None, "")
            return
        ignore = loss_cfg.get("ignore_index")
        ignore = -100 if ignore is None else ignore
        _labels(label, "label", score.size(0), c - 1, f"a softmax over {c} channels", ignore)
    elif kind == "FocalLoss":
        pred, target = _tensor(kwargs, "pred"), _tensor(kwargs, "target")
        if pred is None or target is None or pred.dim() != 2 or target.shape == pred.shape:
            return
        c = pred.size(1)
        _labels(
            target, "target", pred.size(0), c, f"a score of {count(c, 'class', 'classes')} (label {c} is background)"
        )
    elif kind == "SeesawLoss":
        score, labels = _tensor(kwargs, "cls_score"), _tensor(kwargs, "labels")
        if score is None or labels is None:
            return
        c = int(loss_cfg.get("num_classes", 1203))
        if score.dim() != 2 or score.size(1) != c + 2:
            raise InputError(
                f"`cls_score` must have shape (N, {c + 2}): num_classes={c}, then (object, background); it has {_shape(score)}"
            )
        _labels(labels, "labels", score.size(0), c, f"SeesawLoss with num_classes={c} (label {c} is background)")
