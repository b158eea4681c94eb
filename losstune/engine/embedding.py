"""Associative embedding loss (CornerNet): the pull of an object's two corner embeddings towards
their mean and the push of different objects' means apart, as MMDetection 3.3.0's
``AssociativeEmbeddingLoss`` computes them (2.28.2's is the same). It returns the pair
``(pull, push)``, takes no avg_factor and no loss_weight, and sums its images' terms."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from losstune.engine.trace import Trace
from losstune.words import count

MARGIN = 1  # ae_loss_per_image's margin, CornerNet's setting (not configurable)


class PullPush(NamedTuple):
    """The module's result: its pull and push terms, in the order it returns them."""

    pull: Tensor
    push: Tensor


def per_image(tl_preds: Tensor, br_preds: Tensor, match: Any) -> tuple[Tensor, Tensor]:
    """``ae_loss_per_image``: one image's pull and push on its embedding maps ``(M, H, W)`` at the
    corner pairs ``match`` (``[[tl_y, tl_x], [br_y, br_x]]`` per object)."""
    if len(match) == 0:  # no object: both 0, on the graph of the predictions
        return tl_preds.sum() * 0.0, tl_preds.sum() * 0.0
    tl_list, br_list, me_list = [], [], []
    for m in match:
        [tl_y, tl_x], [br_y, br_x] = m
        tl_e = tl_preds[:, tl_y, tl_x].view(-1, 1)
        br_e = br_preds[:, br_y, br_x].view(-1, 1)
        tl_list.append(tl_e)
        br_list.append(br_e)
        me_list.append((tl_e + br_e) / 2.0)
    tl, br, me = torch.cat(tl_list), torch.cat(br_list), torch.cat(me_list)
    n, m_dim = tl.size()
    pull = ((tl - me).pow(2) + (br - me).pow(2)).sum() / n
    conf_mat = me.expand((n, n, m_dim)).permute(1, 0, 2) - me
    conf_weight = 1 - torch.eye(n).type_as(me)
    conf_mat = conf_weight * (MARGIN - conf_mat.sum(-1).abs())
    push = F.relu(conf_mat).sum() / (n * (n - 1)) if n > 1 else tl_preds.sum() * 0.0
    return pull, push


class AssociativeEmbeddingLoss:
    """Pull ``Σ_k [(e_tl − ē)² + (e_br − ē)²] / K`` and push ``Σ_{j≠k} relu(1 − |ē_j − ē_k|) / (K(K − 1))``
    per image over its ``K`` objects, weighted by ``pull_weight`` and ``push_weight`` and summed
    over the images."""

    def __init__(self, pull_weight: float = 0.25, push_weight: float = 0.25) -> None:
        self.pull_weight, self.push_weight = pull_weight, push_weight

    def forward(self, trace: Trace, pred: Tensor, target: Tensor, match: Any) -> PullPush:
        terms = [per_image(pred[i], target[i], match[i]) for i in range(pred.size(0))]
        pairs = torch.stack([torch.stack([p, q]) for p, q in terms]) if terms else pred.new_zeros(0, 2)
        trace.add(
            "kernel",
            "pull = Σ [(e_tl − ē)² + (e_br − ē)²] / K over each object's corner pair (ē their mean), "
            f"push = Σ_{{j≠k}} relu({MARGIN} − |ē_j − ē_k|) / (K(K − 1)), per image of K objects "
            "(0 without objects; push 0 with one); one (pull, push) row per image",
            pairs,
        )
        weights = torch.tensor([self.pull_weight, self.push_weight], dtype=pairs.dtype)
        trace.add(
            "weight",
            f"× pull_weight={self.pull_weight:g}, push_weight={self.push_weight:g} (there is no loss_weight)",
            pairs * weights,
        )
        pull_all: Any = 0.0
        push_all: Any = 0.0
        for pull, push in terms:  # in the module's order of operations
            pull_all += self.pull_weight * pull
            push_all += self.push_weight * push
        result = PullPush(torch.as_tensor(pull_all), torch.as_tensor(push_all))
        trace.add(
            "reduction",
            f"summed over the {count(pred.size(0), 'image')} (no average, no avg_factor): (pull, push)",
            torch.stack(list(result)),
        )
        return result
