"""Benchmark: the traced evaluation of a RetinaNet-sized focal loss against the plain computation.

A dense head's classification loss over 100,000 priors and 80 classes (the size of RetinaNet's
loss_cls on one image) is computed, in the same run and on the same tensors:

* plain: sigmoid focal loss written directly with torch, reduced by avg_factor (the reference);
* traced: ``losstune.evaluate`` of ``FocalLoss``, every step recorded, and the statistics of every
  step computed (what ``losstune eval`` shows).

It prints the median of 7 runs of each, their ratio against the 2x target, the two results (which
must agree), and the peak memory of each, measured in a separate process (maximum resident set).

Run from the repository root: ``python benchmarks/bench_eval.py``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from losstune import evaluate

PRIORS, CLASSES, TARGET = 100_000, 80, 2.0
CFG = {"type": "FocalLoss", "gamma": 2.0, "alpha": 0.25}


def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(PRIORS, CLASSES, generator=g)
    labels = torch.full((PRIORS,), CLASSES, dtype=torch.long)
    pos = torch.randperm(PRIORS, generator=g)[:1000]
    labels[pos] = torch.randint(0, CLASSES, (1000,), generator=g)
    weights = torch.ones(PRIORS)
    return pred, labels, weights, 1000.0


def plain(pred: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, avg: float) -> torch.Tensor:
    target = F.one_hot(labels, CLASSES + 1)[:, :CLASSES].type_as(pred)
    p = pred.sigmoid()
    pt = (1 - p) * target + p * (1 - target)
    focal = (0.25 * target + 0.75 * (1 - target)) * pt.pow(2.0)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal * weights.view(-1, 1)
    return loss.sum() / (avg + torch.finfo(torch.float32).eps)


def traced(pred: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, avg: float) -> torch.Tensor:
    trace = evaluate(CFG, pred, labels, weights, avg_factor=avg)
    for step in trace.steps:
        step.summary()
    return trace.loss


def timed(fn, args) -> tuple[float, torch.Tensor]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(7):
        start = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def peak_memory(which: str) -> float:
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
        f"import bench_eval as b, resource; a = b.inputs(); b.{which}(*a); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    args = inputs()
    t_plain, v_plain = timed(plain, args)
    t_traced, v_traced = timed(traced, args)
    ratio = t_traced / t_plain
    same = torch.allclose(v_plain, v_traced, rtol=1e-5)
    print(
        f"RetinaNet-sized FocalLoss: {PRIORS:,} priors x {CLASSES} classes, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"plain computation: median {t_plain * 1000:.1f} ms over 7 runs, loss {v_plain.item():.6f}")
    print(
        f"traced evaluation: median {t_traced * 1000:.1f} ms over 7 runs, loss {v_traced.item():.6f} "
        f"({'equal' if same else 'DIFFERENT'})"
    )
    print(
        f"ratio traced / plain: {ratio:.2f}x  {'PASS' if ratio <= TARGET and same else 'FAIL'} (target <= {TARGET:.0f}x)"
    )
    print(
        f"peak memory (max resident set): plain {peak_memory('plain'):.0f} MiB, traced {peak_memory('traced'):.0f} MiB"
    )
    return 0 if ratio <= TARGET and same else 1


if __name__ == "__main__":
    sys.exit(main())
