"""The gradient-harmonising weights GHM-C (:mod:`classification`) and GHM-R (:mod:`regression`)
share."""

from __future__ import annotations

import torch
from torch import Tensor


def ghm_weights(
    g: Tensor, valid: Tensor, edges: Tensor, bins: int, momentum: float, acc_sum: Tensor | None, tot: float
) -> Tensor:
    """Gradient-harmonising weights: each valid element weighted by ``tot / (elements in its
    gradient-norm bin)``, averaged over the non-empty bins (GHM-C and GHM-R)."""
    weights = torch.zeros_like(g)
    n = 0
    for i in range(bins):
        inds = (g >= edges[i]) & (g < edges[i + 1]) & valid
        count = inds.sum().item()
        if count > 0:
            if momentum > 0 and acc_sum is not None:
                acc_sum[i] = momentum * acc_sum[i] + (1 - momentum) * count
                weights[inds] = tot / acc_sum[i]
            else:
                weights[inds] = tot / count
            n += 1
    return weights / n if n > 0 else weights
