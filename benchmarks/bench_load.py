"""Benchmark: how fast losstune resolves a tree of MMDetection configs, against mmengine.

What it measures, in one run:

* a tree of about N child configs (default 1500) is generated under ``benchmarks/_tree/`` (wiped and
  recreated each run, seeded, so identical from run to run): a copy of ``examples/`` (its ``_base_``
  tree and every top-level config, Python, YAML and JSON), plus children in several sub-folders, each
  a small variant of one example (gamma/alpha/loss_weight/num/pos_fraction/lr/max_epochs overrides,
  some ``_delete_=True`` loss swaps, some two-level chains child -> child);
* every child is loaded with ``losstune.load`` sharing one ``Resolver`` (bases are parsed once),
  then with ``losstune.load(path)`` alone (the process-wide cache, emptied first, keeps the bases),
  then with a fresh ``Resolver`` and a cache of its own per config (no cache), then with the
  reference, ``mmengine.Config.fromfile`` (stdout and warnings silenced), each timed with
  ``time.perf_counter``; the target is mmengine / losstune (cached) >= 10x;
* fidelity: for every 25th child, ``losstune.load(p).to_dict() == Config.fromfile(p).to_dict()``;
  any mismatch is printed and makes the script exit 1;
* the wall time of ``python -m losstune explain examples/retinanet_r50_fpn_1x_coco.py`` (median of
  5 runs), without and with the steps on sample tensors (which import torch) and whether ``losstune.load`` imports torch (a stub torch is put on the path when torch is
  not installed, so that an import would still be seen).

Run from the repository root: ``python benchmarks/bench_load.py [--configs N] [--keep]``
(``--keep`` leaves the generated tree in place afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import losstune  # noqa: E402
from losstune.loader import filecache  # noqa: E402
from losstune.loader.filecache import FileCache  # noqa: E402
from losstune.loader.resolve import Resolver  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_check import torch_imported  # noqa: E402

TREE = ROOT / "benchmarks" / "_tree"
EXAMPLE = "examples/retinanet_r50_fpn_1x_coco.py"
TARGET = 10.0
SUBDIRS = ("focal", "boxes", "sampling", "schedule", "mixed", "chains")

# parent (relative to the tree) -> family, which decides what a child of it may override
PARENTS: dict[str, str] = {
    "retinanet_r50_fpn_1x_coco.py": "retina",
    "retinanet_r50_fpn_gamma1.5_1x_coco.py": "retina",
    "retinanet_r50_fpn_giou_1x_coco.py": "retina",
    "yaml/retinanet_r50_fpn_1x_coco.yaml": "retina",
    "yaml/retinanet_r50_fpn_gamma2.5_1x_coco.yaml": "retina",
    "gfl_r50_fpn_1x_coco.py": "gfl",
    "json/gfl_r50_fpn_1x_coco.json": "gfl",
    "faster_rcnn_r50_fpn_1x_coco.py": "faster",
    "faster_rcnn_r50_fpn_classweight_1x_cityscapes.py": "faster",
    "json/faster_rcnn_r50_fpn_1x_coco.json": "faster",
    "cascade_rcnn_r50_fpn_1x_coco.py": "cascade",
}


def _model_override(family: str, rng: random.Random) -> str:
    """The ``model = dict(...)`` body of one variant."""
    w = round(rng.uniform(0.25, 3.0), 2)
    if family == "retina":
        cls = f"loss_cls=dict(gamma={round(rng.uniform(0.5, 3.0), 2)}, alpha={round(rng.uniform(0.1, 0.9), 2)})"
        if rng.random() < 0.3:
            box = f"loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight={w}), reg_decoded_bbox=True"
        else:
            box = f"loss_bbox=dict(loss_weight={w})"
        return f"bbox_head=dict({cls}, {box})"
    if family == "gfl":
        return (
            f"bbox_head=dict(loss_cls=dict(beta={round(rng.uniform(1.0, 3.0), 2)}), "
            f"loss_dfl=dict(loss_weight={round(rng.uniform(0.1, 1.0), 2)}), loss_bbox=dict(loss_weight={w}))"
        )
    sampler = f"sampler=dict(num={rng.choice((128, 256, 512))}, pos_fraction={rng.choice((0.25, 0.33, 0.5))})"
    if family == "cascade":  # the RoI heads and rcnn stages are lists: override the RPN only
        return f"rpn_head=dict(loss_bbox=dict(loss_weight={w})), train_cfg=dict(rpn=dict({sampler}))"
    if rng.random() < 0.3:
        box = f"loss_bbox=dict(_delete_=True, type='SmoothL1Loss', beta={round(rng.uniform(0.05, 1.0), 3)})"
    else:
        box = f"loss_bbox=dict(loss_weight={w})"
    return f"roi_head=dict(bbox_head=dict({box})), train_cfg=dict(rcnn=dict({sampler}))"


def generate(n: int, seed: int = 0) -> list[Path]:
    """Write the tree and return the child configs, in generation order."""
    shutil.rmtree(TREE, ignore_errors=True)
    shutil.copytree(ROOT / "examples", TREE, ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    rng = random.Random(seed)
    parents = sorted(PARENTS)
    children: list[tuple[Path, str]] = []
    for i in range(n):
        sub = SUBDIRS[i % len(SUBDIRS)]
        path = TREE / sub / f"child_{i:05d}.py"
        path.parent.mkdir(exist_ok=True)
        if children and rng.random() < 0.2:  # child -> child -> example
            parent_path, family = rng.choice(children[-200:])
            base = os.path.relpath(parent_path, path.parent)
            base = base if base.startswith("..") else f"./{base}"
        else:
            rel = parents[i % len(parents)]
            family = PARENTS[rel]
            base = f"../{rel}"
        lines = [f"_base_ = '{base}'", "", f"model = dict({_model_override(family, rng)})"]
        if rng.random() < 0.5:
            lr = rng.choice((0.005, 0.01, 0.02, 0.04))
            lines.append(f"optim_wrapper = dict(optimizer=dict(lr={lr}))")
        if rng.random() < 0.4:
            lines.append(f"train_cfg = dict(max_epochs={rng.choice((12, 24, 36))})")
        path.write_text("\n".join(lines) + "\n")
        children.append((path, family))
    return [p for p, _ in children]


def timed(paths: list[Path], load: Callable[[Path], Any]) -> tuple[float, list[str]]:
    """Total seconds to load every path, and the paths that failed (with the reason)."""
    failed: list[str] = []
    start = time.perf_counter()
    for p in paths:
        try:
            load(p)
        except Exception as exc:
            failed.append(f"{p.relative_to(TREE)}: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
    return time.perf_counter() - start, failed


def explain_timing(*extra: str) -> str:
    """Median wall time of the CLI's explain, or why it is not available."""
    cmd = [sys.executable, "-m", "losstune", "explain", EXAMPLE, *extra]
    times: list[float] = []
    for _ in range(5):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[0]
            return f"explain: not available ({first})"
    label = " ".join(("explain", *extra))
    return f"{label}: median {statistics.median(times) * 1000:.0f} ms over 5 runs (min {min(times) * 1000:.0f} ms)"


def torch_check() -> str:
    """Whether ``losstune.load`` imports torch."""
    code = f"import sys, losstune; losstune.load({EXAMPLE!r}); print('torch' in sys.modules)"
    return f"torch imported by losstune.load: {torch_imported(code, ROOT)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=1500, help="number of child configs to generate")
    parser.add_argument("--keep", action="store_true", help="leave benchmarks/_tree/ in place afterwards")
    args = parser.parse_args()

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mmengine.config import Config

    def mm_load(p: Path) -> Any:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Config.fromfile(str(p))

    paths = generate(args.configs)
    n = len(paths)
    texts = [p.read_text() for p in paths]
    chains = sum("child_" in t.splitlines()[0] for t in texts)
    deletes = sum("_delete_" in t for t in texts)
    filecache.PROCESS_CACHE.clear()
    shared = Resolver(files=FileCache())
    t_lt, f_lt = timed(paths, lambda p: losstune.load(p, resolver=shared))
    t_plain, f_plain = timed(paths, lambda p: losstune.load(p))
    t_fresh, f_fresh = timed(paths, lambda p: losstune.load(p, resolver=Resolver(files=FileCache())))
    t_mm, f_mm = timed(paths, mm_load)

    mismatches: list[str] = []
    sample = paths[::25]
    for p in sample:
        try:
            if losstune.load(p, resolver=shared).to_dict() != mm_load(p).to_dict():
                mismatches.append(f"{p.relative_to(TREE)}: to_dict() differs")
        except Exception as exc:
            mismatches.append(f"{p.relative_to(TREE)}: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")

    def per(t: float) -> str:
        return f"{t:7.3f} s total, {t / n * 1000:7.3f} ms/config"

    ratio, ratio_plain, ratio_fresh = t_mm / t_lt, t_mm / t_plain, t_mm / t_fresh
    print(
        f"configs: {n} children (+ {len(PARENTS)} example parents) under {TREE.relative_to(ROOT)}/; "
        f"{chains} inherit from another child, {deletes} use _delete_"
    )
    print(f"losstune (shared Resolver): {per(t_lt)}")
    print(f"losstune (load(path)):      {per(t_plain)}")
    print(f"losstune (no cache):        {per(t_fresh)}")
    print(f"mmengine Config.fromfile:   {per(t_mm)}")
    print(f"ratio mmengine/losstune (shared): {ratio:6.1f}x  {'PASS' if ratio >= TARGET else 'FAIL'} (target >= 10x)")
    print(f"ratio mmengine/losstune (load(path)): {ratio_plain:6.1f}x  (the process-wide cache)")
    print(f"ratio mmengine/losstune (no cache):   {ratio_fresh:6.1f}x  (for reference)")
    for name, failed in (
        ("losstune", f_lt),
        ("losstune load(path)", f_plain),
        ("losstune fresh", f_fresh),
        ("mmengine", f_mm),
    ):
        for line in failed[:5]:
            print(f"  {name} failed: {line}")
        if failed:
            print(f"{name}: {len(failed)} configs failed to load")
    print(f"fidelity: {len(sample) - len(mismatches)}/{len(sample)} sampled configs equal to mmengine")
    for line in mismatches:
        print(f"  MISMATCH {line}")
    print(explain_timing("--no-steps"))
    print(explain_timing("--steps"))
    print(torch_check())
    if not args.keep:
        shutil.rmtree(TREE, ignore_errors=True)
    return 1 if mismatches or f_lt or f_mm else 0


if __name__ == "__main__":
    sys.exit(main())
