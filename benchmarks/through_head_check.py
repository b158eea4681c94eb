"""``--through-head`` over MMDetection 3.3.0's configs: for each, whether MMDetection's own head runs
on the CPU here (with mmcv-lite: or which compiled op it needs), whether losstune's five steps give
every loss module call's output, and whether the batch written by ``--save-batch``, replayed through
MMDetection's head, gives every term of the loss dict (rtol 1e-4). Needs mmdet 3.x (the dev extra).
Usage, from the root::

    .venv/bin/python benchmarks/through_head_check.py PATH/TO/mmdet/.mim/configs retinanet/retinanet_r50_fpn_1x_coco.py ...

Each line: the config, the head, the outcome, the seconds it took.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import losstune  # noqa: E402
from losstune.engine.realhead.batch import BatchSpec  # noqa: E402
from losstune.engine.realhead.replay import replay  # noqa: E402
from losstune.engine.realhead.run import HeadFailed, run_head  # noqa: E402


def check(path: Path, size: int, saved: str) -> str:
    """One config's outcome, in words."""
    try:
        run = run_head(losstune.load(path), BatchSpec(size=size), save=saved)
    except HeadFailed as e:
        return f"fails: {e}"
    except Exception as e:  # a config losstune cannot load, a save that cannot be written: said, the rest go on
        return f"error: {type(e).__name__}: {e}"
    steps = sum(c.equal is True for c in run.calls)
    ours = {t.name: t.value for t in run.terms} | {"loss": run.total}
    theirs = replay(saved)
    same = ours.keys() == theirs.keys() and all(abs(ours[k] - v) <= 1e-4 * abs(v) + 1e-7 for k, v in theirs.items())
    return (
        f"{run.head_type}: works; steps give {steps} of {len(run.calls)} calls; "
        f"{len(run.terms)} terms, replay {'equal' if same else 'DIFFERS'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", type=Path, help="MMDetection's configs folder")
    parser.add_argument("names", nargs="+", help="configs under it")
    parser.add_argument("--image-size", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names:
            start = time.perf_counter()
            outcome = check(args.configs / name, args.image_size, str(Path(tmp) / "batch.pt"))
            print(f"{name}: {outcome} ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
