"""Benchmark: what the loader adds to Python's own parser on large generated files.

Each figure is a ratio against the reference it names, measured in the same run (best of 3,
process CPU time):

* interpreting 30,000 plain assignments on a budget of 10,000 steps (5,000 evaluated, the rest
  marked not evaluated) against ``ast.parse`` of the same text; target < 0.65;
* the compile check (``losstune.loader.pycompile.check``) of 20,000 literal assignments against
  ``ast.parse`` of the same text; target < 0.10 (compiling the whole module costs about a third
  of parsing it, and literal assignments are left out of it);
* ``losstune lint`` of a 3 MB file of 200,000 assignments, as a user runs it (wall time of one
  run), against ``ast.parse`` of that file in the same process.

Run from the repository root: ``python benchmarks/bench_interpreter.py``. Exits 1 when a target
is missed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from losstune.loader import pycompile, pysource
from losstune.loader.budget import Budget, Limits
from losstune.loader.pyeval import Interpreter
from losstune.loader.source import SourceText


def best(run: Callable[[], object], repeat: int = 3) -> float:
    """The least process CPU time of ``repeat`` runs of ``run``."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def assignments(n: int) -> str:
    return "".join(f"x{i} = {i}\n" for i in range(n))


def main() -> int:
    failed = False

    source = assignments(30_000)
    tree = ast.parse(source)
    parsing = best(lambda: ast.parse(source))
    interpreting = best(
        lambda: Interpreter(SourceText.plain("cfg.py", source), None, [], budget=Budget(Limits(steps=10_000))).run(tree)
    )
    ratio = interpreting / parsing
    failed |= ratio >= 0.65
    print(f"interpret 30,000 statements / ast.parse: {ratio:.2f}  (target < 0.65; {interpreting:.3f} s)")

    source = assignments(20_000)
    module, _ = pysource.parse(source)
    parsing = best(lambda: ast.parse(source))
    checking = best(lambda: pycompile.check(module, source, "cfg.py"))
    ratio = checking / parsing
    failed |= ratio >= 0.10
    print(f"compile check of 20,000 literal assignments / ast.parse: {ratio:.3f}  (target < 0.10)")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.py"
        path.write_text(assignments(200_000))
        text = path.read_text()
        parsing = best(lambda: ast.parse(text), repeat=1)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "losstune", "lint", str(path)], capture_output=True, check=False)
        linting = time.perf_counter() - start
        print(f"losstune lint of 200,000 statements / ast.parse: {linting / parsing:.2f}  ({linting:.2f} s wall)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
