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
  ``BitmapMasks.crop_and_resize`` (the mask heads' targets) calls it through ``mmcv.ops.roi_align``.
- ``ext_module.deform_conv_forward`` and ``modulated_deform_conv_forward`` (mmcv's
  ``DeformConv2d``, DCN, and ``ModulatedDeformConv2d``, DCNv2: the backbones' ``dcn``, VFNet,
  RepPoints, DDOD, Guided Anchoring, Cascade RPN, DyHead), as mmcv's CPU kernels
  (``deformable_im2col_cpu_kernel``, ``modulated_deformable_im2col_cpu_kernel``) compute them: the
  output pixel ``(y, x)`` samples kernel point ``(i, j)`` of channel ``c`` at ``(y·sh - ph + i·dh
  + Δy, x·sw - pw + j·dw + Δx)``, where ``Δy`` and ``Δx`` are the offset's channels ``2k`` and
  ``2k + 1`` (``k = i·kw + j``) of the channel's deformable group (``c`` over ``C /
  deform_groups``; a group's ``2·kh·kw`` channels follow the previous group's); the sample is 0
  unless ``-1 < y' < H`` and ``-1 < x' < W``, and bilinear otherwise, ``w1·v1 + w2·v2 + w3·v3 +
  w4·v4`` over the four pixels around it, a pixel outside the map counting 0; DCNv2 multiplies it by
  the mask's channel ``k`` of the group (the sigmoid ``ModulatedDeformConv2dPack`` takes). The
  samples, channel by channel and kernel point by kernel point, are the columns that the weight of
  each of the ``groups`` multiplies (``addmm``), and DCNv2's bias is added after.
  :func:`deform_conv`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor


def bilinear_at_offsets(feat: Tensor, offset: Tensor) -> Tensor:
    """``feat`` (B, C, H, W) sampled bilinearly at each pixel moved by ``offset`` (B, 2C, H, W: the
    rows' then the columns' shift of each channel), corners outside the map 0: TOODHead's
    ``deform_sampling``, a 1×1 :func:`deform_conv` of ones with a group per channel."""
    import torch

    c = feat.shape[1]
    return deform_conv(
        feat, offset, torch.ones((c, 1, 1, 1), dtype=feat.dtype, device=feat.device), groups=c, deform_groups=c
    )


def _deform_columns(
    feat: Tensor,
    offset: Tensor,
    mask: Tensor | None,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    deform_groups: int,
) -> Tensor:
    """The im2col columns (B, C·kh·kw, Ho·Wo) of mmcv's deformable convolution: each channel's
    bilinear samples at its kernel points moved by its group's offsets, times the mask (see the
    module), a row per channel and kernel point (channel-major)."""
    import torch

    b, c, h, w = feat.shape
    kh, kw = kernel
    ho, wo = offset.shape[2], offset.shape[3]
    k = kh * kw
    dtype, device = feat.dtype, feat.device
    off = offset.reshape(b, deform_groups, k, 2, ho, wo)
    ki = torch.arange(kh, device=device).repeat_interleave(kw) * dilation[0]  # kernel point k's row, as i·dh
    kj = torch.arange(kw, device=device).repeat(kh) * dilation[1]
    rows = torch.arange(ho, device=device) * stride[0] - padding[0]
    cols = torch.arange(wo, device=device) * stride[1] - padding[1]
    # the integer position converted once, then the offset added: the kernel's one float sum
    ys = (ki[:, None, None] + rows[None, :, None]).to(dtype) + off[:, :, :, 0]  # (B, G, k, Ho, Wo)
    xs = (kj[:, None, None] + cols[None, None, :]).to(dtype) + off[:, :, :, 1]
    inside = (ys > -1) & (xs > -1) & (ys < h) & (xs < w)
    y0, x0 = ys.floor(), xs.floor()
    ly, lx = ys - y0, xs - x0
    hy, hx = 1 - ly, 1 - lx
    y0i, x0i = y0.long(), x0.long()
    flat = feat.reshape(b, deform_groups, c // deform_groups, h * w)
    zero = torch.zeros((), dtype=dtype, device=device)
    value = None
    for wgt, yi, xi in (
        (hy * hx, y0i, x0i),
        (hy * lx, y0i, x0i + 1),
        (ly * hx, y0i + 1, x0i),
        (ly * lx, y0i + 1, x0i + 1),
    ):
        there = inside & (yi >= 0) & (yi <= h - 1) & (xi >= 0) & (xi <= w - 1)
        index = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).reshape(b, deform_groups, 1, k * ho * wo)
        pixel = flat.gather(3, index.expand(-1, -1, flat.shape[2], -1)).view(b, deform_groups, -1, k, ho, wo)
        term = wgt[:, :, None] * torch.where(there[:, :, None], pixel, zero)
        value = term if value is None else value + term  # w1·v1 + w2·v2 + w3·v3 + w4·v4, in that order
    assert value is not None
    value = torch.where(inside[:, :, None], value, zero)
    if mask is not None:
        value = value * mask.reshape(b, deform_groups, 1, k, ho, wo)
    return value.reshape(b, c * k, ho * wo)


def deform_conv(
    feat: Tensor,
    offset: Tensor,
    weight: Tensor,
    mask: Tensor | None = None,
    bias: Tensor | None = None,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
    deform_groups: int = 1,
    im2col_step: int = 1,
) -> Tensor:
    """mmcv's deformable convolution of ``feat`` (B, C, H, W) with ``weight`` (O, C / groups, kh,
    kw): ``offset`` (B, deform_groups · 2·kh·kw, Ho, Wo), DCNv2's ``mask`` (B, deform_groups ·
    kh·kw, Ho, Wo) and ``bias`` (O) where given; (B, O, Ho, Wo), as the module says. The columns
    of ``im2col_step`` images side by side are multiplied at once, as mmcv's loop multiplies them
    (DCN's ``im2col_step``; DCNv2 one image at a time), so that the sums are the same products."""
    import torch

    b = feat.shape[0]
    o, _, kh, kw = weight.shape
    ho = (feat.shape[2] + 2 * padding[0] - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
    wo = (feat.shape[3] + 2 * padding[1] - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
    if tuple(offset.shape) != (b, deform_groups * 2 * kh * kw, ho, wo) or b % im2col_step:
        raise ValueError(f"offset of shape {tuple(offset.shape)}: expected {(b, deform_groups * 2 * kh * kw, ho, wo)}")
    columns = _deform_columns(feat, offset, mask, (kh, kw), stride, padding, dilation, deform_groups)
    step = im2col_step
    # (B / step, groups, C·k / groups, step·L): a block's images side by side in each row
    blocks = (
        columns.view(b // step, step, groups, -1, ho * wo)
        .permute(0, 2, 3, 1, 4)
        .reshape(b // step, groups, -1, step * ho * wo)
    )
    weights = weight.reshape(groups, o // groups, -1)
    out = torch.stack([torch.stack([weights[g].mm(block[g]) for g in range(groups)]) for block in blocks])
    out = out.view(b // step, o, step, ho, wo).transpose(1, 2).reshape(b, o, ho, wo)
    if bias is not None:
        out = out + bias.view(1, o, 1, 1)
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


def _ext_deform_conv(used: list[str]) -> Callable[..., Any]:
    def deform_conv_forward(
        feat: Any, weight: Any, offset: Any, output: Any, columns: Any, ones: Any, **kw: int
    ) -> None:
        _note(used, "mmcv's DeformConv2d (ext_module.deform_conv_forward) computed in PyTorch")
        output.copy_(
            deform_conv(
                feat,
                offset,
                weight,
                stride=(kw["dH"], kw["dW"]),
                padding=(kw["padH"], kw["padW"]),
                dilation=(kw["dilationH"], kw["dilationW"]),
                groups=kw["group"],
                deform_groups=kw["deformable_group"],
                im2col_step=kw["im2col_step"],
            ).view_as(output)
        )

    return deform_conv_forward


def as_kernel_reads(t: Tensor, channels: int, height: int, width: int) -> Tensor:
    """``t`` as mmcv's modulated im2col kernel reads it: each image's ``channels × height × width``
    values from the image's first one on, in memory order, whatever ``t``'s own shape. The
    compiled op checks neither the offset's nor the mask's size, and DyHead hands a convolution of
    the next, coarser level the offsets and masks of the middle one (``spatial_conv_high``)."""
    return t.as_strided((t.shape[0], channels, height, width), (t.stride(0), height * width, width, 1))


def _ext_modulated_deform_conv(used: list[str]) -> Callable[..., Any]:
    def modulated_deform_conv_forward(
        feat: Any, weight: Any, bias: Any, ones: Any, offset: Any, mask: Any, output: Any, columns: Any, **kw: Any
    ) -> None:
        _note(used, "mmcv's ModulatedDeformConv2d (ext_module.modulated_deform_conv_forward) computed in PyTorch")
        k, ho, wo = kw["kernel_h"] * kw["kernel_w"] * kw["deformable_group"], output.shape[2], output.shape[3]
        output.copy_(
            deform_conv(
                feat,
                as_kernel_reads(offset, 2 * k, ho, wo),
                weight,
                as_kernel_reads(mask, k, ho, wo),
                bias if kw["with_bias"] else None,
                stride=(kw["stride_h"], kw["stride_w"]),
                padding=(kw["pad_h"], kw["pad_w"]),
                dilation=(kw["dilation_h"], kw["dilation_w"]),
                groups=kw["group"],
                deform_groups=kw["deformable_group"],
            ).view_as(output)
        )

    return modulated_deform_conv_forward


# head class -> its method that calls a compiled op, and what computes it in PyTorch
PURE: dict[str, tuple[str, Callable[[list[str]], Callable[..., Any]]]] = {
    "TOODHead": ("deform_sampling", _tood_sampling),
}
# a function of mmcv's compiled operators -> what computes it in PyTorch, with its arguments
PURE_EXT: dict[str, Callable[[list[str]], Callable[..., Any]]] = {
    "nms": _ext_nms,
    "roi_align_forward": _ext_roi_align,
    "deform_conv_forward": _ext_deform_conv,
    "modulated_deform_conv_forward": _ext_modulated_deform_conv,
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
