"""Box losses of no boxes (no positives): the value MMDetection's module gives, reduction by reduction.

The aligned overlaps of no pairs are an empty tensor; one zero overlap in its place made IoULoss
13.8 and GIoULoss 1.0 where MMDetection gives nan (a mean of nothing) or 0.
"""

from __future__ import annotations

import importlib.util
import itertools
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from losstune.engine.boxes import aligned_overlaps  # noqa: E402
from losstune.engine.evaluation import evaluate  # noqa: E402

BOX_LOSSES = ["IoULoss", "GIoULoss", "DIoULoss", "CIoULoss", "EIoULoss", "SIoULoss", "BoundedIoULoss", "L1Loss",
              "SmoothL1Loss", "BalancedL1Loss"]  # fmt: skip
CALLS: list[tuple[str, dict[str, Any]]] = [
    (reduction, kwargs)
    for reduction, kwargs in itertools.product(
        ["mean", "sum", "none"], [{}, {"avg_factor": 2.0}, {"weight": torch.zeros(0, 4)}, {"weight": torch.zeros(0)}]
    )
    if reduction == "mean" or "avg_factor" not in kwargs  # MMDetection refuses it with another reduction
]


@pytest.mark.parametrize("shape", [(0, 4), (2, 0, 4)])
def test_the_aligned_overlaps_of_no_pairs_are_empty(shape: tuple[int, ...]) -> None:
    none = torch.zeros(shape)
    assert aligned_overlaps(none, none).shape == shape[:-1]
    assert aligned_overlaps(none, none, "giou").shape == shape[:-1]


@pytest.mark.skipif(importlib.util.find_spec("mmdet") is None, reason="MMDetection is not installed")
@pytest.mark.parametrize("kind", BOX_LOSSES)
def test_a_box_loss_of_no_boxes_is_mmdetections(kind: str) -> None:
    from losstune.engine.crosscheck import _mmdet_losses

    found = _mmdet_losses(3)
    assert not isinstance(found, str), found
    module = getattr(found[0], kind)
    none = torch.zeros(0, 4)
    for reduction, kwargs in CALLS:
        theirs = module(reduction=reduction)(none.clone(), none.clone(), **kwargs)
        ours = evaluate({"type": kind, "reduction": reduction}, none.clone(), none.clone(), **kwargs).loss
        assert ours.shape == theirs.shape, (reduction, list(kwargs))
        assert torch.allclose(ours, theirs, equal_nan=True), (reduction, list(kwargs), ours, theirs)
