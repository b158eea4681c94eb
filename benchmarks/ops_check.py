"""The PyTorch ports of mmcv's compiled NMS, RoIAlign and deformable convolutions
(``losstune/engine/realhead/pureops.py``, which the comparison of the head model with MMDetection's
heads uses where mmcv-lite has no compiled operators) held against torchvision's compiled ones, on
many random inputs: ties of scores, duplicate and zero-area boxes, empty inputs; RoIs at and beyond
the map's border, RoIs smaller than a bin and of zero size, several output sizes, scales and
sampling ratios; kernels, strides, paddings, dilations, groups and deformable groups, offsets that
leave the map, with and without DCNv2's mask and bias.

torchvision's ``nms`` is mmcv's ``nms_cpu`` (suppress when IoU > threshold, offset 0, descending
score order); its ``roi_align(aligned=True)`` is what mmcv's ``RoIAlign(use_torchvision=True)``
calls and the same loop as mmcv's ``ROIAlignForward`` with ``pool_mode='avg'``. ``batched_nms`` is
held against mmcv's formula (each class's boxes moved by ``class × (max coordinate + 1)``, then one
NMS). ``deform_conv`` is held against ``torchvision.ops.deform_conv2d`` (mmcv's offset layout, its
rule of 0 outside ``(-1, H) × (-1, W)`` and its bilinear weights, as mmcv's own MLU build of DCNv2
calls it) and against a formula written otherwise: each sample a sum over every pixel of the
channel with the tent weights ``max(0, 1 - |y - i|) · max(0, 1 - |x - j|)``, the convolution an
``einsum``. Needs torch and torchvision in the Python that runs it (not a dependency of losstune); where
torchvision is not importable it says so and compares nothing. Usage, from the root::

    python benchmarks/ops_check.py [--cases N] [--seed S] [--only nms,roi_align,deform_conv]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _pureops() -> ModuleType:
    """The ports' module by its file, so that nothing else of losstune is needed."""
    path = ROOT / "losstune" / "engine" / "realhead" / "pureops.py"
    spec = importlib.util.spec_from_file_location("pureops", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _boxes(torch: Any, g: Any, n: int, span: float, kind: str) -> tuple[Any, Any]:
    """``n`` boxes in a square of ``span`` and their scores; ``kind``: ``plain``, ``ties`` (scores
    of one decimal), ``duplicates`` (every box twice or more, scores tied too), ``degenerate``
    (zero-area and flipped boxes among them)."""
    xy = torch.rand(n, 2, generator=g) * span
    wh = torch.rand(n, 2, generator=g) * span * 0.3
    boxes = torch.cat([xy, xy + wh], 1)
    scores = torch.rand(n, generator=g)
    if kind == "ties":
        scores = (scores * 10).round() / 10
    elif kind == "duplicates" and n:
        pick = torch.randint(0, max(n // 3, 1), (n,), generator=g)
        boxes, scores = boxes[pick], (scores[pick] * 4).round() / 4
    elif kind == "degenerate" and n:
        flat = torch.rand(n, generator=g) < 0.3
        boxes[flat, 2] = boxes[flat, 0]
        flipped = torch.rand(n, generator=g) < 0.1
        boxes[flipped] = boxes[flipped][:, [2, 3, 0, 1]]
    return boxes, scores


def check_nms(torch: Any, tv: Any, ops: ModuleType, cases: int, seed: int) -> dict[str, list[int]]:
    """Per kind of input: [cases, cases whose kept indices equal torchvision's, boxes seen, cases
    equal to torchvision's given its (stable) order of tied scores]."""
    g = torch.Generator().manual_seed(seed)
    out: dict[str, list[int]] = {}
    for kind in ("plain", "ties", "duplicates", "degenerate", "batched"):
        row = out.setdefault(kind, [0, 0, 0, 0])
        for case in range(cases):
            n = (0, 1, 2, 7, 50, 300, 2000)[case % 7]
            span = (16.0, 128.0, 1333.0)[case % 3]
            thr = (0.3, 0.5, 0.7, 0.9, 0.0, 1.0)[case % 6]
            boxes, scores = _boxes(torch, g, n, span, "plain" if kind == "batched" else kind)
            if kind == "batched":
                labels = torch.randint(0, 1 + case % 5, (n,), generator=g)
                # mmcv's batched_nms: boxes of each class moved apart, then one nms
                moved = boxes + (labels.to(boxes) * (boxes.max() + torch.tensor(1).to(boxes)))[:, None] if n else boxes
                theirs = tv.ops.batched_nms(boxes, scores, labels, thr)
            else:
                moved = boxes
                theirs = tv.ops.nms(boxes, scores, thr)
            row[0] += 1
            row[1] += bool(torch.equal(ops.nms_indices(moved, scores, thr), theirs))
            row[2] += n
            # torchvision sorts the scores stably, mmcv (and the port, with the same call) as
            # torch's default sort leaves ties: given torchvision's order, the suppression alike
            stable = scores.sort(stable=True, descending=True)[1]
            ranked = ops.nms_indices(moved[stable], -torch.arange(n, dtype=scores.dtype), thr)
            row[3] += bool(torch.equal(stable[ranked], theirs))
    return out


def _rois(torch: Any, g: Any, n: int, images: int, h: int, w: int, scale: float, kind: str) -> Any:
    """``n`` RoIs in image coordinates over maps of ``h × w`` at ``scale``: ``inside`` the image,
    ``border`` (reaching to and beyond its edges, some wholly outside), ``tiny`` (smaller than a
    bin, some of zero size), ``large`` (several times the image)."""
    side_h, side_w = h / scale, w / scale
    x1 = torch.rand(n, generator=g) * side_w
    y1 = torch.rand(n, generator=g) * side_h
    if kind == "inside":
        bw, bh = torch.rand(n, generator=g) * (side_w - x1), torch.rand(n, generator=g) * (side_h - y1)
    elif kind == "border":
        x1 = x1 * 1.6 - 0.3 * side_w
        y1 = y1 * 1.6 - 0.3 * side_h
        bw, bh = torch.rand(n, generator=g) * side_w, torch.rand(n, generator=g) * side_h
    elif kind == "tiny":
        bw, bh = torch.rand(n, generator=g) * 2 / scale, torch.rand(n, generator=g) * 2 / scale
        zero = torch.rand(n, generator=g) < 0.2
        bw[zero] = 0.0
    else:
        x1, y1 = x1 - side_w, y1 - side_h
        bw, bh = torch.rand(n, generator=g) * 3 * side_w, torch.rand(n, generator=g) * 3 * side_h
    index = torch.randint(0, images, (n,), generator=g).to(x1)
    return torch.stack([index, x1, y1, x1 + bw, y1 + bh], 1)


def check_roi_align(torch: Any, tv: Any, ops: ModuleType, cases: int, seed: int) -> dict[str, list[float]]:
    """Per kind of RoI: [cases, cases equal to torchvision's bit for bit, largest absolute
    difference, largest value, RoIs seen]."""
    g = torch.Generator().manual_seed(seed + 1)
    out: dict[str, list[float]] = {}
    for kind in ("inside", "border", "tiny", "large", "masks", "unaligned"):
        row = out.setdefault(kind, [0, 0, 0.0, 0.0, 0])
        for case in range(cases):
            images = 1 + case % 3
            h, w = int(torch.randint(3, 48, (), generator=g)), int(torch.randint(3, 48, (), generator=g))
            c = (1, 4, 16)[case % 3]
            scale = (1.0, 0.25, 0.125, 1 / 32)[case % 4]
            size = ((7, 7), (14, 14), (3, 5), (1, 1), (28, 28))[case % 5]
            ratio = (0, 0, 2, 1)[case % 4]
            n = (0, 1, 5, 40)[case % 4]
            if kind == "masks":  # BitmapMasks.crop_and_resize: 0/1 masks, RoI i on mask i, scale 1
                feat = (torch.rand(max(n, 1), 1, h, w, generator=g) > 0.5).float()
                rois = _rois(torch, g, n, 1, h, w, 1.0, "border")
                rois[:, 0] = torch.arange(n).to(rois)
                scale, ratio, size = 1.0, 0, (28, 28)
            else:  # unaligned: mmcv's aligned=False (an RoI at least 1 × 1), on RoIs across the border
                feat = torch.randn(images, c, h, w, generator=g)
                rois = _rois(torch, g, n, images, h, w, scale, "border" if kind == "unaligned" else kind)
            aligned = kind != "unaligned"
            ours = ops.roi_align_avg(feat, rois, size, scale, ratio, aligned)
            theirs = tv.ops.roi_align(feat, rois, size, scale, ratio, aligned)
            row[0] += 1
            row[1] += bool(torch.equal(ours, theirs))
            if ours.numel():
                row[2] = max(row[2], float((ours - theirs).abs().max()))
                row[3] = max(row[3], float(theirs.abs().max()))
            row[4] += n
    return out


def tent_deform_conv(
    torch: Any, feat: Any, offset: Any, weight: Any, mask: Any, bias: Any, conv: dict[str, Any]
) -> Any:
    """The deformable convolution written from its definition, another way than the port: a sample
    at ``(y, x)`` is ``Σ_ij max(0, 1 - |y - i|) · max(0, 1 - |x - j|) · feat[i, j]`` where
    ``-1 < y < H`` and ``-1 < x < W``, else 0; the output the weights' sum over the channels of the
    group and the kernel points (in float64)."""
    feat, offset, weight = feat.double(), offset.double(), weight.double()
    b, c, h, w = feat.shape
    o, cg, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = conv["stride"], conv["padding"], conv["dilation"]
    groups, dg = conv["groups"], conv["deform_groups"]
    ho, wo = offset.shape[2:]
    k = kh * kw
    off = offset.view(b, dg, k, 2, ho, wo)
    i = torch.tensor([a * dh for a in range(kh) for _ in range(kw)], dtype=torch.float64)
    j = torch.tensor([a * dw for _ in range(kh) for a in range(kw)], dtype=torch.float64)
    # the positions as the op's float type holds them (the integer position plus the offset)
    ys = (i.view(1, 1, k, 1, 1) + (torch.arange(ho) * sh - ph).double().view(1, 1, 1, ho, 1)).float() + off[
        :, :, :, 0
    ].float()
    xs = (j.view(1, 1, k, 1, 1) + (torch.arange(wo) * sw - pw).double().view(1, 1, 1, 1, wo)).float() + off[
        :, :, :, 1
    ].float()
    ys, xs = ys.double(), xs.double()
    ty = (1 - (ys[..., None] - torch.arange(h).double()).abs()).clamp(min=0)  # (B, G, k, Ho, Wo, H)
    tx = (1 - (xs[..., None] - torch.arange(w).double()).abs()).clamp(min=0)
    inside = ((ys > -1) & (ys < h) & (xs > -1) & (xs < w)).double()
    samples = torch.einsum("bgkyxh,bgkyxw,bgchw->bgckyx", ty, tx, feat.view(b, dg, c // dg, h, w))
    samples = samples * inside[:, :, None]
    if mask is not None:
        samples = samples * mask.double().view(b, dg, 1, k, ho, wo)
    cols = samples.reshape(b, groups, cg, kh, kw, ho, wo)
    out = torch.einsum("gocij,bgcijyx->bgoyx", weight.view(groups, o // groups, cg, kh, kw), cols).reshape(b, o, ho, wo)
    return out if bias is None else out + bias.double().view(1, o, 1, 1)


def check_deform_conv(torch: Any, tv: Any, ops: ModuleType, cases: int, seed: int) -> dict[str, list[float]]:
    """Per kind of convolution: [cases, cases equal to torchvision's bit for bit, largest absolute
    difference from it, largest relative difference from the tent formula, largest value]."""
    g = torch.Generator().manual_seed(seed + 2)
    out: dict[str, list[float]] = {}
    for kind in ("dcn", "dcnv2", "far", "grouped", "tood"):
        row = out.setdefault(kind, [0, 0, 0.0, 0.0, 0.0])
        for case in range(cases):
            b = 1 + case % 2
            kh, kw = ((3, 3), (1, 1), (3, 1), (5, 5))[case % 4]
            groups, dg = ((1, 1), (1, 2), (2, 1), (2, 4))[case % 4] if kind == "grouped" else (1, 1)
            c = (1 + case % 3) * math.lcm(groups, dg)
            o = groups * (1 + case % 4)
            if kind == "tood":  # TOODHead's deform_sampling: a 1×1 kernel of ones, a group per channel
                kh = kw = 1
                c = o = groups = dg = 1 + case % 5
            h, w = int(torch.randint(1, 20, (), generator=g)), int(torch.randint(1, 20, (), generator=g))
            stride = ((1, 1), (2, 2), (1, 2))[case % 3] if kind != "tood" else (1, 1)
            padding = ((kh // 2, kw // 2), (0, 0), (1, 2))[case % 3] if kind != "tood" else (0, 0)
            dilation = ((1, 1), (2, 1), (1, 1))[case % 3] if kind != "tood" else (1, 1)
            ho = (h + 2 * padding[0] - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
            wo = (w + 2 * padding[1] - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
            if ho <= 0 or wo <= 0:
                continue
            feat = torch.randn(b, c, h, w, generator=g)
            spread = 8.0 if kind == "far" else 1.5
            offset = torch.randn(b, dg * 2 * kh * kw, ho, wo, generator=g) * spread
            if case % 5 == 0:  # offsets of whole and half pixels: samples on and between the pixels
                offset = (offset * 2).round() / 2
            weight = torch.ones(o, 1, 1, 1) if kind == "tood" else torch.randn(o, c // groups, kh, kw, generator=g)
            mask = torch.rand(b, dg * kh * kw, ho, wo, generator=g) if kind == "dcnv2" else None
            bias = torch.randn(o, generator=g) if kind == "dcnv2" else None
            conv = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, deform_groups=dg)
            # DCN multiplies the batch's columns at once (im2col_step 32), DCNv2 an image at a time
            ours = ops.deform_conv(feat, offset, weight, mask, bias, **conv, im2col_step=1 if kind == "dcnv2" else b)
            theirs = tv.ops.deform_conv2d(feat, offset, weight, bias, stride, padding, dilation, mask)
            formula = tent_deform_conv(torch, feat, offset, weight, mask, bias, conv)
            row[0] += 1
            row[1] += bool(torch.equal(ours, theirs))
            row[2] = max(row[2], float((ours - theirs).abs().max()))
            row[3] = max(row[3], float(((ours.double() - formula).abs() / formula.abs().clamp(min=1)).max()))
            row[4] = max(row[4], float(theirs.abs().max()))
    return out


def _report(title: str, rows: dict[str, list[Any]], line: Callable[..., str]) -> None:
    """A check's title and a line per kind of input, ``line`` of its row (nothing where not run)."""
    if rows:
        print(title)
    for kind, row in rows.items():
        print(f"  {kind:11} {line(*row)}")


def _equal(n: float, same: float, diff: float, top: float) -> str:
    return f"{int(same):5} of {int(n):5} cases equal bit for bit; largest difference {diff:.3g} (values up to {top:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="random cases of each kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="nms,roi_align,deform_conv", help="comma-separated ops to check")
    args = parser.parse_args()
    only = set(args.only.split(","))
    try:
        import torch
        import torchvision
    except ImportError as e:
        print(
            f"torchvision is not importable here ({e}): nothing to compare the ports with; run this with a Python that has torch and torchvision"
        )
        return
    torch.set_num_threads(1)
    ops = _pureops()
    print(
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, {args.cases} cases of each kind, seed {args.seed}"
    )
    began = time.perf_counter()
    nms = check_nms(torch, torchvision, ops, args.cases, args.seed) if "nms" in only else {}
    _report(
        "nms (torchvision.ops.nms; batched: torchvision.ops.batched_nms against mmcv's offset formula)",
        nms,
        lambda n, same, boxes, stable: (
            f"{same:5} of {n:5} cases keep the same indices in the same order ({boxes} boxes); "
            f"given torchvision's stable order of ties, {stable} of {n}"
        ),
    )
    roi = check_roi_align(torch, torchvision, ops, args.cases, args.seed) if "roi_align" in only else {}
    _report(
        "roi_align (torchvision.ops.roi_align, aligned=True but in the last row)",
        roi,
        lambda n, same, diff, top, rois: f"{_equal(n, same, diff, top)}; {int(rois)} RoIs)",
    )
    if roi:  # an aligned RoI of negative size: mmcv's compiled op refuses it (torchvision computes zeros)
        try:
            ops.roi_align_avg(torch.zeros(1, 1, 4, 4), torch.tensor([[0.0, 3, 3, 1, 1]]), (2, 2))
            print("an aligned RoI of negative size: computed (mmcv refuses it)")
        except ValueError:
            print("an aligned RoI of negative size: refused, as mmcv refuses it")
    dcn = check_deform_conv(torch, torchvision, ops, args.cases, args.seed) if "deform_conv" in only else {}
    _report(
        "deform_conv (torchvision.ops.deform_conv2d; the tent formula in float64, relative to max(|value|, 1))",
        dcn,
        lambda n, same, diff, rel, top: f"{_equal(n, same, diff, top)}); from the formula {rel:.3g}",
    )
    print(f"{time.perf_counter() - began:.1f} s")
    total = sum(v[0] for v in nms.values()) + sum(v[0] for v in roi.values())
    equal = sum(v[3] for v in nms.values()) + sum(v[1] for v in roi.values())
    if equal != total or any(v[3] > 1e-5 for v in dcn.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
