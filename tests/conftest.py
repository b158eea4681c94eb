"""Shared helpers: write small config trees into a temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from losstune.config import LoadedConfig
from losstune.lint.run import check_config
from losstune.lint.settings import Settings
from losstune.loader.resolve import Resolver
from losstune.model import Diagnostic
from losstune.schema.registry import load_schema

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
# The released OpenMMLab packages some tests compare with (`python benchmarks/fetch_projects.py`).
PROJECTS = Path(os.environ.get("LOSSTUNE_PROJECTS", REPO / ".projects"))


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write("a.py", "x = 1")`` creates ``tmp_path/a.py`` (dedented) and returns its path."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


def shape(value: object) -> object:
    """A form of ``value`` in which key order and exact types matter to ``==``
    (``{'a': 1, 'b': 2} == {'b': 2, 'a': 1}`` and ``1 == 1.0 == True`` are not enough here)."""
    if isinstance(value, dict):
        return ("dict", [(shape(k), shape(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [shape(v) for v in value])
    return (type(value).__name__, value)


@pytest.fixture
def ex(tmp_path: Path) -> Path:
    """A copy of the examples that a test may edit."""
    import shutil

    root = tmp_path / "examples"
    shutil.copytree(EXAMPLES, root)
    return root


def invoke(*args: str, cwd: Path) -> tuple[int, str]:
    """Run ``losstune ARGS`` in ``cwd``; the exit code and everything it printed."""
    import os

    from typer.testing import CliRunner

    from losstune.cli.app import app

    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout + (result.stderr if result.stderr_bytes else "")


def lint_with(path: Path, *codes: str) -> tuple[LoadedConfig, list[Diagnostic]]:
    """The config at ``path`` resolved, and the findings of the rules ``codes`` in it."""
    result = Resolver().resolve(str(path))
    assert result.cfg is not None
    loaded = LoadedConfig(result)
    return loaded, check_config(loaded, load_schema(), Settings(select=codes))


def as_from_a_terminal() -> None:
    """In a child about to start: SIGINT's default action, as a terminal's Ctrl-C finds it. A
    non-interactive shell starts a background job with SIGINT ignored, and Python then installs
    no KeyboardInterrupt handler, so a suite started that way would wait out every Ctrl-C test."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_group(script: str, args: list[str], ready: str, stdin: str = "") -> tuple[int, str, str]:
    """Run ``script`` with ``args`` in a process group of its own, ``stdin`` written to its input
    (which stays open), send the group SIGINT (as a terminal sends Ctrl-C to losstune and its
    workers) once its first line starts with ``ready``, and return its status, the rest of its
    stdout and its stderr; no process of the group is left."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(stdin)
    proc.stdin.flush()
    first = proc.stdout.readline()
    assert first.startswith(ready), first
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    time.sleep(0.2)
    assert subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True).stdout == b""
    return proc.returncode, out, err
