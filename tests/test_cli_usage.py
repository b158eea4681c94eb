"""The usage line of every command names its arguments as people write them, and the shell
completion typer offers is there: its script, paths left to the shell, codes for --select."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losstune.cli.app import COMMANDS, app
from losstune.lint.selection import known_codes
from tests.conftest import REPO

USAGE = {
    "explain": "explain [OPTIONS] CONFIG",
    "diff": "diff [OPTIONS] PATH...",
    "lint": "lint [OPTIONS] PATH...",
    "schema": "schema [OPTIONS] [NAME]",
    "set": "set [OPTIONS] KEY=VALUE... CONFIG",
    "sweep": "sweep [OPTIONS] CONFIG KEY=V1,V2,...",
    "eval": "eval [OPTIONS] CONFIG...",
    "rule": "rule [OPTIONS] [CODE]",
    "server": "server [OPTIONS]",
}


def test_every_command_is_listed_here() -> None:
    assert set(USAGE) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(USAGE))
def test_usage_lines_name_the_arguments(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], prog_name="losstune")
    assert result.exit_code == 0
    first = result.stdout.splitlines()[0]
    assert first == f"Usage: losstune {USAGE[command]}"
    assert "{" not in result.stdout.split("Options:")[0].replace("{{_base_.x}}", "")


def test_options_name_what_they_take() -> None:
    result = CliRunner().invoke(app, ["lint", "--help"], prog_name="losstune")
    for shown in ("--select CODES", "--ignore CODES", "--scan DIR", "--schema FILE", "--mmdet-version 2|3"):
        assert shown in result.stdout
    assert "<str>" not in result.stdout and "<path>" not in result.stdout


def test_a_missing_argument_names_it_as_the_usage_line_does() -> None:
    result = CliRunner().invoke(app, ["lint"], prog_name="losstune")
    assert result.exit_code == 2
    assert "Usage: losstune lint [OPTIONS] PATH...\n" in result.stderr
    assert "Missing argument 'PATH...'" in result.stderr


def _complete(words: str, tmp_path: Path) -> list[str]:
    """What bash's completion of ``losstune`` offers for ``words`` (the last one being completed)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "_LOSSTUNE_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    code = "import sys\nfrom losstune.cli.app import main\nsys.argv = ['losstune']\nmain()\n"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_shell_completion_of_codes_options_and_paths(tmp_path: Path) -> None:
    assert _complete("losstune lint --sel", tmp_path) == ["--select"]
    assert _complete("losstune lint --select LT11", tmp_path) == [c for c in known_codes() if c.startswith("LT11")]
    assert _complete("losstune lint --ignore LT104,LT10", tmp_path) == [
        f"LT104,{c}" for c in known_codes() if c.startswith("LT10")
    ]
    assert _complete("losstune lint --select A", tmp_path) == ["ALL"]
    # Nothing offered for a path: the completion script falls back to the shell's own (`-o default`).
    assert _complete("losstune lint con", tmp_path) == []
    assert _complete("losstune ex", tmp_path) == ["explain"]


def test_show_completion_prints_the_script_of_the_shell_it_is_run_from() -> None:
    # typer finds the shell among the process's parents: bash here, whatever started the tests. The
    # command after it keeps bash from replacing itself with python, as it does with a last command.
    code = "import sys; sys.argv = ['losstune', '--show-completion']; from losstune.cli.app import main; main()"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        ["bash", "-c", '"$0" -c "$1"; exit $?', sys.executable, code], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    assert "_LOSSTUNE_COMPLETE=complete_bash" in out.stdout
    assert "complete -o default -F" in out.stdout
