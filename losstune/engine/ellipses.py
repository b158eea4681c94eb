"""The synthetic instances of the head model and the comparison's batch: the ellipse inscribed in
each box, sampled at points of a grid."""

from __future__ import annotations

import torch
from torch import Tensor


def seeded_boxes(num: int, side: float, g: torch.Generator) -> Tensor:
    """``num`` boxes (``(num, 4)``, x1 y1 x2 y2) inside a square image of ``side``, each side a
    tenth to a half of the image's, drawn from ``g`` (the sizes first, then the corners)."""
    wh = (0.1 + 0.4 * torch.rand(num, 2, generator=g)) * side
    xy = torch.rand(num, 2, generator=g) * (side - wh)
    return torch.cat([xy, xy + wh], 1)


def inside_ellipses(boxes: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
    """``(boxes, len(ys), len(xs))``: whether each point of the grid ``xs`` × ``ys`` lies in the
    ellipse inscribed in each box (``(N, 4)``, x1 y1 x2 y2)."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    rx, ry = (boxes[:, 2] - boxes[:, 0]) / 2, (boxes[:, 3] - boxes[:, 1]) / 2
    dx = ((xs[None, :] - cx[:, None]) / rx[:, None])[:, None, :] ** 2
    dy = ((ys[None, :] - cy[:, None]) / ry[:, None])[:, :, None] ** 2
    return dx + dy <= 1


def drawn_instances(n: int, image: tuple[int, int], num_classes: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` seeded boxes (x1, y1, x2, y2) inside ``image`` (width, height), each side a tenth to a
    half of the image's, and their labels below ``num_classes``."""
    side = torch.tensor([float(image[0]), float(image[1])])
    wh = (0.1 + 0.4 * torch.rand(n, 2, generator=g)) * side
    xy = torch.rand(n, 2, generator=g) * (side - wh)
    labels = torch.randint(0, max(num_classes, 1), (n,), generator=g)
    return torch.cat([xy, xy + wh], 1), labels
