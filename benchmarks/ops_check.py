"""The PyTorch ports of mmcv's compiled NMS and RoIAlign (``losstune/engine/realhead/pureops.py``,
which the comparison of the head model with MMDetection's two-stage heads uses where mmcv-lite has
no compiled operators) held against torchvision's compiled ones, on many random inputs: ties of
scores, duplicate and zero-area boxes, empty inputs; RoIs at and beyond the map's border, RoIs
smaller than a bin and of zero size, several output sizes, scales and sampling ratios.

torchvision's ``nms`` is mmcv's ``nms_cpu`` (suppress when IoU > threshold, offset 0, descending
score order); its ``roi_align(aligned=True)`` is what mmcv's ``RoIAlign(use_torchvision=True)``
calls and the same loop as mmcv's ``ROIAlignForward`` with ``pool_mode='avg'``. ``batched_nms`` is
held against mmcv's formula (each class's boxes moved by ``class × (max coordinate + 1)``, then one
NMS). Needs torch and torchvision in the Python that runs it (not a dependency of losstune); where
torchvision is not importable it says so and compares nothing. Usage, from the root::

    python benchmarks/ops_check.py [--cases N] [--seed S]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="random cases of each kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
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
    nms = check_nms(torch, torchvision, ops, args.cases, args.seed)
    print("nms (torchvision.ops.nms; batched: torchvision.ops.batched_nms against mmcv's offset formula)")
    for kind, (n, same, boxes, stable) in nms.items():
        print(
            f"  {kind:11} {same:5} of {n:5} cases keep the same indices in the same order ({boxes} boxes); "
            f"given torchvision's stable order of ties, {stable} of {n}"
        )
    roi = check_roi_align(torch, torchvision, ops, args.cases, args.seed)
    print("roi_align (torchvision.ops.roi_align, aligned=True but in the last row)")
    for kind, (n, same, diff, top, rois) in roi.items():
        print(
            f"  {kind:11} {int(same):5} of {int(n):5} cases equal bit for bit; largest difference {diff:.3g} "
            f"(values up to {top:.3g}; {int(rois)} RoIs)"
        )
    # an aligned RoI of negative size: mmcv's compiled op refuses it (torchvision computes zeros)
    try:
        ops.roi_align_avg(torch.zeros(1, 1, 4, 4), torch.tensor([[0.0, 3, 3, 1, 1]]), (2, 2))
        print("an aligned RoI of negative size: computed (mmcv refuses it)")
    except ValueError:
        print("an aligned RoI of negative size: refused, as mmcv refuses it")
    print(f"{time.perf_counter() - began:.1f} s")
    total = sum(v[0] for v in nms.values()) + sum(v[0] for v in roi.values())
    equal = sum(v[3] for v in nms.values()) + sum(v[1] for v in roi.values())
    if equal != total:
        sys.exit(1)


if __name__ == "__main__":
    main()
