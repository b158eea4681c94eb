"""Benchmark: wall time of ``losstune set`` on one config, as a user runs it.

It copies ``examples/`` to a temporary folder and runs ``losstune set loss_cls.gamma=V
retinanet_r50_fpn_1x_coco.py`` there 7 times in new processes (interpreter start, imports, resolve,
schema check, atomic write and the verifying reload all included), alternating V so that every run
writes. It prints the median against the 0.3 s target, and whether the command imports torch (a
stub torch is put on the path when torch is not installed, so that an import would still be seen).

Run from the repository root: ``python benchmarks/bench_set.py``.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from torch_check import cli_code, torch_imported  # noqa: E402

TARGET = 0.3
CONFIG = "retinanet_r50_fpn_1x_coco.py"


def main() -> int:
    work = Path(tempfile.mkdtemp())
    shutil.copytree(ROOT / "examples", work / "examples")
    cwd = work / "examples"
    times = []
    for i in range(7):
        cmd = [sys.executable, "-m", "losstune", "set", f"loss_cls.gamma={1.0 + 0.25 * (i % 2)}", CONFIG]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            print(f"set failed: {proc.stdout}{proc.stderr}")
            return 1
    median = statistics.median(times)
    print(
        f"losstune set on {CONFIG}: median {median * 1000:.0f} ms wall over {len(times)} runs "
        f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms)  "
        f"{'PASS' if median <= TARGET else 'FAIL'} (target <= {TARGET * 1000:.0f} ms)"
    )
    print(f"torch imported by set: {torch_imported(cli_code('set', 'loss_cls.gamma=1.75', CONFIG), cwd)}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if median <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
