"""The synthetic instances of the head model and the comparison's batch: the ellipse inscribed in
each box, sampled at points of a grid."""

from __future__ import annotations

from torch import Tensor


def inside_ellipses(boxes: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
    """``(boxes, len(ys), len(xs))``: whether each point of the grid ``xs`` × ``ys`` lies in the
    ellipse inscribed in each box (``(N, 4)``, x1 y1 x2 y2)."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    rx, ry = (boxes[:, 2] - boxes[:, 0]) / 2, (boxes[:, 3] - boxes[:, 1]) / 2
    dx = ((xs[None, :] - cx[:, None]) / rx[:, None])[:, None, :] ** 2
    dy = ((ys[None, :] - cy[:, None]) / ry[:, None])[:, :, None] ** 2
    return dx + dy <= 1
