"""Every loss of real MMDetection configs, evaluated by ``losstune eval`` on its sample inputs and
compared with MMDetection's own loss module called on the same inputs.

MMDetection is imported from its source as ``tests/engine/make_cases.py`` does (mmcv and other
heavy imports stood in for); nothing of it is needed by losstune itself. Usage, from the root::

    pip download --no-deps mmdet==3.3.0 -d /tmp/mmdet && unzip -q -o /tmp/mmdet/mmdet-3.3.0-*.whl -d /tmp/mmdet/src
    .venv/bin/python benchmarks/engine_corpus_check.py /tmp/mmdet/src /tmp/mmdet/src/mmdet/.mim/configs --configs 300

With ``--v2`` and MMDetection 2.28.2's source (see ``make_cases.py``), 2.x configs are evaluated as
2.x computes them and compared with 2.28.2's modules.

It prints how many losses were equal, differed, or could not be evaluated (and why), and lists
every difference.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "engine"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mmdet_src", help="folder holding MMDetection 3.3.0's mmdet package")
    parser.add_argument("configs", help="a tree of MMDetection configs")
    parser.add_argument("--configs", dest="count", type=int, default=300, help="how many configs (seeded sample)")
    parser.add_argument("--v2", action="store_true", help="mmdet_src holds MMDetection 2.28.2 (2.x configs)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import make_cases

    (make_cases.load_mmdet2_losses if args.v2 else make_cases.load_mmdet_losses)(args.mmdet_src)
    from losstune.config import load
    from losstune.engine.crosscheck import crosscheck
    from losstune.engine.inputs import InputError
    from losstune.engine.session import evaluate_config
    from losstune.engine.trace import UnsupportedLoss
    from losstune.model import ConfigError

    files = sorted(p for p in Path(args.configs).rglob("*.py") if "_base_" not in p.parts)
    random.Random(1).shuffle(files)
    files = files[: args.count]
    counts: collections.Counter[str] = collections.Counter()
    why_not: collections.Counter[str] = collections.Counter()
    differences = []
    start = time.perf_counter()
    for path in files:
        try:
            cfg = load(path)
        except ConfigError:
            counts["configs that do not load (as with mmengine)"] += 1
            continue
        for loss in cfg.losses():
            try:
                result = evaluate_config(cfg, ".".join(map(str, loss.path)))
            except (InputError, UnsupportedLoss) as e:
                counts["not evaluated"] += 1
                why_not[str(e)[:90]] += 1
                continue
            check = crosscheck(result.loss_cfg, result.trace.loss, result.args, result.kwargs, result.version)
            counts[{True: "equal", False: "different", None: "not compared"}[check.equal]] += 1
            if check.equal is not True:
                differences.append(f"{path}: {loss.key}: {check.detail}")
    print(f"{len(files)} configs in {time.perf_counter() - start:.0f} s")
    for name, n in counts.most_common():
        print(f"  {name}: {n}")
    for reason, n in why_not.most_common():
        print(f"    {n} x {reason}")
    for line in differences:
        print("  DIFFERENT", line)


if __name__ == "__main__":
    main()
