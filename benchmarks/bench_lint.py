"""Benchmark: ``losstune lint`` against the time mmengine needs only to load the same configs.

What it measures, in one run:

* the tree of ``bench_load.py`` (about N generated child configs, default 1500, plus the examples
  they inherit from, under ``benchmarks/_tree/``) is linted with ``losstune.lint.run.lint`` (loading,
  every rule, suppressions), then the reference, ``mmengine.Config.fromfile``, loads every child
  config of the tree; the target is mmengine load / losstune lint >= 10x;
* the wall time of ``losstune lint examples/retinanet_r50_fpn_1x_coco.py`` as a user runs it (a new
  process: interpreter start and imports included), median of 7 runs; the target is <= 0.25 s;
* whether that command imports torch (a stub torch is put on the path when torch is not installed,
  so that an import would still be seen).

Run from the repository root: ``python benchmarks/bench_lint.py [--configs N] [--keep]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_load import EXAMPLE, ROOT, TREE, generate  # noqa: E402
from torch_check import cli_code, torch_imported  # noqa: E402

from losstune.lint.run import lint  # noqa: E402
from losstune.lint.settings import Settings  # noqa: E402
from losstune.schema.registry import load_schema  # noqa: E402

RATIO_TARGET = 10.0
WALL_TARGET = 0.25
LINT_ONE = [sys.executable, "-m", "losstune", "lint", EXAMPLE]


def one_file_wall(runs: int = 7) -> list[float]:
    """Wall seconds of each run of ``losstune lint`` on one example."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(LINT_ONE, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"lint of {EXAMPLE} failed: {proc.stdout}{proc.stderr}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=1500, help="number of child configs to generate")
    parser.add_argument("--keep", action="store_true", help="leave benchmarks/_tree/ in place afterwards")
    args = parser.parse_args()

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mmengine.config import Config

    paths = generate(args.configs)
    schema = load_schema()
    start = time.perf_counter()
    result = lint([str(TREE)], schema, Settings())
    t_lint = time.perf_counter() - start

    start = time.perf_counter()
    for p in paths:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Config.fromfile(str(p))
    t_mm = time.perf_counter() - start

    ratio = t_mm / t_lint
    n = len(result.configs)
    print(
        f"lint: {n} configs under {TREE.relative_to(ROOT)}/ in {t_lint:.3f} s ({t_lint / n * 1000:.3f} ms/config), "
        f"{result.errors} errors, {result.warnings} warnings"
    )
    print(
        f"mmengine Config.fromfile of the {len(paths)} children: {t_mm:.3f} s ({t_mm / len(paths) * 1000:.3f} ms/config)"
    )
    print(
        f"ratio mmengine load / losstune lint: {ratio:.1f}x  {'PASS' if ratio >= RATIO_TARGET else 'FAIL'} "
        f"(target >= {RATIO_TARGET:.0f}x)"
    )
    times = one_file_wall()
    median = statistics.median(times)
    print(
        f"losstune lint {EXAMPLE}: median {median * 1000:.0f} ms wall over {len(times)} runs "
        f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms)  "
        f"{'PASS' if median <= WALL_TARGET else 'FAIL'} (target <= {WALL_TARGET * 1000:.0f} ms)"
    )
    print(f"torch imported by lint of one file: {torch_imported(cli_code('lint', EXAMPLE), ROOT)}")
    if not args.keep:
        shutil.rmtree(TREE, ignore_errors=True)
    return 0 if ratio >= RATIO_TARGET and median <= WALL_TARGET and result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
