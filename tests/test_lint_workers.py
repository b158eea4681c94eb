"""Checking configs in worker processes gives what checking them here gives."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from losstune.lint import workers
from losstune.lint.run import lint
from losstune.lint.settings import Settings
from losstune.schema.registry import load_schema

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
def test_the_findings_of_workers_are_those_of_one_process(tmp_path: Path) -> None:
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
def test_no_more_workers_than_each_gets_enough_configs() -> None:
    assert workers.workers_for(16, 3 * workers.MIN_PER_WORKER) == 3


@needs_fork
def test_the_checks_run_in_the_workers() -> None:
    pids = workers.check_all([f"p{i}" for i in range(80)], lambda path: os.getpid(), 2)
    assert len(pids) == 80
    assert os.getpid() not in pids
