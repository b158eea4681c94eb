"""Checking many configs in worker processes.

The configs are cut into runs of neighbours (configs of one folder share their bases, so a worker
reads a base once for its run), those the caller names together make one run handed out first,
and each run is checked by a forked copy of this process: the outcomes come back in the configs'
order, the findings those of checking the configs one after another. Workers are forked only
where ``fork`` is the platform's safe default (Linux); elsewhere, and for a few configs,
everything runs here.

The pool is two kinds of pipe, and nothing else (no thread, no manager process, so it starts in
the time two forks take): every worker takes the number of its next run from one pipe they all
read, and writes each run's outcomes back on a pipe of its own. A worker that dies (killed, out of
memory) or whose outcome cannot be sent back costs only time: the runs it did not send back are
checked again here; and a worker ends with the process that forked it, however that ends
(``kill -9`` included).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
import threading
from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

Outcome = TypeVar("Outcome")

RUN = 16  # configs per run: enough neighbours to share bases, short enough to balance the workers
MIN_PER_WORKER = 32  # fewer configs than this per worker: starting it costs more than it saves

_TASK = struct.Struct("<I")  # a run's number, as the workers read it from the pipe they share
_FRAME = struct.Struct("<IQ")  # a run's number and the length of its pickled outcomes
# Run numbers are written to the shared pipe at most this many bytes at a time: a write of no more
# than PIPE_BUF bytes is never split, so every read of one number by a worker gets a whole one.
_TASK_WRITE = (select.PIPE_BUF // _TASK.size) * _TASK.size


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, where the platform says)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return max(os.cpu_count() or 1, 1)


def workers_for(jobs: int, configs: int) -> int:
    """How many workers check ``configs`` configs when ``jobs`` are asked for (0: as many as there
    are CPUs): never more than the CPUs this process may run on (more would only take turns on
    them, each with its own copy of the shared bases), nor than would each get
    :data:`MIN_PER_WORKER` configs, and none (1: all here) where processes cannot be forked safely:
    on another platform, or while another thread runs (a search for inheritors that ran out of
    time, an editor server's), since a fork copies any lock that thread holds, held for ever."""
    if sys.platform != "linux" or sys.version_info < (3, 11) or threading.active_count() > 1:
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
    first = sorted(set(together))
    apart = set(first)
    rest = [i for i in range(len(paths)) if i not in apart]
    order = [first] if first else []
    order += [rest[i : i + RUN] for i in range(0, len(rest), RUN)]
    runs = [[paths[i] for i in run] for run in order]
    done = _Pool(runs, check, workers).results()
    out: dict[int, Outcome] = {}
    for n, (indices, run) in enumerate(zip(order, runs, strict=True)):
        got: list[Outcome] | None = done.get(n)  # type: ignore[assignment]  # what check gave, pickled
        out.update(zip(indices, got if got is not None else [check(p) for p in run], strict=True))
    return [out[i] for i in range(len(paths))]


class _Pool:
    """The forked workers of one :func:`check_all`, and what they sent back."""

    def __init__(self, runs: list[list[str]], check: Callable[[str], object], workers: int) -> None:
        self.runs, self.check, self.workers = runs, check, workers

    def results(self) -> dict[int, list[object]]:
        """The outcomes of each run a worker sent back, by the run's number."""
        tasks_read, tasks_write = os.pipe()
        pending = b"".join(_TASK.pack(n) for n in range(len(self.runs)))
        readers: dict[int, bytearray] = {}  # a worker's outcomes pipe -> what came on it so far
        pids: list[int] = []
        done: dict[int, list[object]] = {}
        parent = os.getpid()
        try:
            # Ctrl-C is held off while the workers are forked, so that each begins with it held
            # and ignores it before taking it again (see _serve); here, one that came meanwhile is
            # delivered once they are all forked.
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                for _ in range(self.workers):
                    outcomes_read, outcomes_write = os.pipe()
                    try:
                        pid = os.fork()
                    except OSError:  # no more processes: the workers forked so far check the runs
                        os.close(outcomes_read)
                        os.close(outcomes_write)
                        break
                    if pid == 0:  # the worker: it never returns from here
                        os.close(tasks_write)
                        for fd in (outcomes_read, *readers):
                            os.close(fd)
                        _serve(self.runs, self.check, tasks_read, outcomes_write, parent)
                    pids.append(pid)
                    os.close(outcomes_write)
                    readers[outcomes_read] = bytearray()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(tasks_read)
            tasks_read = -1
            os.set_blocking(tasks_write, False)
            poll = select.poll()
            for fd in readers:
                poll.register(fd, select.POLLIN)
            poll.register(tasks_write, select.POLLOUT)
            while readers:
                events = poll.poll()
                if any(fd == tasks_write for fd, _ in events):
                    try:
                        pending = pending[os.write(tasks_write, pending[:_TASK_WRITE]) :]
                    except BlockingIOError:
                        pass
                    except BrokenPipeError:  # every worker has ended: the runs left are checked here
                        pending = b""
                    if not pending:
                        poll.unregister(tasks_write)
                        os.close(tasks_write)  # a worker that finds no run left ends
                        tasks_write = -1
                for fd, _ in events:
                    if fd not in readers:
                        continue
                    chunk = os.read(fd, 1 << 20)
                    if chunk:
                        readers[fd] += chunk
                        _take_frames(readers[fd], done)
                    else:  # the worker ended (or died): what it did not send is checked here
                        poll.unregister(fd)
                        os.close(fd)
                        del readers[fd]
        finally:
            # Interrupted (Ctrl-C) or not, no worker outlives the run: one still checking is stopped.
            for fd in (tasks_read, tasks_write, *readers):
                if fd >= 0:
                    os.close(fd)
            if readers:
                for pid in pids:
                    _kill(pid)
            for pid in pids:
                os.waitpid(pid, 0)
        return done


def _take_frames(buffer: bytearray, done: dict[int, list[object]]) -> None:
    """Move every whole outcome at the start of ``buffer`` into ``done``."""
    while len(buffer) >= _FRAME.size:
        n, size = _FRAME.unpack_from(buffer)
        if len(buffer) < _FRAME.size + size:
            return
        done[n] = pickle.loads(bytes(buffer[_FRAME.size : _FRAME.size + size]))
        del buffer[: _FRAME.size + size]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _serve(runs: list[list[str]], check: Callable[[str], object], tasks: int, outcomes: int, parent: int) -> None:
    """In a worker: check each run whose number it reads from ``tasks`` until none is left, writing
    its outcomes to ``outcomes``; then end, without running anything of the process it was forked
    from (its exit handlers, its buffered output)."""
    status = 0
    try:
        _start(parent)
        while True:
            task = os.read(tasks, _TASK.size)
            if len(task) < _TASK.size:
                break
            (n,) = _TASK.unpack(task)
            try:
                data = pickle.dumps([check(p) for p in runs[n]], pickle.HIGHEST_PROTOCOL)
            except Exception:  # not sent back: the process that forked it checks the run again
                continue
            view = memoryview(_FRAME.pack(n, len(data)) + data)
            while view:
                view = view[os.write(outcomes, view) :]
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _start(parent: int) -> None:
    """In a worker, first: ignore Ctrl-C, which the terminal sends to every process of the group.
    The process that forked it stops on it and stops its workers; a worker that stopped too would
    print its traceback."""
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
