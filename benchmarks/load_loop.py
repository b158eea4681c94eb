"""A fixed load loop to count instructions with callgrind: ``losstune.load(path)`` of every third
config of MMDetection 3.3.0's tree (outside ``_base_`` folders), each call on its own, with the
process-wide cache as users get it (empty at the start).

The program ends without the interpreter's teardown, so that what callgrind counts is the imports
and the loop; ``--imports-only`` stops before the loop, and the difference of the two counts is the
loop's:

    valgrind --tool=callgrind python benchmarks/load_loop.py
    valgrind --tool=callgrind python benchmarks/load_loop.py --imports-only

``--tree DIR`` names another tree, ``--every N`` takes every Nth config. ``--lint`` runs, in place
of the loop, ``lint`` of the whole tree in this one process (every rule, the custom imports' modules
read where an answer depends on them), so that its count less the ``--imports-only`` count (with
``--lint`` too: the lint's modules and the schema) is the lint's:

    valgrind --tool=callgrind python benchmarks/load_loop.py --lint
    valgrind --tool=callgrind python benchmarks/load_loop.py --lint --imports-only
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import losstune  # noqa: E402
from losstune.loader import filecache  # noqa: E402

DEFAULT_TREE = ROOT / ".projects" / "site3" / "mmdet" / ".mim" / "configs"  # benchmarks/fetch_projects.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(DEFAULT_TREE), help="a config tree (default: MMDetection 3.3.0's)")
    parser.add_argument("--every", type=int, default=3, help="take every Nth config (default 3)")
    parser.add_argument("--imports-only", action="store_true", help="stop before the loop")
    parser.add_argument("--lint", action="store_true", help="lint the whole tree in one process instead")
    args = parser.parse_args()
    if args.lint:
        from losstune.lint.run import lint
        from losstune.lint.settings import Settings
        from losstune.schema.registry import load_schema

        schema = load_schema()
        if not args.imports_only:
            lint([args.tree], schema, Settings(), jobs=1)
        sys.stdout.flush()
        os._exit(0)
    tree = Path(args.tree)
    paths = sorted(p for p in tree.rglob("*.py") if "_base_" not in p.relative_to(tree).parts)[:: args.every]
    if not args.imports_only:
        filecache.PROCESS_CACHE.clear()
        for p in paths:
            try:
                losstune.load(p, strict=False)
            except Exception:
                pass
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
