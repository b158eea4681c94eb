"""What the comparison with the head model (:mod:`versus`) computes in PyTorch where a head calls
one of mmcv's compiled operators, which mmcv-lite does not ship, in a form whose result is a plain
formula. Only the comparison uses it: ``--through-head`` runs MMDetection as it is and says which
operator it needs.

TOODHead's ``deform_sampling`` is ``deform_conv2d(feat, offset, weight=1, stride 1, padding 0,
dilation 1, groups = deform_groups = channels)`` with a 1×1 kernel: each channel sampled
bilinearly at its own point, ``(y + offset[2c], x + offset[2c + 1])``, a corner outside the map
counting 0 (mmcv's ``deformable_im2col_bilinear``); "an equivalent implementation of bilinear
interpolation", as the head's code says. :func:`bilinear_at_offsets` is that formula.

The two-stage heads call two more, through ``mmcv._ext`` (mmcv's ``nms``, ``batched_nms`` and
``RoIAlign`` are Python around them), which the stand-in of :mod:`ops` is given while inside
:func:`pure_ops`:

- ``ext_module.nms(boxes, scores, iou_threshold, offset)`` (mmcv's ``nms_cpu``): the boxes in
  descending order of score (``scores.sort(0, descending=True)``); walking that order, a box not
  yet suppressed is kept and suppresses each later one whose IoU with it is greater than the
  threshold, ``IoU = inter / (area_i + area_j - inter)``, ``inter = max(0, min(x2) - max(x1) +
  offset) · max(0, min(y2) - max(y1) + offset)``, ``area = (x2 - x1 + offset)(y2 - y1 + offset)``;
  the kept indices in that order. :func:`nms_indices`.
- ``ext_module.roi_align_forward`` (mmcv's ``ROIAlignForward``, ``pool_mode`` avg): an RoI
  ``(b, x1, y1, x2, y2)`` starts at ``x1 · scale - o`` (``o = 0.5`` when ``aligned``, else 0) and
  is ``w = x2 · scale - o - start`` wide (at least 1 when not aligned; an aligned RoI of negative
  size is refused, as mmcv refuses it), and likewise in y; each of the ``ph × pw`` bins averages
  ``gh × gw`` bilinear samples, ``gh = sampling_ratio`` or, at 0, ``ceil(h / ph)``, at ``y =
  start + p · bin + (i + 0.5) · bin / gh``, divided by ``max(gh · gw, 1)``. A sample with
  ``y < -1``, ``y > H``, ``x < -1`` or ``x > W`` is 0; otherwise ``y`` below 0 is 0, and at or
  beyond ``H - 1`` both rows are the last one. The samples' weights are a product of a weight in y
  and one in x, so each RoI is ``Wy · feat · Wxᵀ`` with ``Wy`` the bins' summed row weights:
  :func:`roi_align_avg`, equal to the compiled loop up to the order of the float sums. mmdet's
  ``BitmapMasks.crop_and_resize`` (the mask heads' targets) calls it through ``mmcv.ops.roi_align``."""

from __future__ import annotations

import contextlib
import sys
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


def nms_indices(boxes: Tensor, scores: Tensor, iou_threshold: float, offset: int = 0) -> Tensor:
    """The indices of ``boxes`` (N, 4: x1, y1, x2, y2) that non-maximum suppression keeps, in
    descending order of ``scores``, as mmcv's ``nms_cpu`` computes them (see the module). Every
    pair's IoU is computed as the compiled loop computes it (the kept box's area first), in blocks
    of rows; the walk along the order is then over an N × N table of booleans."""
    import numpy as np
    import torch

    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    order = scores.sort(0, descending=True)[1]
    x1, y1, x2, y2 = (boxes[order, k] for k in range(4))
    areas = (x2 - x1 + offset) * (y2 - y1 + offset)
    threshold = torch.tensor(float(iou_threshold), dtype=boxes.dtype)  # the op's float argument
    zero = torch.zeros((), dtype=boxes.dtype)
    n = order.numel()
    suppresses = np.zeros((n, n), dtype=bool)
    for first in range(0, n, 512):
        i = slice(first, first + 512)
        w = torch.minimum(x2[i, None], x2) - torch.maximum(x1[i, None], x1) + offset
        h = torch.minimum(y2[i, None], y2) - torch.maximum(y1[i, None], y1) + offset
        inter = torch.where(w > 0, w, zero) * torch.where(h > 0, h, zero)  # std::max(0.f, ·)
        # an IoU of NaN (0 / 0) suppresses nothing, as in the compiled loop
        suppresses[i] = (inter / (areas[i, None] + areas - inter) > threshold).cpu().numpy()
    removed = np.zeros(n, dtype=bool)
    kept = []
    for k in range(n):
        if not removed[k]:
            kept.append(k)
            removed |= suppresses[k]
    return order[torch.tensor(kept, dtype=torch.long, device=boxes.device)]


def _axis(start: Tensor, size: Tensor, pooled: int, grid: int, length: int) -> tuple[Tensor, ...]:
    """Along one axis of the map, for RoIs that all take ``grid`` samples a bin: each sample's
    lower and upper index and their weights (R, pooled, grid), as mmcv's
    ``pre_calc_for_bilinear_interpolate`` computes them, and whether it is inside ``[-1, length]``."""
    import torch

    dtype = start.dtype
    bin_size = (size / pooled)[:, None, None]
    p = torch.arange(pooled, dtype=dtype)[None, :, None]
    i = torch.arange(grid, dtype=dtype)[None, None, :]
    pos = start[:, None, None] + p * bin_size + (i + 0.5) * bin_size / grid
    inside = (pos >= -1) & (pos <= length)
    pos = torch.where(pos <= 0, torch.zeros((), dtype=dtype), pos)
    low = pos.long()
    last = low >= length - 1
    low = torch.where(last, torch.full_like(low, length - 1), low)
    pos = torch.where(last, low.to(dtype), pos)
    high = torch.where(last, low, low + 1)
    upper = pos - low.to(dtype)
    return low, high, 1.0 - upper, upper, inside


def roi_align_avg(
    feat: Tensor,
    rois: Tensor,
    output_size: tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 0,
    aligned: bool = True,
) -> Tensor:
    """mmcv's RoIAlign with ``pool_mode='avg'`` of ``feat`` (N, C, H, W) over ``rois`` (R, 5:
    image, x1, y1, x2, y2): (R, C, ph, pw), as the module says. The RoIs are taken in groups of
    the same samples per bin; each sample's value is ``w1·v1 + w2·v2 + w3·v3 + w4·v4`` and a bin's
    samples are summed row by row, as the compiled loop sums them."""
    import torch

    ph, pw = output_size
    n, c, height, width = feat.shape
    out = feat.new_zeros((rois.shape[0], c, ph, pw))
    if rois.shape[0] == 0:
        return out
    rois = rois.to(feat.dtype)
    scale = torch.tensor(float(spatial_scale), dtype=torch.float32).to(feat.dtype)  # the op's float argument
    o = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, k] * scale - o for k in range(1, 5))
    w, h = x2 - x1, y2 - y1
    if aligned and bool(((w < 0) | (h < 0)).any()):
        raise ValueError("ROIs in ROIAlign cannot have non-negative size!")  # mmcv's assertion, word for word
    if not aligned:
        w, h = w.clamp(min=1), h.clamp(min=1)
    if sampling_ratio > 0:
        gh = gw = torch.full((rois.shape[0],), sampling_ratio, dtype=torch.long)
    else:
        gh, gw = (h / ph).ceil().long(), (w / pw).ceil().long()
    pixels = feat.permute(0, 2, 3, 1).reshape(n * height * width, c)  # a row per pixel, channels last
    base = (rois[:, 0].long() * height * width)[:, None, None]  # the compiled op's int cast of the image
    for sy, sx in sorted(set(zip(gh.tolist(), gw.tolist(), strict=True))):
        group = ((gh == sy) & (gw == sx)).nonzero().squeeze(1)
        if sy <= 0 or sx <= 0:  # no sample: the bins stay 0
            continue
        for chunk in group.split(128):
            ylo, yhi, hy, ly, yin = _axis(y1[chunk], h[chunk], ph, sy, height)
            xlo, xhi, hx, lx, xin = _axis(x1[chunk], w[chunk], pw, sx, width)
            total = feat.new_zeros((chunk.numel(), ph, pw, c))
            for iy in range(sy):
                for ix in range(sx):
                    inside = yin[:, :, None, iy] & xin[:, None, :, ix]
                    w1, w2, w3, w4 = (
                        torch.where(inside, wy[:, :, None, iy] * wx[:, None, :, ix], 0.0)[..., None]
                        for wy in (hy, ly)
                        for wx in (hx, lx)
                    )
                    v1, v2, v3, v4 = (
                        pixels[base[chunk] + torch.where(inside, ys[:, :, None, iy] * width + xs[:, None, :, ix], 0)]
                        for ys in (ylo, yhi)
                        for xs in (xlo, xhi)
                    )
                    value = w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4  # in the compiled loop's order
                    total = total + value
            out[chunk] = total.permute(0, 3, 1, 2)
    count = (gh * gw).clamp(min=1).to(feat.dtype)
    return out / count[:, None, None, None]


def _note(used: list[str], note: str) -> None:
    if note not in used:
        used.append(note)


def _tood_sampling(used: list[str]) -> Callable[[Any, Any], Any]:
    def deform_sampling(feat: Any, offset: Any) -> Any:
        _note(used, "TOODHead's deform_sampling (a 1×1 deformable convolution of ones) computed as bilinear sampling")
        return bilinear_at_offsets(feat, offset)

    return deform_sampling


def _ext_nms(used: list[str]) -> Callable[..., Any]:
    def nms(boxes: Any, scores: Any, iou_threshold: float, offset: int = 0) -> Any:
        _note(used, "mmcv's nms (ext_module.nms) computed in PyTorch")
        return nms_indices(boxes, scores, iou_threshold, offset)

    return nms


def _ext_roi_align(used: list[str]) -> Callable[..., Any]:
    from losstune.engine.realhead.ops import CompiledOpMissing

    def roi_align_forward(
        feat: Any,
        rois: Any,
        output: Any,
        argmax_y: Any,
        argmax_x: Any,
        aligned_height: int,
        aligned_width: int,
        spatial_scale: float,
        sampling_ratio: int,
        pool_mode: int,
        aligned: bool,
    ) -> None:
        if pool_mode != 1:  # max pooling's argmax bookkeeping is not ported
            raise CompiledOpMissing("roi_align_forward")
        _note(used, "mmcv's RoIAlign (ext_module.roi_align_forward, avg) computed in PyTorch")
        output.copy_(roi_align_avg(feat, rois, (aligned_height, aligned_width), spatial_scale, sampling_ratio, aligned))

    return roi_align_forward


# head class -> its method that calls a compiled op, and what computes it in PyTorch
PURE: dict[str, tuple[str, Callable[[list[str]], Callable[..., Any]]]] = {
    "TOODHead": ("deform_sampling", _tood_sampling),
}
# a function of mmcv's compiled operators -> what computes it in PyTorch, with its arguments
PURE_EXT: dict[str, Callable[[list[str]], Callable[..., Any]]] = {
    "nms": _ext_nms,
    "roi_align_forward": _ext_roi_align,
}


@contextlib.contextmanager
def pure_ops(model: Any) -> Iterator[list[str]]:
    """While inside, each submodule of ``model`` whose class has an entry in :data:`PURE` computes
    that method in PyTorch, and where mmcv's compiled operators are the stand-in of :mod:`ops`,
    those of :data:`PURE_EXT` are computed in PyTorch; yields the notes of those used."""
    from losstune.engine.realhead.ops import EXT, is_stand_in

    used: list[str] = []
    patched = []
    for module in model.modules():
        entry = PURE.get(type(module).__name__)
        if entry is None:
            continue
        method, make = entry
        setattr(module, method, make(used))
        patched.append((module, method))
    ext = sys.modules.get(EXT)
    given = PURE_EXT if is_stand_in(ext) else {}
    for name, make in given.items():
        setattr(ext, name, make(used))
    try:
        yield used
    finally:
        for module, method in patched:
            delattr(module, method)
        for name in given:
            delattr(ext, name)
