"""Benchmark: losstune on MMDetection's own config tree, side by side with mmengine.

What it measures, in one run, on a real tree (by default MMDetection 3.3.0's configs, as the
``mmdet`` wheel ships them under ``mmdet/.mim/configs``; ``--tree DIR`` names another):

* ``losstune.load(path)`` of every config outside ``_base_`` folders, each call on its own (no
  shared ``Resolver``; the process-wide cache starts empty), against ``mmengine.Config.fromfile``
  of the same configs (stdout and warnings silenced); target: mmengine / losstune >= 30x;
* ``losstune.lint.run.lint`` of the whole tree (every config and base file, every rule), each run
  in a forked copy of the benchmark with nothing read yet (the custom imports' modules included),
  in one process and as ``losstune lint`` runs it (``--jobs 0``: a forked worker per CPU on
  Linux), against the same mmengine time; target >= 30x, for the second; the two
  must give the same findings;
* each of these three measured ``--rounds`` times (default 3), interleaved (losstune's load, its
  two lints, mmengine, then again), and the median of each taken: on a shared machine one run of
  either side can be a third slower than the next, and the rounds show by how much;
* wall time of ``losstune lint FILE`` (which checks the configs that inherit FILE too),
  ``losstune lint --no-dependents FILE`` (FILE alone) and ``losstune explain --no-steps FILE`` as
  a user runs them (a new process each, imports included, with the bytecode Python caches, as an installed
  package has it: an untimed first run writes it to a folder of its own), median of 7; target
  <= 0.15 s each (``--wall-only`` measures these alone);
* the CPU time of ``losstune lint`` on a generated file of 200,000 ``xN = N`` statements
  (``--big N`` to change the count, 0 to skip), with the share of ``ast.parse`` in it.

Run from the repository root:
``python benchmarks/bench_tree.py [--tree DIR] [--file F] [--rounds R] [--big N] [--wall-only]``.
Exit code 1 when a target is missed or a config that mmengine loads fails in losstune.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import losstune  # noqa: E402
from losstune.lint.run import LintResult, lint  # noqa: E402
from losstune.lint.settings import Settings  # noqa: E402
from losstune.lint.workers import available_cpus, workers_for  # noqa: E402
from losstune.loader import filecache  # noqa: E402
from losstune.schema.registry import load_schema  # noqa: E402

DEFAULT_TREE = str(ROOT / ".projects" / "site3" / "mmdet" / ".mim" / "configs")  # benchmarks/fetch_projects.py
DEFAULT_FILE = "retinanet/retinanet_r50_fpn_1x_coco.py"
RATIO_TARGET = 30.0
WALL_TARGET = 0.15


def configs(tree: Path) -> list[Path]:
    """The configs of the tree a user loads: Python files outside ``_base_`` folders."""
    return sorted(p for p in tree.rglob("*.py") if "_base_" not in p.relative_to(tree).parts)


def time_losstune(paths: list[Path]) -> tuple[float, list[Path]]:
    filecache.PROCESS_CACHE.clear()
    failed: list[Path] = []
    start = time.perf_counter()
    for p in paths:
        try:
            losstune.load(p, strict=False)
        except Exception:
            failed.append(p)
    return time.perf_counter() - start, failed


def time_mmengine(paths: list[Path]) -> tuple[float, list[Path]]:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mmengine.config import Config

        failed: list[Path] = []
        start = time.perf_counter()
        for p in paths:
            try:
                Config.fromfile(str(p))
            except Exception:
                failed.append(p)
        return time.perf_counter() - start, failed


def time_lint(tree: Path, jobs: int) -> tuple[float, LintResult]:
    """The seconds of one lint of ``tree`` and its result, in a forked copy of this process: each
    run starts with nothing read, as ``losstune lint`` does (the modules a config's custom imports
    name included, whose facts a process keeps once read)."""
    schema = load_schema()
    filecache.PROCESS_CACHE.clear()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: time the lint, send what it found, and end without cleaning up
        status = 1
        try:
            os.close(read)
            start = time.perf_counter()
            result = lint([str(tree)], schema, Settings(), jobs=jobs)
            with os.fdopen(write, "wb") as out:
                pickle.dump((time.perf_counter() - start, result), out)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as got:
        seconds, result = pickle.load(got)
    os.waitpid(pid, 0)
    return seconds, result


def child_env() -> dict[str, str]:
    """The environment of a losstune process run from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def cached_env(cache: Path) -> dict[str, str]:
    """:func:`child_env`, with Python writing and reading its bytecode under ``cache`` (even where
    ``PYTHONDONTWRITEBYTECODE`` is set), as it does for an installed package."""
    env = child_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def wall(argv: list[str], cwd: Path, env: dict[str, str], runs: int = 7) -> list[float]:
    """Wall seconds of each run of ``python -m losstune ARGV`` (exit 0 or 1 expected), after one
    untimed run that leaves the bytecode cached."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "losstune", *argv], cwd=cwd, env=env, capture_output=True, text=True
        )
        if i:
            times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"losstune {' '.join(argv)} failed: {proc.stdout}{proc.stderr}")
    return times


def interpreter(env: dict[str, str], code: str = "pass", runs: int = 7) -> list[float]:
    """Wall seconds of each run of ``python -c CODE`` (after an untimed one): with ``pass``, what
    any command costs at the least; with the imports of the libraries a command is built on, the
    least that command can cost."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        if i:
            times.append(time.perf_counter() - start)
    return times


# What each timed command imports before any of losstune's code: the CLI is built on typer, and
# explain's text is laid out by rich.
FLOORS = {"lint": "import typer", "explain": "import typer, rich.console, rich.table"}


def walls(tree: Path, file: str) -> dict[str, float]:
    """The median wall seconds of ``lint FILE``, ``lint --no-dependents FILE`` and ``explain
    --no-steps FILE``, each printed."""
    medians = {}
    with tempfile.TemporaryDirectory() as cache:
        bare = statistics.median(interpreter(cached_env(Path(cache))))
        print(f"python -c pass: median {bare * 1000:.0f} ms wall (the interpreter alone, on this machine now)")
        for argv in (["lint", file], ["lint", "--no-dependents", file], ["explain", "--no-steps", file]):
            floor = statistics.median(interpreter(cached_env(Path(cache)), FLOORS[argv[0]]))
            times = wall(argv, tree, cached_env(Path(cache)))
            medians[" ".join(argv)] = median = statistics.median(times)
            print(
                f"losstune {' '.join(argv)}: median {median * 1000:.0f} ms wall over {len(times)} runs "
                f"(min {min(times) * 1000:.0f} ms)  {verdict(median <= WALL_TARGET)} (target <= 150 ms); "
                f"python -c '{FLOORS[argv[0]]}' alone: median {floor * 1000:.0f} ms"
            )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return medians


def big_file(n: int) -> str:
    """CPU seconds of ``losstune lint`` on ``n`` assignments, and of ``ast.parse`` on the same text."""
    text = "".join(f"x{i} = {i}\n" for i in range(n))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.py"
        path.write_text(text)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-m", "losstune", "lint", str(path)], cwd=ROOT, env=child_env(), capture_output=True
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    start = time.process_time()
    ast.parse(text)
    parse = time.process_time() - start
    return f"losstune lint of {n:,} statements: {cpu:.2f} s CPU (ast.parse alone: {parse:.2f} s)"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=DEFAULT_TREE, help="a config tree (default: MMDetection 3.3.0's)")
    parser.add_argument("--file", default=DEFAULT_FILE, help="the config, relative to the tree, timed alone")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the tree's measures (median)")
    parser.add_argument("--big", type=int, default=200_000, help="statements of the generated file (0: skip)")
    parser.add_argument("--wall-only", action="store_true", help="time lint and explain of --file alone")
    args = parser.parse_args()
    tree = Path(args.tree)
    if not tree.is_dir():
        print(f"no config tree at {tree}; name one with --tree")
        return 2
    if args.wall_only:
        return 0 if all(t <= WALL_TARGET for t in walls(tree, args.file).values()) else 1
    paths = configs(tree)
    n = len(paths)
    print(f"tree: {tree} ({n} configs outside _base_ folders)")
    rounds: list[tuple[float, float, float, float]] = []
    same = True
    for r in range(max(args.rounds, 1)):
        t_lt, f_lt = time_losstune(paths)
        t_alone, alone = time_lint(tree, 1)
        t_lint, shared = time_lint(tree, 0)
        same = same and shared.diagnostics == alone.diagnostics and shared.configs == alone.configs
        t_mm, f_mm = time_mmengine(paths)
        rounds.append((t_lt, t_alone, t_lint, t_mm))
        print(
            f"round {r + 1}: load {t_lt:.3f} s, lint one process {t_alone:.3f} s, lint workers {t_lint:.3f} s, "
            f"mmengine {t_mm:.3f} s (load {t_mm / t_lt:.1f}x, lint {t_mm / t_lint:.1f}x)"
        )
    t_lt, t_alone, t_lint, t_mm = (statistics.median(column) for column in zip(*rounds, strict=True))
    n_lint = len(shared.configs)
    load_ratio, lint_ratio = t_mm / t_lt, t_mm / t_lint
    print(f"medians of {len(rounds)} round(s):")
    print(f"losstune.load, each call on its own: {t_lt:.3f} s ({t_lt / n * 1000:.2f} ms/config)")
    workers = workers_for(0, n_lint)
    print(f"losstune lint of the tree ({n_lint} files), one process: {t_alone:.3f} s")
    print(
        f"losstune lint of the tree, {workers} worker(s) on {available_cpus()} CPU(s): {t_lint:.3f} s; "
        f"the same findings as one process: {'yes' if same else 'NO'}"
    )
    print(f"mmengine Config.fromfile:            {t_mm:.3f} s ({t_mm / n * 1000:.2f} ms/config)")
    print(f"ratio mmengine / losstune load: {load_ratio:5.1f}x  {verdict(load_ratio >= RATIO_TARGET)} (target >= 30x)")
    print(f"ratio mmengine / losstune lint: {lint_ratio:5.1f}x  {verdict(lint_ratio >= RATIO_TARGET)} (target >= 30x)")
    print(f"  (one process: {t_mm / t_alone:.1f}x)")
    regressions = sorted(set(f_lt) - set(f_mm))
    print(f"failed: losstune {len(f_lt)}, mmengine {len(f_mm)}; loaded by mmengine only: {len(regressions)}")
    for p in regressions[:10]:
        print(f"  {p.relative_to(tree)}")
    medians = walls(tree, args.file)
    if args.big:
        print(big_file(args.big))
    ok = load_ratio >= RATIO_TARGET and lint_ratio >= RATIO_TARGET and same and not regressions
    return 0 if ok and all(t <= WALL_TARGET for t in medians.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
