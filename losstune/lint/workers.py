"""Checking many configs in worker processes.

The configs are cut into runs of neighbours (configs of one folder share their bases, so a worker
reads a base once for its run), those the caller names together make one run handed out first,
each run is checked by a forked copy of this process, and the
outcomes come back in the configs' order: the findings are those of checking the configs one after
another. Workers are forked only where ``fork`` is the platform's safe default (Linux) and the
executor forks them all before it starts its thread (Python 3.11 on); elsewhere, and for a few
configs, everything runs here. A worker that dies (killed, out of memory) or whose
outcome cannot be sent back costs only time: its runs are checked again here; and a worker ends
with the process that forked it, however that ends (``kill -9`` included).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

Outcome = TypeVar("Outcome")

RUN = 16  # configs per run: enough neighbours to share bases, short enough to balance the workers
MIN_PER_WORKER = 32  # fewer configs than this per worker: starting it costs more than it saves

# The check the forked workers run: set just before they are forked, so they inherit it (a closure
# cannot be sent to a process).
_check: Callable[[str], object] | None = None


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, where the platform says)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return max(os.cpu_count() or 1, 1)


def workers_for(jobs: int, configs: int) -> int:
    """How many workers check ``configs`` configs when ``jobs`` are asked for (0: as many as there
    are CPUs): never more than the CPUs this process may run on (more would only take turns on
    them, each with its own copy of the shared bases), nor than would each get
    :data:`MIN_PER_WORKER` configs, and none (1: all here) where processes cannot be forked safely."""
    if sys.platform != "linux" or sys.version_info < (3, 11):
        return 1
    cpus = available_cpus()
    wanted = cpus if jobs <= 0 else min(jobs, cpus)
    return max(1, min(wanted, configs // MIN_PER_WORKER))


def check_all(
    paths: Sequence[str], check: Callable[[str], Outcome], workers: int, together: Collection[int] = ()
) -> list[Outcome]:
    """``check`` of each path, in order, by ``workers`` forked processes (here when 1). The paths
    at the indices ``together`` are checked in one run, handed out first: those that read the same
    costly files (the modules of custom imports), which a worker then reads once for all of them
    while the others check the rest."""
    if workers <= 1 or len(paths) <= RUN:
        return [check(p) for p in paths]
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    global _check
    first = sorted(set(together))
    apart = set(first)
    rest = [i for i in range(len(paths)) if i not in apart]
    order = [first] if first else []
    order += [rest[i : i + RUN] for i in range(0, len(rest), RUN)]
    runs = [[paths[i] for i in run] for run in order]
    done: list[list[Outcome] | None] = [None] * len(runs)
    _check = check
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(os.getpid(),))
    try:
        # The first submit forks the workers. Ctrl-C is held off meanwhile, so that each worker
        # begins with it held and ignores it before taking it again (see _start); here, one that
        # came meanwhile is delivered once the workers are forked.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            futures: list[Future[list[object]]] = [pool.submit(_run, r) for r in runs]
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        for i, future in enumerate(futures):
            try:
                done[i] = future.result()  # type: ignore[assignment]
            except Exception:  # a worker died, or its outcome could not be sent: checked here below
                pass
    finally:
        _check = None
        # Interrupted (Ctrl-C), the runs not started are dropped: only those under way are waited for.
        pool.shutdown(wait=True, cancel_futures=True)
    out: dict[int, Outcome] = {}
    for indices, run, outcomes in zip(order, runs, done, strict=True):
        out.update(zip(indices, outcomes if outcomes is not None else [check(p) for p in run], strict=True))
    return [out[i] for i in range(len(paths))]


def _start(parent: int) -> None:
    """In a worker, first: ignore Ctrl-C, which the terminal sends to every process of the group.
    The process that forked it stops on it, drops the runs not started and waits for those under
    way; a worker that stopped too would print its traceback, or break the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # one held since the fork is dropped
    _end_with(parent)


def _end_with(parent: int) -> None:
    """In a worker, first: be killed when ``parent`` ends. A worker holds its own copy of the pipe it
    reads its runs from, so it would otherwise wait on it for ever once the parent is killed."""
    import ctypes

    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the line above
        os._exit(1)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _run(paths: list[str]) -> list[object]:
    """In a worker: the inherited check of each path of one run."""
    assert _check is not None
    return [_check(p) for p in paths]
