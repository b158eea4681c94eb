"""What the comparison with the head model (:mod:`versus`) computes in PyTorch where a head's
forward calls one of mmcv's compiled operators, which mmcv-lite does not ship, in a form whose
result is a plain formula. Only the comparison uses it: ``--through-head`` runs MMDetection's
forward as it is and says which operator it needs.

TOODHead's ``deform_sampling`` is ``deform_conv2d(feat, offset, weight=1, stride 1, padding 0,
dilation 1, groups = deform_groups = channels)`` with a 1×1 kernel: each channel sampled
bilinearly at its own point, ``(y + offset[2c], x + offset[2c + 1])``, a corner outside the map
counting 0 (mmcv's ``deformable_im2col_bilinear``); "an equivalent implementation of bilinear
interpolation", as the head's code says. :func:`bilinear_at_offsets` is that formula."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor


def bilinear_at_offsets(feat: Tensor, offset: Tensor) -> Tensor:
    """``feat`` (B, C, H, W) sampled bilinearly at each pixel moved by ``offset`` (B, 2C, H, W: the
    rows' then the columns' shift of each channel), corners outside the map 0."""
    import torch

    b, c, h, w = feat.shape
    ys = torch.arange(h, dtype=feat.dtype, device=feat.device).view(1, 1, h, 1) + offset[:, 0::2]
    xs = torch.arange(w, dtype=feat.dtype, device=feat.device).view(1, 1, 1, w) + offset[:, 1::2]
    y0, x0 = ys.floor(), xs.floor()
    flat = feat.reshape(b, c, h * w)
    out = torch.zeros_like(feat)
    for dy, wy in ((0, 1 - (ys - y0)), (1, ys - y0)):
        for dx, wx in ((0, 1 - (xs - x0)), (1, xs - x0)):
            yi, xi = y0 + dy, x0 + dx
            inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
            index = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long().reshape(b, c, h * w)
            corner = flat.gather(2, index).view(b, c, h, w)
            out = out + corner * wy * wx * inside
    return out


def _tood_sampling(used: list[str]) -> Callable[[Any, Any], Any]:
    def deform_sampling(feat: Any, offset: Any) -> Any:
        note = "TOODHead's deform_sampling (a 1×1 deformable convolution of ones) computed as bilinear sampling"
        if note not in used:
            used.append(note)
        return bilinear_at_offsets(feat, offset)

    return deform_sampling


# head class -> its method that calls a compiled op, and what computes it in PyTorch
PURE: dict[str, tuple[str, Callable[[list[str]], Callable[..., Any]]]] = {
    "TOODHead": ("deform_sampling", _tood_sampling),
}


@contextlib.contextmanager
def pure_ops(model: Any) -> Iterator[list[str]]:
    """While inside, each submodule of ``model`` whose class has an entry in :data:`PURE` computes
    that method in PyTorch; yields the notes of those used."""
    used: list[str] = []
    patched = []
    for module in model.modules():
        entry = PURE.get(type(module).__name__)
        if entry is None:
            continue
        method, make = entry
        setattr(module, method, make(used))
        patched.append((module, method))
    try:
        yield used
    finally:
        for module, method in patched:
            delattr(module, method)
