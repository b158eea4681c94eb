"""Checking configs in worker processes gives what checking them here gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from losstune.lint import workers
from losstune.lint.run import lint
from losstune.lint.settings import Settings
from losstune.schema.registry import load_schema
from tests.conftest import as_from_a_terminal, interrupt_group

REPO = Path(__file__).resolve().parent.parent

needs_fork = pytest.mark.skipif(
    sys.platform != "linux" or sys.version_info < (3, 11), reason="workers are forked on Linux only"
)

BASE = "model = dict(bbox_head=dict(num_classes=80, loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0)))\n"


def _tree(root: Path, n: int) -> Path:
    (root / "_base_").mkdir(parents=True)
    (root / "_base_" / "model.py").write_text(BASE)
    for i in range(n):
        folder = root / f"f{i % 7}"
        folder.mkdir(exist_ok=True)
        body = ["_base_ = '../_base_/model.py'\n"]
        if i % 3 == 0:
            body.append(f"model = dict(bbox_head=dict(loss_cls=dict(gamma=-{i}.0)))\n")  # a finding
        if i % 5 == 0:
            body.append("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLos')))\n")  # a typo
        if i % 11 == 0:
            body = ["x = (\n"]  # a syntax error
        (folder / f"c{i:03d}.py").write_text("".join(body))
    return root


@needs_fork
def test_the_findings_of_workers_are_those_of_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "available_cpus", lambda: 4)  # two workers, on a machine of one CPU too
    tree = _tree(tmp_path / "configs", 150)
    schema, settings = load_schema(), Settings()
    assert workers.workers_for(2, 150) == 2
    alone = lint([str(tree)], schema, settings, jobs=1)
    shared = lint([str(tree)], schema, settings, jobs=2)
    assert len(alone.configs) == 150
    assert len(alone.diagnostics) > 50
    assert shared.configs == alone.configs
    assert shared.diagnostics == alone.diagnostics
    assert shared.lines == alone.lines


@needs_fork
def test_a_worker_that_dies_costs_only_time() -> None:
    parent = os.getpid()

    def check(path: str) -> str:
        if path == "p17" and os.getpid() != parent:
            os._exit(9)  # as a worker killed in the middle of its run
        return path.upper()

    paths = [f"p{i}" for i in range(80)]
    assert workers.check_all(paths, check, 2) == [p.upper() for p in paths]


def test_few_configs_or_one_job_run_here(monkeypatch: pytest.MonkeyPatch) -> None:
    assert workers.workers_for(1, 10_000) == 1
    assert workers.workers_for(0, workers.MIN_PER_WORKER - 1) == 1
    monkeypatch.setattr(sys, "platform", "darwin")
    assert workers.workers_for(8, 10_000) == 1


@needs_fork
def test_no_workers_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork copies the locks another thread holds, held: gcpause's, taken while it parses, would
    stop every worker at its first parse."""
    monkeypatch.setattr(workers, "available_cpus", lambda: 4)
    assert workers.workers_for(2, 10_000) == 2
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert workers.workers_for(2, 10_000) == 1
    finally:
        release.set()
        other.join()
    assert workers.workers_for(2, 10_000) == 2


@needs_fork
def test_no_more_workers_than_each_gets_enough_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "available_cpus", lambda: 64)
    assert workers.workers_for(16, 3 * workers.MIN_PER_WORKER) == 3


@needs_fork
def test_no_more_workers_than_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "available_cpus", lambda: 2)
    assert workers.workers_for(16, 10_000) == 2
    assert workers.workers_for(0, 10_000) == 2
    assert workers.workers_for(2, 10_000) == 2
    assert workers.workers_for(1, 10_000) == 1


@needs_fork
def test_the_checks_run_in_the_workers() -> None:
    pids = workers.check_all([f"p{i}" for i in range(80)], lambda path: os.getpid(), 2)
    assert len(pids) == 80
    assert os.getpid() not in pids


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, waiting for its parent to read its exit, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


WAITS = """
import os, sys, time
from losstune.lint import workers
PARENT = os.getpid()
def check(path):
    if os.getpid() != PARENT:
        os.write(1, f"{os.getpid()}\\n".encode())  # one write: the two workers print at once
        time.sleep(120)
    return path
workers.check_all([str(i) for i in range(64)], check, 2)
"""


@needs_fork
def test_the_workers_end_when_their_process_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", WAITS], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    pids = {int(proc.stdout.readline()) for _ in range(2)}
    proc.kill()  # SIGKILL: nothing of the parent runs after it
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    left = [p for p in pids if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert left == []


SLOW = """
import time
from losstune.lint import workers
def check(path):
    if path == "0":
        print("started", flush=True)
    time.sleep(0.05)
    return path
workers.check_all([str(i) for i in range(2000)], check, 2)  # 50 s of checks
"""


@needs_fork
def test_an_interrupted_run_stops_without_checking_the_rest() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW], stdout=subprocess.PIPE, text=True, env=env, preexec_fn=as_from_a_terminal
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    finally:
        proc.kill()
    assert time.monotonic() - started < 10  # the runs under way (0.8 s each), not the 50 s of all
    assert proc.returncode != 0


INTERRUPTED = """
import os, sys, time
import losstune.lint.run as run
checked = run._check_file
def slow(path, *rest):
    if path.endswith("c000.py"):
        print("started", flush=True)
    time.sleep(0.05)
    return checked(path, *rest)
run._check_file = slow
from losstune.cli.app import main
sys.argv = ["losstune", "lint", sys.argv[1], "--jobs", sys.argv[2], "--output-format", "json"]
main()
"""


@pytest.mark.parametrize("jobs", ["1", pytest.param("2", marks=needs_fork)])
def test_ctrl_c_says_so_and_ends_as_interrupted(tmp_path: Path, jobs: str) -> None:
    tree = _tree(tmp_path / "configs", 100)
    status, out, err = interrupt_group(INTERRUPTED, [str(tree), jobs], "started\n")
    assert (status, out, err) == (-signal.SIGINT, "", "losstune: interrupted\n")


STARTING = """
import sys, time
from losstune.lint import workers
ending = workers._end_with
def slow_start(parent):
    print("starting", flush=True)
    time.sleep(2)
    ending(parent)
workers._end_with = slow_start
from losstune.cli.app import main
sys.argv = ["losstune", "lint", sys.argv[1], "--jobs", "2", "--output-format", "json"]
main()
"""


@needs_fork
def test_ctrl_c_while_the_workers_start_says_so_without_a_traceback(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "configs", 100)
    status, _, err = interrupt_group(STARTING, [str(tree)], "starting")  # a worker is in its start-up
    assert (status, err) == (-signal.SIGINT, "losstune: interrupted\n")


@needs_fork
def test_the_paths_named_together_are_checked_by_one_worker_in_order() -> None:
    together = [3, 40, 41, 77]
    got = workers.check_all([f"p{i}" for i in range(80)], lambda path: (path, os.getpid()), 2, together)
    assert [path for path, _ in got] == [f"p{i}" for i in range(80)]
    assert len({pid for i, (_, pid) in enumerate(got) if i in together}) == 1
    assert os.getpid() not in {pid for _, pid in got}


CUSTOM = """
import torch.nn as nn
from mmdet.registry import MODELS


@MODELS.register_module()
class SmoothFocalLoss(nn.Module):
    def __init__(self, gamma=2.0, loss_weight=1.0):
        super().__init__()
"""


@needs_fork
def test_configs_with_custom_imports_give_the_findings_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "available_cpus", lambda: 4)
    tree = _tree(tmp_path / "configs", 100)
    (tmp_path / "mylosses.py").write_text(CUSTOM)
    for i, gamma in enumerate(("2.0", "'2'", "1.0")):
        (tree / "f3" / f"custom{i}.py").write_text(
            "_base_ = '../_base_/model.py'\ncustom_imports = dict(imports=['mylosses'])\n"
            f"model = dict(bbox_head=dict(loss_cls=dict(type='SmoothFocalLoss', gama={gamma})))\n"
        )
    monkeypatch.chdir(tmp_path)
    schema, settings = load_schema(), Settings()
    alone = lint(["configs"], schema, settings, jobs=1)
    shared = lint(["configs"], schema, settings, jobs=2)
    mine = [d.code for d in alone.diagnostics if d.span is not None and Path(d.span.file).name.startswith("custom")]
    assert mine == ["LT102"] * 3  # `gama` of the custom loss, which is read from its module
    assert shared.diagnostics == alone.diagnostics and shared.configs == alone.configs
